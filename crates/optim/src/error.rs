//! The one error type of the `optim` crate.

use autograd::AutogradError;
use tensor::{DType, TensorError};

/// What went wrong building or stepping an optimizer. A failed `step` changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptimError {
    #[error("{optimizer}: {name} = {value} is invalid: {expected}")]
    Hyperparameter { optimizer: &'static str, name: &'static str, value: String, expected: &'static str },

    #[error("{optimizer}: the gradient of parameter {param} is {grad_dtype}{grad:?} but the parameter is {param_dtype}{shape:?}; the step changed nothing")]
    GradientMismatch {
        optimizer: &'static str,
        param: u64,
        shape: Vec<usize>,
        param_dtype: DType,
        grad: Vec<usize>,
        grad_dtype: DType,
    },

    #[error("{optimizer}: parameter {param} is {dtype}; optimizers update f32 or f64 parameters")]
    UnsupportedDType { optimizer: &'static str, param: u64, dtype: DType },

    #[error("{optimizer}: parameter {param} is already in param group {group}")]
    DuplicateParam { optimizer: &'static str, param: u64, group: usize },

    #[error("{optimizer}: there is no param group {group} (it has {groups})")]
    NoSuchGroup { optimizer: &'static str, group: usize, groups: usize },

    #[error("clip_grad_norm: the total {norm_type}-norm of the gradients is {norm}; pass error_if_nonfinite = false to clip anyway")]
    NonFiniteNorm { norm: f64, norm_type: f64 },

    #[error("step_param: this optimizer cannot update parameter {param} alone (it needs every gradient at once); call step with all the gradients")]
    NoParamStep { param: u64 },

    #[error("checkpoint: {msg}")]
    Checkpoint { msg: String },

    #[error(transparent)]
    Tensor(#[from] TensorError),

    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

/// `Result` with [`OptimError`].
pub type Result<T> = std::result::Result<T, OptimError>;

/// Checks one hyperparameter, naming it in the error.
pub(crate) fn check(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<()> {
    if ok {
        return Ok(());
    }
    Err(OptimError::Hyperparameter { optimizer, name, value: value.to_string(), expected })
}
