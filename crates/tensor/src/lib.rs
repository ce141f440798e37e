//! Strided n-dimensional tensors: views without copies, NumPy broadcasting, reductions,
//! GEMM-backed matmul and convolution kernels, parallel with rayon above a size threshold.
//!
//! `tensor` knows nothing about gradients; it is a complete array library on its own.
//!
//! ```
//! use tensor::{DType, Rng, Tensor};
//! let mut rng = Rng::seed(0);
//! let x = Tensor::randn(&[4, 3], DType::F32, &mut rng);
//! let w = Tensor::ones(&[3, 2], DType::F32);
//! let y = x.matmul(&w).relu().sum(&[0], false);
//! assert_eq!(y.shape(), &[2]);
//! ```
//!
//! Every fallible op comes as a pair: `try_op` returns `Result<Tensor, TensorError>`, `op`
//! panics with the same message. Operators (`+ - * /`) use the panicking form.
//!
//! # Design notes (where this crate departs from the first design sketch, and why)
//! - A `Tensor` is one `Arc` pointer to (shared storage, layout), not the pair inline: autograd
//!   moves and clones tensors on every recorded op, and 128-byte tensors made `memmove` a
//!   quarter of a tiny training step. A view costs one small allocation instead of none.
//! - Large output buffers are recycled through a bounded cache ([`pool`]): fresh multi-MB
//!   allocations page-fault on first touch, which cost more than the kernels themselves.
//! - Elementwise f32 `exp`/`tanh`/`sigmoid` use branch-free polynomial kernels ([`fastmath`])
//!   compiled for AVX-512/AVX2/SSE2 with run-time selection; f64 keeps libm for accuracy.
//! - Threading thresholds live in [`parallel`]. matmul and convolution run on the crate's own
//!   GEMM (packing and blocking around an AVX2+FMA register-tile micro-kernel, packing scratch
//!   per thread, so no allocation per call) where the CPU has AVX2 and FMA, except products of
//!   32k multiply-adds or more on a CPU with AVX-512F, where matrixmultiply's AVX-512 kernel is
//!   faster; elsewhere, or with `BACKPROP_GEMM=matrixmultiply`, on matrixmultiply
//!   (`BACKPROP_GEMM=own` keeps every product on ours); with the `gemm-crate` feature, on the
//!   `gemm` crate. Large products are split over rayon's one pool.

mod macros;

pub mod arena;
mod create;
mod display;
mod dtype;
mod elementwise;
mod error;
pub mod fastmath;
// Our GEMM; with the `gemm-crate` feature, matmul runs on the gemm crate instead.
#[cfg(not(feature = "gemm-crate"))]
mod gemm;
mod header;
pub mod lanes;
mod layout;
pub mod ops;
pub mod parallel;
pub mod pool;
mod random;
pub mod spares;
mod tensor;

pub use dtype::{DType, Element, Float, Numeric, Storage};
pub use error::{Result, TensorError};
pub use layout::{
    broadcast_shapes, contiguous_strides, normalize_axes, normalize_axis, normalize_insert_axis, same_shape, shape,
    Layout, Shape, Strides,
};
pub use ops::conv::{Conv1dParams, Conv2dParams};
pub use ops::conv_transpose::ConvTranspose2dParams;
pub use random::Rng;
pub use tensor::Tensor;
