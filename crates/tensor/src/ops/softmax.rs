//! Softmax and log-softmax along one axis, numerically stable (max-shifted), one fused pass
//! per row.

use crate::dtype::Float;
use crate::error::Result;
use crate::layout::normalize_axis;
use crate::macros::{float_dispatch, panicking, widest_simd};
use crate::parallel;
use crate::Tensor;

/// Independent accumulators for a row's maximum and sum (one AVX-512 register of f32): the
/// loops vectorise instead of waiting on one running value.
const LANES: usize = 16;

/// The larger of `a` and `b`, NaN winning (so a row with a NaN softmaxes to NaN).
#[inline(always)]
fn max_nan<T: Float>(a: T, b: T) -> T {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

/// A row's maximum, shifted to 0 when infinite (an all `-inf` row, or one with `+inf`, is
/// handled by the exponentials as torch does).
#[inline(always)]
pub(crate) fn row_shift<T: Float>(x: &[T]) -> T {
    if x.len() < 2 * LANES {
        // Short rows (class logits): setting up and folding the lanes would cost more.
        let m = x.iter().fold(T::neg_infinity(), |a, &b| max_nan(a, b));
        return if m.is_infinite() { T::ZERO } else { m };
    }
    let mut lanes = [T::neg_infinity(); LANES];
    let chunks = x.chunks_exact(LANES);
    let mut m = chunks.remainder().iter().fold(T::neg_infinity(), |a, &b| max_nan(a, b));
    for c in chunks {
        for i in 0..LANES {
            lanes[i] = max_nan(lanes[i], c[i]);
        }
    }
    m = lanes.iter().fold(m, |a, &b| max_nan(a, b));
    if m.is_infinite() {
        T::ZERO
    } else {
        m
    }
}

/// `sum(f(x))` over a row, in [`LANES`] independent sums combined at the end.
#[inline(always)]
pub(crate) fn row_sum<T: Float>(x: &[T], f: impl Fn(T) -> T) -> T {
    if x.len() < 2 * LANES {
        return x.iter().fold(T::ZERO, |a, &v| a + f(v));
    }
    let mut lanes = [T::ZERO; LANES];
    let chunks = x.chunks_exact(LANES);
    let rem: T = chunks.remainder().iter().fold(T::ZERO, |a, &v| a + f(v));
    for c in chunks {
        for i in 0..LANES {
            lanes[i] += f(c[i]);
        }
    }
    lanes.iter().fold(rem, |a, &b| a + b)
}

/// `softmax` of one row: `exp(x - max) / sum(exp(x - max))`.
#[inline(always)]
pub(crate) fn softmax_row<T: Float>(x: &[T], out: &mut [T]) {
    let m = row_shift(x);
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - m).exp_k();
    }
    let inv = T::ONE / row_sum(out, |e| e);
    for o in out.iter_mut() {
        *o = *o * inv;
    }
}

/// `log_softmax` of one row: `x - max - log(sum(exp(x - max)))`.
#[inline(always)]
fn log_softmax_row<T: Float>(x: &[T], out: &mut [T]) {
    let m = row_shift(x);
    let shift = m + row_sum(x, |v| (v - m).exp_k()).ln();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v - shift;
    }
}

/// (Log-)softmax of a row-major `[n, inner]` block along `n` (stride `inner`), with running maxima and
/// sums kept per `inner` position so every pass is a contiguous, vectorisable loop.
fn strided_block<T: Float>(x: &[T], out: &mut [T], inner: usize, log: bool) {
    let mut m = vec![T::neg_infinity(); inner];
    for line in x.chunks(inner) {
        for (mj, &v) in m.iter_mut().zip(line) {
            if v > *mj || v.is_nan() {
                *mj = v;
            }
        }
    }
    for mj in m.iter_mut() {
        if mj.is_infinite() {
            *mj = T::ZERO;
        }
    }
    let mut s = vec![T::ZERO; inner];
    for (line, o) in x.chunks(inner).zip(out.chunks_mut(inner)) {
        for (((oj, &v), &mj), sj) in o.iter_mut().zip(line).zip(&m).zip(s.iter_mut()) {
            let e = (v - mj).exp_k();
            *oj = e;
            *sj += e;
        }
    }
    if log {
        let shift: Vec<T> = m.iter().zip(&s).map(|(&mj, &sj)| mj + sj.ln()).collect();
        for (line, o) in x.chunks(inner).zip(out.chunks_mut(inner)) {
            for ((oj, &v), &sh) in o.iter_mut().zip(line).zip(&shift) {
                *oj = v - sh;
            }
        }
    } else {
        let inv: Vec<T> = s.iter().map(|&sj| T::ONE / sj).collect();
        for o in out.chunks_mut(inner) {
            for (oj, &r) in o.iter_mut().zip(&inv) {
                *oj = *oj * r;
            }
        }
    }
}

/// (Log-)softmax of consecutive `block`-sized blocks, compiled for AVX-512, AVX2 and the SSE2
/// baseline and picked at run time (as the elementwise maps), so the row loops and the inlined
/// f32 `exp` vectorise to the CPU's width.
fn blocks_kernel<T: Float>(x: &[T], out: &mut [T], block: usize, inner: usize, log: bool) {
    widest_simd!(simd::blocks_avx512, simd::blocks_avx2, blocks_plain, (x, out, block, inner, log))
}

#[inline(always)]
fn blocks_plain<T: Float>(x: &[T], out: &mut [T], block: usize, inner: usize, log: bool) {
    for (xs, o) in x.chunks(block).zip(out.chunks_mut(block)) {
        match (inner, log) {
            (1, false) => softmax_row(xs, o),
            (1, true) => log_softmax_row(xs, o),
            _ => strided_block(xs, o, inner, log),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use crate::dtype::Float;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn blocks_avx512<T: Float>(x: &[T], out: &mut [T], block: usize, inner: usize, log: bool) {
        super::blocks_plain(x, out, block, inner, log)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn blocks_avx2<T: Float>(x: &[T], out: &mut [T], block: usize, inner: usize, log: bool) {
        super::blocks_plain(x, out, block, inner, log)
    }
}

impl Tensor {
    /// (Log-)softmax of every line along `axis`. Lines along the last axis are contiguous rows;
    /// for another axis, [`strided_block`] handles each `[n, inner]` block in place, vectorised
    /// across `inner`, instead of transposing the whole tensor twice.
    fn rowwise<T: Float>(&self, axis: usize, log: bool) -> Tensor {
        let x = self.contiguous();
        let src = &x.storage_slice::<T>()[x.layout.offset..x.layout.offset + x.numel()];
        let n = self.shape()[axis];
        let inner: usize = self.shape()[axis + 1..].iter().product();
        let block = n * inner;
        // Every element of every block is written.
        let mut out = crate::pool::for_overwrite::<T>(src.len());
        parallel::fill_rows(&mut out, block, |first, blocks| {
            let xs = &src[first * block..first * block + blocks.len()];
            blocks_kernel(xs, blocks, block, inner, log);
        });
        Tensor::from_data(out, self.shape())
    }

    /// `exp(x) / sum(exp(x))` along `axis`, computed max-shifted so it cannot overflow.
    pub fn try_softmax(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("softmax", axis, self.shape())?;
        crate::pool::ensure_alloc("softmax", self.numel(), self.dtype())?;
        float_dispatch!("softmax", self.dtype(), T => Ok(self.rowwise::<T>(a, false)))
    }

    panicking!(
        /// Softmax along `axis` (numerically stable).
        softmax => try_softmax(axis: isize) -> Tensor
    );

    /// `x - logsumexp(x)` along `axis`, numerically stable.
    pub fn try_log_softmax(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("log_softmax", axis, self.shape())?;
        crate::pool::ensure_alloc("log_softmax", self.numel(), self.dtype())?;
        float_dispatch!("log_softmax", self.dtype(), T => Ok(self.rowwise::<T>(a, true)))
    }

    panicking!(
        /// Log-softmax along `axis` (numerically stable).
        log_softmax => try_log_softmax(axis: isize) -> Tensor
    );
}
