//! Reductions over any set of axes: sum, mean, prod, max, min, argmax, argmin, var, std,
//! logsumexp, norm; and the cumulative sum.
//!
//! A reduction is planned once: the reduced axes are either innermost in memory (each output
//! folds a contiguous run, vectorised, with block-wise summation for accuracy) or not (the input
//! is streamed in memory order into an accumulator row, so `sum(axis=0)` of a matrix reads each
//! row once instead of striding down columns).

mod fold;
mod prepared;
pub use prepared::{ReduceKernel, Reduction};

use smallvec::SmallVec;

use crate::dtype::{Element, Float, Numeric};
use crate::error::{Result, TensorError};
use crate::layout::{collapse, for_each_run, normalize_axes, normalize_axis, Shape};
use crate::macros::{float_dispatch, numeric_dispatch, panicking};
use crate::parallel;
use crate::{DType, Tensor};

use self::fold::{reduce_raw, Max, Min, Prod, Reducer, Sum};

/// The plan of a reduction: output shape, and the input viewed with kept axes first.
struct Plan {
    /// Output shape without keepdim.
    out_shape: Shape,
    /// Output shape as requested (with 1s when keepdim).
    result_shape: Shape,
    /// Number of input elements folded into each output.
    count: usize,
    axes: SmallVec<[usize; 6]>,
}

fn plan(op: &'static str, x: &Tensor, axes: &[isize], keepdim: bool) -> Result<Plan> {
    plan_shape(op, x.shape(), axes, keepdim)
}

/// The plan of a reduction over `axes` of an input of shape `shape`.
fn plan_shape(op: &'static str, shape: &[usize], axes: &[isize], keepdim: bool) -> Result<Plan> {
    let axes = normalize_axes(op, axes, shape)?;
    let mut out_shape = Shape::new();
    let mut result_shape = Shape::new();
    let mut count = 1;
    for (d, &size) in shape.iter().enumerate() {
        if axes.contains(&d) {
            count *= size;
            if keepdim {
                result_shape.push(1);
            }
        } else {
            out_shape.push(size);
            result_shape.push(size);
        }
    }
    Ok(Plan { out_shape, result_shape, count, axes })
}

/// The p-norm's scale: the largest `|x|` over `axes` (kept as size-1 dimensions), clamped to
/// the dtype's positive normal range. Any `m > 0` gives the same norm; the clamp keeps an
/// all-zero slice from dividing 0 by 0 (0 / tiny = 0) and an infinite one from inf / inf.
pub fn norm_scale_bounds(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (f32::MIN_POSITIVE as f64, f32::MAX as f64),
        _ => (f64::MIN_POSITIVE, f64::MAX),
    }
}

impl Tensor {
    fn reduce_with<T: Element, R: Reducer<T>>(&self, plan: &Plan, r: &R) -> Tensor {
        let out = reduce_raw(self, &plan.axes, plan.out_shape.iter().product(), r);
        Tensor::from_data(out, &plan.result_shape)
    }

    /// Sum over `axes` (empty: all axes). Bool and u8 inputs sum to i64, as in torch.
    pub fn try_sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        if matches!(self.dtype(), DType::Bool | DType::U8) {
            return self.to_dtype(DType::I64).try_sum(axes, keepdim);
        }
        let p = plan("sum", self, axes, keepdim)?;
        numeric_dispatch!("sum", self.dtype(), T => Ok(self.reduce_with::<T, _>(&p, &Sum)))
    }

    panicking!(
        /// Sum over `axes` (empty: all axes; negative axes count from the end).
        sum => try_sum(axes: &[isize], keepdim: bool) -> Tensor
    );

    /// Sum of every element, as a 0-d tensor.
    pub fn sum_all(&self) -> Tensor {
        self.sum(&[], false)
    }

    /// Mean over `axes` (floats only). The mean of zero elements is NaN, as in torch.
    pub fn try_mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let p = plan("mean", self, axes, keepdim)?;
        float_dispatch!("mean", self.dtype(), T => {
            let s = self.reduce_with::<T, _>(&p, &Sum);
            let n = T::lit(p.count as f64);
            Ok(s.map_same::<T>(|v| v / n))
        })
    }

    panicking!(
        /// Mean over `axes` (empty: all axes).
        mean => try_mean(axes: &[isize], keepdim: bool) -> Tensor
    );

    /// Mean of every element, as a 0-d tensor.
    pub fn mean_all(&self) -> Tensor {
        self.mean(&[], false)
    }

    /// Product over `axes`.
    pub fn try_prod(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let p = plan("prod", self, axes, keepdim)?;
        numeric_dispatch!("prod", self.dtype(), T => Ok(self.reduce_with::<T, _>(&p, &Prod)))
    }

    panicking!(
        /// Product over `axes` (empty: all axes).
        prod => try_prod(axes: &[isize], keepdim: bool) -> Tensor
    );

    fn non_empty_reduction(&self, op: &'static str, p: &Plan) -> Result<()> {
        if p.count == 0 {
            return Err(TensorError::Empty { op, shape: self.shape_vec() });
        }
        Ok(())
    }

    /// Maximum over `axes`; NaN propagates. An error on zero elements.
    pub fn try_max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let p = plan("max", self, axes, keepdim)?;
        self.non_empty_reduction("max", &p)?;
        numeric_dispatch!("max", self.dtype(), T => Ok(self.reduce_with::<T, _>(&p, &Max)))
    }

    panicking!(
        /// Maximum over `axes` (empty: all axes).
        max => try_max(axes: &[isize], keepdim: bool) -> Tensor
    );

    /// Minimum over `axes`; NaN propagates. An error on zero elements.
    pub fn try_min(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let p = plan("min", self, axes, keepdim)?;
        self.non_empty_reduction("min", &p)?;
        numeric_dispatch!("min", self.dtype(), T => Ok(self.reduce_with::<T, _>(&p, &Min)))
    }

    panicking!(
        /// Minimum over `axes` (empty: all axes).
        min => try_min(axes: &[isize], keepdim: bool) -> Tensor
    );

    /// Index (i64) of the first maximum along `axis`; NaN counts as the maximum, as in torch.
    pub fn try_argmax(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.arg_reduce("argmax", axis, keepdim, true)
    }

    panicking!(
        /// Index of the first maximum along `axis`.
        argmax => try_argmax(axis: isize, keepdim: bool) -> Tensor
    );

    /// Index (i64) of the first minimum along `axis`; NaN counts as the minimum.
    pub fn try_argmin(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.arg_reduce("argmin", axis, keepdim, false)
    }

    panicking!(
        /// Index of the first minimum along `axis`.
        argmin => try_argmin(axis: isize, keepdim: bool) -> Tensor
    );

    fn arg_reduce(&self, op: &'static str, axis: isize, keepdim: bool, find_max: bool) -> Result<Tensor> {
        let a = normalize_axis(op, axis, self.shape())?;
        let p = plan(op, self, &[a as isize], keepdim)?;
        self.non_empty_reduction(op, &p)?;
        // `axis` moved last with the others kept in order (a transpose would reorder them, and
        // the rows would come out in the wrong order for rank 3 and more).
        let order: SmallVec<[isize; 6]> = (0..self.rank()).filter(|&d| d != a).chain([a]).map(|d| d as isize).collect();
        let moved = self.try_permute(&order)?;
        let n = p.count;
        let outer = self.numel() / n;
        let stride = self.strides()[a];
        let rows = moved.narrow(-1, 0, 1).contiguous_offsets();
        numeric_dispatch!(op, self.dtype(), T => {
            let src = self.storage_slice::<T>();
            let out: Vec<i64> = parallel::map_indices(outer, n, |o| {
                let base = rows[o];
                let (mut best, mut best_i) = (src[base], 0usize);
                for i in 1..n {
                    if best.num_is_nan() {
                        break;
                    }
                    let v = src[base + i * stride];
                    // Compared in the element type: exact for i64 beyond 2^53.
                    if v.num_is_nan() || if find_max { v > best } else { v < best } {
                        best = v;
                        best_i = i;
                    }
                }
                best_i as i64
            });
            Ok(Tensor::from_data(out, &p.result_shape))
        })
    }

    /// Storage offsets of every element in row-major order (used to walk rows of a view).
    pub(crate) fn contiguous_offsets(&self) -> Vec<usize> {
        let mut offs = Vec::with_capacity(self.numel());
        if self.numel() == 0 {
            return offs;
        }
        let (shape, [strides]) = collapse(self.shape(), [self.strides()]);
        for_each_run(&shape, &[strides], [self.layout.offset], 0, self.numel(), |_, [o], run, [s]| {
            offs.extend((0..run).map(|i| o + i * s));
        });
        offs
    }

    /// Variance over `axes` with Bessel's `correction` (0: biased, 1: unbiased, as torch's default).
    pub fn try_var(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Tensor> {
        let p = plan("var", self, axes, keepdim)?;
        float_dispatch!("var", self.dtype(), T => {
            let mean = self.try_mean(axes, true)?;
            let sq = self.try_sub(&mean)?.square();
            let s = sq.reduce_with::<T, _>(&p, &Sum);
            let denom = T::lit(p.count.saturating_sub(correction) as f64);
            Ok(s.map_same::<T>(|v| v / denom))
        })
    }

    panicking!(
        /// Variance over `axes` with Bessel's `correction` (0 biased, 1 unbiased).
        var => try_var(axes: &[isize], correction: usize, keepdim: bool) -> Tensor
    );

    /// Standard deviation over `axes` with Bessel's `correction`.
    pub fn try_std(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Tensor> {
        self.try_var(axes, correction, keepdim)?.try_sqrt()
    }

    panicking!(
        /// Standard deviation over `axes` with Bessel's `correction` (0 biased, 1 unbiased).
        std => try_std(axes: &[isize], correction: usize, keepdim: bool) -> Tensor
    );

    /// `log(sum(exp(x)))` over `axes`, computed as `m + log(sum(exp(x - m)))` with `m` the max,
    /// so it neither overflows nor underflows.
    pub fn try_logsumexp(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let p = plan("logsumexp", self, axes, keepdim)?;
        self.non_empty_reduction("logsumexp", &p)?;
        float_dispatch!("logsumexp", self.dtype(), T => {
            // An all -inf (or +inf) slice would give inf - inf; shift by 0 there instead.
            let m = self.try_max(axes, true)?.map_same::<T>(|v| if v.is_infinite() { T::ZERO } else { v });
            let e = self.try_sub(&m)?.exp();
            let s = e.reduce_with::<T, _>(&p, &Sum).log();
            let m = if keepdim { m } else { m.try_reshape(&p.result_shape.iter().map(|&d| d as isize).collect::<Vec<_>>())? };
            s.try_add(&m)
        })
    }

    panicking!(
        /// `log(sum(exp(x)))` over `axes`, numerically stable.
        logsumexp => try_logsumexp(axes: &[isize], keepdim: bool) -> Tensor
    );

    /// The p-norm over `axes`: `(sum |x|^p)^(1/p)` for `p > 0`, `max |x|` for `p = inf`.
    pub fn try_norm(&self, p: f64, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        if p.is_nan() || p <= 0.0 {
            return Err(TensorError::invalid("norm", format!("order p must be positive or inf, got {p}")));
        }
        if !self.dtype().is_float() {
            return Err(TensorError::UnsupportedDType { op: "norm", dtype: self.dtype(), expected: "f32 or f64" });
        }
        let a = self.abs();
        if p == f64::INFINITY {
            let pl = plan("norm", self, axes, keepdim)?;
            if pl.count == 0 {
                return Ok(Tensor::zeros(&pl.result_shape, self.dtype()));
            }
            return a.try_max(axes, keepdim);
        }
        if p == 1.0 {
            return a.try_sum(axes, keepdim);
        }
        let pl = plan("norm", self, axes, keepdim)?;
        if pl.count == 0 {
            return Ok(Tensor::zeros(&pl.result_shape, self.dtype()));
        }
        // m (sum (|x| / m)^p)^(1/p) with m the largest |x|, so |x|^p can neither overflow nor
        // underflow (an f32 of 1e13 cubed is past f32's range; its norm is not).
        let (lo, hi) = norm_scale_bounds(self.dtype());
        let m = a.try_max(axes, true)?.try_clamp(lo, hi)?;
        let scaled = a.try_div(&m)?;
        let powered = if p == 2.0 { scaled.square() } else { scaled.try_powf(p)? };
        let sum = powered.try_sum(axes, true)?;
        let root = if p == 2.0 { sum.try_sqrt()? } else { sum.try_powf(1.0 / p)? };
        let norm = root.try_mul(&m)?;
        if keepdim {
            Ok(norm)
        } else {
            norm.try_reshape(&pl.result_shape.iter().map(|&d| d as isize).collect::<Vec<_>>())
        }
    }

    panicking!(
        /// The p-norm over `axes` (`p = 1, 2, inf` or any `p > 0`).
        norm => try_norm(p: f64, axes: &[isize], keepdim: bool) -> Tensor
    );

    /// Cumulative sum along `axis`.
    pub fn try_cumsum(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("cumsum", axis, self.shape())?;
        if matches!(self.dtype(), DType::Bool | DType::U8) {
            return self.to_dtype(DType::I64).try_cumsum(axis);
        }
        numeric_dispatch!("cumsum", self.dtype(), T => {
            let mut data = self.try_to_vec::<T>()?;
            let n = self.shape()[a];
            let inner: usize = self.shape()[a + 1..].iter().product();
            if n > 1 && inner > 0 {
                for block in data.chunks_mut(n * inner) {
                    for i in 1..n {
                        let (prev, cur) = block.split_at_mut(i * inner);
                        let prev = &prev[(i - 1) * inner..];
                        for (c, &p) in cur[..inner].iter_mut().zip(prev) {
                            *c = Numeric::num_add(*c, p);
                        }
                    }
                }
            }
            Ok(Tensor::from_data(data, self.shape()))
        })
    }

    panicking!(
        /// Cumulative sum along `axis`.
        cumsum => try_cumsum(axis: isize) -> Tensor
    );

    /// Sums broadcast dimensions away so the result has `shape` (the adjoint of
    /// [`broadcast_to`](Self::broadcast_to)); what autograd uses to un-broadcast gradients.
    pub fn try_sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        let err = || TensorError::Broadcast { op: "sum_to", lhs: self.shape_vec(), rhs: shape.to_vec() };
        if shape.len() > self.rank() {
            return Err(err());
        }
        let lead = self.rank() - shape.len();
        let mut axes: SmallVec<[isize; 6]> = (0..lead as isize).collect();
        for (i, &d) in shape.iter().enumerate() {
            let s = self.shape()[lead + i];
            if d == 1 && s != 1 {
                axes.push((lead + i) as isize);
            } else if d != s {
                return Err(err());
            }
        }
        if axes.is_empty() {
            return Ok(self.clone());
        }
        self.try_sum(&axes, true)?.try_reshape(&shape.iter().map(|&d| d as isize).collect::<SmallVec<[isize; 6]>>())
    }

    panicking!(
        /// Sums broadcast dimensions away so the result has `shape`.
        sum_to => try_sum_to(shape: &[usize]) -> Tensor
    );
}
