//! User-defined differentiable ops.

use std::sync::Arc;

use tensor::Tensor;

use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::var::Var;

/// A differentiable op defined outside the crate: a name, a forward on tensors and a backward
/// on `Var`s. It records, prints and replays like a built-in op (its `forward` is its
/// `Op::eval`); its backward, written with `Var` ops, is itself differentiable. Custom ops are
/// `Send + Sync`, so a recorded [`Function`](crate::Function) can move to another thread.
///
/// A straight-through estimator (round in the forward pass, identity gradient):
///
/// ```
/// use std::sync::Arc;
/// use autograd::{CustomOp, Result, Tape, Var};
/// use tensor::Tensor;
///
/// struct StraightThroughRound;
///
/// impl CustomOp for StraightThroughRound {
///     fn name(&self) -> &str {
///         "st_round"
///     }
///     fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
///         inputs[0].try_round()
///     }
///     fn backward(&self, _inputs: &[Var], _output: &Var, grad: &Var) -> Result<Vec<Option<Var>>> {
///         Ok(vec![Some(grad.clone())])
///     }
/// }
///
/// let tape = Tape::new();
/// let x = tape.var(Tensor::from_vec(vec![0.2f64, 1.7], &[2]));
/// let y = Var::custom(Arc::new(StraightThroughRound), &[&x]);
/// assert_eq!(y.value().to_vec::<f64>(), vec![0.0, 2.0]);
/// let g = (&y * 3.0).sum_all().backward().unwrap();
/// assert_eq!(g.get(&x).unwrap().to_vec::<f64>(), vec![3.0, 3.0]);
/// ```
pub trait CustomOp: Send + Sync {
    /// The name printed in the graph.
    fn name(&self) -> &str;

    /// Computes the output from the input values.
    fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor>;

    /// One gradient per input (`None` where none flows), given the inputs, the output and the
    /// output's gradient. Write it with `Var` ops so it can be differentiated again. The
    /// default has no rule: differentiating through the op is an error.
    fn backward(&self, _inputs: &[Var], _output: &Var, _grad: &Var) -> Result<Vec<Option<Var>>> {
        Err(AutogradError::NoRule { op: self.name().to_string() })
    }
}

impl Var {
    /// Applies a user-defined op to `inputs` (at least one), recording it like a built-in.
    pub fn try_custom(op: Arc<dyn CustomOp>, inputs: &[&Var]) -> Result<Var> {
        if inputs.is_empty() {
            return Err(AutogradError::Invalid {
                op: "custom",
                msg: format!("`{}` needs at least one input", op.name()),
            });
        }
        Var::apply(inputs, Op::Custom(op))
    }

    /// Applies a user-defined op.
    ///
    /// # Panics
    /// As [`try_custom`](Self::try_custom) errors.
    #[track_caller]
    pub fn custom(op: Arc<dyn CustomOp>, inputs: &[&Var]) -> Var {
        crate::error::ok(Var::try_custom(op, inputs))
    }
}
