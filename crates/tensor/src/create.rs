//! Constructors: constants, ranges, buffers, identity.

use crate::dtype::{Element, Float};
use crate::error::{ok, Result, TensorError};
use crate::layout::checked_numel;
use crate::macros::{any_dispatch, float_dispatch};
use crate::pool;
use crate::{DType, Tensor};

impl Tensor {
    /// A tensor of `shape` filled with `value` (converted to `dtype`); errors with
    /// [`TensorError::TooLarge`] when the element count overflows and
    /// [`TensorError::OutOfMemory`] when the buffer cannot be allocated.
    pub fn try_full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        let n = checked_numel("full", shape)?;
        any_dispatch!(dtype, T => Ok(Tensor::from_data(pool::try_filled("full", n, T::from_f64(value))?, shape)))
    }

    /// A tensor of `shape` filled with `value` (converted to `dtype`).
    ///
    /// # Panics
    /// As [`try_full`](Self::try_full) errors.
    #[track_caller]
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        ok(Tensor::try_full(shape, value, dtype))
    }

    /// Zeros of `shape`; errors as [`try_full`](Self::try_full).
    pub fn try_zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::try_full(shape, 0.0, dtype)
    }

    #[track_caller]
    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        ok(Tensor::try_zeros(shape, dtype))
    }

    /// Ones of `shape`; errors as [`try_full`](Self::try_full).
    pub fn try_ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::try_full(shape, 1.0, dtype)
    }

    #[track_caller]
    pub fn ones(shape: &[usize], dtype: DType) -> Tensor {
        ok(Tensor::try_ones(shape, dtype))
    }

    /// A 0-d tensor holding `value`.
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Tensor::from_data(vec![value], &[])
    }

    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape(), self.dtype())
    }

    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(self.shape(), self.dtype())
    }

    pub fn full_like(&self, value: f64) -> Tensor {
        Tensor::full(self.shape(), value, self.dtype())
    }

    /// Takes ownership of `data` as a row-major tensor of `shape`.
    pub fn try_from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let expected = checked_numel("from_vec", shape)?;
        if data.len() != expected {
            return Err(TensorError::DataLength { op: "from_vec", shape: shape.to_vec(), expected, got: data.len() });
        }
        Ok(Tensor::from_data(data, shape))
    }

    /// Takes ownership of `data` as a row-major tensor of `shape`.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`.
    #[track_caller]
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        ok(Tensor::try_from_vec(data, shape))
    }

    /// Copies `data` into a row-major tensor of `shape`.
    #[track_caller]
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Tensor {
        ok(Tensor::try_from_vec(data.to_vec(), shape))
    }

    /// `[start, start + step, ...)` up to but excluding `end`, like `torch.arange`.
    pub fn try_arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(TensorError::invalid("arange", format!("bad range {start}..{end} step {step}")));
        }
        if (end - start) * step < 0.0 {
            return Err(TensorError::invalid(
                "arange",
                format!("step {step} does not move from {start} towards {end}"),
            ));
        }
        let n = ((end - start) / step).ceil();
        if n >= usize::MAX as f64 {
            return Err(TensorError::TooLarge { op: "arange", shape: vec![usize::MAX] });
        }
        let n = n as usize;
        any_dispatch!(dtype, T => {
            pool::ensure_alloc("arange", n, T::DTYPE)?;
            let data: Vec<T> = (0..n).map(|i| T::from_f64(start + i as f64 * step)).collect();
            Ok(Tensor::from_data(data, &[n]))
        })
    }

    /// `[start, start + step, ...)` up to but excluding `end`, like `torch.arange`.
    #[track_caller]
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Tensor {
        ok(Tensor::try_arange(start, end, step, dtype))
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, like `torch.linspace`.
    pub fn try_linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
        float_dispatch!("linspace", dtype, T => {
            pool::ensure_alloc("linspace", steps, T::DTYPE)?;
            let step = if steps > 1 { (end - start) / (steps - 1) as f64 } else { 0.0 };
            // Fill from both ends, as torch does, so the last value is exactly `end`.
            let data: Vec<T> = (0..steps)
                .map(|i| {
                    if i < steps / 2 {
                        T::lit(start + step * i as f64)
                    } else {
                        T::lit(end - step * (steps - 1 - i) as f64)
                    }
                })
                .collect();
            Ok(Tensor::from_data(data, &[steps]))
        })
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, like `torch.linspace`.
    #[track_caller]
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Tensor {
        ok(Tensor::try_linspace(start, end, steps, dtype))
    }

    /// The `n x n` identity matrix; errors as [`try_full`](Self::try_full).
    pub fn try_eye(n: usize, dtype: DType) -> Result<Tensor> {
        let numel = checked_numel("eye", &[n, n])?;
        any_dispatch!(dtype, T => {
            let mut data = pool::try_filled("eye", numel, T::ZERO)?;
            for i in 0..n {
                data[i * n + i] = T::ONE;
            }
            Ok(Tensor::from_data(data, &[n, n]))
        })
    }

    /// The `n x n` identity matrix.
    #[track_caller]
    pub fn eye(n: usize, dtype: DType) -> Tensor {
        ok(Tensor::try_eye(n, dtype))
    }
}
