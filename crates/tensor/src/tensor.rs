//! The `Tensor` type: shared storage plus a strided layout.

use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::dtype::{Element, Storage};
use crate::elementwise;
use crate::error::{Result, TensorError};
pub use crate::header::TensorInner;
use crate::layout::Layout;
use crate::macros::any_dispatch;
use crate::DType;

/// An n-dimensional array with a runtime dtype.
///
/// A tensor is an `Arc`'d flat buffer plus a [`Layout`] (shape, strides, offset). Cloning is
/// O(1) and shares the buffer; movement ops (`transpose`, `narrow`, `expand`, ...) return views
/// over the same buffer. Tensors are values: ops never modify their inputs; the few in-place
/// methods copy the buffer first if it is shared (copy-on-write).
///
/// ```
/// use tensor::Tensor;
/// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let b = a.transpose(0, 1); // a view: no copy
/// assert_eq!((&a + &b).to_vec::<f32>(), vec![2.0, 5.0, 5.0, 8.0]);
/// ```
pub struct Tensor(ManuallyDrop<Arc<TensorInner>>);

impl Clone for Tensor {
    #[inline]
    fn clone(&self) -> Tensor {
        Tensor(ManuallyDrop::new(Arc::clone(&self.0)))
    }
}

impl std::ops::Deref for Tensor {
    type Target = TensorInner;
    #[inline]
    fn deref(&self) -> &TensorInner {
        &self.0
    }
}

/// A tensor dropped as the only handle on its header goes to the [`Arena`](crate::arena::Arena)
/// in force on this thread, which the next kernel's output reuses (a replayed program then
/// allocates nothing); with no arena, a small one goes to this thread's
/// [`spares`](crate::spares).
impl Drop for Tensor {
    fn drop(&mut self) {
        // SAFETY: `self.0` is taken once, here, and never used again.
        let header = unsafe { ManuallyDrop::take(&mut self.0) };
        if crate::arena::is_active() {
            crate::arena::keep_dropped(header);
        } else {
            crate::spares::keep(header);
        }
    }
}

impl Tensor {
    /// Wraps a buffer that already holds `shape`'s elements in row-major order.
    pub(crate) fn from_storage(storage: Storage, shape: &[usize]) -> Tensor {
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        let spare = if crate::arena::is_active() { crate::arena::take_header() } else { crate::spares::take_header() };
        if let Some(mut header) = spare {
            // A kept header: both of its counts are 1, its storage empty.
            if let Some(inner) = Arc::get_mut(&mut header) {
                if let Some(slot) = Arc::get_mut(&mut inner.storage) {
                    *slot = storage;
                    inner.layout.set_contiguous(shape);
                    return Tensor(ManuallyDrop::new(header));
                }
            }
            unreachable!("only unshared headers are kept");
        }
        Tensor::from_inner(TensorInner { storage: Arc::new(storage), layout: Layout::contiguous(shape) })
    }

    fn from_inner(inner: TensorInner) -> Tensor {
        Tensor(ManuallyDrop::new(Arc::new(inner)))
    }

    /// Wraps a row-major buffer of `shape`'s size (internal: lengths are the caller's invariant).
    pub(crate) fn from_data<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        Tensor::from_storage(T::into_storage(data), shape)
    }

    /// A view sharing this tensor's storage with another layout.
    pub(crate) fn view_with(&self, mut layout: Layout) -> Tensor {
        // An empty view reads nothing; offset 0 keeps every `offset..offset + numel` range of
        // it inside the buffer (narrowing an empty tensor would otherwise point past its end).
        if layout.shape.contains(&0) {
            layout.offset = 0;
        }
        debug_assert!(layout.storage_extent() <= self.storage.len());
        if let Some(mut header) = crate::arena::take_view_header() {
            if let Some(inner) = Arc::get_mut(&mut header) {
                inner.storage = Arc::clone(&self.storage);
                inner.layout = layout;
                return Tensor(ManuallyDrop::new(header));
            }
        }
        Tensor::from_inner(TensorInner { storage: Arc::clone(&self.storage), layout })
    }

    /// The whole storage buffer as `&[T]` (internal: callers dispatch on dtype first).
    #[inline]
    pub(crate) fn storage_slice<T: Element>(&self) -> &[T] {
        match T::slice(&self.storage) {
            Some(s) => s,
            None => panic!("internal error: {} kernel used on a {} tensor", T::DTYPE, self.dtype()),
        }
    }

    #[inline]
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// Whether the tensor's shape is `shape` (compared inline: cheaper than `==` on slices,
    /// which calls `memcmp`, for the few dimensions of a shape).
    #[inline]
    pub fn has_shape(&self, shape: &[usize]) -> bool {
        crate::layout::same_shape(self.shape(), shape)
    }

    /// Size of dimension `axis` (negative counts from the end).
    pub fn try_dim(&self, axis: isize) -> Result<usize> {
        Ok(self.shape()[crate::layout::normalize_axis("dim", axis, self.shape())?])
    }

    crate::macros::panicking!(
        /// Size of dimension `axis` (negative counts from the end).
        dim => try_dim(axis: isize) -> usize
    );

    #[inline]
    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }

    #[inline]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    #[inline]
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    #[inline]
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    #[inline]
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Whether two tensors are views of the same buffer.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The elements as a slice, when the tensor is contiguous and holds `T`; no copy.
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        let range = self.layout.contiguous_range()?;
        T::slice(&self.storage).map(|s| &s[range])
    }

    /// The elements in row-major order as a `Vec<T>`. `T` must be the tensor's dtype.
    pub fn try_to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.expect_dtype("to_vec", T::DTYPE)?;
        crate::pool::ensure_alloc("to_vec", self.numel(), T::DTYPE)?;
        if let Some(s) = self.as_slice::<T>() {
            return Ok(s.to_vec());
        }
        Ok(elementwise::map::<T, T>(self, |v| v))
    }

    /// The elements in row-major order as a `Vec<T>`.
    ///
    /// # Panics
    /// If `T` is not the tensor's dtype.
    #[track_caller]
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        crate::error::ok(self.try_to_vec())
    }

    /// The single element of a one-element tensor (any shape), as `T` (the tensor's dtype).
    pub fn try_to_scalar<T: Element>(&self) -> Result<T> {
        self.expect_dtype("to_scalar", T::DTYPE)?;
        if self.numel() != 1 {
            return Err(TensorError::invalid(
                "to_scalar",
                format!("tensor of shape {:?} has {} elements, expected 1", self.shape(), self.numel()),
            ));
        }
        Ok(self.storage_slice::<T>()[self.layout.offset])
    }

    /// The single element of a one-element tensor.
    ///
    /// # Panics
    /// If `T` is not the dtype or the tensor has more than one element.
    #[track_caller]
    pub fn to_scalar<T: Element>(&self) -> T {
        crate::error::ok(self.try_to_scalar())
    }

    /// The single element of a one-element tensor of any dtype, converted to `f64`.
    pub fn try_item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(TensorError::invalid(
                "item",
                format!("tensor of shape {:?} has {} elements, expected 1", self.shape(), self.numel()),
            ));
        }
        let off = self.layout.offset;
        Ok(any_dispatch!(self.dtype(), T => self.storage_slice::<T>()[off].to_f64()))
    }

    crate::macros::panicking!(
        /// The single element of a one-element tensor of any dtype, converted to `f64`.
        item => try_item() -> f64
    );

    /// A row-major copy if the tensor is not already contiguous; otherwise a cheap clone.
    /// [`TensorError::OutOfMemory`] for a view too large to materialise (a broadcast of
    /// 2^40 elements, say).
    pub fn try_contiguous(&self) -> Result<Tensor> {
        if !self.is_contiguous() {
            crate::pool::ensure_alloc("contiguous", self.numel(), self.dtype())?;
        }
        Ok(self.contiguous())
    }

    /// Converts elements to `dtype`, as [`to_dtype`](Self::to_dtype);
    /// [`TensorError::OutOfMemory`] when the converted copy cannot be allocated.
    pub fn try_to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype != self.dtype() {
            crate::pool::ensure_alloc("to_dtype", self.numel(), dtype)?;
        }
        Ok(self.to_dtype(dtype))
    }

    /// A row-major copy if the tensor is not already contiguous; otherwise a cheap clone.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        any_dispatch!(self.dtype(), T => Tensor::from_data(elementwise::map::<T, T>(self, |v| v), self.shape()))
    }

    /// Converts elements to `dtype` (`as`-casts; floats to bool test `!= 0`). Same dtype: a clone.
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        any_dispatch!(self.dtype(), S => any_dispatch!(dtype, D => {
            Tensor::from_data(elementwise::map::<S, D>(self, |v| D::from_f64(v.to_f64())), self.shape())
        }))
    }

    /// Mutable access to the elements in row-major order, copying first if the buffer is shared
    /// or the layout is not contiguous (copy-on-write). For optimizers updating in place.
    pub fn try_as_mut_slice<T: Element>(&mut self) -> Result<&mut [T]> {
        self.expect_dtype("as_mut_slice", T::DTYPE)?;
        if !self.is_contiguous() || self.layout.offset != 0 || self.storage.len() != self.numel() {
            *self = Tensor::from_data(elementwise::map::<T, T>(self, |v| v), self.shape());
        }
        let inner = Arc::make_mut(&mut self.0);
        let storage = Arc::make_mut(&mut inner.storage);
        match T::slice_mut(storage) {
            Some(s) => Ok(s),
            None => unreachable!("dtype checked above"),
        }
    }

    /// The buffer of an [exclusive](Self::is_exclusive) tensor holding `T` (internal: callers
    /// check both first).
    #[inline]
    pub(crate) fn exclusive_slice_mut<T: Element>(&mut self) -> &mut [T] {
        let storage = Arc::get_mut(&mut self.0).and_then(|inner| Arc::get_mut(&mut inner.storage));
        match storage.and_then(|s| T::slice_mut(s)) {
            Some(s) => s,
            None => unreachable!("the caller checked that the tensor is exclusive and holds T"),
        }
    }

    /// Whether writing through [`try_as_mut_slice`](Self::try_as_mut_slice) would write in place:
    /// the tensor is the only handle on a contiguous buffer of exactly its elements. When it is
    /// not, an in-place update copies first, so no other holder ever sees the write.
    #[inline]
    pub fn is_exclusive(&self) -> bool {
        Arc::strong_count(&self.0) == 1
            && Arc::strong_count(&self.storage) == 1
            && self.is_contiguous()
            && self.layout.offset == 0
            && self.storage.len() == self.numel()
    }

    /// `self += rhs`, with `rhs` broadcast to `self`'s shape: in place when `self` is
    /// [exclusive](Self::is_exclusive), into a fresh buffer otherwise (copy-on-write). For
    /// accumulating gradients without allocating.
    pub fn try_add_assign(&mut self, rhs: &Tensor) -> Result<()> {
        let op = "add_assign";
        self.same_dtype(op, rhs)?;
        if crate::layout::broadcast_shapes(op, self.shape(), rhs.shape())?.as_slice() != self.shape() {
            return Err(TensorError::Broadcast { op, lhs: self.shape_vec(), rhs: rhs.shape_vec() });
        }
        if !self.is_exclusive() {
            *self = self.try_add(rhs)?;
            return Ok(());
        }
        let rhs = rhs.try_broadcast_to(self.shape())?.contiguous();
        crate::macros::numeric_dispatch!(op, self.dtype(), T => {
            let src = rhs.storage_slice::<T>();
            let src = &src[rhs.layout.offset..rhs.layout.offset + rhs.numel()];
            for (d, &s) in self.try_as_mut_slice::<T>()?.iter_mut().zip(src) {
                *d = crate::Numeric::num_add(*d, s);
            }
            Ok(())
        })
    }

    pub(crate) fn expect_dtype(&self, op: &'static str, dtype: DType) -> Result<()> {
        if self.dtype() != dtype {
            return Err(TensorError::DTypeMismatch { op, expected: dtype, got: self.dtype() });
        }
        Ok(())
    }

    pub(crate) fn same_dtype(&self, op: &'static str, other: &Tensor) -> Result<()> {
        other.expect_dtype(op, self.dtype())
    }

    pub(crate) fn shape_vec(&self) -> Vec<usize> {
        self.shape().to_vec()
    }
}
