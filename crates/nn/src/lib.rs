//! Layers, losses and initialisers with PyTorch's names and defaults, built on `autograd`.
//!
//! - [`Module`]: `forward(&Var)`, parameters by hierarchical name (`named_parameters`), and
//!   train/eval switched explicitly (`set_training`), never through a thread-local. A module
//!   brings its parameters onto the input's tape, so there is no global tape.
//! - Layers: [`Linear`], [`Conv1d`], [`Conv2d`], [`ConvTranspose2d`], [`MaxPool2d`],
//!   [`AvgPool2d`], [`AdaptiveAvgPool2d`], [`Embedding`], [`LayerNorm`], [`GroupNorm`],
//!   [`BatchNorm`] (1d and 2d, running statistics as buffers), [`Sequential`], [`Dropout`]
//!   (seeded, recorded as a node), and the activations ([`Relu`], [`Tanh`], [`Sigmoid`], [`Gelu`], [`Silu`], [`Mish`],
//!   [`LeakyRelu`], [`Elu`], [`Softmax`], [`LogSoftmax`], [`Flatten`], [`Identity`]).
//! - Losses ([`loss`]): mse, l1, huber, smooth_l1, nll, cross_entropy (fused), binary
//!   cross-entropy (with logits), with torch's reductions.
//! - Initialisers ([`init`]) with an explicit seeded generator; `Linear`'s default is torch's.
//! - [`data`]: `Dataset`, `DataLoader` (batches, seeded shuffling, `drop_last`, prefetching),
//!   and the IDX (MNIST) reader, plain or gzip.
//! - [`state`]: parameters and buffers by name in safetensors files, interchangeable with
//!   `safetensors.torch.save_file(model.state_dict())`.
//!
//! ```
//! use autograd::Tape;
//! use nn::{loss, Linear, Module, Relu, Sequential};
//! use tensor::{DType, Rng, Tensor};
//! let mut rng = Rng::seed(0);
//! let model = Sequential::new().add(Linear::new(2, 16, &mut rng)).add(Relu).add(Linear::new(16, 3, &mut rng));
//! let tape = Tape::new();
//! let x = tape.constant(Tensor::randn(&[8, 2], DType::F32, &mut rng));
//! let y = Tensor::from_vec(vec![0i64, 1, 2, 0, 1, 2, 0, 1], &[8]);
//! let l = loss::cross_entropy(&model.forward(&x).unwrap(), &y, loss::Reduction::Mean).unwrap();
//! let grads = l.backward().unwrap();
//! assert_eq!(grads.params().count(), 4);
//! ```

mod activation;
mod attention;
mod conv;
pub mod data;
mod dropout;
mod embedding;
mod error;
pub mod functional;
pub mod init;
mod linear;
pub mod loss;
mod module;
mod norm;
mod pool;
mod recurrent;
pub mod state;

pub use activation::{Elu, Flatten, Gelu, Identity, LeakyRelu, LogSoftmax, Mish, Relu, Sigmoid, Silu, Softmax, Tanh};
pub use attention::MultiheadAttention;
pub use conv::{Conv1d, Conv2d, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use error::NnError;
pub use linear::Linear;
pub use loss::Reduction;
pub use module::{child, Module, Sequential};
pub use norm::{BatchNorm, GroupNorm, LayerNorm};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use recurrent::{Gru, GruCell, Lstm, LstmCell, RecurrentWeights};
