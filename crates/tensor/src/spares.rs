//! Spare small and medium tensors, kept per thread so eager code that makes and drops many
//! tensors (a micrograd-sized graph, a bias, a loss and its gradient, a batch of activations)
//! rarely calls the allocator.
//!
//! A tensor is three allocations: its header, its storage's reference-counted box and the
//! buffer; and a new buffer is zeroed before a kernel writes it. Outside an
//! [`Arena`](crate::arena::Arena), an f32 or f64 tensor of at most [`MAX_BYTES`] bytes dropped as
//! the only handle on its storage leaves its buffer and its emptied header here, up to [`SLOTS`]
//! of each and [`BUDGET_BYTES`] in all per thread; the next kernel on the thread that writes a
//! new buffer of the same dtype and length takes the buffer (as it is: the kernel overwrites
//! it), and the next tensor made takes the header. A program that allocates the same sizes over
//! and over (every training loop) then recycles the same memory. Larger buffers have their own
//! cache ([`pool`](crate::pool)), shared by the threads.
//!
//! ```
//! use tensor::{spares, DType, Tensor};
//! let x = Tensor::ones(&[4], DType::F32);
//! drop(x.exp()); // its buffer becomes a spare...
//! let before = spares::held();
//! let y = x.tanh(); // ...which tanh's output takes back
//! assert_eq!(spares::held(), before - 1);
//! # drop(y);
//! ```

use std::cell::RefCell;
use std::sync::Arc;

use crate::dtype::{Buffer, Element, Storage};
use crate::header::TensorInner;
use crate::DType;

/// The largest buffer kept, in bytes (64k f32: a kernel over a buffer in cache then spends as
/// long zeroing a fresh one as computing it).
pub const MAX_BYTES: usize = 256 << 10;
/// The most buffers (and headers) kept per thread.
pub const SLOTS: usize = 32;
/// The most bytes of buffers kept per thread.
pub const BUDGET_BYTES: usize = 2 << 20;

/// Float buffers only (what training makes by the thousand), one list per dtype: a `Vec` moves
/// in and out in three words, where a `Buffer` enum was built on the stack and copied with
/// wider loads than its stores (a store-forwarding stall in every drop).
#[derive(Default)]
struct Spares {
    f32s: Vec<Vec<f32>>,
    f64s: Vec<Vec<f64>>,
    bytes: usize,
    /// Headers whose storage box is unshared and empty, ready for the next buffer.
    headers: Vec<Arc<TensorInner>>,
}

impl Spares {
    fn held(&self) -> usize {
        self.f32s.len() + self.f64s.len()
    }
}

thread_local! {
    static SPARES: RefCell<Spares> = RefCell::default();
}

/// Keeps a dropped tensor's buffer and header when both are small and unshared and there is
/// room; otherwise (a view, a shared buffer, a large one) drops them as usual.
pub(crate) fn keep(mut header: Arc<TensorInner>) {
    // A handle others share is only released, after a plain load; then one uniqueness check
    // per box (each is an atomic compare-and-swap).
    if Arc::strong_count(&header) != 1 {
        return;
    }
    let Some(inner) = Arc::get_mut(&mut header) else { return };
    let Some(storage) = Arc::get_mut(&mut inner.storage) else { return };
    // Counted by capacity: a vector handed to `Tensor::from_vec` may hold more than its length.
    let (len, bytes) = match storage {
        Storage::F32(v) => (v.len(), v.capacity() * 4),
        Storage::F64(v) => (v.len(), v.capacity() * 8),
        _ => return,
    };
    if len == 0 || bytes > MAX_BYTES {
        return;
    }
    let room_for_header = SPARES.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else { return false };
        if s.held() >= SLOTS || s.bytes + bytes > BUDGET_BYTES {
            return false;
        }
        match storage {
            Storage::F32(v) => s.f32s.push(std::mem::take(v)),
            Storage::F64(v) => s.f64s.push(std::mem::take(v)),
            _ => return false,
        }
        s.bytes += bytes;
        s.headers.len() < SLOTS
    });
    if room_for_header == Ok(true) {
        let _ = SPARES.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.headers.push(header);
            }
        });
    }
}

/// A spare buffer of `n` elements of `T`, if one is kept on this thread.
pub(crate) fn take<T: Element>(n: usize) -> Option<Vec<T>> {
    if n == 0 || n > MAX_BYTES / T::DTYPE.size_in_bytes() {
        return None;
    }
    SPARES
        .try_with(|s| {
            let mut s = s.try_borrow_mut().ok()?;
            let v: Vec<T> = match T::DTYPE {
                DType::F32 => T::from_buffer(Buffer::F32(pick(&mut s.f32s, n)?)),
                DType::F64 => T::from_buffer(Buffer::F64(pick(&mut s.f64s, n)?)),
                _ => None,
            }?;
            s.bytes -= v.capacity() * T::DTYPE.size_in_bytes();
            Some(v)
        })
        .ok()
        .flatten()
}

/// The most recently kept buffer of length `n` in `list`.
fn pick<T>(list: &mut Vec<Vec<T>>, n: usize) -> Option<Vec<T>> {
    let i = list.iter().rposition(|b| b.len() == n)?;
    Some(list.swap_remove(i))
}

/// A spare header (unshared, its storage empty), if one is kept on this thread.
pub(crate) fn take_header() -> Option<Arc<TensorInner>> {
    SPARES.try_with(|s| s.try_borrow_mut().ok()?.headers.pop()).ok().flatten()
}

/// How many spare buffers this thread holds.
pub fn held() -> usize {
    SPARES.try_with(|s| s.try_borrow().map_or(0, |s| s.held())).unwrap_or(0)
}

/// Frees this thread's spares.
pub fn clear() {
    let _ = SPARES.try_with(|s| *s.borrow_mut() = Spares::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, Tensor};

    #[test]
    fn a_dropped_small_tensor_is_reused_by_the_next_of_its_size() {
        clear();
        let x = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3]);
        let e = x.exp();
        let ptr = e.as_slice::<f64>().map(|s| s.as_ptr());
        drop(e);
        assert_eq!(held(), 1);
        let t = x.tanh();
        assert_eq!(t.as_slice::<f64>().map(|s| s.as_ptr()), ptr, "the same buffer");
        assert_eq!(t.to_vec::<f64>(), [0.5f64.tanh(), (-1.0f64).tanh(), 2.0f64.tanh()]);
        assert_eq!(held(), 0);
    }

    #[test]
    fn only_small_unshared_buffers_are_kept_and_at_most_slots_of_them() {
        clear();
        drop(Tensor::zeros(&[MAX_BYTES / 4 + 1], DType::F32));
        assert_eq!(held(), 0, "too large");
        let x = Tensor::ones(&[8], DType::F32);
        let view = x.reshape(&[2, 4]);
        drop(view);
        assert_eq!(held(), 0, "a view: the buffer is still x's");
        let other = x.clone();
        drop(x);
        assert_eq!(held(), 0, "shared with `other`");
        drop(other);
        assert_eq!(held(), 1);
        let many: Vec<Tensor> = (0..2 * SLOTS).map(|i| Tensor::full(&[i + 1], 1.0, DType::F64)).collect();
        drop(many);
        assert_eq!(held(), SLOTS);
        clear();
        let large = BUDGET_BYTES / MAX_BYTES;
        let many: Vec<Tensor> = (0..2 * large).map(|_| Tensor::zeros(&[MAX_BYTES / 4], DType::F32)).collect();
        drop(many);
        assert_eq!(held(), large, "at most the budget's bytes");
        clear();
        let mut roomy = Vec::with_capacity(MAX_BYTES);
        roomy.push(1.0f32);
        drop(Tensor::from_vec(roomy, &[1]));
        assert_eq!(held(), 0, "one element, but a buffer larger than MAX_BYTES");
        drop(Tensor::ones(&[4], DType::I64));
        drop(Tensor::ones(&[4], DType::Bool));
        assert_eq!(held(), 0, "floats only");
        let (five, four_f64) = (Tensor::ones(&[5], DType::F32), Tensor::ones(&[4], DType::F64));
        drop(Tensor::ones(&[4], DType::F32));
        let other_length = five.exp();
        assert_eq!((held(), other_length.to_vec::<f32>()), (1, vec![1f32.exp(); 5]));
        let other_dtype = four_f64.exp();
        assert_eq!((held(), other_dtype.to_vec::<f64>()), (1, vec![1f64.exp(); 4]));
        clear();
        assert_eq!(held(), 0);
    }

    #[test]
    fn an_arena_in_force_takes_precedence() {
        clear();
        let mut arena = crate::arena::Arena::new();
        arena.enter(|| drop(Tensor::ones(&[4], DType::F32)));
        assert_eq!((arena.kept(), held()), (1, 0));
    }
}
