//! Op families. Each file holds one family's forward kernels; the autograd crate mirrors the
//! names with the backward rules.

pub mod binary;
pub mod concat;
pub mod index;
pub mod matmul;
pub mod movement;
pub mod reduce;
pub mod unary;
