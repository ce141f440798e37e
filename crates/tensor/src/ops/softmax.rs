//! Softmax and log-softmax along one axis, numerically stable (max-shifted), one fused pass
//! per row.

use crate::dtype::Float;
use crate::error::Result;
use crate::layout::normalize_axis;
use crate::macros::{float_dispatch, panicking};
use crate::parallel;
use crate::Tensor;

/// `softmax` of one row: `exp(x - max) / sum(exp(x - max))`.
fn softmax_row<T: Float>(x: &[T], out: &mut [T]) {
    let m = x.iter().fold(T::neg_infinity(), |a, &b| if b > a || b.is_nan() { b } else { a });
    let m = if m.is_infinite() { T::ZERO } else { m };
    let mut s = T::ZERO;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - m).exp();
        s += *o;
    }
    let inv = T::ONE / s;
    for o in out.iter_mut() {
        *o = *o * inv;
    }
}

/// `log_softmax` of one row: `x - max - log(sum(exp(x - max)))`.
fn log_softmax_row<T: Float>(x: &[T], out: &mut [T]) {
    let m = x.iter().fold(T::neg_infinity(), |a, &b| if b > a || b.is_nan() { b } else { a });
    let m = if m.is_infinite() { T::ZERO } else { m };
    let s: T = x.iter().map(|&v| (v - m).exp()).sum();
    let shift = m + s.ln();
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
            let e = (v - mj).exp();
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
            for (b, o) in blocks.chunks_mut(block).enumerate() {
                let s = (first + b) * block;
                let xs = &src[s..s + block];
                match (inner, log) {
                    (1, false) => softmax_row(xs, o),
                    (1, true) => log_softmax_row(xs, o),
                    _ => strided_block(xs, o, inner, log),
                }
            }
        });
        Tensor::from_data(out, self.shape())
    }

    /// `exp(x) / sum(exp(x))` along `axis`, computed max-shifted so it cannot overflow.
    pub fn try_softmax(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("softmax", axis, self.shape())?;
        float_dispatch!("softmax", self.dtype(), T => Ok(self.rowwise::<T>(a, false)))
    }

    panicking!(
        /// Softmax along `axis` (numerically stable).
        softmax => try_softmax(axis: isize) -> Tensor
    );

    /// `x - logsumexp(x)` along `axis`, numerically stable.
    pub fn try_log_softmax(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("log_softmax", axis, self.shape())?;
        float_dispatch!("log_softmax", self.dtype(), T => Ok(self.rowwise::<T>(a, true)))
    }

    panicking!(
        /// Log-softmax along `axis` (numerically stable).
        log_softmax => try_log_softmax(axis: isize) -> Tensor
    );
}
