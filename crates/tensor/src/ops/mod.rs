//! Op families. Each file holds one family's forward kernels; the autograd crate mirrors the
//! names with the backward rules.

pub mod binary;
pub mod concat;
pub mod conv;
pub mod conv_transpose;
pub mod cross_entropy;
pub mod extremum;
pub mod fused;
mod im2col;
pub mod index;
pub mod matmul;
pub mod movement;
pub mod operators;
pub mod pool;
pub mod prod_exclusive;
pub mod reduce;
pub mod softmax;
pub mod unary;
