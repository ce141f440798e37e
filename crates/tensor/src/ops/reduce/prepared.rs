//! A reduction prepared once for an input of fixed shape: what a compiled plan runs for a
//! bias gradient's sum or a loss's mean. The axes are normalised, the output shape worked out
//! and the loop chosen when the kernel is made; a run checks only the input's dtype, shape and
//! contiguity and the output's exclusivity, and writes into the output's buffer.

use super::fold::{contiguous_path, fold_contiguous, ContiguousFold, Max, Min, Prod, Sum};
use crate::dtype::Float;
use crate::layout::{same_shape, Shape};
use crate::parallel::MIN_PARALLEL_ELEMS;
use crate::{DType, Tensor};

/// The reductions a [`ReduceKernel`] runs, each as its `Tensor` method computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
    Prod,
    Max,
    Min,
}

/// A reduction over fixed axes of a contiguous input of fixed shape and float dtype, on this
/// thread, giving what [`Tensor::try_sum`] (and the others) give, bit for bit.
///
/// ```
/// use tensor::ops::reduce::{Reduction, ReduceKernel};
/// use tensor::{DType, Tensor};
/// let kernel = ReduceKernel::new(Reduction::Sum, DType::F32, &[3, 2], &[0], false).unwrap();
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
/// let mut out = Tensor::zeros(&[2], DType::F32);
/// assert!(kernel.run(&x, &mut out));
/// assert_eq!(out.to_vec::<f32>(), vec![9.0, 12.0]);
/// // Not the planned shape: nothing is written, and the caller takes the general path.
/// assert!(!kernel.run(&x.t(), &mut out));
/// ```
#[derive(Clone, Debug)]
pub struct ReduceKernel {
    reduction: Reduction,
    dtype: DType,
    input: Shape,
    /// The result's shape (with the kept ones when `keepdim`).
    out: Shape,
    path: ContiguousFold,
    /// Elements folded into each output.
    count: usize,
}

impl ReduceKernel {
    /// The kernel of `reduction` over `axes` (empty: all; negative count from the end) of an
    /// input of shape `input` and float `dtype`; `None` for other dtypes, invalid axes, and
    /// reductions this kernel does not take (an input large enough to split between threads,
    /// reduced axes neither leading nor trailing, nothing to reduce).
    pub fn new(
        reduction: Reduction,
        dtype: DType,
        input: &[usize],
        axes: &[isize],
        keepdim: bool,
    ) -> Option<ReduceKernel> {
        if !matches!(dtype, DType::F32 | DType::F64) {
            return None;
        }
        let plan = super::plan_shape("reduce", input, axes, keepdim).ok()?;
        let (numel, out_numel): (usize, usize) = (input.iter().product(), plan.out_shape.iter().product());
        // Below the threshold where the general path would split the input between threads:
        // which path runs then never depends on the thread count (the results do not either).
        if numel >= MIN_PARALLEL_ELEMS {
            return None;
        }
        let path = contiguous_path(input.len(), numel, &plan.axes, out_numel)?;
        Some(ReduceKernel {
            reduction,
            dtype,
            input: Shape::from_slice(input),
            out: plan.result_shape,
            path,
            count: plan.count,
        })
    }

    /// Writes the reduction of `x` into `out` and returns `true` when `x` is contiguous with
    /// the planned shape and dtype and `out` is [exclusive](Tensor::is_exclusive) with the
    /// result's; otherwise writes nothing and returns `false`.
    pub fn run(&self, x: &Tensor, out: &mut Tensor) -> bool {
        let planned = |t: &Tensor, shape: &Shape| t.dtype() == self.dtype && same_shape(t.shape(), shape);
        if !planned(x, &self.input) || !x.is_contiguous() || !planned(out, &self.out) || !out.is_exclusive() {
            return false;
        }
        match self.dtype {
            DType::F32 => self.write::<f32>(x, out),
            DType::F64 => self.write::<f64>(x, out),
            _ => return false,
        }
        true
    }

    fn write<T: Float>(&self, x: &Tensor, out: &mut Tensor) {
        let data = &x.storage_slice::<T>()[x.layout.offset..][..x.numel()];
        let dst = out.exclusive_slice_mut::<T>();
        match self.reduction {
            Reduction::Sum => fold_contiguous(self.path, data, dst, &Sum),
            Reduction::Mean => {
                fold_contiguous(self.path, data, dst, &Sum);
                // As `try_mean` divides the sums.
                let n = T::lit(self.count as f64);
                for v in dst.iter_mut() {
                    *v = *v / n;
                }
            }
            Reduction::Prod => fold_contiguous(self.path, data, dst, &Prod),
            Reduction::Max => fold_contiguous(self.path, data, dst, &Max),
            Reduction::Min => fold_contiguous(self.path, data, dst, &Min),
        }
    }
}
