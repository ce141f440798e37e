//! Same weights everywhere: broadcasting rank 0's parameters, and checking that the ranks agree.

use autograd::Param;
use nn::Module;
use tensor::{DType, Tensor};

use crate::error::{DistError, Result};
use crate::transport::{bytes_of, bytes_of_mut, Plain};
use crate::world::World;

/// A parameter as the ranks compare it: name (quoted and escaped, so it holds no newline),
/// dtype and shape.
fn describe(name: &str, p: &Param) -> String {
    p.read(|t| format!("{name:?} {:?} {:?}", t.dtype(), t.shape()))
}

/// The parameters and then the buffers of `module`, named as in its state dict.
pub fn module_tensors(module: &dyn Module) -> Vec<(String, Param)> {
    let mut out: Vec<(String, Param)> = module.named_parameters().into_iter().collect();
    out.extend(module.named_buffers());
    out
}

impl World {
    /// Copies rank 0's values of `params` into every rank's, so that every rank starts from the
    /// same weights whatever its seed. First checks that every rank holds the same list (names,
    /// dtypes, shapes); a difference is [`DistError::ParameterMismatch`] naming the first differing
    /// parameter, on every rank, and nothing is copied.
    pub fn broadcast_parameters(&self, params: impl IntoIterator<Item = (String, Param)>) -> Result<()> {
        let params: Vec<(String, Param)> = params.into_iter().collect();
        let op = "broadcast_parameters";
        self.check_signatures(op, &params)?;
        let mut bytes = Vec::new();
        if self.is_root() {
            for (_, p) in &params {
                p.read(|t| append_bytes(&mut bytes, t));
            }
        }
        let mut len = (bytes.len() as u64).to_le_bytes();
        self.transport().broadcast(op, &mut len, 0)?;
        bytes.resize(u64::from_le_bytes(len) as usize, 0);
        self.transport().broadcast(op, &mut bytes, 0)?;
        if !self.is_root() {
            let layout: Vec<(DType, Vec<usize>)> =
                params.iter().map(|(_, p)| p.read(|t| (t.dtype(), t.shape().to_vec()))).collect();
            let expected: usize = layout.iter().map(|(d, s)| s.iter().product::<usize>() * d.size_in_bytes()).sum();
            if expected != bytes.len() {
                return Err(DistError::Protocol { op, rank: 0, expected, got: bytes.len() });
            }
            let mut at = 0;
            for ((_, p), (dtype, shape)) in params.iter().zip(layout) {
                let size = shape.iter().product::<usize>() * dtype.size_in_bytes();
                p.replace(from_bytes(&bytes[at..at + size], dtype, &shape));
                at += size;
            }
        }
        Ok(())
    }

    /// [`broadcast_parameters`](Self::broadcast_parameters) of a module's parameters and buffers
    /// (running statistics), so evaluation on any rank matches rank 0 too.
    pub fn broadcast_module(&self, module: &dyn Module) -> Result<()> {
        self.broadcast_parameters(module_tensors(module))
    }

    /// Checks that every rank holds bit-identical `params` (names, dtypes, shapes, values):
    /// [`DistError::Diverged`] names the lowest rank that differs from rank 0, on every rank.
    pub fn check_same_parameters(&self, params: impl IntoIterator<Item = (String, Param)>) -> Result<()> {
        let op = "check_same_parameters";
        let mut hash = Fnv::new();
        for (name, p) in params {
            hash.write(describe(&name, &p).as_bytes());
            let mut bytes = Vec::new();
            p.read(|t| append_bytes(&mut bytes, t));
            hash.write(&bytes);
        }
        let all = self.transport().all_gather(op, &hash.0.to_le_bytes())?;
        let hashes: Vec<u64> =
            all.iter().map(|b| u64::from_le_bytes(b.as_slice().try_into().unwrap_or([0; 8]))).collect();
        match hashes.iter().position(|&h| h != hashes[0]) {
            None => Ok(()),
            Some(rank) => Err(DistError::Diverged { op, rank, root: hashes[0], theirs: hashes[rank] }),
        }
    }

    /// Every rank learns whether all lists match rank 0's, and where the first difference is.
    pub(crate) fn check_signatures(&self, op: &'static str, params: &[(String, Param)]) -> Result<()> {
        let mine: Vec<String> = params.iter().map(|(n, p)| describe(n, p)).collect();
        let mut root = mine.join("\n").into_bytes();
        let mut len = (root.len() as u64).to_le_bytes();
        self.transport().broadcast(op, &mut len, 0)?;
        root.resize(u64::from_le_bytes(len) as usize, 0);
        self.transport().broadcast(op, &mut root, 0)?;
        let root_text = String::from_utf8_lossy(&root).into_owned();
        let root_list: Vec<&str> = if root_text.is_empty() { Vec::new() } else { root_text.split('\n').collect() };
        let differs = (0..mine.len().max(root_list.len()))
            .find(|&i| root_list.get(i).copied() != mine.get(i).map(|s| s.as_str()));
        // Each rank posts its first difference (index, then its own description there).
        let mut post = Vec::new();
        if let Some(i) = differs {
            post.extend_from_slice(&(i as u64).to_le_bytes());
            post.extend_from_slice(mine.get(i).map_or("no parameter", |s| s.as_str()).as_bytes());
        }
        let all = self.transport().all_gather(op, &post)?;
        for (rank, theirs) in all.iter().enumerate() {
            if theirs.len() >= 8 {
                let index = u64::from_le_bytes(theirs[..8].try_into().unwrap_or([0; 8])) as usize;
                return Err(DistError::ParameterMismatch {
                    op,
                    rank,
                    index,
                    root: root_list.get(index).map_or("no parameter", |s| s).to_string(),
                    theirs: String::from_utf8_lossy(&theirs[8..]).into_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Appends `t`'s elements in row-major order, as bytes.
fn append_bytes(out: &mut Vec<u8>, t: &Tensor) {
    fn raw<T: Plain + tensor::Element>(out: &mut Vec<u8>, t: &Tensor) {
        match t.as_slice::<T>() {
            Some(s) => out.extend_from_slice(bytes_of(s)),
            None => out.extend_from_slice(bytes_of(&t.to_vec::<T>())),
        }
    }
    match t.dtype() {
        DType::F32 => raw::<f32>(out, t),
        DType::F64 => raw::<f64>(out, t),
        DType::I64 => raw::<i64>(out, t),
        DType::U8 => raw::<u8>(out, t),
        DType::Bool => out.extend(t.to_vec::<bool>().into_iter().map(u8::from)),
    }
}

/// The tensor whose elements `append_bytes` wrote.
fn from_bytes(bytes: &[u8], dtype: DType, shape: &[usize]) -> Tensor {
    fn raw<T: Plain + tensor::Element>(bytes: &[u8], shape: &[usize]) -> Tensor {
        let mut values = vec![T::default(); bytes.len() / std::mem::size_of::<T>()];
        bytes_of_mut(&mut values).copy_from_slice(bytes);
        Tensor::from_vec(values, shape)
    }
    match dtype {
        DType::F32 => raw::<f32>(bytes, shape),
        DType::F64 => raw::<f64>(bytes, shape),
        DType::I64 => raw::<i64>(bytes, shape),
        DType::U8 => raw::<u8>(bytes, shape),
        DType::Bool => Tensor::from_vec(bytes.iter().map(|&b| b != 0).collect::<Vec<bool>>(), shape),
    }
}

/// FNV-1a, 64 bits: a fingerprint, not a defence against anyone.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
