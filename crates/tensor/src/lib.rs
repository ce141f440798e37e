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

mod macros;

mod create;
mod display;
mod dtype;
mod elementwise;
mod error;
pub mod fastmath;
mod layout;
pub mod ops;
pub mod parallel;
pub mod pool;
mod random;
mod tensor;

pub use dtype::{DType, Element, Float, Numeric, Storage};
pub use error::{Result, TensorError};
pub use layout::{
    broadcast_shapes, contiguous_strides, normalize_axes, normalize_axis, normalize_insert_axis, shape, Layout, Shape,
    Strides,
};
pub use ops::conv::{Conv1dParams, Conv2dParams};
pub use ops::conv_transpose::ConvTranspose2dParams;
pub use random::Rng;
pub use tensor::Tensor;
