//! The IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.
//!
//! A file is a big-endian header (two zero bytes, a type code, the number of dimensions, each
//! dimension as a u32) followed by the data.

use std::io::Read;
use std::path::{Path, PathBuf};

use tensor::{DType, Tensor};

use crate::error::NnError;

fn bad(path: &Path, msg: impl Into<String>) -> NnError {
    NnError::File { path: path.display().to_string(), msg: msg.into() }
}

/// The file's bytes, gunzipped when they start with gzip's magic number.
fn read_bytes(path: &Path) -> Result<Vec<u8>, NnError> {
    let raw = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| bad(path, format!("not a valid gzip file: {e}")))?;
        return Ok(out);
    }
    Ok(raw)
}

/// Reads an IDX file into a tensor of its shape: u8 data as `U8`, signed integers as `I64`,
/// floats as `F32`/`F64`. Errors name the file and the problem (bad magic, unknown type code,
/// truncated or oversized data).
pub fn read_idx(path: impl AsRef<Path>) -> Result<Tensor, NnError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(path, "not an IDX file (it does not start with two zero bytes)"));
    }
    let (code, ndim) = (bytes[2], bytes[3] as usize);
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(bad(
            path,
            format!("truncated header: {ndim} dimensions need {header} bytes, the file has {}", bytes.len()),
        ));
    }
    let shape: Vec<usize> = (0..ndim)
        .map(|d| u32::from_be_bytes([bytes[4 + 4 * d], bytes[5 + 4 * d], bytes[6 + 4 * d], bytes[7 + 4 * d]]) as usize)
        .collect();
    let width = match code {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        other => return Err(bad(path, format!("unknown IDX type code 0x{other:02x}"))),
    };
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(path, format!("shape {shape:?} is too large")))?;
    let data = &bytes[header..];
    let expected = count.checked_mul(width).ok_or_else(|| bad(path, format!("shape {shape:?} is too large")))?;
    if data.len() != expected {
        let what = if data.len() < expected { "truncated" } else { "too long" };
        return Err(bad(
            path,
            format!(
                "{what}: the header says {shape:?} ({expected} bytes of data), the file has {} bytes of data",
                data.len()
            ),
        ));
    }
    Ok(match code {
        0x08 => Tensor::from_vec(data.to_vec(), &shape),
        0x09 => Tensor::from_vec(data.iter().map(|&b| b as i8 as i64).collect::<Vec<_>>(), &shape),
        0x0B => Tensor::from_vec(
            data.chunks_exact(2).map(|c| i16::from_be_bytes([c[0], c[1]]) as i64).collect::<Vec<_>>(),
            &shape,
        ),
        0x0C => Tensor::from_vec(
            data.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as i64).collect::<Vec<_>>(),
            &shape,
        ),
        0x0D => Tensor::from_vec(
            data.chunks_exact(4).map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>(),
            &shape,
        ),
        _ => Tensor::from_vec(
            data.chunks_exact(8)
                .map(|c| f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect::<Vec<_>>(),
            &shape,
        ),
    })
}

/// MNIST-format images and labels: the four standard files of a directory.
pub struct Mnist {
    /// `[N, 1, H, W]` f32 in `[0, 1]` (bytes / 255).
    pub train_images: Tensor,
    /// `[N]` i64.
    pub train_labels: Tensor,
    pub test_images: Tensor,
    pub test_labels: Tensor,
}

impl Mnist {
    /// Reads `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
    /// `t10k-labels-idx1-ubyte` from `dir`, each plain or with a `.gz` suffix. Nothing is
    /// downloaded.
    pub fn load(dir: impl AsRef<Path>) -> Result<Mnist, NnError> {
        let dir = dir.as_ref();
        let (train_images, train_labels) = Mnist::pair(dir, "train")?;
        let (test_images, test_labels) = Mnist::pair(dir, "t10k")?;
        Ok(Mnist { train_images, train_labels, test_images, test_labels })
    }

    fn find(dir: &Path, stem: &str) -> Result<PathBuf, NnError> {
        let plain = dir.join(stem);
        let gz = dir.join(format!("{stem}.gz"));
        if plain.exists() {
            Ok(plain)
        } else if gz.exists() {
            Ok(gz)
        } else {
            Err(bad(dir, format!("neither {stem} nor {stem}.gz is there")))
        }
    }

    /// Images `[N, 1, H, W]` in `[0, 1]` and labels `[N]`, checked to agree.
    fn pair(dir: &Path, split: &str) -> Result<(Tensor, Tensor), NnError> {
        let image_path = Mnist::find(dir, &format!("{split}-images-idx3-ubyte"))?;
        let label_path = Mnist::find(dir, &format!("{split}-labels-idx1-ubyte"))?;
        let images = read_idx(&image_path)?;
        let labels = read_idx(&label_path)?;
        if images.rank() != 3 || images.dtype() != DType::U8 {
            return Err(bad(
                &image_path,
                format!("expected u8 images [N, H, W], got {} {:?}", images.dtype(), images.shape()),
            ));
        }
        if labels.rank() != 1 || labels.dtype() != DType::U8 {
            return Err(bad(
                &label_path,
                format!("expected u8 labels [N], got {} {:?}", labels.dtype(), labels.shape()),
            ));
        }
        if labels.shape()[0] != images.shape()[0] {
            return Err(bad(
                &label_path,
                format!("{} labels for {} images in {}", labels.shape()[0], images.shape()[0], image_path.display()),
            ));
        }
        let (n, h, w) = (images.shape()[0], images.shape()[1], images.shape()[2]);
        let pixels = images.to_dtype(DType::F32).div_scalar(255.0).reshape(&[n as isize, 1, h as isize, w as isize]);
        Ok((pixels, labels.to_dtype(DType::I64)))
    }
}
