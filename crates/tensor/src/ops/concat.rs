//! Joining and splitting: cat, stack, split, chunk, pad, repeat.

use crate::elementwise;
use crate::error::{Result, TensorError};
use crate::layout::{checked_numel, contiguous_strides, normalize_axis, normalize_insert_axis, Shape, Strides};
use crate::macros::{any_dispatch, panicking};
use crate::{Element, Tensor};

impl Tensor {
    /// Concatenates tensors along an existing `axis`; all other dimensions and dtypes must match.
    pub fn try_cat(tensors: &[Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| TensorError::invalid("cat", "needs at least one tensor"))?;
        let a = normalize_axis("cat", axis, first.shape())?;
        let mut out_shape = first.shape_vec();
        out_shape[a] = 0;
        for t in tensors {
            first.same_dtype("cat", t)?;
            let same_rest =
                t.rank() == first.rank() && (0..t.rank()).all(|d| d == a || t.shape()[d] == first.shape()[d]);
            if !same_rest {
                return Err(TensorError::invalid(
                    "cat",
                    format!("shapes {:?} and {:?} differ outside axis {a}", first.shape(), t.shape()),
                ));
            }
            out_shape[a] = out_shape[a].checked_add(t.shape()[a]).ok_or_else(|| TensorError::TooLarge {
                op: "cat",
                shape: tensors.iter().map(|t| t.shape()[a]).collect(),
            })?;
        }
        let numel = checked_numel("cat", &out_shape)?;
        let strides = contiguous_strides(&out_shape);
        Ok(any_dispatch!(first.dtype(), T => {
            let mut out = crate::pool::try_filled("cat", numel, T::default())?;
            let mut at = 0;
            for t in tensors {
                elementwise::copy_into::<T>(t, &mut out, &strides, at * strides[a]);
                at += t.shape()[a];
            }
            Tensor::from_data(out, &out_shape)
        }))
    }

    /// Concatenates tensors along an existing `axis`.
    ///
    /// # Panics
    /// On an empty list or mismatched shapes/dtypes, with the message of [`try_cat`](Self::try_cat).
    #[track_caller]
    pub fn cat(tensors: &[Tensor], axis: isize) -> Tensor {
        crate::error::ok(Tensor::try_cat(tensors, axis))
    }

    /// Stacks equally shaped tensors along a new `axis`.
    pub fn try_stack(tensors: &[Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| TensorError::invalid("stack", "needs at least one tensor"))?;
        let a = normalize_insert_axis("stack", axis, first.shape())?;
        let mut parts = Vec::with_capacity(tensors.len());
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(TensorError::ShapeMismatch { op: "stack", lhs: first.shape_vec(), rhs: t.shape_vec() });
            }
            parts.push(t.try_unsqueeze(a as isize)?);
        }
        Tensor::try_cat(&parts, a as isize)
    }

    /// Stacks equally shaped tensors along a new `axis`.
    ///
    /// # Panics
    /// On an empty list or mismatched shapes/dtypes.
    #[track_caller]
    pub fn stack(tensors: &[Tensor], axis: isize) -> Tensor {
        crate::error::ok(Tensor::try_stack(tensors, axis))
    }

    /// Views of consecutive pieces of `size` along `axis` (the last may be shorter).
    pub fn try_split(&self, size: usize, axis: isize) -> Result<Vec<Tensor>> {
        let a = normalize_axis("split", axis, self.shape())?;
        if size == 0 {
            return Err(TensorError::invalid("split", "piece size must be positive, got 0"));
        }
        let n = self.shape()[a];
        Ok((0..n).step_by(size).map(|s| self.narrow(a as isize, s, size.min(n - s))).collect())
    }

    panicking!(
        /// Views of consecutive pieces of `size` along `axis`.
        split => try_split(size: usize, axis: isize) -> Vec<Tensor>
    );

    /// Splits into `chunks` views of equal size along `axis` (the last may be smaller),
    /// as `torch.chunk`.
    pub fn try_chunk(&self, chunks: usize, axis: isize) -> Result<Vec<Tensor>> {
        let a = normalize_axis("chunk", axis, self.shape())?;
        if chunks == 0 {
            return Err(TensorError::invalid("chunk", "number of chunks must be positive, got 0"));
        }
        let size = self.shape()[a].div_ceil(chunks).max(1);
        self.try_split(size, a as isize)
    }

    panicking!(
        /// Splits into `chunks` views of (nearly) equal size along `axis`.
        chunk => try_chunk(chunks: usize, axis: isize) -> Vec<Tensor>
    );

    /// Pads with a constant: `pads[d] = (before, after)` for every dimension `d`, as `numpy.pad`.
    pub fn try_pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Tensor> {
        if pads.len() != self.rank() {
            return Err(TensorError::invalid(
                "pad",
                format!("needs one (before, after) pair per dimension of {:?}, got {}", self.shape(), pads.len()),
            ));
        }
        let out_shape: Shape = self
            .shape()
            .iter()
            .zip(pads)
            .map(|(&d, &(b, e))| d.checked_add(b)?.checked_add(e))
            .collect::<Option<Shape>>()
            .filter(|s| s.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).is_some())
            .ok_or_else(|| {
                TensorError::invalid("pad", format!("padding {pads:?} of shape {:?} overflows", self.shape()))
            })?;
        let strides = contiguous_strides(&out_shape);
        let offset: usize = pads.iter().zip(&strides).map(|(&(b, _), &s)| b * s).sum();
        Ok(any_dispatch!(self.dtype(), T => {
            let fill = crate::ops::binary::exact_scalar::<T>("pad", value)?;
            let mut out = crate::pool::try_filled("pad", out_shape.iter().product(), fill)?;
            elementwise::copy_into::<T>(self, &mut out, &strides, offset);
            Tensor::from_data(out, &out_shape)
        }))
    }

    panicking!(
        /// Constant padding, one `(before, after)` pair per dimension.
        pad => try_pad(pads: &[(usize, usize)], value: f64) -> Tensor
    );

    /// Tiles the tensor `reps[d]` times along each dimension, as `torch.Tensor.repeat`;
    /// `reps` may be longer than the rank (new leading dimensions).
    pub fn try_repeat(&self, reps: &[usize]) -> Result<Tensor> {
        if reps.len() < self.rank() {
            return Err(TensorError::invalid(
                "repeat",
                format!("needs at least {} repeat counts for shape {:?}, got {reps:?}", self.rank(), self.shape()),
            ));
        }
        let lead = reps.len() - self.rank();
        // Expand an interleaved [r0, d0, r1, d1, ...] view with stride 0 on the r axes, then
        // materialise it in row-major order: that is exactly the tiling.
        let mut shape = Shape::new();
        let mut strides = Strides::new();
        let mut out_shape = Shape::new();
        for (i, &r) in reps.iter().enumerate() {
            let (d, s) = if i < lead { (1, 0) } else { (self.shape()[i - lead], self.strides()[i - lead]) };
            shape.extend([r, d]);
            strides.extend([0, s]);
            out_shape.push(r.checked_mul(d).ok_or_else(|| {
                TensorError::invalid("repeat", format!("repeating shape {:?} by {reps:?} overflows", self.shape()))
            })?);
        }
        let numel = checked_numel("repeat", &out_shape)?;
        let view = self.view_with(crate::Layout { shape, strides, offset: self.layout.offset });
        Ok(any_dispatch!(self.dtype(), T => {
            crate::pool::ensure_alloc("repeat", numel, T::DTYPE)?;
            Tensor::from_data(elementwise::map::<T, T>(&view, |v| v), &out_shape)
        }))
    }

    panicking!(
        /// Tiles the tensor `reps[d]` times along each dimension.
        repeat => try_repeat(reps: &[usize]) -> Tensor
    );
}
