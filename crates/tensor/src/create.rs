//! Constructors: constants, ranges, buffers, identity.

use crate::dtype::{Element, Float};
use crate::error::{ok, Result, TensorError};
use crate::macros::{any_dispatch, float_dispatch};
use crate::{DType, Tensor};

impl Tensor {
    /// A tensor of `shape` filled with `value` (converted to `dtype`).
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        let n = shape.iter().product();
        any_dispatch!(dtype, T => Tensor::from_data(vec![T::from_f64(value); n], shape))
    }

    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full(shape, 0.0, dtype)
    }

    pub fn ones(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full(shape, 1.0, dtype)
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
        let expected: usize = shape.iter().product();
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
        let n = ((end - start) / step).ceil() as usize;
        Ok(any_dispatch!(dtype, T => {
            let data: Vec<T> = (0..n).map(|i| T::from_f64(start + i as f64 * step)).collect();
            Tensor::from_data(data, &[n])
        }))
    }

    /// `[start, start + step, ...)` up to but excluding `end`, like `torch.arange`.
    #[track_caller]
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Tensor {
        ok(Tensor::try_arange(start, end, step, dtype))
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, like `torch.linspace`.
    pub fn try_linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
        Ok(float_dispatch!("linspace", dtype, T => {
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
            Tensor::from_data(data, &[steps])
        }))
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive, like `torch.linspace`.
    #[track_caller]
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Tensor {
        ok(Tensor::try_linspace(start, end, steps, dtype))
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize, dtype: DType) -> Tensor {
        any_dispatch!(dtype, T => {
            let mut data = vec![T::ZERO; n * n];
            for i in 0..n {
                data[i * n + i] = T::ONE;
            }
            Tensor::from_data(data, &[n, n])
        })
    }
}
