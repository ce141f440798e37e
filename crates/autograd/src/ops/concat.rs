//! Joining and splitting `Var`s: cat, stack, split, chunk, pad, repeat, and their rules.

use smallvec::smallvec;
use tensor::{normalize_axis, TensorError};

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::{Axes, Op};
use crate::var::Var;

impl Var {
    /// Concatenates along an existing `axis`.
    pub fn try_cat(vars: &[Var], axis: isize) -> Result<Var> {
        let first = vars.first().ok_or_else(|| TensorError::invalid("cat", "needs at least one tensor"))?;
        let a = normalize_axis("cat", axis, first.shape())?;
        let refs: Vec<&Var> = vars.iter().collect();
        Var::apply(&refs, Op::Cat { axis: a })
    }

    /// Concatenates along an existing `axis`.
    ///
    /// # Panics
    /// As [`try_cat`](Self::try_cat) errors.
    #[track_caller]
    pub fn cat(vars: &[Var], axis: isize) -> Var {
        crate::error::ok(Var::try_cat(vars, axis))
    }

    /// Stacks along a new `axis`.
    pub fn try_stack(vars: &[Var], axis: isize) -> Result<Var> {
        // Validation and messages as in tensor, without building the result twice.
        let first = vars.first().ok_or_else(|| TensorError::invalid("stack", "needs at least one tensor"))?;
        let a = tensor::normalize_insert_axis("stack", axis, first.shape())? as isize;
        if let Some(v) = vars.iter().find(|v| v.shape() != first.shape()) {
            return Err(TensorError::ShapeMismatch {
                op: "stack",
                lhs: first.shape().to_vec(),
                rhs: v.shape().to_vec(),
            }
            .into());
        }
        let parts: Vec<Var> = vars.iter().map(|v| v.try_unsqueeze(a)).collect::<Result<_>>()?;
        Var::try_cat(&parts, a)
    }

    /// Stacks along a new `axis`.
    ///
    /// # Panics
    /// As [`try_stack`](Self::try_stack) errors.
    #[track_caller]
    pub fn stack(vars: &[Var], axis: isize) -> Var {
        crate::error::ok(Var::try_stack(vars, axis))
    }

    /// Consecutive pieces of `size` along `axis`.
    pub fn try_split(&self, size: usize, axis: isize) -> Result<Vec<Var>> {
        let pieces = self.value().try_split(size, axis)?;
        let mut start = 0;
        pieces
            .iter()
            .map(|p| {
                let len = p.shape()[normalize_axis("split", axis, self.shape())?];
                let v = self.try_narrow(axis, start, len);
                start += len;
                v
            })
            .collect()
    }
    panicking!(
        /// Consecutive pieces of `size` along `axis`.
        split => try_split(size: usize, axis: isize) -> Vec<Var>
    );

    /// `chunks` pieces of (nearly) equal size along `axis`.
    pub fn try_chunk(&self, chunks: usize, axis: isize) -> Result<Vec<Var>> {
        self.value().try_chunk(chunks, axis)?; // validation and messages as in tensor
        let size = self.shape()[normalize_axis("chunk", axis, self.shape())?].div_ceil(chunks).max(1);
        self.try_split(size, axis)
    }
    panicking!(
        /// `chunks` pieces of (nearly) equal size along `axis`.
        chunk => try_chunk(chunks: usize, axis: isize) -> Vec<Var>
    );

    /// Constant padding, one `(before, after)` pair per dimension.
    pub fn try_pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Var> {
        Var::apply(&[self], Op::Pad { pads: pads.into(), value })
    }
    panicking!(
        /// Constant padding, one `(before, after)` pair per dimension.
        pad => try_pad(pads: &[(usize, usize)], value: f64) -> Var
    );

    /// Tiles `reps[d]` times along each dimension.
    pub fn try_repeat(&self, reps: &[usize]) -> Result<Var> {
        Var::apply(&[self], Op::Repeat { reps: reps.into() })
    }
    panicking!(
        /// Tiles `reps[d]` times along each dimension.
        repeat => try_repeat(reps: &[usize]) -> Var
    );
}

/// Padding's gradient is the gradient with the padding sliced off.
pub(crate) fn d_pad(c: &Ctx, pads: &[(usize, usize)]) -> Result<Grads> {
    let mut g = c.g().clone();
    for (d, &(before, _)) in pads.iter().enumerate() {
        g = g.try_narrow(d as isize, before, c.shape(0)[d])?;
    }
    Ok(smallvec![Some(g)])
}

/// Tiling's gradient sums the tiles: view `[r0*d0, r1*d1, ..]` as `[r0, d0, r1, d1, ..]` and
/// sum the `r` axes.
pub(crate) fn d_repeat(c: &Ctx, reps: &[usize]) -> Result<Grads> {
    let input = c.shape(0);
    let lead = reps.len() - input.len();
    let mut split: Axes = Axes::new();
    for (i, &r) in reps.iter().enumerate() {
        let d = if i < lead { 1 } else { input[i - lead] };
        split.extend([r as isize, d as isize]);
    }
    let rep_axes: Axes = (0..reps.len()).map(|i| 2 * i as isize).collect();
    let summed = c.g().try_reshape(&split)?.try_sum(&rep_axes, false)?;
    let shape: Axes = input.iter().map(|&d| d as isize).collect();
    Ok(smallvec![Some(summed.try_reshape(&shape)?)])
}

/// Concatenation's gradient is the matching slice of the gradient for each input.
pub(crate) fn d_cat(c: &Ctx, axis: usize) -> Result<Grads> {
    let mut out = Grads::new();
    let mut start = 0;
    for k in 0..c.arity() {
        let len = c.shape(k)[axis];
        out.push(if c.needs(k) { Some(c.g().try_narrow(axis as isize, start, len)?) } else { None });
        start += len;
    }
    Ok(out)
}
