//! Movement ops: views that change only the layout (O(1), no copy) where the strides allow.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};
use crate::layout::{normalize_axis, normalize_insert_axis, Layout, Shape, Strides};
use crate::macros::panicking;
use crate::Tensor;

/// Resolves a target shape with at most one `-1` (inferred) dimension, as `reshape` does.
pub fn infer_shape(op: &'static str, from: &[usize], to: &[isize]) -> Result<Shape> {
    let numel: usize = from.iter().product();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in to.iter().enumerate() {
        if d == -1 {
            if infer.replace(i).is_some() {
                return Err(TensorError::invalid(op, format!("only one dimension can be -1, got {to:?}")));
            }
        } else if d < 0 {
            return Err(TensorError::invalid(op, format!("invalid dimension {d} in shape {to:?}")));
        } else {
            known = known.checked_mul(d as usize).ok_or_else(|| TensorError::TooLarge {
                op,
                shape: to.iter().filter(|&&d| d >= 0).map(|&d| d as usize).collect(),
            })?;
        }
    }
    let mut shape: Shape = to.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(TensorError::invalid(
                op,
                format!("cannot infer the -1 dimension of {to:?} for {numel} elements (shape {from:?})"),
            ));
        }
        shape[i] = numel / known;
    }
    // `known` did not overflow, and the inferred dimension keeps the product at `numel`.
    let to_numel: usize = shape.iter().product();
    if to_numel != numel {
        return Err(TensorError::ReshapeNumel {
            op,
            from: from.to_vec(),
            from_numel: numel,
            to: shape.to_vec(),
            to_numel,
        });
    }
    Ok(shape)
}

impl Tensor {
    /// A tensor with the same elements in row-major order and a new shape; one dimension may
    /// be `-1` (inferred). A view when the strides allow it, a copy otherwise (as `torch.reshape`).
    pub fn try_reshape(&self, shape: &[isize]) -> Result<Tensor> {
        let shape = infer_shape("reshape", self.shape(), shape)?;
        Ok(match self.layout.view_strides(&shape) {
            Some(strides) => self.view_with(Layout { shape, strides, offset: self.layout.offset }),
            None => {
                crate::pool::ensure_alloc("reshape", self.numel(), self.dtype())?;
                self.contiguous().view_with(Layout::contiguous(&shape))
            }
        })
    }

    panicking!(
        /// Reshape (a view when possible); one dimension may be `-1`.
        reshape => try_reshape(shape: &[isize]) -> Tensor
    );

    /// Like [`reshape`](Self::reshape) but never copies: an error when the layout does not allow
    /// a view (as `torch.view`).
    pub fn try_view(&self, shape: &[isize]) -> Result<Tensor> {
        let shape = infer_shape("view", self.shape(), shape)?;
        match self.layout.view_strides(&shape) {
            Some(strides) => Ok(self.view_with(Layout { shape, strides, offset: self.layout.offset })),
            None => Err(TensorError::invalid(
                "view",
                format!(
                    "cannot view shape {:?} with strides {:?} as {:?} without a copy; use reshape",
                    self.shape(),
                    self.strides(),
                    shape
                ),
            )),
        }
    }

    panicking!(
        /// Reshape without copying; fails when the strides do not allow it.
        view => try_view(shape: &[isize]) -> Tensor
    );

    /// Merges dimensions `start..=end` into one.
    pub fn try_flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.try_reshape(&[1]);
        }
        let s = normalize_axis("flatten", start, self.shape())?;
        let e = normalize_axis("flatten", end, self.shape())?;
        if s > e {
            return Err(TensorError::invalid("flatten", format!("start axis {start} is after end axis {end}")));
        }
        let mut shape: SmallVec<[isize; 6]> = self.shape()[..s].iter().map(|&d| d as isize).collect();
        shape.push(self.shape()[s..=e].iter().product::<usize>() as isize);
        shape.extend(self.shape()[e + 1..].iter().map(|&d| d as isize));
        self.try_reshape(&shape)
    }

    panicking!(
        /// Merges dimensions `start..=end` into one.
        flatten => try_flatten(start: isize, end: isize) -> Tensor
    );

    /// Removes dimension `axis`, which must have size 1.
    pub fn try_squeeze(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("squeeze", axis, self.shape())?;
        if self.shape()[a] != 1 {
            return Err(TensorError::invalid(
                "squeeze",
                format!("axis {axis} of shape {:?} has size {}, not 1", self.shape(), self.shape()[a]),
            ));
        }
        let mut layout = self.layout.clone();
        layout.shape.remove(a);
        layout.strides.remove(a);
        Ok(self.view_with(layout))
    }

    panicking!(
        /// Removes dimension `axis`, which must have size 1.
        squeeze => try_squeeze(axis: isize) -> Tensor
    );

    /// Removes every size-1 dimension.
    pub fn squeeze_all(&self) -> Tensor {
        let mut layout = self.layout.clone();
        let keep: Vec<usize> = (0..self.rank()).filter(|&i| self.shape()[i] != 1).collect();
        layout.shape = keep.iter().map(|&i| self.shape()[i]).collect();
        layout.strides = keep.iter().map(|&i| self.strides()[i]).collect();
        self.view_with(layout)
    }

    /// Inserts a size-1 dimension at position `axis` (`-1` appends).
    pub fn try_unsqueeze(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_insert_axis("unsqueeze", axis, self.shape())?;
        let mut layout = self.layout.clone();
        let stride = if a < self.rank() { self.strides()[a] * self.shape()[a] } else { 1 };
        layout.shape.insert(a, 1);
        layout.strides.insert(a, stride);
        Ok(self.view_with(layout))
    }

    panicking!(
        /// Inserts a size-1 dimension at position `axis`.
        unsqueeze => try_unsqueeze(axis: isize) -> Tensor
    );

    /// Reorders dimensions: output dimension `i` is input dimension `axes[i]`.
    pub fn try_permute(&self, axes: &[isize]) -> Result<Tensor> {
        if axes.len() != self.rank() {
            return Err(TensorError::invalid(
                "permute",
                format!("axes {axes:?} do not match the rank {} of shape {:?}", self.rank(), self.shape()),
            ));
        }
        let mut seen: SmallVec<[bool; 6]> = smallvec::smallvec![false; self.rank()];
        let mut layout = self.layout.clone();
        for (i, &axis) in axes.iter().enumerate() {
            let a = normalize_axis("permute", axis, self.shape())?;
            if std::mem::replace(&mut seen[a], true) {
                return Err(TensorError::DuplicateAxis { op: "permute", axis: a, axes: axes.to_vec() });
            }
            layout.shape[i] = self.shape()[a];
            layout.strides[i] = self.strides()[a];
        }
        Ok(self.view_with(layout))
    }

    panicking!(
        /// Reorders dimensions (a view).
        permute => try_permute(axes: &[isize]) -> Tensor
    );

    /// Swaps two dimensions (a view).
    pub fn try_transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let a = normalize_axis("transpose", a, self.shape())?;
        let b = normalize_axis("transpose", b, self.shape())?;
        let mut layout = self.layout.clone();
        layout.shape.swap(a, b);
        layout.strides.swap(a, b);
        Ok(self.view_with(layout))
    }

    panicking!(
        /// Swaps two dimensions (a view).
        transpose => try_transpose(a: isize, b: isize) -> Tensor
    );

    /// Transpose of a matrix: swaps the last two dimensions (a view).
    pub fn try_t(&self) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(TensorError::invalid(
                "t",
                format!("needs at least 2 dimensions, got shape {:?}", self.shape()),
            ));
        }
        self.try_transpose(-2, -1)
    }

    panicking!(
        /// Swaps the last two dimensions (a view).
        t => try_t() -> Tensor
    );

    /// Views the tensor with a broadcast shape: size-1 (or missing leading) dimensions repeat
    /// with stride 0. No copy.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let strides = self.layout.broadcast_strides("broadcast_to", shape)?;
        Ok(self.view_with(Layout { shape: Shape::from_slice(shape), strides, offset: self.layout.offset }))
    }

    panicking!(
        /// Views the tensor with a broadcast shape (stride 0 on repeated axes).
        broadcast_to => try_broadcast_to(shape: &[usize]) -> Tensor
    );

    /// Like [`broadcast_to`](Self::broadcast_to), with `-1` meaning "keep this dimension"
    /// (as `torch.expand`).
    pub fn try_expand(&self, shape: &[isize]) -> Result<Tensor> {
        let lead = shape.len().checked_sub(self.rank()).ok_or_else(|| {
            TensorError::invalid(
                "expand",
                format!("cannot expand shape {:?} to fewer dimensions {shape:?}", self.shape()),
            )
        })?;
        let mut target = Shape::new();
        for (i, &d) in shape.iter().enumerate() {
            target.push(match d {
                -1 if i >= lead => self.shape()[i - lead],
                d if d >= 0 => d as usize,
                _ => return Err(TensorError::invalid("expand", format!("invalid size {d} in {shape:?}"))),
            });
        }
        let strides = self.layout.broadcast_strides("expand", &target)?;
        Ok(self.view_with(Layout { shape: target, strides, offset: self.layout.offset }))
    }

    panicking!(
        /// Broadcast view; `-1` keeps a dimension.
        expand => try_expand(shape: &[isize]) -> Tensor
    );

    /// The sub-range `start..start + len` of dimension `axis` (a view).
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let a = normalize_axis("narrow", axis, self.shape())?;
        let size = self.shape()[a];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(TensorError::invalid(
                "narrow",
                format!("range {start}..{} is out of bounds for axis {a} of size {size}", start.saturating_add(len)),
            ));
        }
        let mut layout = self.layout.clone();
        layout.offset += start * self.strides()[a];
        layout.shape[a] = len;
        Ok(self.view_with(layout))
    }

    panicking!(
        /// The sub-range `start..start + len` of dimension `axis` (a view).
        narrow => try_narrow(axis: isize, start: usize, len: usize) -> Tensor
    );

    /// Python-style slice `start:end:step` of dimension `axis` (a view). Negative `start`/`end`
    /// count from the end and are clamped to the axis, as in Python; `step` must be positive.
    pub fn try_slice(&self, axis: isize, start: isize, end: isize, step: usize) -> Result<Tensor> {
        let a = normalize_axis("slice", axis, self.shape())?;
        if step == 0 {
            return Err(TensorError::invalid("slice", "step must be positive, got 0"));
        }
        let size = self.shape()[a] as isize;
        let clamp = |i: isize| if i < 0 { (i + size).max(0) } else { i.min(size) };
        let (s, e) = (clamp(start) as usize, clamp(end) as usize);
        let len = if e > s { (e - s).div_ceil(step) } else { 0 };
        let mut layout = self.layout.clone();
        if len > 0 {
            layout.offset += s * self.strides()[a];
        }
        layout.shape[a] = len;
        if len > 1 {
            // len > 1 implies step < size, so this stays within the storage's extent.
            layout.strides[a] *= step;
        }
        Ok(self.view_with(layout))
    }

    panicking!(
        /// Python-style slice `start:end:step` of one dimension (a view).
        slice => try_slice(axis: isize, start: isize, end: isize, step: usize) -> Tensor
    );

    /// The sub-tensor at `index` along `axis`, with that dimension removed (a view).
    pub fn try_select(&self, axis: isize, index: usize) -> Result<Tensor> {
        let a = normalize_axis("select", axis, self.shape())?;
        if index >= self.shape()[a] {
            return Err(TensorError::IndexOutOfBounds {
                op: "select",
                index: index as i64,
                axis: a,
                size: self.shape()[a],
            });
        }
        let mut layout = self.layout.clone();
        layout.offset += index * self.strides()[a];
        layout.shape.remove(a);
        layout.strides.remove(a);
        Ok(self.view_with(layout))
    }

    panicking!(
        /// The sub-tensor at `index` along `axis`, that dimension removed (a view).
        select => try_select(axis: isize, index: usize) -> Tensor
    );

    /// A view with explicit shape, strides and offset over the same storage; bounds are checked.
    pub fn try_as_strided(&self, shape: &[usize], strides: &[usize], offset: usize) -> Result<Tensor> {
        let fits = shape.len() == strides.len() && strides.iter().all(|&s| s <= isize::MAX as usize) && {
            let layout = Layout { shape: Shape::from_slice(shape), strides: Strides::from_slice(strides), offset };
            layout.checked_storage_extent().is_some_and(|end| end <= self.storage.len())
        };
        if !fits {
            return Err(TensorError::invalid(
                "as_strided",
                format!(
                    "shape {shape:?} strides {strides:?} offset {offset} do not fit a storage of {} elements",
                    self.storage.len()
                ),
            ));
        }
        let layout = Layout { shape: Shape::from_slice(shape), strides: Strides::from_slice(strides), offset };
        Ok(self.view_with(layout))
    }
}
