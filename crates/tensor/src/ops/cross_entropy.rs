//! Softmax cross-entropy over class indices, forward and backward, each one pass per row:
//! the kernels behind autograd's fused `softmax_cross_entropy` node.
//!
//! - forward: `mean_n(logsumexp(x[n]) - x[n, t_n])`;
//! - backward: `(softmax(x[n]) - one_hot(t_n)) * g / N`, with no one-hot buffer.

use crate::dtype::{Element, Float};
use crate::error::{Result, TensorError};
use crate::macros::{float_dispatch, panicking};
use crate::ops::softmax::{row_shift, row_sum, softmax_row};
use crate::{DType, Tensor};

/// Validates logits `[N, C]` (float) against i64 class ids `[N]` in `0..C`; returns the class
/// ids as row offsets.
fn check(op: &'static str, logits: &Tensor, target: &Tensor) -> Result<Vec<usize>> {
    if logits.rank() != 2 || target.rank() != 1 || target.shape()[0] != logits.shape()[0] {
        return Err(TensorError::invalid(
            op,
            format!("expected logits [N, C] and target [N], got {:?} and {:?}", logits.shape(), target.shape()),
        ));
    }
    if target.dtype() != DType::I64 {
        return Err(TensorError::DTypeMismatch { op, expected: DType::I64, got: target.dtype() });
    }
    let classes = logits.shape()[1];
    let ids = target.try_to_vec::<i64>()?;
    if let Some(&bad) = ids.iter().find(|&&t| t < 0 || t as usize >= classes) {
        return Err(TensorError::IndexOutOfBounds { op, index: bad, axis: 1, size: classes });
    }
    Ok(ids.into_iter().map(|t| t as usize).collect())
}

/// The rows of a contiguous `[N, C]` tensor.
fn rows<T: Float>(x: &Tensor) -> &[T] {
    &x.storage_slice::<T>()[x.layout.offset..x.layout.offset + x.numel()]
}

impl Tensor {
    /// Mean cross-entropy of logits `self` `[N, C]` against class ids `target` (i64 `[N]`):
    /// `mean_n(logsumexp(x[n]) - x[n, target[n]])`, as `torch.nn.functional.cross_entropy`,
    /// one pass per row. Errors on a shape other than `[N, C]` / `[N]`, a non-i64 target, a
    /// class id outside `0..C`, or integer logits. The mean of no rows is NaN, as in torch.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2]);
    /// let loss = x.softmax_cross_entropy(&Tensor::from_vec(vec![1i64], &[1]));
    /// assert!((loss.to_scalar::<f64>() - 2f64.ln()).abs() < 1e-15);
    /// ```
    pub fn try_softmax_cross_entropy(&self, target: &Tensor) -> Result<Tensor> {
        let op = "softmax_cross_entropy";
        let ids = check(op, self, target)?;
        let classes = self.shape()[1];
        let x = self.contiguous();
        float_dispatch!(op, x.dtype(), T => {
            let total = rows::<T>(&x).chunks(classes.max(1)).zip(&ids).fold(T::ZERO, |acc, (row, &t)| {
                let m = row_shift(row);
                acc + (m + row_sum(row, |v| (v - m).exp_k()).ln() - row[t])
            });
            Ok(Tensor::from_data(vec![total / T::lit(ids.len() as f64)], &[]))
        })
    }

    panicking!(
        /// Mean softmax cross-entropy of logits `[N, C]` against i64 class ids `[N]`.
        softmax_cross_entropy => try_softmax_cross_entropy(target: &Tensor) -> Tensor
    );

    /// Gradient of [`softmax_cross_entropy`](Self::softmax_cross_entropy) with respect to the
    /// logits `self` `[N, C]`: `(softmax(x) - one_hot(target)) * grad / N`, `grad` the 0-d
    /// gradient of the loss; one pass per row. Errors as the forward, or on a `grad` that is
    /// not a 0-d tensor of the logits' dtype.
    pub fn try_softmax_cross_entropy_backward(&self, target: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let op = "softmax_cross_entropy_backward";
        let ids = check(op, self, target)?;
        self.same_dtype(op, grad)?;
        if grad.rank() != 0 {
            return Err(TensorError::invalid(
                op,
                format!("grad must be 0-d (the loss's), got shape {:?}", grad.shape()),
            ));
        }
        let classes = self.shape()[1];
        let x = self.contiguous();
        float_dispatch!(op, x.dtype(), T => {
            let scale = grad.to_scalar::<T>() / T::lit(ids.len().max(1) as f64);
            let mut out = crate::pool::for_overwrite::<T>(x.numel());
            for ((row, o), &t) in rows::<T>(&x).chunks(classes.max(1)).zip(out.chunks_mut(classes.max(1))).zip(&ids) {
                softmax_row(row, o);
                o[t] -= T::ONE;
                for v in o.iter_mut() {
                    *v *= scale;
                }
            }
            Ok(Tensor::from_data(out, self.shape()))
        })
    }

    panicking!(
        /// `(softmax(self) - one_hot(target)) * grad / N`.
        softmax_cross_entropy_backward => try_softmax_cross_entropy_backward(target: &Tensor, grad: &Tensor) -> Tensor
    );
}
