//! `Var` ops and their backward rules, one file per op family, mirroring `tensor::ops`.

pub(crate) mod binary;
pub(crate) mod concat;
pub(crate) mod conv;
pub(crate) mod index;
pub(crate) mod matmul;
pub(crate) mod movement;
pub(crate) mod pool;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod softmax;
pub(crate) mod unary;
