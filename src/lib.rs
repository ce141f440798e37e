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

/// The names a training script needs, in one `use backprop::prelude::*`: tensors, the tape,
/// parameters and gradients, the layers and losses, the optimizers and schedulers.
pub mod prelude {
    pub use autograd::{grad, no_grad, AsVar, AutogradError, Function, Gradients, Param, Tape, Var};
    pub use nn::loss::{accuracy, cross_entropy, mse_loss, Reduction};
    pub use nn::{init, Dropout, Gelu, Linear, Module, Relu, Sequential, Sigmoid, Tanh};
    pub use optim::{
        clip_grad_norm, clip_grad_value, Adagrad, Adam, Algorithm, Checkpoint, LrScheduler, Optim, Optimizer, RmsProp,
        Scheduler, Sgd,
    };
    pub use tensor::{DType, Rng, Tensor, TensorError};
    pub use {autograd, nn, optim, tensor};
}
