//! The one error type of the `autograd` crate.

use tensor::TensorError;

/// What went wrong while recording or differentiating.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AutogradError {
    /// A forward kernel rejected its input (shape, dtype, axis, ...); same message as `tensor`'s.
    #[error(transparent)]
    Tensor(#[from] TensorError),

    #[error("backward: output has shape {shape:?}; backward() needs a scalar (one element), use backward_with(seed) for other outputs")]
    NonScalarOutput { shape: Vec<usize> },

    #[error("backward_with: seed has shape {seed:?} and dtype {seed_dtype}, but the output has shape {output:?} and dtype {output_dtype}")]
    SeedMismatch { seed: Vec<usize>, seed_dtype: tensor::DType, output: Vec<usize>, output_dtype: tensor::DType },

    #[error("{op}: inputs were recorded on different tapes; combine Vars of one tape only")]
    DifferentTapes { op: String },

    #[error("{op}: has no backward rule, so gradients cannot flow through it")]
    NoRule { op: String },

    #[error(
        "{what}: the Var is not on the tape being differentiated (it is a constant, detached, or from another tape)"
    )]
    NotOnTape { what: &'static str },

    #[error("{what}: the Var does not require grad (a placeholder, a mask or index, or a value that depends on no Tape::var leaf or trainable parameter)")]
    NoGrad { what: &'static str },

    #[error("{op}: a Var recorded before Tape::clear() was used after it; record the value again in the current step")]
    StaleVar { op: String },

    #[error("run: input {index} ({name}) was recorded as {expected_dtype}{expected:?} but got {got_dtype}{got:?}; record the graph again for new shapes")]
    InputMismatch {
        index: usize,
        name: String,
        expected: Vec<usize>,
        expected_dtype: tensor::DType,
        got: Vec<usize>,
        got_dtype: tensor::DType,
    },

    #[error("backward: the saved tensors of `{op}` were already freed by an earlier backward pass; pass retain_graph = true to the first one")]
    GraphFreed { op: String },

    #[error("anomaly: {what} of `{op}` contains {kind} (line {line} of the printed graph: `{equation}`)")]
    Anomaly { what: &'static str, op: String, kind: &'static str, line: usize, equation: String },

    #[error("Param::set: parameter {id} is {expected_dtype}{expected:?}, got {got_dtype}{got:?} (Param::replace changes the shape)")]
    ParamMismatch {
        id: u64,
        expected: Vec<usize>,
        expected_dtype: tensor::DType,
        got: Vec<usize>,
        got_dtype: tensor::DType,
    },

    #[error("grad: input {index} does not influence the outputs, so it has no gradient; drop it, or use grad_with (which gives None for it, as torch's allow_unused)")]
    UnusedInput { index: usize },

    #[error("{op}: backward returned a {got_dtype}{got:?} gradient for input {index}, which is {expected_dtype}{expected:?} (a gradient must have its input's dtype and a shape that sums to the input's)")]
    BadGradient {
        op: String,
        index: usize,
        expected: Vec<usize>,
        expected_dtype: tensor::DType,
        got: Vec<usize>,
        got_dtype: tensor::DType,
    },

    #[error("var: a {dtype} tensor cannot require grad (only f32 and f64 can); record integer data with Tape::input or Tape::constant")]
    IntegerLeaf { dtype: tensor::DType },

    #[error("{op}: {msg}")]
    Invalid { op: &'static str, msg: String },
}

/// `Result` with [`AutogradError`].
pub type Result<T> = std::result::Result<T, AutogradError>;

/// Turns a `try_*` result into the panicking form's value, with the same message.
#[track_caller]
pub(crate) fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
