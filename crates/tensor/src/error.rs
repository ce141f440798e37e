//! The one error type of the `tensor` crate.

use crate::DType;

/// What went wrong, with the op and the offending shapes, axes or dtypes named.
///
/// Every fallible op has a `try_*` form returning `Result<_, TensorError>`; the plain form panics
/// with the same message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TensorError {
    #[error("{op}: cannot broadcast shapes {lhs:?} and {rhs:?}")]
    Broadcast { op: &'static str, lhs: Vec<usize>, rhs: Vec<usize> },

    #[error("{op}: shapes {lhs:?} and {rhs:?} differ")]
    ShapeMismatch { op: &'static str, lhs: Vec<usize>, rhs: Vec<usize> },

    #[error("{op}: {lhs:?} @ {rhs:?}: inner dimensions {lhs_inner} and {rhs_inner} differ")]
    MatmulInner { op: &'static str, lhs: Vec<usize>, rhs: Vec<usize>, lhs_inner: usize, rhs_inner: usize },

    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape:?} (rank {rank})", rank = shape.len())]
    AxisOutOfRange { op: &'static str, axis: isize, shape: Vec<usize> },

    #[error("{op}: axis {axis} appears more than once in {axes:?}")]
    DuplicateAxis { op: &'static str, axis: usize, axes: Vec<isize> },

    #[error("{op}: dtype mismatch: expected {expected}, got {got}")]
    DTypeMismatch { op: &'static str, expected: DType, got: DType },

    #[error("{op}: dtype {dtype} is not supported (expected {expected})")]
    UnsupportedDType { op: &'static str, dtype: DType, expected: &'static str },

    #[error("{op}: index {index} is out of bounds for axis {axis} with size {size}")]
    IndexOutOfBounds { op: &'static str, index: i64, axis: usize, size: usize },

    #[error("{op}: cannot reshape {from:?} ({from_numel} elements) into {to:?} ({to_numel} elements)")]
    ReshapeNumel { op: &'static str, from: Vec<usize>, from_numel: usize, to: Vec<usize>, to_numel: usize },

    #[error("{op}: shape {shape:?} needs {expected} elements, got {got}")]
    DataLength { op: &'static str, shape: Vec<usize>, expected: usize, got: usize },

    #[error("{op}: tensor of shape {shape:?} is empty; {op} needs at least one element")]
    Empty { op: &'static str, shape: Vec<usize> },

    #[error("{op}: shape {shape:?} has more elements than a usize can count")]
    TooLarge { op: &'static str, shape: Vec<usize> },

    #[error("{op}: out of memory: cannot allocate {bytes} bytes for {numel} elements of {dtype}")]
    OutOfMemory { op: &'static str, numel: usize, dtype: DType, bytes: u128 },

    #[error("{op}: scalar {scalar} is not exactly representable as {dtype}; convert the tensor to a float dtype first (to_dtype)")]
    ScalarNotRepresentable { op: &'static str, scalar: f64, dtype: DType },

    #[error("{op}: {msg}")]
    Invalid { op: &'static str, msg: String },
}

/// `Result` with [`TensorError`].
pub type Result<T> = std::result::Result<T, TensorError>;

impl TensorError {
    /// A catch-all argument error: `op: msg`.
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        TensorError::Invalid { op, msg: msg.into() }
    }
}

/// Turns a `try_*` result into the panicking form's value, with the same message.
#[track_caller]
pub(crate) fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
