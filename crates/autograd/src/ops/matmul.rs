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
