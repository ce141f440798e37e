//! Writing and reading the checkpoint file: safetensors with a typed metadata preamble.

use std::collections::HashMap;
use std::str::FromStr;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tensor::{DType, Tensor};

use super::record::Field;
use crate::error::{OptimError, Result};

const FORMAT: &str = "backprop.optim";
const VERSION: &str = "1";

fn fail(msg: impl Into<String>) -> OptimError {
    OptimError::Checkpoint { msg: msg.into() }
}

/// Collects metadata and tensors, then serializes them.
pub(crate) struct Writer {
    meta: HashMap<String, String>,
    tensors: Vec<(String, DType, Vec<usize>, Vec<u8>)>,
}

impl Writer {
    pub fn new(kind: &str, name: &str) -> Writer {
        let mut meta = HashMap::new();
        for (k, v) in [("format", FORMAT), ("version", VERSION), ("kind", kind), ("name", name)] {
            meta.insert(k.to_string(), v.to_string());
        }
        Writer { meta, tensors: Vec::new() }
    }

    pub fn meta(&mut self, key: String, value: impl ToString) {
        self.meta.insert(key, value.to_string());
    }

    /// Every field under `prefix.`: buffers as tensors, the rest as metadata.
    pub fn fields(&mut self, prefix: &str, fields: Vec<Field<'_>>) -> Result<()> {
        for field in fields {
            let key = format!("{prefix}.{}", field.name());
            match field {
                Field::Tensor(_, t) => self.tensor(key, t)?,
                Field::OptionalTensor(_, t) => {
                    if let Some(t) = t {
                        self.tensor(key, t)?;
                    }
                }
                Field::Count(_, v) => self.meta(key, *v),
                Field::Int(_, v) => self.meta(key, *v),
                Field::F32(_, v) => self.meta(key, *v),
                Field::F64(_, v) => self.meta(key, *v),
                Field::Pair(_, (a, b)) => self.meta(key, format!("{a},{b}")),
                Field::F64s(_, v) => self.meta(key, v.iter().map(f64::to_string).collect::<Vec<_>>().join(",")),
                Field::Bool(_, v) => self.meta(key, *v),
            }
        }
        Ok(())
    }

    fn tensor(&mut self, key: String, t: &Tensor) -> Result<()> {
        let t = t.contiguous();
        let bytes: Vec<u8> = match t.dtype() {
            DType::F32 => t.to_vec::<f32>().iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::F64 => t.to_vec::<f64>().iter().flat_map(|v| v.to_le_bytes()).collect(),
            other => return Err(fail(format!("{key}: cannot save a {other} buffer (f32 or f64 only)"))),
        };
        self.tensors.push((key, t.dtype(), t.shape().to_vec(), bytes));
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>> {
        // safetensors has no checksum of its data: keep one, so a damaged buffer is an error
        // rather than different numbers.
        self.tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let sum = checksum(self.tensors.iter().map(|(name, _, _, bytes)| (name.as_str(), bytes.as_slice())));
        self.meta.insert("checksum".into(), format!("{sum:016x}"));
        let mut views = Vec::with_capacity(self.tensors.len());
        for (name, dtype, shape, bytes) in &self.tensors {
            let dt = if *dtype == DType::F32 { Dtype::F32 } else { Dtype::F64 };
            let view = TensorView::new(dt, shape.clone(), bytes).map_err(|e| fail(format!("{name}: {e}")))?;
            views.push((name.clone(), view));
        }
        safetensors::serialize(views, Some(self.meta)).map_err(|e| fail(format!("cannot serialize: {e}")))
    }
}

/// A parsed checkpoint, checked to be of the expected kind and name.
pub(crate) struct Reader<'a> {
    meta: HashMap<String, String>,
    file: SafeTensors<'a>,
}

impl<'a> Reader<'a> {
    pub fn open(bytes: &'a [u8], kind: &str, name: &str) -> Result<Reader<'a>> {
        let file =
            SafeTensors::deserialize(bytes).map_err(|e| fail(format!("not a readable safetensors file: {e}")))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| fail(format!("not a readable safetensors file: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let reader = Reader { meta, file };
        if reader.meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(fail(
                "not a backprop optimizer or scheduler checkpoint (no `format = backprop.optim` in its header)",
            ));
        }
        let version = reader.get("version")?;
        if version != VERSION {
            return Err(fail(format!("version {version} is not supported (this build reads version {VERSION})")));
        }
        let mut names: Vec<&str> = reader.file.names();
        names.sort_unstable();
        let tensors: Vec<(&str, &[u8])> = names
            .iter()
            .map(|&n| Ok((n, reader.file.tensor(n).map_err(|e| fail(format!("{n}: {e}")))?.data())))
            .collect::<Result<_>>()?;
        let sum = format!("{:016x}", checksum(tensors.into_iter()));
        if reader.get("checksum")? != sum {
            return Err(fail("the tensors' checksum does not match the header: the file is damaged"));
        }
        let (k, n) = (reader.get("kind")?, reader.get("name")?);
        if k != kind || n != name {
            return Err(fail(format!("the file holds the state of {k} `{n}`, not of {kind} `{name}`")));
        }
        Ok(reader)
    }

    pub fn has(&self, key: &str) -> bool {
        self.meta.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Result<&str> {
        self.meta.get(key).map(String::as_str).ok_or_else(|| fail(format!("`{key}` is missing")))
    }

    pub fn parse<T: FromStr>(&self, key: &str) -> Result<T> {
        let v = self.get(key)?;
        v.parse().map_err(|_| fail(format!("`{key}` = `{v}` does not parse")))
    }

    fn pair(&self, key: &str) -> Result<(f64, f64)> {
        let v = self.get(key)?;
        let bad = || fail(format!("`{key}` = `{v}` is not a pair of numbers"));
        let (a, b) = v.split_once(',').ok_or_else(bad)?;
        Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
    }

    fn list(&self, key: &str) -> Result<Vec<f64>> {
        let v = self.get(key)?;
        if v.is_empty() {
            return Ok(Vec::new());
        }
        v.split(',').map(|x| x.parse().map_err(|_| fail(format!("`{key}` = `{v}` is not a list of numbers")))).collect()
    }

    /// Fills every field from `prefix.`; buffers must have `like`'s shape and dtype.
    pub fn fill(&self, prefix: &str, fields: Vec<Field<'_>>, like: Option<&Tensor>) -> Result<()> {
        for field in fields {
            let key = format!("{prefix}.{}", field.name());
            match field {
                Field::Tensor(_, t) => *t = self.tensor(&key, like)?,
                Field::OptionalTensor(_, t) => {
                    *t = if self.file.names().contains(&key.as_str()) { Some(self.tensor(&key, like)?) } else { None }
                }
                Field::Count(_, v) => *v = self.parse(&key)?,
                Field::Int(_, v) => *v = self.parse(&key)?,
                Field::F32(_, v) => *v = self.parse(&key)?,
                Field::F64(_, v) => *v = self.parse(&key)?,
                Field::Pair(_, v) => *v = self.pair(&key)?,
                Field::F64s(_, v) => *v = self.list(&key)?,
                Field::Bool(_, v) => *v = self.parse(&key)?,
            }
        }
        Ok(())
    }

    fn tensor(&self, key: &str, like: Option<&Tensor>) -> Result<Tensor> {
        let view = self.file.tensor(key).map_err(|_| fail(format!("tensor `{key}` is missing")))?;
        let shape = view.shape().to_vec();
        let t = match view.dtype() {
            Dtype::F32 => {
                let v: Vec<f32> =
                    view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                Tensor::from_vec(v, &shape)
            }
            Dtype::F64 => {
                let v: Vec<f64> = view
                    .data()
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect();
                Tensor::from_vec(v, &shape)
            }
            other => return Err(fail(format!("tensor `{key}` is {other:?}; buffers are F32 or F64"))),
        };
        if let Some(like) = like {
            if t.shape() != like.shape() || t.dtype() != like.dtype() {
                return Err(fail(format!(
                    "tensor `{key}` is {}{:?} but its parameter is {}{:?}",
                    t.dtype(),
                    t.shape(),
                    like.dtype(),
                    like.shape()
                )));
            }
        }
        Ok(t)
    }
}

/// FNV-1a over every tensor's name and bytes, in name order.
fn checksum<'b>(tensors: impl Iterator<Item = (&'b str, &'b [u8])>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, bytes) in tensors {
        for &b in name.as_bytes().iter().chain(bytes) {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
