//! Movement ops on `Var` (views of the value; recorded as reshape, permute, broadcast_to and
//! slice) and their backward rules.

use smallvec::smallvec;
use tensor::{normalize_axis, Shape, Tensor, TensorError};

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::{Axes, Op};
use crate::var::Var;

impl Var {
    /// Reshape (one dimension may be `-1`); a view of the value when possible.
    pub fn try_reshape(&self, shape: &[isize]) -> Result<Var> {
        let shape = tensor::ops::movement::infer_shape("reshape", self.shape(), shape)?;
        Var::apply(&[self], Op::Reshape { shape })
    }

    /// Records a reshape of `self` to the shape of `like` (what a tensor movement op computed
    /// from this Var's value, used only for its shape).
    fn reshaped(&self, like: Tensor) -> Result<Var> {
        Var::apply(&[self], Op::Reshape { shape: Shape::from_slice(like.shape()) })
    }
    panicking!(
        /// Reshape (one dimension may be `-1`).
        reshape => try_reshape(shape: &[isize]) -> Var
    );

    /// Reshape that never copies the value; fails as `Tensor::view` does.
    pub fn try_view(&self, shape: &[isize]) -> Result<Var> {
        self.reshaped(self.value().try_view(shape)?)
    }
    panicking!(
        /// Reshape without copying.
        view => try_view(shape: &[isize]) -> Var
    );

    /// Merges dimensions `start..=end`.
    pub fn try_flatten(&self, start: isize, end: isize) -> Result<Var> {
        self.reshaped(self.value().try_flatten(start, end)?)
    }
    panicking!(
        /// Merges dimensions `start..=end`.
        flatten => try_flatten(start: isize, end: isize) -> Var
    );

    /// Removes size-1 dimension `axis`.
    pub fn try_squeeze(&self, axis: isize) -> Result<Var> {
        self.reshaped(self.value().try_squeeze(axis)?)
    }
    panicking!(
        /// Removes size-1 dimension `axis`.
        squeeze => try_squeeze(axis: isize) -> Var
    );

    /// Removes every size-1 dimension.
    pub fn squeeze_all(&self) -> Var {
        crate::error::ok(self.reshaped(self.value().squeeze_all()))
    }

    /// Inserts a size-1 dimension at `axis`.
    pub fn try_unsqueeze(&self, axis: isize) -> Result<Var> {
        self.reshaped(self.value().try_unsqueeze(axis)?)
    }
    panicking!(
        /// Inserts a size-1 dimension at `axis`.
        unsqueeze => try_unsqueeze(axis: isize) -> Var
    );

    /// Reorders dimensions.
    pub fn try_permute(&self, axes: &[isize]) -> Result<Var> {
        Var::apply(&[self], Op::Permute { axes: Axes::from_slice(axes) })
    }
    panicking!(
        /// Reorders dimensions.
        permute => try_permute(axes: &[isize]) -> Var
    );

    /// Swaps two dimensions.
    pub fn try_transpose(&self, a: isize, b: isize) -> Result<Var> {
        let a = normalize_axis("transpose", a, self.shape())?;
        let b = normalize_axis("transpose", b, self.shape())?;
        let mut axes: Axes = (0..self.rank() as isize).collect();
        axes.swap(a, b);
        self.try_permute(&axes)
    }
    panicking!(
        /// Swaps two dimensions.
        transpose => try_transpose(a: isize, b: isize) -> Var
    );

    /// Swaps the last two dimensions.
    pub fn try_t(&self) -> Result<Var> {
        self.value().try_t()?;
        self.try_transpose(-2, -1)
    }
    panicking!(
        /// Swaps the last two dimensions.
        t => try_t() -> Var
    );

    /// Broadcast view to `shape`.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Var> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        Var::apply(&[self], Op::BroadcastTo { shape: Shape::from_slice(shape) })
    }
    panicking!(
        /// Broadcast view to `shape`.
        broadcast_to => try_broadcast_to(shape: &[usize]) -> Var
    );

    /// Broadcast view; `-1` keeps a dimension.
    pub fn try_expand(&self, shape: &[isize]) -> Result<Var> {
        let target = Shape::from_slice(self.value().try_expand(shape)?.shape());
        self.try_broadcast_to(&target)
    }
    panicking!(
        /// Broadcast view; `-1` keeps a dimension.
        expand => try_expand(shape: &[isize]) -> Var
    );

    /// Python-style slice `start:end:step` of one dimension.
    pub fn try_slice(&self, axis: isize, start: isize, end: isize, step: usize) -> Result<Var> {
        let a = normalize_axis("slice", axis, self.shape())?;
        if step == 0 {
            return Err(TensorError::invalid("slice", "step must be positive, got 0").into());
        }
        // Normalised as `Tensor::try_slice` does: Python's clamping of start and end.
        let size = self.shape()[a] as isize;
        let clamp = |i: isize| if i < 0 { (i + size).max(0) } else { i.min(size) } as usize;
        let (first, last) = (clamp(start), clamp(end));
        let len = if last > first { (last - first).div_ceil(step) } else { 0 };
        Var::apply(&[self], Op::Slice { axis: a, start: first, len, step })
    }
    panicking!(
        /// Python-style slice `start:end:step` of one dimension.
        slice => try_slice(axis: isize, start: isize, end: isize, step: usize) -> Var
    );

    /// The sub-range `start..start + len` of dimension `axis`.
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> Result<Var> {
        self.value().try_narrow(axis, start, len)?; // validation and messages as in tensor
        let a = normalize_axis("narrow", axis, self.shape())?;
        Var::apply(&[self], Op::Slice { axis: a, start, len, step: 1 })
    }
    panicking!(
        /// The sub-range `start..start + len` of dimension `axis`.
        narrow => try_narrow(axis: isize, start: usize, len: usize) -> Var
    );

    /// The sub-tensor at `index` along `axis`, that dimension removed.
    pub fn try_select(&self, axis: isize, index: usize) -> Result<Var> {
        self.value().try_select(axis, index)?;
        self.try_narrow(axis, index, 1)?.try_squeeze(axis)
    }
    panicking!(
        /// The sub-tensor at `index` along `axis`.
        select => try_select(axis: isize, index: usize) -> Var
    );

    /// The same values in a row-major buffer (no node: the math is the identity).
    pub fn contiguous(&self) -> Var {
        self.with_value(self.value().contiguous())
    }
}

/// A reshape's gradient is the gradient reshaped back.
pub(crate) fn d_reshape(c: &Ctx) -> Result<Grads> {
    let shape: Axes = c.shape(0).iter().map(|&d| d as isize).collect();
    Ok(smallvec![Some(c.g().try_reshape(&shape)?)])
}

/// A permutation's gradient is the gradient under the inverse permutation.
pub(crate) fn d_permute(c: &Ctx, axes: &[isize]) -> Result<Grads> {
    let mut inverse: Axes = smallvec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inverse[normalize_axis("permute", a, c.shape(0))?] = i as isize;
    }
    Ok(smallvec![Some(c.g().try_permute(&inverse)?)])
}

/// broadcast_to's adjoint sums the broadcast dimensions.
pub(crate) fn d_broadcast_to(c: &Ctx) -> Result<Grads> {
    Ok(smallvec![Some(c.g().try_sum_to(c.shape(0))?)])
}

/// A slice's gradient is the gradient placed at the sliced positions of a zero tensor.
pub(crate) fn d_slice(c: &Ctx, axis: usize, start: usize, len: usize, step: usize) -> Result<Grads> {
    let size = c.shape(0)[axis];
    let mut g = c.g().clone();
    let mut span = len;
    if step > 1 && len > 0 {
        // Interleave step-1 zeros after each element: [.., len, ..] -> [.., len * step, ..].
        let rank = g.rank();
        g = g.try_unsqueeze(axis as isize + 1)?;
        let mut pads: Vec<(usize, usize)> = vec![(0, 0); rank + 1];
        pads[axis + 1] = (0, step - 1);
        g = g.try_pad(&pads, 0.0)?;
        let mut shape: Axes = c.g().shape().iter().map(|&d| d as isize).collect();
        shape[axis] = (len * step) as isize;
        g = g.try_reshape(&shape)?;
        span = (len * step).min(size - start);
        g = g.try_narrow(axis as isize, 0, span)?;
    }
    let mut pads: Vec<(usize, usize)> = vec![(0, 0); g.rank()];
    if start + span > size {
        return Err(
            TensorError::invalid("slice backward", format!("slice {start}+{span} exceeds axis size {size}")).into()
        );
    }
    pads[axis] = (start, size - start - span);
    Ok(smallvec![Some(g.try_pad(&pads, 0.0)?)])
}
