//! backprop: a deep-learning framework in Rust.
//!
//! This facade re-exports the workspace's crates, so one dependency brings everything:
//! - [`tensor`]: strided n-d tensors and their kernels;
//! - [`autograd`]: the graph-IR tape and reverse-mode differentiation;
//! - [`optim`]: optimizers with torch.optim's semantics;
//! - [`nn`]: layers, losses, initialisers, data loading;
//! - [`distributed`]: data-parallel training over MPI (feature `mpi`).
//!
//! A whole training loop (the README's; it needs the Fashion-MNIST files, so it is compiled
//! here, not run):
//!
//! ```no_run
//! use backprop::nn::data::{DataLoader, Mnist, TensorDataset};
//! use backprop::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mnist = Mnist::load("/usr/share/datasets/fashion-mnist")?; // [N, 1, 28, 28] in [0, 1]
//! let train = TensorDataset::new(mnist.train_images, mnist.train_labels)?;
//! let mut rng = Rng::seed(0);
//! let net = Sequential::new()
//!     .add(nn::Flatten::batch())
//!     .add(Linear::new(784, 256, &mut rng))
//!     .add(Relu)
//!     .add(Linear::new(256, 10, &mut rng));
//! let mut opt = Optim::new(net.parameters(), Adam::default())?; // torch's defaults
//! let loader = DataLoader { batch_size: 64, shuffle: true, ..DataLoader::new(&train) };
//! let tape = Tape::new();
//! for epoch in 0..10 {
//!     for batch in loader.batches(epoch) {
//!         let (x, y) = batch?;
//!         tape.clear(); // one tape per step
//!         let loss = cross_entropy(&net.forward(&tape.constant(x))?, &y, Reduction::Mean)?;
//!         opt.step(&loss.backward()?)?;
//!     }
//! }
//! nn::state::save(&net, "mlp.safetensors")?; // loads in PyTorch too
//! # Ok(())
//! # }
//! ```

pub use autograd;
pub use distributed;
pub use nn;
pub use optim;
pub use tensor;

/// The names a training script needs, in one `use backprop::prelude::*`: tensors, the tape,
/// parameters and gradients, the layers and losses, the optimizers and schedulers.
pub mod prelude {
    pub use autograd::{compile, grad, no_grad, AsVar, AutogradError, Function, Gradients, Param, Tape, Var};
    pub use nn::loss::{accuracy, cross_entropy, mse_loss, Reduction};
    pub use nn::{init, Dropout, Gelu, Linear, Module, Relu, Sequential, Sigmoid, Tanh};
    pub use optim::{
        clip_grad_norm, clip_grad_value, Adagrad, Adam, Algorithm, Checkpoint, LrScheduler, Optim, Optimizer, RmsProp,
        Scheduler, Sgd, WithOptimizer,
    };
    pub use tensor::{DType, Rng, Tensor, TensorError};
    pub use {autograd, nn, optim, tensor};
}
