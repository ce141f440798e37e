//! matmul on `Var` and its rule, for every `numpy.matmul` case.

use smallvec::smallvec;

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::Op;
use crate::var::Var;

impl Var {
    /// Matrix product with `numpy.matmul` semantics.
    pub fn try_matmul(&self, rhs: &Var) -> Result<Var> {
        Var::apply(&[self, rhs], Op::Matmul)
    }
    panicking!(
        /// Matrix product with `numpy.matmul` semantics.
        matmul => try_matmul(rhs: &Var) -> Var
    );

    /// `x Wᵀ + b` (`torch.nn.functional.linear`), one node: `self [.., in]`, `weight [out, in]`,
    /// `bias [out]`.
    pub fn try_linear(&self, weight: &Var, bias: Option<&Var>) -> Result<Var> {
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Var::apply(&inputs, Op::Linear)
    }
    panicking!(
        /// `x Wᵀ + b` (`torch.nn.functional.linear`), one node.
        linear => try_linear(weight: &Var, bias: Option<&Var>) -> Var
    );
}

/// y = x Wᵀ + b, with the leading dimensions of x flattened into rows X [rows, in] and G the
/// same for dL/dy [rows, out]: dX = G W, dW = Gᵀ X (written in W's [out, in] layout, so the
/// optimizer gets a contiguous gradient), db = the column sums of G.
pub(crate) fn d_linear(c: &Ctx) -> Result<Grads> {
    let (x, w) = (c.input(0)?, c.input(1)?);
    let g = c.g();
    let (in_features, out_features) = (w.shape()[1] as isize, w.shape()[0] as isize);
    let rows = |v: &Var, cols: isize| v.try_reshape(&[-1, cols]);
    let dx = if c.needs(0) { Some(g.try_matmul(w)?) } else { None };
    let dw = if c.needs(1) { Some(rows(g, out_features)?.try_t()?.try_matmul(&rows(x, in_features)?)?) } else { None };
    let db = if c.arity() > 2 && c.needs(2) { Some(rows(g, out_features)?.try_sum(&[0], false)?) } else { None };
    Ok(smallvec![dx, dw, db])
}

/// C = A B: dA = G B^T, dB = A^T G. Vector operands are promoted to matrices (a row for the
/// left, a column for the right) and the gradient reshaped to match; batch broadcasting is
/// undone by the engine's sum to each input's shape.
pub(crate) fn d_matmul(c: &Ctx) -> Result<Grads> {
    let (a, b) = (c.input(0)?, c.input(1)?);
    let (a_vec, b_vec) = (a.rank() == 1, b.rank() == 1);
    let a2 = if a_vec { a.try_unsqueeze(0)? } else { a.clone() };
    let b2 = if b_vec { b.try_unsqueeze(-1)? } else { b.clone() };
    let mut g = c.g().clone();
    if b_vec {
        g = g.try_unsqueeze(-1)?;
    }
    if a_vec {
        g = g.try_unsqueeze(-2)?;
    }
    let da = if c.needs(0) {
        let d = g.try_matmul(&b2.try_t()?)?;
        Some(if a_vec { d.try_squeeze(-2)? } else { d })
    } else {
        None
    };
    let db = if c.needs(1) {
        let d = a2.try_t()?.try_matmul(&g)?;
        Some(if b_vec { d.try_squeeze(-1)? } else { d })
    } else {
        None
    };
    Ok(smallvec![da, db])
}
