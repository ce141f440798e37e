//! Exclusive products: for each element, the product of the other elements of its reduction
//! group. `prod`'s gradient is `g * prod_exclusive(x)`, exact even where `x` holds zeros (no
//! `y / x`), so the rule needs no data-dependent branch.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};
use crate::layout::{normalize_axes, Shape};
use crate::{DType, Tensor};

/// The input's values moved so each reduction group is one contiguous f64 row, and how to put
/// rows back.
struct Groups {
    rows: Vec<f64>,
    group: usize,
    moved_shape: Shape,
    inverse: SmallVec<[isize; 6]>,
}

fn groups(op: &'static str, x: &Tensor, axes: &[isize]) -> Result<Groups> {
    if !x.dtype().is_float() {
        return Err(TensorError::UnsupportedDType { op, dtype: x.dtype(), expected: "f32 or f64" });
    }
    let axes = normalize_axes(op, axes, x.shape())?;
    let kept: Vec<usize> = (0..x.rank()).filter(|d| !axes.contains(d)).collect();
    let order: SmallVec<[isize; 6]> = kept.iter().chain(axes.iter()).map(|&d| d as isize).collect();
    // Two f64 buffers of the input's size live at once: the rows and the result.
    crate::pool::ensure_alloc(op, x.numel().saturating_mul(2), DType::F64)?;
    let moved = x.try_permute(&order)?.try_contiguous()?.try_to_dtype(DType::F64)?;
    let group = axes.iter().map(|&a| x.shape()[a]).product::<usize>().max(1);
    let mut inverse: SmallVec<[isize; 6]> = SmallVec::from_elem(0, order.len());
    for (i, &d) in order.iter().enumerate() {
        inverse[d as usize] = i as isize;
    }
    let moved_shape = moved.shape().into();
    Ok(Groups { rows: moved.try_to_vec::<f64>()?, group, moved_shape, inverse })
}

impl Groups {
    fn finish(&self, out: Vec<f64>, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::from_vec(out, &self.moved_shape).try_permute(&self.inverse)?.contiguous().to_dtype(dtype))
    }
}

/// `out[i] = prod_{j != i} row[j]` by prefix and suffix products (no division).
fn exclusive(row: &[f64], out: &mut [f64]) {
    let mut prefix = 1.0;
    for (o, &x) in out.iter_mut().zip(row) {
        *o = prefix;
        prefix *= x;
    }
    let mut suffix = 1.0;
    for (o, &x) in out.iter_mut().zip(row).rev() {
        *o *= suffix;
        suffix *= x;
    }
}

impl Tensor {
    /// For each element, the product of the other elements of its group over `axes` (empty:
    /// all axes), computed in f64 without division; the shape of `self`.
    pub fn try_prod_exclusive(&self, axes: &[isize]) -> Result<Tensor> {
        let g = groups("prod_exclusive", self, axes)?;
        let mut out = vec![0.0; g.rows.len()];
        for (row, dst) in g.rows.chunks(g.group).zip(out.chunks_mut(g.group)) {
            exclusive(row, dst);
        }
        g.finish(out, self.dtype())
    }

    /// The vector-Jacobian product of [`try_prod_exclusive`](Self::try_prod_exclusive): with
    /// `y_i = prod_{k != i} x_k`, `dx_j = sum_{i != j} h_i prod_{k != i, j} x_k`. Each `j` costs
    /// one exclusive-product pass over its group with `x_j` left out: O(n^2) per group of `n`.
    pub fn try_prod_exclusive_backward(&self, h: &Tensor, axes: &[isize]) -> Result<Tensor> {
        let op = "prod_exclusive_backward";
        if h.shape() != self.shape() {
            return Err(TensorError::ShapeMismatch { op, lhs: self.shape().to_vec(), rhs: h.shape().to_vec() });
        }
        if h.dtype() != self.dtype() {
            return Err(TensorError::DTypeMismatch { op, expected: self.dtype(), got: h.dtype() });
        }
        let xg = groups(op, self, axes)?;
        let hg = groups(op, h, axes)?;
        let n = xg.group;
        let mut out = vec![0.0; xg.rows.len()];
        let (mut rest_x, mut rest_h, mut excl) = (Vec::with_capacity(n), Vec::with_capacity(n), vec![0.0; n]);
        for ((xr, hr), dst) in xg.rows.chunks(n).zip(hg.rows.chunks(n)).zip(out.chunks_mut(n)) {
            for (j, out) in dst.iter_mut().enumerate() {
                rest_x.clear();
                rest_h.clear();
                rest_x.extend(xr.iter().enumerate().filter(|&(i, _)| i != j).map(|(_, &v)| v));
                rest_h.extend(hr.iter().enumerate().filter(|&(i, _)| i != j).map(|(_, &v)| v));
                let e = &mut excl[..rest_x.len()];
                exclusive(&rest_x, e);
                *out = e.iter().zip(&rest_h).map(|(a, b)| a * b).sum();
            }
        }
        xg.finish(out, self.dtype())
    }
}
