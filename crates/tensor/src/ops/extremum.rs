//! The gradient of `max`/`min` over axes in one kernel: the cotangent goes to the elements equal
//! to the extremum, split equally between ties (`torch.amax`'s rule).
//!
//! `dx_i = g_b * s_i` with `s_i = [x_i == y_b] / n_b`, where `b` is `i`'s reduction group, `y_b`
//! its extremum and `n_b` the number of its elements equal to it. One pass per group counts the
//! ties, one writes the gradient; the composite it replaces (compare, convert, sum, divide,
//! broadcast, multiply) took six passes and three temporaries. The arithmetic is the
//! composite's, so results are the same bits: `s` is `1 / n` or `0 / n` (NaN when a NaN
//! extremum matches nothing), then multiplied by `g`.

use rayon::prelude::*;
use smallvec::SmallVec;

use crate::dtype::Float;
use crate::error::{Result, TensorError};
use crate::layout::normalize_axes;
use crate::macros::{float_dispatch, panicking};
use crate::Tensor;

/// Elements below which one thread does it all; also the least work a parallel task gets.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

impl Tensor {
    /// The gradient of [`try_max`](Self::try_max) or [`try_min`](Self::try_min) over `axes`
    /// (empty: all) at `self`: `y` is the reduction's result and `g` its cotangent, both in the
    /// reduced shape (with the reduced axes kept as 1 when `keepdim`). The result has `self`'s
    /// shape, contiguous.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 3.0, 3.0, 2.0, 0.0, 5.0], &[2, 3]);
    /// let y = x.max(&[1], false);
    /// let g = Tensor::from_vec(vec![1.0f32, 10.0], &[2]);
    /// assert_eq!(x.extremum_backward(&y, &g, &[1], false).to_vec::<f32>(), vec![0.0, 0.5, 0.5, 0.0, 0.0, 10.0]);
    /// ```
    pub fn try_extremum_backward(&self, y: &Tensor, g: &Tensor, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let op = "extremum_backward";
        if !self.dtype().is_float() {
            return Err(TensorError::UnsupportedDType { op, dtype: self.dtype(), expected: "f32 or f64" });
        }
        for t in [y, g] {
            if t.dtype() != self.dtype() {
                return Err(TensorError::DTypeMismatch { op, expected: self.dtype(), got: t.dtype() });
            }
        }
        let reduced = normalize_axes(op, axes, self.shape())?;
        let kept: SmallVec<[usize; 6]> = (0..self.rank()).filter(|d| !reduced.contains(d)).collect();
        let group_shape: Vec<usize> = if keepdim {
            self.shape().iter().enumerate().map(|(d, &n)| if reduced.contains(&d) { 1 } else { n }).collect()
        } else {
            kept.iter().map(|&d| self.shape()[d]).collect()
        };
        for t in [y, g] {
            if t.shape() != group_shape.as_slice() {
                return Err(TensorError::ShapeMismatch { op, lhs: group_shape.clone(), rhs: t.shape().to_vec() });
            }
        }
        // Groups become contiguous rows: kept axes first, reduced axes last (no copy when they
        // already are, as for a reduction over the last axis).
        let order: SmallVec<[isize; 6]> = kept.iter().chain(reduced.iter()).map(|&d| d as isize).collect();
        let moved = self.try_permute(&order)?.try_contiguous()?;
        let group = reduced.iter().map(|&a| self.shape()[a]).product::<usize>();
        let (y, g) = (y.try_contiguous()?, g.try_contiguous()?);
        crate::pool::ensure_alloc(op, moved.numel(), self.dtype())?;
        let out = float_dispatch!(op, self.dtype(), T => {
            let mut out = crate::pool::for_overwrite::<T>(moved.numel());
            // All three are contiguous and of dtype T by now.
            let (Some(x), Some(yv), Some(gv)) = (moved.as_slice::<T>(), y.as_slice::<T>(), g.as_slice::<T>()) else {
                return Err(TensorError::Invalid { op, msg: "internal error: a contiguous operand has no slice".into() });
            };
            share_times_g::<T>(x, yv, gv, group, &mut out);
            Tensor::from_data(out, moved.shape())
        });
        let mut inverse: SmallVec<[isize; 6]> = SmallVec::from_elem(0, order.len());
        for (i, &d) in order.iter().enumerate() {
            inverse[d as usize] = i as isize;
        }
        out.try_permute(&inverse)?.try_contiguous()
    }

    panicking!(
        /// The gradient of `max`/`min` over `axes` at `self` (see `try_extremum_backward`).
        extremum_backward => try_extremum_backward(y: &Tensor, g: &Tensor, axes: &[isize], keepdim: bool) -> Tensor
    );
}

/// One group: its inputs and gradient row, its extremum and cotangent.
type Row<'a, T> = ((&'a [T], &'a mut [T]), (&'a T, &'a T));

/// `out[b, i] = g[b] * ([x[b, i] == y[b]] / n_b)` for rows `b` of `group` elements.
fn share_times_g<T: Float>(x: &[T], y: &[T], g: &[T], group: usize, out: &mut [T]) {
    if group == 0 {
        return;
    }
    let row = |((x, out), (&y, &g)): Row<'_, T>| {
        let ties = x.iter().filter(|&&v| v == y).count();
        let n = T::from(ties).unwrap_or_else(T::nan);
        let (hit, miss) = (T::one() / n, T::zero() / n);
        for (o, &v) in out.iter_mut().zip(x) {
            *o = g * if v == y { hit } else { miss };
        }
    };
    if x.len() >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1 {
        x.par_chunks_exact(group)
            .zip(out.par_chunks_exact_mut(group))
            .zip(y.par_iter().zip(g))
            .with_min_len((PARALLEL_MIN_ELEMENTS / group).max(1))
            .for_each(row);
    } else {
        x.chunks_exact(group).zip(out.chunks_exact_mut(group)).zip(y.iter().zip(g)).for_each(row);
    }
}
