//! Softmax, log-softmax and the fused softmax cross-entropy loss, with their rules.

use smallvec::smallvec;
use tensor::Tensor;

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::Op;
use crate::var::{AsVar, Var};

impl Var {
    /// Softmax along `axis` (numerically stable).
    pub fn try_softmax(&self, axis: isize) -> Result<Var> {
        Var::apply(&[self], Op::Softmax { axis })
    }
    panicking!(
        /// Softmax along `axis`.
        softmax => try_softmax(axis: isize) -> Var
    );

    /// Log-softmax along `axis` (numerically stable).
    pub fn try_log_softmax(&self, axis: isize) -> Result<Var> {
        Var::apply(&[self], Op::LogSoftmax { axis })
    }
    panicking!(
        /// Log-softmax along `axis`.
        log_softmax => try_log_softmax(axis: isize) -> Var
    );

    /// Mean cross-entropy of logits `[N, C]` against class ids `target` (i64 `[N]`, a `Tensor`
    /// or a `Var` such as a placeholder): `mean_n(-log_softmax(logits)[n, target[n]])`, as
    /// `torch.nn.functional.cross_entropy`. One fused op; its gradient is
    /// `(softmax(logits) - one_hot(target)) / N`.
    pub fn try_softmax_cross_entropy(&self, target: &impl AsVar) -> Result<Var> {
        Var::apply(&[self, &target.as_var(self)], Op::SoftmaxCrossEntropy)
    }
    panicking!(
        /// Mean softmax cross-entropy of logits `[N, C]` against i64 class ids `[N]`.
        softmax_cross_entropy => try_softmax_cross_entropy(target: &impl AsVar) -> Var
    );

    /// Cross-entropy's gradient with respect to the logits `self`:
    /// `(softmax(self) - one_hot(target)) * grad / N`, one recorded node (its own rule gives
    /// second order).
    pub fn try_softmax_cross_entropy_backward(&self, target: &impl AsVar, grad: &Var) -> Result<Var> {
        Var::apply(&[self, &target.as_var(self), grad], Op::SoftmaxCrossEntropyBackward)
    }
    panicking!(
        /// `(softmax(self) - one_hot(target)) * grad / N`.
        softmax_cross_entropy_backward => try_softmax_cross_entropy_backward(target: &impl AsVar, grad: &Var) -> Var
    );
}

/// y = softmax(x): dx = y (g - sum(g y)) along the axis
pub(crate) fn d_softmax(c: &Ctx, axis: isize) -> Result<Grads> {
    let y = c.output()?;
    let gy = c.g().try_mul(y)?;
    Ok(smallvec![Some(gy.try_sub(&y.try_mul(&gy.try_sum(&[axis], true)?)?)?)])
}

/// y = log_softmax(x): dx = g - exp(y) sum(g) along the axis
pub(crate) fn d_log_softmax(c: &Ctx, axis: isize) -> Result<Grads> {
    let p = c.output()?.try_exp()?;
    Ok(smallvec![Some(c.g().try_sub(&p.try_mul(&c.g().try_sum(&[axis], true)?)?)?)])
}

/// L = mean_n -log softmax(x)[n, t_n]: dL/dx = (softmax(x) - one_hot(t)) g / N, fused as
/// `softmax_cross_entropy_backward(x, t, g)` (one pass per row, no one-hot buffer).
pub(crate) fn d_softmax_cross_entropy(c: &Ctx) -> Result<Grads> {
    let (logits, target) = (c.input(0)?, c.input(1)?);
    Ok(smallvec![Some(logits.try_softmax_cross_entropy_backward(target, c.g())?), None])
}

/// y = (p - one_hot(t)) g / N with p = softmax(x), for an upstream h:
/// dx = (g / N) (p h - p sum(p h)) along the classes (softmax's Jacobian), dg = sum(h y) / g,
/// computed as sum(h * softmax_cross_entropy_backward(x, t, 1)); the class ids get none.
pub(crate) fn d_softmax_cross_entropy_backward(c: &Ctx) -> Result<Grads> {
    let (logits, target, g) = (c.input(0)?, c.input(1)?, c.input(2)?);
    let h = c.g();
    let dx = if c.needs(0) {
        let n = logits.shape()[0].max(1) as f64;
        let p = logits.try_softmax(-1)?;
        let ph = p.try_mul(h)?;
        let jac = ph.try_sub(&p.try_mul(&ph.try_sum(&[-1], true)?)?)?;
        Some(jac.try_mul(&g.try_div_scalar(n)?)?)
    } else {
        None
    };
    let dg = if c.needs(2) {
        let one = c.constant(Tensor::full(&[], 1.0, logits.dtype()));
        Some(logits.try_softmax_cross_entropy_backward(target, &one)?.try_mul(h)?.try_sum(&[], false)?)
    } else {
        None
    };
    Ok(smallvec![dx, None, dg])
}
