//! The folds behind every reduction: the reducers (sum, product, max, min), the vectorised
//! sum of a slice, and the walk over the input that feeds them, with a direct loop for the
//! contiguous cases a small model's step is made of.

use rayon::prelude::*;
use smallvec::SmallVec;

use crate::dtype::{Element, Numeric};
use crate::layout::{collapse, for_each_run, Shape, Strides};
use crate::macros::widest_simd;
use crate::parallel::{self, should_parallelize};
use crate::Tensor;

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

pub(super) struct Sum;
pub(super) struct Prod;
pub(super) struct Max;
pub(super) struct Min;

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
            // SAFETY (all three): the CPU supports AVX2, checked just above; a `DTYPE` names one
            // element type, so the casts are to and from `T` itself.
            return unsafe {
                match T::DTYPE {
                    crate::DType::F32 => {
                        let sum = simd::sum_f32_avx2(std::slice::from_raw_parts(xs.as_ptr().cast(), xs.len()));
                        (&sum as *const f32).cast::<T>().read()
                    }
                    crate::DType::F64 => {
                        let sum = simd::sum_f64_avx2(std::slice::from_raw_parts(xs.as_ptr().cast(), xs.len()));
                        (&sum as *const f64).cast::<T>().read()
                    }
                    _ => simd::sum_avx2(xs),
                }
            };
        }
    }
    sum_lanes(xs)
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::SUM_LANES;
    use crate::dtype::Numeric;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum_avx512<T: Numeric>(xs: &[T]) -> T {
        super::sum_lanes(xs)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_avx2<T: Numeric>(xs: &[T]) -> T {
        super::sum_lanes(xs)
    }

    /// [`super::sum_lanes`] for `f32`, the lanes as two 256-bit registers (LLVM built the
    /// generic loop from 2-float adds), the same additions in the same order.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_f32_avx2(xs: &[f32]) -> f32 {
        let mut total = 0.0f32;
        for block in xs.chunks(1024) {
            let chunks = block.chunks_exact(SUM_LANES);
            let rem = chunks.remainder();
            let (mut low, mut high) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for c in chunks {
                // SAFETY: `c` holds 16 floats.
                unsafe {
                    low = _mm256_add_ps(low, _mm256_loadu_ps(c.as_ptr()));
                    high = _mm256_add_ps(high, _mm256_loadu_ps(c.as_ptr().add(8)));
                }
            }
            // lanes[i] + lanes[i + 8], then l[j] = lanes[j] + lanes[j + 4].
            let lanes = _mm256_add_ps(low, high);
            let l = _mm_add_ps(_mm256_castps256_ps128(lanes), _mm256_extractf128_ps::<1>(lanes));
            let mut l4 = [0.0f32; 4];
            // SAFETY: `l4` holds 4 floats.
            unsafe { _mm_storeu_ps(l4.as_mut_ptr(), l) };
            total += finish_block(rem, l4);
        }
        total
    }

    /// [`sum_f32_avx2`] for `f64`: the 16 lanes in four registers.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_f64_avx2(xs: &[f64]) -> f64 {
        let mut total = 0.0f64;
        for block in xs.chunks(1024) {
            let chunks = block.chunks_exact(SUM_LANES);
            let rem = chunks.remainder();
            let mut acc = [_mm256_setzero_pd(); 4];
            for c in chunks {
                for (k, a) in acc.iter_mut().enumerate() {
                    // SAFETY: `c` holds 16 doubles.
                    *a = _mm256_add_pd(*a, unsafe { _mm256_loadu_pd(c.as_ptr().add(4 * k)) });
                }
            }
            // lanes[i] + lanes[i + 8] (lanes 0..4 and 4..8), then l[j] = lanes[j] + lanes[j + 4].
            let l = _mm256_add_pd(_mm256_add_pd(acc[0], acc[2]), _mm256_add_pd(acc[1], acc[3]));
            let mut l4 = [0.0f64; 4];
            // SAFETY: `l4` holds 4 doubles.
            unsafe { _mm256_storeu_pd(l4.as_mut_ptr(), l) };
            total += finish_block(rem, l4);
        }
        total
    }

    /// The end of one block of the AVX2 sums, as the generic lanes end it: the remainder added
    /// in order from zero, then the four lanes left, `(l[0] + l[2]) + (l[1] + l[3])`.
    #[inline(always)]
    fn finish_block<T: Numeric>(rem: &[T], l4: [T; 4]) -> T {
        let s = rem.iter().fold(T::ZERO, |s, &x| s + x);
        s + ((l4[0] + l4[2]) + (l4[1] + l4[3]))
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn extremum_avx512<T: Numeric, const MAX: bool>(xs: &[T]) -> Option<T> {
        super::extremum_lanes::<T, MAX>(xs)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn extremum_avx2<T: Numeric, const MAX: bool>(xs: &[T]) -> Option<T> {
        super::extremum_lanes::<T, MAX>(xs)
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
    fn fold(&self, acc: T, xs: &[T]) -> T {
        extremum_slice::<T, true>(xs).map_or(acc, |m| self.step(acc, m))
    }
}

impl<T: Numeric> Reducer<T> for Min {
    fn init(&self) -> T {
        T::MAX_VALUE
    }
    fn step(&self, acc: T, x: T) -> T {
        acc.min_nan(x)
    }
    fn fold(&self, acc: T, xs: &[T]) -> T {
        extremum_slice::<T, false>(xs).map_or(acc, |m| self.step(acc, m))
    }
}

/// Independent lanes of [`extremum_slice`]: two AVX2 registers of f32.
const EXTREMUM_LANES: usize = 16;

/// The maximum (`MAX`) or minimum of `xs` (`None` when empty), exactly what stepping through
/// it in order gives, in lanes that the compiler vectorises (stepping in order is one long
/// dependency chain): for the AVX-512, AVX2 and SSE2 builds, picked at run time.
///
/// The order of the comparisons cannot show: a NaN anywhere gives NaN, and elements equal to
/// the result have its bits, but for zeros: `-0.0 == 0.0`, and stepping in order keeps the
/// first of them, so a zero result is replaced by the first element equal to it.
fn extremum_slice<T: Numeric, const MAX: bool>(xs: &[T]) -> Option<T> {
    widest_simd!(simd::extremum_avx512::<T, MAX>, simd::extremum_avx2::<T, MAX>, extremum_lanes::<T, MAX>, (xs))
}

#[inline(always)]
fn extremum_lanes<T: Numeric, const MAX: bool>(xs: &[T]) -> Option<T> {
    #[inline(always)]
    fn step<T: Numeric, const MAX: bool>(a: T, b: T) -> T {
        if MAX {
            a.max_nan(b)
        } else {
            a.min_nan(b)
        }
    }
    let &first = xs.first()?;
    let mut lanes = [first; EXTREMUM_LANES];
    let chunks = xs.chunks_exact(EXTREMUM_LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..EXTREMUM_LANES {
            lanes[i] = step::<T, MAX>(lanes[i], c[i]);
        }
    }
    let mut m = first;
    for &x in lanes.iter().chain(rest) {
        m = step::<T, MAX>(m, x);
    }
    if m == T::ZERO {
        m = xs.iter().copied().find(|&x| x == m).unwrap_or(m);
    }
    Some(m)
}

/// A long contiguous reduction to one value folds chunks of this many elements, then merges them.
const FOLD_CHUNK: usize = 1 << 15;

/// A reduction streamed over non-innermost axes accumulates parts of this many elements (at
/// least four per output) separately, then merges them.
const STREAM_PART: usize = 1 << 16;

/// Folds `x` over `axes` with reducer `r`, returning the raw accumulators in output order.
pub(super) fn reduce_raw<T: Element, R: Reducer<T>>(x: &Tensor, axes: &[usize], out_numel: usize, r: &R) -> Vec<T> {
    match contiguous_fold(x, axes, out_numel, r) {
        Some(out) => out,
        None => reduce_strided(x, axes, out_numel, r),
    }
}

/// [`reduce_raw`] on any layout.
fn reduce_strided<T: Element, R: Reducer<T>>(x: &Tensor, axes: &[usize], out_numel: usize, r: &R) -> Vec<T> {
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

/// [`reduce_raw`] of a contiguous `x` over its leading or its trailing axes (a bias gradient,
/// a loss), small enough to run on this thread: the general path's folds, in its order, without
/// collapsing shapes and strides first. `None` for the other reductions.
fn contiguous_fold<T: Element, R: Reducer<T>>(x: &Tensor, axes: &[usize], out_numel: usize, r: &R) -> Option<Vec<T>> {
    let data = &x.storage_slice::<T>()[x.layout.contiguous_range()?];
    if should_parallelize(data.len()) {
        return None;
    }
    let path = contiguous_path(x.rank(), data.len(), axes, out_numel)?;
    // (`out` is made only once the path is known: a buffer from the plan's arena dropped as a
    // `Vec` would not go back to it.)
    let mut out = crate::pool::for_overwrite::<T>(out_numel);
    fold_contiguous(path, data, &mut out, r);
    Some(out)
}

/// How a contiguous input folds on one thread in the general path's order (see
/// [`contiguous_path`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ContiguousFold {
    /// Trailing axes, or every axis but ones of size 1: each output folds its contiguous run
    /// (the general path's `inner_contiguous` case).
    Runs,
    /// Leading axes: the rows streamed into one accumulator row (its streamed case).
    Rows,
}

/// The one-thread fold of a contiguous input of `numel` elements and rank `rank` over `axes`
/// (sorted) into `out_numel` outputs, decided from the shapes alone; `None` where the general
/// path must run.
pub(super) fn contiguous_path(rank: usize, numel: usize, axes: &[usize], out_numel: usize) -> Option<ContiguousFold> {
    let consecutive = axes.windows(2).all(|w| w[1] == w[0] + 1);
    if numel == 0 || axes.is_empty() || (!consecutive && out_numel != 1) {
        return None;
    }
    if (axes[axes.len() - 1] == rank - 1 || out_numel == 1) && numel <= FOLD_CHUNK {
        return Some(ContiguousFold::Runs);
    }
    // (A single row, or a single output, takes the branch above.)
    if axes[0] == 0 && out_numel > 1 && numel / out_numel > 1 && numel <= STREAM_PART.max(out_numel * 4) {
        return Some(ContiguousFold::Rows);
    }
    None
}

/// Folds `data` into `out` along `path` with reducer `r`.
#[inline]
pub(super) fn fold_contiguous<T: Element, R: Reducer<T>>(path: ContiguousFold, data: &[T], out: &mut [T], r: &R) {
    match path {
        ContiguousFold::Runs => {
            let run_len = data.len() / out.len();
            for (o, run) in out.iter_mut().zip(data.chunks_exact(run_len)) {
                *o = r.fold(r.init(), run);
            }
        }
        ContiguousFold::Rows => {
            out.fill(r.init());
            for row in data.chunks_exact(out.len()) {
                for (a, &v) in out.iter_mut().zip(row) {
                    *a = r.step(*a, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    /// The sum's hand-vectorised f32 and f64 loops add what the generic lanes add, in the same
    /// order: the same bits on every length around the lane count and the block size, with
    /// signed zeros, infinities and NaN.
    #[test]
    fn vectorised_sums_equal_the_generic_lanes() {
        let mut rng = crate::Rng::seed(12);
        for len in (0..40).chain([1023, 1024, 1025, 2047, 5000]) {
            let mut xs = Tensor::randn(&[len], DType::F64, &mut rng).to_vec::<f64>();
            let show = |v: f64| format!("{v:?}");
            assert_eq!(show(sum_slice(&xs)), show(sum_lanes(&xs)), "f64, {len}");
            let x32: Vec<f32> = xs.iter().map(|&v| v as f32 * 1e3).collect();
            assert_eq!(format!("{:?}", sum_slice(&x32)), format!("{:?}", sum_lanes(&x32)), "f32, {len}");
            if len > 3 {
                (xs[0], xs[1]) = (-0.0, f64::INFINITY);
                assert_eq!(show(sum_slice(&xs)), show(sum_lanes(&xs)), "f64 with inf, {len}");
                xs[len / 2] = f64::NAN;
                assert!(sum_slice(&xs).is_nan());
            }
        }
    }

    /// The max and min folds in lanes give what stepping through the slice in order gives, bit
    /// for bit: with NaNs, with zeros of both signs as the result (the first one wins), with
    /// ties, on every length around the lane count, for floats and integers.
    #[test]
    fn extremum_folds_equal_the_sequential_ones() {
        fn check<T: Numeric + std::fmt::Debug>(xs: &[T]) {
            // Debug shows a zero's sign and every NaN alike (max and min return the canonical
            // one).
            let bits = |t: T| format!("{t:?}");
            let seq_max = xs.iter().fold(Max.init(), |a, &x| Reducer::<T>::step(&Max, a, x));
            let seq_min = xs.iter().fold(Min.init(), |a, &x| Reducer::<T>::step(&Min, a, x));
            assert_eq!(bits(Max.fold(Max.init(), xs)), bits(seq_max), "max of {} elements", xs.len());
            assert_eq!(bits(Min.fold(Min.init(), xs)), bits(seq_min), "min of {} elements", xs.len());
        }
        let mut rng = crate::Rng::seed(9);
        for len in (0..70).chain([1000, 4099]) {
            let base = Tensor::randn(&[len], DType::F64, &mut rng).to_vec::<f64>();
            // Plain values; then zeros of both signs around the extremum; then a NaN.
            let mut cases = vec![base.clone()];
            let zeros: Vec<f64> = base
                .iter()
                .enumerate()
                .map(|(i, &v)| match i % 3 {
                    0 => -0.0,
                    1 => 0.0,
                    _ => -v.abs() - 1.0,
                })
                .collect();
            cases.push(zeros.clone());
            cases.push(zeros.iter().map(|&v| if v == 0.0 { v } else { -v }).collect());
            cases.push(zeros.iter().rev().copied().collect());
            if len > 0 {
                let mut nan = base.clone();
                nan[len / 2] = f64::NAN;
                cases.push(nan);
            }
            // The first zero in the order, not the first lane's: +0 at 1, -0 at 16 (lane 0).
            if len >= 17 {
                let mut first_zero: Vec<f64> = vec![-1.0; len];
                (first_zero[1], first_zero[16]) = (0.0, -0.0);
                cases.push(first_zero.iter().map(|&v| -v).collect());
                cases.push(first_zero);
            }
            for xs in &cases {
                check::<f64>(xs);
                check::<f32>(&xs.iter().map(|&v| v as f32).collect::<Vec<_>>());
                check::<i64>(&xs.iter().map(|&v| if v.is_nan() { 7 } else { (v * 3.0) as i64 }).collect::<Vec<_>>());
            }
        }
    }

    /// The contiguous fast path gives the general path's results bit for bit, for every
    /// reducer, over leading, trailing and all axes (values whose sums round, so the order of
    /// the additions shows).
    #[test]
    fn contiguous_folds_equal_the_general_path() {
        fn check<T: Element + Numeric + Into<f64>>(x: &Tensor, axes: &[usize]) {
            let out_numel = x.shape().iter().enumerate().filter(|(d, _)| !axes.contains(d)).map(|(_, &s)| s).product();
            let bits = |v: Vec<T>| v.into_iter().map(|t| t.into().to_bits()).collect::<Vec<_>>();
            macro_rules! both {
                ($r:expr) => {{
                    let fast = contiguous_fold::<T, _>(x, axes, out_numel, &$r).expect("takes the fast path");
                    assert_eq!(
                        bits(fast),
                        bits(reduce_strided::<T, _>(x, axes, out_numel, &$r)),
                        "{:?} {axes:?}",
                        x.shape()
                    );
                }};
            }
            both!(Sum);
            both!(Prod);
            both!(Max);
            both!(Min);
        }
        let mut rng = crate::Rng::seed(5);
        for (shape, axes) in [
            (&[4][..], &[0][..]),
            (&[32, 16], &[0]),
            (&[32, 16], &[1]),
            (&[32, 16], &[0, 1]),
            (&[3, 5, 7], &[0, 1]),
            (&[3, 5, 7], &[1, 2]),
            (&[2, 1, 9], &[2]),
            (&[1000, 3], &[0]),
            (&[32, 1], &[0]),
            (&[4, 1, 8], &[0, 2]),
        ] {
            let x = Tensor::randn(shape, DType::F64, &mut rng);
            check::<f64>(&x, axes);
            check::<f32>(&x.to_dtype(DType::F32), axes);
        }
    }
}
