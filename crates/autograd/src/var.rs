//! `Var`: a tensor value plus its place on a tape.

use std::fmt;

use tensor::{DType, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::tape::{is_grad_enabled, NodeId, Tape};

/// The differentiable handle: a value, the tape it belongs to, and its node when tracked.
///
/// A tracked `Var` (a leaf made by [`Tape::var`]/[`Tape::param`], or the result of an op on a
/// tracked input) has a node on the tape, and gradients flow to it. An untracked `Var` (a
/// constant, a detached value, anything computed under [`no_grad`](crate::no_grad)) carries
/// just its value; it joins the graph as a `const` node only if a tracked op consumes it.
///
/// Every differentiable op of `tensor` has a `Var` counterpart with the same name and
/// arguments: a `try_` form returning `Result<Var, AutogradError>` and a panicking form.
#[derive(Clone)]
pub struct Var {
    value: Tensor,
    tape: Tape,
    id: Option<NodeId>,
}

impl Var {
    pub(crate) fn tracked(value: Tensor, tape: Tape, id: NodeId) -> Var {
        Var { value, tape, id: Some(id) }
    }

    pub(crate) fn untracked(value: Tensor, tape: Tape) -> Var {
        Var { value, tape, id: None }
    }

    /// The value.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The value, by (cheap, shared) clone.
    pub fn tensor(&self) -> Tensor {
        self.value.clone()
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

    /// The node of a tracked `Var`; `None` for constants.
    pub fn node_id(&self) -> Option<NodeId> {
        self.id
    }

    /// Whether gradients flow to this `Var`.
    pub fn requires_grad(&self) -> bool {
        self.id.is_some()
    }

    /// The same value, cut from the graph: no gradient flows through the result.
    pub fn detach(&self) -> Var {
        Var::untracked(self.value.clone(), self.tape.clone())
    }

    /// A constant on the same tape (for building masks, targets, scalars next to this `Var`).
    pub fn constant(&self, value: Tensor) -> Var {
        Var::untracked(value, self.tape.clone())
    }

    /// Applies a forward kernel and, when any input is tracked and recording is on, records
    /// `op` on the tape. `op` is built only when it is recorded.
    pub(crate) fn apply(
        inputs: &[&Var],
        op: impl FnOnce() -> Op,
        forward: impl FnOnce() -> tensor::Result<Tensor>,
    ) -> Result<Var> {
        Var::apply_extra(inputs, op, || forward().map(|v| (v, None)))
    }

    /// Like [`apply`](Self::apply) for kernels that also return a tensor the rule needs.
    pub(crate) fn apply_extra(
        inputs: &[&Var],
        op: impl FnOnce() -> Op,
        forward: impl FnOnce() -> tensor::Result<(Tensor, Option<Tensor>)>,
    ) -> Result<Var> {
        let tape = &inputs[0].tape;
        if inputs[1..].iter().any(|v| !v.tape.same(tape)) {
            return Err(AutogradError::DifferentTapes { op: op().name().to_string() });
        }
        let (value, extra) = forward()?;
        let track = inputs.iter().any(|v| v.id.is_some()) && is_grad_enabled();
        if !track {
            return Ok(Var::untracked(value, tape.clone()));
        }
        let id = tape.record(op(), inputs, &value, extra);
        tape.check_anomaly("forward value", id, &value)?;
        Ok(Var::tracked(value, tape.clone(), id))
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "Var(node {}, {})", id.0, self.value),
            None => write!(f, "Var(constant, {})", self.value),
        }
    }
}
