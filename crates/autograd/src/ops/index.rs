//! Indexing ops on `Var` and their rules. Index and mask arguments are inputs like any other
//! (a `Tensor` joins as a constant, a `Var` as its node), never differentiated.

use smallvec::smallvec;
use tensor::{normalize_axis, DType, Tensor};

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::{Axes, Op};
use crate::var::{AsVar, Var};

impl Var {
    /// Picks entries `index` (1-D i64) along `axis`; `embedding = weight.index_select(0, ids)`.
    /// The index may be a `Tensor` (a constant) or a `Var` (a placeholder, or computed).
    pub fn try_index_select(&self, axis: isize, index: &impl AsVar) -> Result<Var> {
        let a = normalize_axis("index_select", axis, self.shape())?;
        Var::apply(&[self, &index.as_var(self)], Op::IndexSelect { axis: a })
    }
    panicking!(
        /// Picks entries `index` (1-D i64) along `axis`.
        index_select => try_index_select(axis: isize, index: &impl AsVar) -> Var
    );

    /// Gathers values along `axis` at `index` (i64, same rank).
    pub fn try_gather(&self, axis: isize, index: &impl AsVar) -> Result<Var> {
        let a = normalize_axis("gather", axis, self.shape())?;
        Var::apply(&[self, &index.as_var(self)], Op::Gather { axis: a })
    }
    panicking!(
        /// Gathers values along `axis` at `index`.
        gather => try_gather(axis: isize, index: &impl AsVar) -> Var
    );

    /// `self` with `src` added at `index` along `axis` (duplicates accumulate).
    pub fn try_scatter_add(&self, axis: isize, index: &impl AsVar, src: &Var) -> Result<Var> {
        let a = normalize_axis("scatter_add", axis, self.shape())?;
        Var::apply(&[self, &index.as_var(self), src], Op::ScatterAdd { axis: a })
    }
    panicking!(
        /// `self` with `src` added at `index` along `axis`.
        scatter_add => try_scatter_add(axis: isize, index: &impl AsVar, src: &Var) -> Var
    );

    /// `on_true` where `self` (a bool mask) is true, `on_false` elsewhere; broadcasting.
    pub fn try_where_cond(&self, on_true: &Var, on_false: &Var) -> Result<Var> {
        Var::apply(&[self, on_true, on_false], Op::WhereCond)
    }
    panicking!(
        /// `on_true` where the mask is true, `on_false` elsewhere.
        where_cond => try_where_cond(on_true: &Var, on_false: &Var) -> Var
    );

    /// `value` where `mask` (bool) is true.
    pub fn try_masked_fill(&self, mask: &impl AsVar, value: f64) -> Result<Var> {
        Var::apply(&[self, &mask.as_var(self)], Op::MaskedFill { value })
    }
    panicking!(
        /// `value` where `mask` is true.
        masked_fill => try_masked_fill(mask: &impl AsVar, value: f64) -> Var
    );

    /// i64 class ids to one-hot rows of `classes` entries of `dtype` (recorded, no gradient).
    pub fn try_one_hot(&self, classes: usize, dtype: DType) -> Result<Var> {
        Var::apply(&[self], Op::OneHot { classes, dtype })
    }
    panicking!(
        /// i64 class ids to one-hot rows of `classes` entries of `dtype`.
        one_hot => try_one_hot(classes: usize, dtype: DType) -> Var
    );
}

/// Adds `g` into zeros of shape `shape` at `index` along `axis`: the adjoint of gathering.
fn scatter_into_zeros(c: &Ctx, shape: &[usize], axis: usize, index: &Var) -> Result<Var> {
    let zeros = c.constant(Tensor::zeros(shape, c.g().dtype()));
    zeros.try_scatter_add(axis as isize, index, c.g())
}

/// index_select's adjoint adds each picked slab's gradient back at its index.
pub(crate) fn d_index_select(c: &Ctx, axis: usize) -> Result<Grads> {
    let index = c.input(1)?;
    // Broadcast the 1-D index over the gradient's other dimensions, for scatter_add.
    let mut view: Axes = smallvec![1; c.g().rank()];
    view[axis] = index.numel() as isize;
    let full = index.try_reshape(&view)?.try_broadcast_to(c.g().shape())?;
    Ok(smallvec![Some(scatter_into_zeros(c, c.shape(0), axis, &full)?), None])
}

/// gather's adjoint is scatter_add into zeros.
pub(crate) fn d_gather(c: &Ctx, axis: usize) -> Result<Grads> {
    Ok(smallvec![Some(scatter_into_zeros(c, c.shape(0), axis, c.input(1)?)?), None])
}

/// scatter_add(x, i, s): dx = g, ds = gather(g, i)
pub(crate) fn d_scatter_add(c: &Ctx, axis: usize) -> Result<Grads> {
    let ds = if c.needs(2) { Some(c.g().try_gather(axis as isize, c.input(1)?)?) } else { None };
    Ok(smallvec![Some(c.g().clone()), None, ds])
}

/// where(m, a, b): da = g where m, db = g where not m
pub(crate) fn d_where_cond(c: &Ctx) -> Result<Grads> {
    let mask = c.input(0)?;
    let zero = c.constant(Tensor::full(&[], 0.0, c.g().dtype()));
    let da = if c.needs(1) { Some(mask.try_where_cond(c.g(), &zero)?) } else { None };
    let db = if c.needs(2) { Some(mask.try_where_cond(&zero, c.g())?) } else { None };
    Ok(smallvec![None, da, db])
}

/// masked_fill(x, m, v): dx = g where not m
pub(crate) fn d_masked_fill(c: &Ctx) -> Result<Grads> {
    Ok(smallvec![Some(c.g().try_masked_fill(c.input(1)?, 0.0)?), None])
}
