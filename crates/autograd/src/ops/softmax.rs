//! Softmax, log-softmax and the fused softmax cross-entropy loss, with their rules.

use smallvec::smallvec;

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

/// L = mean_n -log softmax(x)[n, t_n]: dL/dx = (softmax(x) - one_hot(t)) / N
pub(crate) fn d_softmax_cross_entropy(c: &Ctx) -> Result<Grads> {
    let (logits, target) = (c.input(0)?, c.input(1)?);
    let n = logits.shape()[0].max(1) as f64;
    let one_hot = target.try_one_hot(logits.shape()[1], logits.dtype())?;
    let d = logits.try_softmax(-1)?.try_sub(&one_hot)?.try_mul(&c.g().try_div_scalar(n)?)?;
    Ok(smallvec![Some(d), None])
}
