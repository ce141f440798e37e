//! What a [`Tensor`](crate::Tensor) points to: its storage and its layout, behind one `Arc`.
//! It lives apart from the tensor's methods so that the buffer arena can keep headers without
//! depending on the tensor type that uses the arena.

use std::sync::Arc;

use crate::dtype::Storage;
use crate::layout::Layout;

/// A tensor's header. A tensor is one pointer to it, so moving or cloning a tensor (which
/// autograd does on every recorded op) copies 8 bytes instead of a whole layout.
#[doc(hidden)]
#[derive(Clone)]
pub struct TensorInner {
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
}
