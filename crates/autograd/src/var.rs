//! `Var`: a tensor value plus its place on a tape.

use std::fmt;

use smallvec::SmallVec;
use tensor::{DType, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::tape::{is_grad_enabled, NodeId, Tape};

/// The differentiable handle: a value, the tape it belongs to, and its node when recorded.
///
/// A recorded `Var` has a node on its tape: a leaf made by [`Tape::var`], [`Tape::param`] or
/// [`Tape::input`], or the result of an op on a recorded input. Gradients flow to it when it
/// [`requires_grad`](Self::requires_grad) (a float value that depends on a `Tape::var` leaf or
/// a trainable parameter); placeholders, comparisons, indices and masks are recorded without.
/// An unrecorded `Var` (a constant, anything computed under [`no_grad`](crate::no_grad))
/// carries just its value; it joins the graph as a `const` node only if a recorded op consumes
/// it.
///
/// A recorded `Var` belongs to one recording of its tape: after [`Tape::clear`] it is stale,
/// and using it is an error ([`AutogradError::StaleVar`]), never an alias of a new node.
///
/// Every differentiable op of `tensor` has a `Var` counterpart with the same name and
/// arguments: a `try_` form returning `Result<Var, AutogradError>` and a panicking form.
#[derive(Clone)]
pub struct Var {
    value: Tensor,
    tape: Tape,
    /// The node's index, `UNRECORDED` for a constant.
    id: u32,
    /// The tape's generation when this Var was recorded (see [`Tape::clear`]), shifted left
    /// by one, and whether it requires grad in the low bit: a `Var` stays three words.
    meta: u32,
}

const UNRECORDED: u32 = u32::MAX;

/// An argument that may be a `Var` or a plain `Tensor` (taken as a constant on the other
/// operand's tape): indices, masks, class targets, random seeds. Passing a `Var` (a
/// placeholder, or a value computed on the tape) keeps the argument in the recorded graph, so a
/// replay can feed it new values.
pub trait AsVar {
    /// This argument as a `Var` on `like`'s tape.
    fn as_var(&self, like: &Var) -> Var;
}

impl AsVar for Var {
    fn as_var(&self, _like: &Var) -> Var {
        self.clone()
    }
}

impl AsVar for Tensor {
    fn as_var(&self, like: &Var) -> Var {
        like.constant(self.clone())
    }
}

impl Var {
    pub(crate) fn recorded(value: Tensor, tape: Tape, id: NodeId, generation: u32, requires_grad: bool) -> Var {
        Var { value, tape, id: id.0, meta: (generation << 1) | requires_grad as u32 }
    }

    pub(crate) fn untracked(value: Tensor, tape: Tape) -> Var {
        Var { value, tape, id: UNRECORDED, meta: 0 }
    }

    /// The value.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The value, by (cheap, shared) clone.
    pub fn tensor(&self) -> Tensor {
        self.value.clone()
    }

    /// The value, giving up the handle (no reference count is added).
    pub fn into_tensor(self) -> Tensor {
        self.value
    }

    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    pub fn dtype(&self) -> DType {
        self.value.dtype()
    }

    pub fn rank(&self) -> usize {
        self.value.rank()
    }

    pub fn numel(&self) -> usize {
        self.value.numel()
    }

    /// The single element of a one-element value, as `f64`.
    #[track_caller]
    pub fn item(&self) -> f64 {
        self.value.item()
    }

    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// The node of a recorded `Var`; `None` for constants.
    pub fn node_id(&self) -> Option<NodeId> {
        (self.id != UNRECORDED).then_some(NodeId(self.id))
    }

    /// Whether this `Var` has a node on its tape.
    pub fn is_recorded(&self) -> bool {
        self.id != UNRECORDED
    }

    /// Whether gradients flow to this `Var`.
    pub fn requires_grad(&self) -> bool {
        self.meta & 1 == 1
    }

    /// The same node (or constant) with another tensor holding the same values.
    pub(crate) fn with_value(&self, value: Tensor) -> Var {
        Var { value, ..self.clone() }
    }

    /// The recording this Var belongs to (31 bits; see [`Tape::clear`]).
    pub(crate) fn generation(&self) -> u32 {
        self.meta >> 1
    }

    /// The same value, cut from the gradient: no gradient flows through the result. On a
    /// recorded `Var` this records `stop_gradient`, so the result stays part of the graph (a
    /// replay recomputes it from new inputs); on a constant, or under
    /// [`no_grad`](crate::no_grad), it is a plain copy of the handle. Errors as every op does: a
    /// stale `Var` is [`AutogradError::StaleVar`].
    pub fn try_detach(&self) -> Result<Var> {
        if !self.is_recorded() || !is_grad_enabled() {
            return Ok(Var::untracked(self.value.clone(), self.tape.clone()));
        }
        Var::apply(&[self], Op::StopGradient)
    }

    /// The same value, cut from the gradient.
    ///
    /// # Panics
    /// As [`try_detach`](Self::try_detach) errors (a stale `Var`, or anomaly mode on a
    /// non-finite value).
    #[track_caller]
    pub fn detach(&self) -> Var {
        crate::error::ok(self.try_detach())
    }

    /// A constant on the same tape (for building masks, targets, scalars next to this `Var`).
    pub fn constant(&self, value: Tensor) -> Var {
        Var::untracked(value, self.tape.clone())
    }

    /// Evaluates `op` on the inputs' values with [`Op::eval`] (the one forward of every op)
    /// and, when an input is recorded and recording is on, records `op` on the tape. The output
    /// requires grad when the op is differentiable, the output is a float, and an input
    /// requires grad.
    ///
    /// Inlined so that, with the op known at the call site, `eval`'s dispatch folds to a
    /// direct kernel call (what a closure per op gave, without the closure).
    #[inline]
    pub(crate) fn apply(inputs: &[&Var], op: Op) -> Result<Var> {
        let tape = &inputs[0].tape;
        if inputs[1..].iter().any(|v| !v.tape.same(tape)) {
            return Err(AutogradError::DifferentTapes { op: op.name().to_string() });
        }
        let values: SmallVec<[&Tensor; 4]> = match inputs {
            [a] => smallvec::smallvec![&a.value],
            [a, b] => smallvec::smallvec![&a.value, &b.value],
            _ => inputs.iter().map(|v| &v.value).collect(),
        };
        let record = inputs.iter().any(|v| v.is_recorded()) && is_grad_enabled();
        if !record {
            return Ok(Var::untracked(op.eval(&values)?, tape.clone()));
        }
        let (value, extra) = op.eval_with_extra(&values)?;
        let requires_grad =
            value.dtype().is_float() && op.is_differentiable() && inputs.iter().any(|v| v.requires_grad());
        let (id, generation) = tape.record(op, inputs, &value, extra, requires_grad)?;
        tape.check_anomaly("forward value", id, &value)?;
        Ok(Var::recorded(value, tape.clone(), id, generation, requires_grad))
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node_id() {
            Some(id) if self.requires_grad() => write!(f, "Var(node {}, {})", id.0, self.value),
            Some(id) => write!(f, "Var(node {}, no grad, {})", id.0, self.value),
            None => write!(f, "Var(constant, {})", self.value),
        }
    }
}
