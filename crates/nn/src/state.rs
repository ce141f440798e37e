//! A module's parameters and buffers by name, saved to and loaded from safetensors files, in
//! the format `safetensors.torch.save_file(model.state_dict())` writes.

use std::collections::HashMap;
use std::path::Path;

use autograd::Param;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tensor::{DType, Tensor};

use crate::error::NnError;
use crate::module::Module;

fn file_error(path: &Path, msg: impl ToString) -> NnError {
    NnError::File { path: path.display().to_string(), msg: msg.to_string() }
}

/// Every parameter and buffer by name, as `state_dict` lists them.
pub fn state_dict(module: &dyn Module) -> Vec<(String, Param)> {
    let mut out: Vec<(String, Param)> = module.named_parameters().into_iter().collect();
    out.extend(module.named_buffers());
    out
}

fn to_bytes(t: &Tensor) -> Option<(Dtype, Vec<u8>)> {
    let t = t.contiguous();
    match t.dtype() {
        DType::F32 => Some((Dtype::F32, t.to_vec::<f32>().iter().flat_map(|v| v.to_le_bytes()).collect())),
        DType::F64 => Some((Dtype::F64, t.to_vec::<f64>().iter().flat_map(|v| v.to_le_bytes()).collect())),
        DType::I64 => Some((Dtype::I64, t.to_vec::<i64>().iter().flat_map(|v| v.to_le_bytes()).collect())),
        _ => None,
    }
}

fn from_view(view: &TensorView<'_>) -> Option<Tensor> {
    let (shape, data) = (view.shape(), view.data());
    Some(match view.dtype() {
        Dtype::F32 => Tensor::from_vec(
            data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>(),
            shape,
        ),
        Dtype::F64 => Tensor::from_vec(
            data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect::<Vec<_>>(),
            shape,
        ),
        Dtype::I64 => Tensor::from_vec(
            data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect::<Vec<_>>(),
            shape,
        ),
        _ => return None,
    })
}

/// The module's state as safetensors bytes.
pub fn save_bytes(module: &dyn Module) -> Result<Vec<u8>, NnError> {
    let state = state_dict(module);
    let mut blobs = Vec::with_capacity(state.len());
    for (name, p) in &state {
        let value = p.value();
        let (dtype, bytes) = to_bytes(&value).ok_or_else(|| {
            file_error(Path::new("<memory>"), format!("{name}: cannot save a {} tensor", value.dtype()))
        })?;
        blobs.push((name.clone(), dtype, value.shape().to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(blobs.len());
    for (name, dtype, shape, bytes) in &blobs {
        let view = TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| file_error(Path::new(name), e))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, None).map_err(|e| file_error(Path::new("<memory>"), e))
}

/// Writes the module's parameters and buffers to `path`.
pub fn save(module: &dyn Module, path: impl AsRef<Path>) -> Result<(), NnError> {
    let bytes = save_bytes(module)?;
    std::fs::write(path.as_ref(), bytes).map_err(|e| file_error(path.as_ref(), e))
}

/// Loads parameters and buffers from safetensors bytes: every name the module has must be in
/// the file with the same shape and dtype, and the file must hold nothing else; otherwise the
/// error lists what is missing, unexpected and mis-shaped, and nothing changes.
pub fn load_bytes(module: &dyn Module, bytes: &[u8], origin: &Path) -> Result<(), NnError> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| file_error(origin, format!("not a readable safetensors file: {e}")))?;
    let state = state_dict(module);
    let mut found: HashMap<&str, Tensor> = HashMap::new();
    let (mut missing, mut mismatched) = (Vec::new(), Vec::new());
    for (name, p) in &state {
        let Ok(view) = file.tensor(name) else {
            missing.push(name.clone());
            continue;
        };
        let value = p.value();
        match from_view(&view) {
            Some(t) if t.shape() == value.shape() && t.dtype() == value.dtype() => {
                found.insert(name.as_str(), t);
            }
            Some(t) => mismatched.push(format!(
                "{name}: {}{:?} in the file, {}{:?} in the module",
                t.dtype(),
                t.shape(),
                value.dtype(),
                value.shape()
            )),
            None => mismatched.push(format!("{name}: {:?} in the file is not f32, f64 or i64", view.dtype())),
        }
    }
    let known: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    let mut unexpected: Vec<String> =
        file.names().into_iter().filter(|n| !known.contains(n)).map(String::from).collect();
    unexpected.sort();
    if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
        return Err(NnError::Mismatch { missing, unexpected, mismatched });
    }
    for (name, p) in &state {
        if let Some(t) = found.remove(name.as_str()) {
            p.replace(t);
        }
    }
    Ok(())
}

/// Loads the module's parameters and buffers from `path` (see [`load_bytes`]).
pub fn load(module: &dyn Module, path: impl AsRef<Path>) -> Result<(), NnError> {
    let bytes = std::fs::read(path.as_ref()).map_err(|e| file_error(path.as_ref(), e))?;
    load_bytes(module, &bytes, path.as_ref())
}
