//! Checkpoints: optimizer and scheduler state in safetensors files.
//!
//! State is keyed by param group and position in the group, as torch's `state_dict` is (a
//! `ParamId` is not stable across processes). Buffers are tensors named
//! `state.<group>.<position>.<field>`; everything else (hyperparameters, step counts, scheduler
//! counters) is in the header's metadata, with a small typed preamble: `format =
//! backprop.optim`, `version`, `kind` (`optimizer` or `scheduler`) and `name` (the algorithm or
//! schedule). Loading checks all of it against the receiving optimizer and changes nothing
//! unless the whole file fits.
//!
//! ```
//! use autograd::{Gradients, Param};
//! use optim::{Adam, Checkpoint, Optim, Optimizer};
//! use tensor::{DType, Tensor};
//! let w = Param::new(Tensor::ones(&[3], DType::F32));
//! let mut opt = Optim::new([w.clone()], Adam::default()).unwrap();
//! let mut g = Gradients::new();
//! g.set_param(w.id(), Tensor::ones(&[3], DType::F32));
//! opt.step(&g).unwrap();
//! let bytes = opt.to_bytes().unwrap();
//! // A fresh optimizer over the same parameters continues where this one stopped.
//! let mut resumed = Optim::new([w.clone()], Adam::default()).unwrap();
//! resumed.load_bytes(&bytes).unwrap();
//! assert_eq!(resumed.state(&w).unwrap().step, 1);
//! ```

mod file;
mod record;

use std::path::Path;

pub(crate) use file::{Reader, Writer};
pub(crate) use record::record;
pub use record::{Field, Record};

use crate::error::{OptimError, Result};

/// Saving to and loading from safetensors bytes or files.
pub trait Checkpoint {
    /// The state as the bytes of a safetensors file.
    fn to_bytes(&self) -> Result<Vec<u8>>;

    /// Restores the state from safetensors bytes; on any error nothing changes.
    fn load_bytes(&mut self, bytes: &[u8]) -> Result<()>;

    /// Writes the state to a file.
    fn save(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let bytes = self.to_bytes()?;
        std::fs::write(path.as_ref(), bytes).map_err(|e| io_error(path.as_ref(), e))
    }

    /// Restores the state from a file; on any error nothing changes.
    fn load(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let bytes = std::fs::read(path.as_ref()).map_err(|e| io_error(path.as_ref(), e))?;
        self.load_bytes(&bytes)
    }
}

fn io_error(path: &Path, e: std::io::Error) -> OptimError {
    OptimError::Checkpoint { msg: format!("{}: {e}", path.display()) }
}
