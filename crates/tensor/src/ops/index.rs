//! Indexing ops: index_select, gather, scatter_add, where_cond, masked_fill, one_hot.
//!
//! Indices are i64 tensors; every index is bounds-checked before any element moves, so a bad
//! index is an error naming the op, the index and the axis, never an out-of-bounds read.

use crate::dtype::{Element, Numeric};
use crate::elementwise;
use crate::error::{Result, TensorError};
use crate::layout::{broadcast_shapes, checked_numel, contiguous_strides, normalize_axis, Shape};
use crate::macros::{any_dispatch, numeric_dispatch, panicking};
use crate::{DType, Tensor};

/// Checks that every index is in `[0, size)`, returning them as `usize`.
fn checked_indices(op: &'static str, index: &Tensor, axis: usize, size: usize) -> Result<Vec<usize>> {
    index.expect_dtype(op, DType::I64)?;
    crate::pool::ensure_alloc(op, index.numel(), DType::I64)?;
    index
        .try_to_vec::<i64>()?
        .into_iter()
        .map(|i| {
            if i < 0 || i as usize >= size {
                Err(TensorError::IndexOutOfBounds { op, index: i, axis, size })
            } else {
                Ok(i as usize)
            }
        })
        .collect()
}

impl Tensor {
    /// Picks entries `index` (1-D, i64) along `axis`: `out.shape[axis] = index.len()`.
    /// The embedding lookup is `weight.index_select(0, ids)`.
    pub fn try_index_select(&self, axis: isize, index: &Tensor) -> Result<Tensor> {
        let a = normalize_axis("index_select", axis, self.shape())?;
        if index.rank() != 1 {
            return Err(TensorError::invalid(
                "index_select",
                format!("index must be 1-D, got shape {:?}", index.shape()),
            ));
        }
        let idx = checked_indices("index_select", index, a, self.shape()[a])?;
        let mut out_shape = self.shape_vec();
        out_shape[a] = idx.len();
        let n = checked_numel("index_select", &out_shape)?;
        Ok(any_dispatch!(self.dtype(), T => {
            crate::pool::ensure_alloc("index_select", n, T::DTYPE)?;
            // Every slab is written, so the buffer's old contents never show.
            let mut out = crate::pool::for_overwrite::<T>(n);
            let src = self.storage_slice::<T>();
            if a == 0 && self.is_contiguous() {
                // Rows of a row-major tensor (an embedding table): one memcpy per id.
                let row: usize = self.shape()[1..].iter().product();
                for (dst, &i) in out.chunks_mut(row.max(1)).zip(&idx) {
                    let start = self.layout.offset + i * row;
                    dst.copy_from_slice(&src[start..start + row]);
                }
            } else if !idx.is_empty() {
                // One view of the first slab, shifted to each picked index.
                let out_strides = contiguous_strides(&out_shape);
                let slab = self.narrow(a as isize, 0, 1);
                for (j, &i) in idx.iter().enumerate() {
                    let from = slab.layout.offset + i * self.strides()[a];
                    elementwise::copy_into_from::<T>(&slab, from, &mut out, &out_strides, j * out_strides[a]);
                }
            }
            Tensor::from_data(out, &out_shape)
        }))
    }

    panicking!(
        /// Picks entries `index` (1-D, i64) along `axis`.
        index_select => try_index_select(axis: isize, index: &Tensor) -> Tensor
    );

    /// Checks gather/scatter shapes: same rank, and `index.shape[d] <= self.shape[d]` off `axis`.
    fn check_gather_shapes(&self, op: &'static str, axis: usize, index: &Tensor) -> Result<()> {
        if index.rank() != self.rank() || (0..self.rank()).any(|d| d != axis && index.shape()[d] > self.shape()[d]) {
            return Err(TensorError::invalid(
                op,
                format!(
                    "index shape {:?} does not fit input shape {:?} along axes other than {axis}",
                    index.shape(),
                    self.shape()
                ),
            ));
        }
        Ok(())
    }

    /// `out[i][j][k] = self[i][index[i][j][k]][k]` (for `axis = 1`); `out` has `index`'s shape.
    pub fn try_gather(&self, axis: isize, index: &Tensor) -> Result<Tensor> {
        let a = normalize_axis("gather", axis, self.shape())?;
        self.check_gather_shapes("gather", a, index)?;
        let idx = checked_indices("gather", index, a, self.shape()[a])?;
        crate::pool::ensure_alloc("gather", index.numel(), self.dtype())?;
        let pos = gather_offsets(self.strides(), self.layout.offset, index.shape(), a, &idx);
        Ok(any_dispatch!(self.dtype(), T => {
            let src = self.storage_slice::<T>();
            Tensor::from_data(pos.iter().map(|&p| src[p]).collect::<Vec<T>>(), index.shape())
        }))
    }

    panicking!(
        /// Gathers values along `axis` at `index` (i64, same rank as `self`).
        gather => try_gather(axis: isize, index: &Tensor) -> Tensor
    );

    /// A copy of `self` with `src` added at `index` along `axis`:
    /// `out[i][index[i][j][k]][k] += src[i][j][k]` (for `axis = 1`). Duplicates accumulate.
    pub fn try_scatter_add(&self, axis: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let a = normalize_axis("scatter_add", axis, self.shape())?;
        self.same_dtype("scatter_add", src)?;
        self.check_gather_shapes("scatter_add", a, index)?;
        if index.shape() != src.shape() {
            return Err(TensorError::ShapeMismatch { op: "scatter_add", lhs: index.shape_vec(), rhs: src.shape_vec() });
        }
        let idx = checked_indices("scatter_add", index, a, self.shape()[a])?;
        // Positions in the row-major copy `out` (offset 0), not in `self`'s own storage.
        let pos = gather_offsets(&contiguous_strides(self.shape()), 0, index.shape(), a, &idx);
        numeric_dispatch!("scatter_add", self.dtype(), T => {
            let mut out = self.try_to_vec::<T>()?;
            for (&p, v) in pos.iter().zip(src.try_to_vec::<T>()?) {
                out[p] = Numeric::num_add(out[p], v);
            }
            Ok(Tensor::from_data(out, self.shape()))
        })
    }

    panicking!(
        /// Adds `src` into a copy of `self` at `index` along `axis`.
        scatter_add => try_scatter_add(axis: isize, index: &Tensor, src: &Tensor) -> Tensor
    );

    /// `on_true` where `self` (a bool mask) is true, `on_false` elsewhere; all three broadcast.
    pub fn try_where_cond(&self, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        self.expect_dtype("where_cond", DType::Bool)?;
        on_true.same_dtype("where_cond", on_false)?;
        let shape = broadcast_shapes("where_cond", self.shape(), on_true.shape())?;
        let shape = broadcast_shapes("where_cond", &shape, on_false.shape())?;
        crate::pool::ensure_alloc("where_cond", shape.iter().product(), on_true.dtype())?;
        let st = [
            self.layout.broadcast_strides("where_cond", &shape)?,
            on_true.layout.broadcast_strides("where_cond", &shape)?,
            on_false.layout.broadcast_strides("where_cond", &shape)?,
        ];
        Ok(any_dispatch!(on_true.dtype(), T => {
            let out = elementwise::zip3::<bool, T, T, T>(
                (self, on_true, on_false),
                [&st[0], &st[1], &st[2]],
                &shape,
                |c, t, f| if c { t } else { f },
            );
            Tensor::from_data(out, &shape)
        }))
    }

    panicking!(
        /// `on_true` where the mask is true, `on_false` elsewhere (broadcasting).
        where_cond => try_where_cond(on_true: &Tensor, on_false: &Tensor) -> Tensor
    );

    /// `value` where `mask` (bool, broadcastable to `self`) is true, `self` elsewhere.
    pub fn try_masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        mask.expect_dtype("masked_fill", DType::Bool)?;
        let shape = broadcast_shapes("masked_fill", self.shape(), mask.shape())?;
        if shape.as_slice() != self.shape() {
            return Err(TensorError::Broadcast { op: "masked_fill", lhs: mask.shape_vec(), rhs: self.shape_vec() });
        }
        crate::pool::ensure_alloc("masked_fill", self.numel(), self.dtype())?;
        let sa = self.layout.broadcast_strides("masked_fill", &shape)?;
        let sm = mask.layout.broadcast_strides("masked_fill", &shape)?;
        Ok(any_dispatch!(self.dtype(), T => {
            let v = crate::ops::binary::exact_scalar::<T>("masked_fill", value)?;
            Tensor::from_data(elementwise::zip::<T, bool, T>(self, &sa, mask, &sm, &shape, |x, m| if m { v } else { x }), &shape)
        }))
    }

    panicking!(
        /// Fills `value` where the mask is true.
        masked_fill => try_masked_fill(mask: &Tensor, value: f64) -> Tensor
    );

    /// One-hot encoding of an i64 tensor of class ids: appends a dimension of `num_classes`.
    pub fn try_one_hot(&self, num_classes: usize, dtype: DType) -> Result<Tensor> {
        let idx = checked_indices("one_hot", self, self.rank(), num_classes)?;
        let mut shape = self.shape_vec();
        shape.push(num_classes);
        let numel = checked_numel("one_hot", &shape)?;
        Ok(any_dispatch!(dtype, T => {
            let mut out = crate::pool::try_filled("one_hot", numel, T::ZERO)?;
            for (row, &i) in idx.iter().enumerate() {
                out[row * num_classes + i] = T::ONE;
            }
            Tensor::from_data(out, &shape)
        }))
    }

    panicking!(
        /// One-hot encoding of i64 class ids.
        one_hot => try_one_hot(num_classes: usize, dtype: DType) -> Tensor
    );
}

/// Storage offsets, in a layout with `strides` and `offset`, that a gather with `index` (already
/// checked) along `axis` reads.
fn gather_offsets(strides: &[usize], offset: usize, index_shape: &[usize], axis: usize, idx: &[usize]) -> Vec<usize> {
    let rank = index_shape.len();
    let mut pos = Vec::with_capacity(idx.len());
    let mut coord: Shape = smallvec::smallvec![0; rank];
    for &i in idx {
        let mut off = offset;
        for d in 0..rank {
            off += if d == axis { i } else { coord[d] } * strides[d];
        }
        pos.push(off);
        // Next row-major coordinate.
        for d in (0..rank).rev() {
            coord[d] += 1;
            if coord[d] < index_shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    pos
}
