//! Reductions over any set of axes: sum, mean, prod, max, min, argmax, argmin, var, std,
//! logsumexp, norm; and the cumulative sum.
//!
//! A reduction is planned once: the reduced axes are either innermost in memory (each output
//! folds a contiguous run, vectorised, with block-wise summation for accuracy) or not (the input
//! is streamed in memory order into an accumulator row, so `sum(axis=0)` of a matrix reads each
//! row once instead of striding down columns).

use rayon::prelude::*;
use smallvec::SmallVec;

use crate::dtype::{Element, Float, Numeric};
use crate::error::{Result, TensorError};
use crate::layout::{collapse, for_each_run, normalize_axes, normalize_axis, Shape, Strides};
use crate::macros::{float_dispatch, numeric_dispatch, panicking};
use crate::parallel::{self, should_parallelize};
use crate::{DType, Tensor};

/// A fold: how a reduction starts, steps, merges partial results and finishes.
pub(crate) trait Reducer<T: Element>: Sync {
    fn init(&self) -> T;
    fn step(&self, acc: T, x: T) -> T;
    /// Folds a contiguous slice; override for vectorised or more accurate loops.
    fn fold(&self, acc: T, xs: &[T]) -> T {
        xs.iter().fold(acc, |a, &x| self.step(a, x))
    }
    fn merge(&self, a: T, b: T) -> T {
        self.step(a, b)
    }
}

struct Sum;
struct Prod;
struct Max;
struct Min;

/// Independent accumulators of [`sum_slice`]: one AVX-512 register of f32, two of f64, four
/// SSE2 registers of f32. 16 ran 1.13x faster than 8 in cache; 32 ran slower (LLVM kept the
/// lanes on the stack).
const SUM_LANES: usize = 16;

/// Sums in [`SUM_LANES`] independent lanes over blocks of 1024, then adds the block sums: error
/// grows with the number of blocks, not the number of elements. Compiled for AVX-512, AVX2 and
/// the SSE2 baseline, picked at run time; the order of additions is the same in every version,
/// so the result does not depend on the CPU.
fn sum_slice<T: Numeric>(xs: &[T]) -> T {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { simd::sum_avx512(xs) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { simd::sum_avx2(xs) };
        }
    }
    sum_lanes(xs)
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use crate::dtype::Numeric;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum_avx512<T: Numeric>(xs: &[T]) -> T {
        super::sum_lanes(xs)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_avx2<T: Numeric>(xs: &[T]) -> T {
        super::sum_lanes(xs)
    }
}

#[inline(always)]
fn sum_lanes<T: Numeric>(xs: &[T]) -> T {
    let mut total = T::ZERO;
    for block in xs.chunks(1024) {
        let mut lanes = [T::ZERO; SUM_LANES];
        let chunks = block.chunks_exact(SUM_LANES);
        let rem = chunks.remainder();
        for c in chunks {
            for i in 0..SUM_LANES {
                lanes[i] = Numeric::num_add(lanes[i], c[i]);
            }
        }
        let mut s = T::ZERO;
        for &x in rem {
            s = Numeric::num_add(s, x);
        }
        for i in 0..8 {
            lanes[i] = Numeric::num_add(lanes[i], lanes[i + 8]);
        }
        let l = [
            Numeric::num_add(lanes[0], lanes[4]),
            Numeric::num_add(lanes[1], lanes[5]),
            Numeric::num_add(lanes[2], lanes[6]),
            Numeric::num_add(lanes[3], lanes[7]),
        ];
        s = Numeric::num_add(s, Numeric::num_add(Numeric::num_add(l[0], l[2]), Numeric::num_add(l[1], l[3])));
        total = Numeric::num_add(total, s);
    }
    total
}

impl<T: Numeric> Reducer<T> for Sum {
    fn init(&self) -> T {
        T::ZERO
    }
    fn step(&self, acc: T, x: T) -> T {
        Numeric::num_add(acc, x)
    }
    fn fold(&self, acc: T, xs: &[T]) -> T {
        Numeric::num_add(acc, sum_slice(xs))
    }
}

impl<T: Numeric> Reducer<T> for Prod {
    fn init(&self) -> T {
        T::ONE
    }
    fn step(&self, acc: T, x: T) -> T {
        Numeric::num_mul(acc, x)
    }
}

impl<T: Numeric> Reducer<T> for Max {
    fn init(&self) -> T {
        T::MIN_VALUE
    }
    fn step(&self, acc: T, x: T) -> T {
        acc.max_nan(x)
    }
}

impl<T: Numeric> Reducer<T> for Min {
    fn init(&self) -> T {
        T::MAX_VALUE
    }
    fn step(&self, acc: T, x: T) -> T {
        acc.min_nan(x)
    }
}

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
    let axes = normalize_axes(op, axes, x.shape())?;
    let mut out_shape = Shape::new();
    let mut result_shape = Shape::new();
    let mut count = 1;
    for (d, &size) in x.shape().iter().enumerate() {
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

/// Folds `x` over `axes` with reducer `r`, returning the raw accumulators in output order.
/// A long contiguous reduction to one value folds chunks of this many elements, then merges them.
const FOLD_CHUNK: usize = 1 << 15;

/// A reduction streamed over non-innermost axes accumulates parts of this many elements (at
/// least four per output) separately, then merges them.
const STREAM_PART: usize = 1 << 16;

fn reduce_raw<T: Element, R: Reducer<T>>(x: &Tensor, axes: &[usize], out_numel: usize, r: &R) -> Vec<T> {
    let src = x.storage_slice::<T>();
    let kept: SmallVec<[usize; 6]> = (0..x.rank()).filter(|d| !axes.contains(d)).collect();
    let shape = x.shape();
    let strides = x.strides();
    // Reduced axes, collapsed among themselves.
    let red_shape: Shape = axes.iter().map(|&d| shape[d]).collect();
    let red_strides: Strides = axes.iter().map(|&d| strides[d]).collect();
    let (red_shape, [red_strides]) = collapse(&red_shape, [&red_strides]);
    let red_numel: usize = red_shape.iter().product();
    let mut out = crate::pool::for_overwrite::<T>(out_numel);
    out.fill(r.init());
    if out_numel == 0 || red_numel == 0 {
        return out;
    }
    let inner_contiguous = red_strides[red_strides.len() - 1] == 1 || red_numel == 1;
    if inner_contiguous {
        let kept_shape: Shape = kept.iter().map(|&d| shape[d]).collect();
        let kept_strides: Strides = kept.iter().map(|&d| strides[d]).collect();
        let (kept_shape, [kept_strides]) = collapse(&kept_shape, [&kept_strides]);
        let red = [red_strides];
        let fold_one = |base: usize| -> T {
            if red_shape.len() == 1 {
                return r.fold(r.init(), &src[base..base + red_numel]);
            }
            let mut acc = r.init();
            for_each_run(&red_shape, &red, [base], 0, red_numel, |_, [o], run, _| {
                acc = r.fold(acc, &src[o..o + run]);
            });
            acc
        };
        if out_numel == 1 && red_shape.len() == 1 && red_numel > FOLD_CHUNK {
            // One long contiguous fold: partial folds over fixed chunks (in parallel when large),
            // merged in order. The chunks are the same on one thread as on many, so the
            // rounding, and the result, is too.
            let base = x.layout.offset;
            let data = &src[base..base + red_numel];
            let partials: Vec<T> = if should_parallelize(red_numel) {
                data.par_chunks(FOLD_CHUNK).map(|c| r.fold(r.init(), c)).collect()
            } else {
                data.chunks(FOLD_CHUNK).map(|c| r.fold(r.init(), c)).collect()
            };
            out[0] = partials.into_iter().fold(r.init(), |a, b| r.merge(a, b));
            return out;
        }
        let kept_st = [kept_strides];
        let offset = x.layout.offset;
        parallel::fill_chunks_weighted(&mut out, red_numel, |start, chunk| {
            for_each_run(&kept_shape, &kept_st, [offset], start, chunk.len(), |pos, [o], run, [s]| {
                for i in 0..run {
                    chunk[pos - start + i] = fold_one(o + i * s);
                }
            });
        });
        return out;
    }
    // Reduced axes are not innermost: stream the input in (reduced..., kept...) order into the
    // accumulator row, whose strides are 0 along reduced axes.
    let mut order: SmallVec<[usize; 6]> = axes.iter().copied().collect();
    order.extend(kept.iter().copied());
    let loop_shape: Shape = order.iter().map(|&d| shape[d]).collect();
    let x_strides: Strides = order.iter().map(|&d| strides[d]).collect();
    let out_contig = crate::layout::contiguous_strides(&kept.iter().map(|&d| shape[d]).collect::<Shape>());
    let mut acc_strides: Strides = smallvec::smallvec![0; axes.len()];
    acc_strides.extend(out_contig.iter().copied());
    let (loop_shape, st) = collapse(&loop_shape, [&x_strides, &acc_strides]);
    let total: usize = loop_shape.iter().product();
    let offset = x.layout.offset;
    let stream = |start: usize, len: usize, acc: &mut [T]| {
        for_each_run(&loop_shape, &st, [offset, 0], start, len, |_, [xo, ao], run, [xs, as_]| {
            for i in 0..run {
                let a = &mut acc[ao + i * as_];
                *a = r.step(*a, src[xo + i * xs]);
            }
        });
    };
    // Long streams are cut into fixed parts, each accumulated on its own and merged in order:
    // the same parts on any number of threads, so the same result.
    let part = STREAM_PART.max(out_numel * 4);
    if total > part {
        let parts = total.div_ceil(part);
        let one = |i: usize| {
            let mut acc = vec![r.init(); out_numel];
            let start = i * part;
            stream(start, part.min(total - start), &mut acc);
            acc
        };
        let partials: Vec<Vec<T>> = if should_parallelize(total) {
            (0..parts).into_par_iter().map(one).collect()
        } else {
            (0..parts).map(one).collect()
        };
        for p in partials {
            for (o, v) in out.iter_mut().zip(p) {
                *o = r.merge(*o, v);
            }
        }
    } else if loop_shape.len() == 2 && st[0][1] == 1 && st[1].as_slice() == [0, 1] {
        // Rows of a contiguous matrix summed into one (a bias gradient): the same adds in the
        // same order as the walker, one row at a time, which the compiler vectorises.
        let (rows, cols) = (loop_shape[0], loop_shape[1]);
        for i in 0..rows {
            let row = &src[offset + i * st[0][0]..][..cols];
            for (a, &v) in out.iter_mut().zip(row) {
                *a = r.step(*a, v);
            }
        }
    } else {
        stream(0, total, &mut out);
    }
    out
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
