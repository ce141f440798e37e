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

impl Tensor {
    /// Applies `row` to every line along `axis`. Lines along the last axis are contiguous rows;
    /// another axis is moved last, processed, and moved back.
    fn rowwise<T: Float>(&self, axis: usize, row: fn(&[T], &mut [T])) -> Tensor {
        let last = self.rank() - 1;
        if axis != last {
            let moved = self.transpose(axis as isize, -1);
            return moved.rowwise::<T>(last, row).transpose(axis as isize, -1).contiguous();
        }
        let x = self.contiguous();
        let n = self.shape()[last];
        let src = &x.storage_slice::<T>()[x.layout.offset..x.layout.offset + x.numel()];
        let mut out = vec![T::ZERO; src.len()];
        parallel::fill_rows(&mut out, n, |first, rows| {
            for (i, o) in rows.chunks_mut(n).enumerate() {
                let s = (first + i) * n;
                row(&src[s..s + n], o);
            }
        });
        Tensor::from_data(out, self.shape())
    }

    /// `exp(x) / sum(exp(x))` along `axis`, computed max-shifted so it cannot overflow.
    pub fn try_softmax(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("softmax", axis, self.shape())?;
        float_dispatch!("softmax", self.dtype(), T => Ok(self.rowwise::<T>(a, softmax_row::<T>)))
    }

    panicking!(
        /// Softmax along `axis` (numerically stable).
        softmax => try_softmax(axis: isize) -> Tensor
    );

    /// `x - logsumexp(x)` along `axis`, numerically stable.
    pub fn try_log_softmax(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("log_softmax", axis, self.shape())?;
        float_dispatch!("log_softmax", self.dtype(), T => Ok(self.rowwise::<T>(a, log_softmax_row::<T>)))
    }

    panicking!(
        /// Log-softmax along `axis` (numerically stable).
        log_softmax => try_log_softmax(axis: isize) -> Tensor
    );
}
