//! backprop: a deep-learning framework in Rust.
//!
//! This facade re-exports the workspace's crates, so one dependency brings everything:
//! - [`tensor`]: strided n-d tensors and their kernels;
//! - [`autograd`]: the graph-IR tape and reverse-mode differentiation;
//! - [`optim`]: optimizers with torch.optim's semantics;
//! - [`nn`]: layers, losses, initialisers, data loading.

pub use autograd;
pub use nn;
pub use optim;
pub use tensor;

/// The names most programs need, in one `use backprop::prelude::*`.
pub mod prelude {
    pub use tensor::{DType, Rng, Tensor, TensorError};
}
