//! Arenas: the buffers of one program, kept between its runs.
//!
//! A program run again and again (a compiled training step) asks for the same buffer sizes in
//! the same order every time. While an [`Arena`] is [entered](Arena::enter) on a thread, every
//! tensor storage dropped on that thread goes into the arena (whatever its size, unlike the
//! process-wide cache in [`pool`](crate::pool), which keeps only large buffers), and every
//! kernel on that thread that writes a whole new buffer takes one of the same dtype and length
//! from it first. After the first run, a run's intermediate values live in buffers the
//! previous run released: no `malloc`, no zeroing, no page faults for the data.
//!
//! ```
//! use tensor::{arena::Arena, DType, Tensor};
//! let mut arena = Arena::new();
//! let x = Tensor::ones(&[256], DType::F32);
//! for _ in 0..3 {
//!     arena.enter(|| {
//!         let y = x.exp().tanh(); // exp's buffer is released when tanh is done with it
//!         y.sum(&[], false)
//!     });
//! }
//! assert!(arena.reused() > 0);
//! ```

use std::cell::RefCell;

use std::cell::Cell;
use std::sync::Arc;

use crate::dtype::{Buffer, Element, Storage};
use crate::header::TensorInner;
use crate::layout::Layout;
use crate::DType;

/// The most an arena keeps; storage dropped past this is freed as usual.
pub const MAX_ARENA_BYTES: usize = 1 << 30;

/// Free buffers by dtype and length, and counts of how the arena served requests.
#[derive(Default)]
pub struct Arena {
    /// Free buffers by (dtype, length): a program uses a few sizes, so a short list searched
    /// in order beats hashing the key on every request.
    free: Vec<((DType, usize), Vec<Buffer>)>,
    /// How many storages of each size the current (or last) run released: after a run, each
    /// size keeps at most that many free buffers, so buffers that no kernel takes back (made
    /// by a kernel that allocates its own way) do not pile up run after run.
    released: Vec<((DType, usize), usize)>,
    bytes: usize,
    reused: usize,
    kept: usize,
    /// Tensor headers (the tensor's and its storage's reference-counted boxes), unshared, their
    /// storage emptied into `free`.
    headers: Vec<Arc<TensorInner>>,
    /// Headers of views (their storage was another tensor's), unshared, pointing at the empty
    /// placeholder storage: the next view made on this thread takes one.
    view_headers: Vec<Arc<TensorInner>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arena>> = const { RefCell::new(None) };
    /// Whether an arena is in force on this thread: the one check every tensor drop makes.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// The empty storage a kept view header points to.
    static PLACEHOLDER: Arc<TensorInner> = Arc::new(TensorInner {
        storage: Arc::new(Storage::F32(Vec::new())),
        layout: Layout::contiguous(&[0]),
    });
}

/// Whether an arena is in force on this thread.
#[inline]
pub(crate) fn is_active() -> bool {
    ACTIVE.try_with(Cell::get).unwrap_or(false)
}

/// Whether `header` and its storage are held by this handle alone.
pub(crate) fn unshared(header: &mut Arc<TensorInner>) -> bool {
    match Arc::get_mut(header) {
        Some(inner) => Arc::get_mut(&mut inner.storage).is_some(),
        None => false,
    }
}

/// Takes a dropped tensor's header: an unshared one with its buffer ([`keep_header`]), a
/// view's alone ([`keep_view_header`]); a shared one is just released.
pub(crate) fn keep_dropped(mut header: Arc<TensorInner>) {
    // A header another handle holds is only released: a plain load, where each uniqueness
    // check below is a compare-and-swap (a compiled plan drops many shared handles).
    if Arc::strong_count(&header) != 1 {
        return;
    }
    if unshared(&mut header) {
        keep_header(header);
    } else if Arc::get_mut(&mut header).is_some() {
        keep_view_header(header);
    }
}

/// Takes an unshared tensor header: its buffer into the free lists, the emptied header into
/// the spare headers (or dropped, when there is no arena or it is full).
pub(crate) fn keep_header(mut header: Arc<TensorInner>) {
    let Some(inner) = Arc::get_mut(&mut header) else { return };
    let Some(storage) = Arc::get_mut(&mut inner.storage) else { return };
    if !keep(storage) {
        return; // not kept: dropping the header frees the storage as usual
    }
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if let Some(arena) = c.as_mut() {
                arena.headers.push(header);
            }
        }
    });
}

/// Takes the header of a view being dropped (unshared, its storage another tensor's): it lets
/// go of the storage and waits in the arena for the next view.
pub(crate) fn keep_view_header(mut header: Arc<TensorInner>) {
    let Some(inner) = Arc::get_mut(&mut header) else { return };
    inner.storage = PLACEHOLDER.with(|p| Arc::clone(&p.storage));
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if let Some(arena) = c.as_mut() {
                if arena.view_headers.len() < MAX_VIEW_HEADERS {
                    arena.view_headers.push(header);
                }
            }
        }
    });
}

/// The most view headers an arena keeps.
const MAX_VIEW_HEADERS: usize = 1024;

/// A spare view header from the arena in force on this thread, if any.
pub(crate) fn take_view_header() -> Option<Arc<TensorInner>> {
    if !is_active() {
        return None;
    }
    CURRENT.try_with(|c| c.try_borrow_mut().ok()?.as_mut()?.view_headers.pop()).ok().flatten()
}

/// A spare header from the arena in force on this thread, if any.
pub(crate) fn take_header() -> Option<Arc<TensorInner>> {
    if !is_active() {
        return None;
    }
    CURRENT.try_with(|c| c.try_borrow_mut().ok()?.as_mut()?.headers.pop()).ok().flatten()
}

impl Arena {
    pub fn new() -> Arena {
        Arena::default()
    }

    /// Runs `f` with this arena serving and collecting buffers on the current thread (see the
    /// module documentation). Arenas nest: an inner one is in force until it returns.
    pub fn enter<R>(&mut self, f: impl FnOnce() -> R) -> R {
        /// Puts the arena back where it came from and restores the outer one, also when `f`
        /// panics.
        struct Leave<'a> {
            home: &'a mut Arena,
            outer: Option<Arena>,
            was_active: bool,
        }
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                ACTIVE.with(|a| a.set(self.was_active));
                let outer = self.outer.take();
                if let Some(mut mine) = CURRENT.with(|c| c.replace(outer)) {
                    mine.trim();
                    *self.home = mine;
                }
            }
        }
        self.released.clear();
        let outer = CURRENT.with(|c| c.replace(Some(std::mem::take(self))));
        let was_active = ACTIVE.with(|a| a.replace(true));
        let _leave = Leave { home: self, outer, was_active };
        f()
    }

    /// Bytes held in free buffers.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many buffer requests were served from the arena so far.
    pub fn reused(&self) -> usize {
        self.reused
    }

    /// How many dropped storages the arena took in so far.
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// Frees every buffer held.
    pub fn clear(&mut self) {
        self.free.clear();
        self.headers.clear();
        self.view_headers.clear();
        self.bytes = 0;
    }

    /// Keeps, of each size, no more free buffers than the run just finished released.
    fn trim(&mut self) {
        let mut freed = 0;
        for (key, bufs) in self.free.iter_mut() {
            let limit = self.released.iter().find(|(k, _)| k == key).map_or(0, |&(_, n)| n);
            if bufs.len() > limit {
                freed += (bufs.len() - limit) * key.1 * key.0.size_in_bytes();
                bufs.truncate(limit);
            }
        }
        self.bytes -= freed;
        // Sizes with no buffer left keep their (empty) lists: the next run refills them
        // without allocating.
        // A header is only useful with a buffer to put in it.
        let buffers = self.free.iter().map(|(_, bufs)| bufs.len()).sum();
        self.headers.truncate(buffers);
    }
}

/// A free buffer of `n` elements of `T` from the arena in force on this thread, if any.
pub(crate) fn take<T: Element>(n: usize) -> Option<Vec<T>> {
    if n == 0 || !is_active() {
        return None;
    }
    CURRENT
        .try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            let arena = c.as_mut()?;
            let key = (T::DTYPE, n);
            let buf = arena.free.iter_mut().find(|(k, _)| *k == key)?.1.pop()?;
            arena.bytes -= n * T::DTYPE.size_in_bytes();
            arena.reused += 1;
            T::from_buffer(buf)
        })
        .ok()
        .flatten()
}

/// Moves a dropped storage's buffer into the arena in force on this thread; `false` (and the
/// storage untouched) when there is none or it is full.
pub(crate) fn keep(storage: &mut Storage) -> bool {
    let (dtype, len) = (storage.dtype(), storage.len());
    if len == 0 {
        return false;
    }
    CURRENT
        .try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else { return false };
            let Some(arena) = c.as_mut() else { return false };
            let bytes = len * dtype.size_in_bytes();
            if arena.bytes + bytes > MAX_ARENA_BYTES {
                return false;
            }
            let buf = storage.take_buffer();
            arena.bytes += bytes;
            arena.kept += 1;
            match arena.released.iter_mut().find(|(k, _)| *k == (dtype, len)) {
                Some((_, n)) => *n += 1,
                None => arena.released.push(((dtype, len), 1)),
            }
            match arena.free.iter_mut().find(|(k, _)| *k == (dtype, len)) {
                Some((_, bufs)) => bufs.push(buf),
                None => arena.free.push(((dtype, len), vec![buf])),
            }
            true
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    #[test]
    fn a_program_run_twice_reuses_its_buffers() {
        let mut arena = Arena::new();
        let x = Tensor::ones(&[100], DType::F64);
        let first = arena.enter(|| x.exp().tanh().to_vec::<f64>());
        assert_eq!(arena.reused(), 0, "nothing to reuse on the first run");
        assert!(arena.kept() >= 1, "exp's buffer was dropped into the arena");
        let second = arena.enter(|| x.exp().tanh().to_vec::<f64>());
        assert_eq!(first, second);
        assert!(arena.reused() >= 1);
    }

    #[test]
    fn buffers_no_kernel_takes_back_do_not_pile_up() {
        let mut arena = Arena::new();
        let x = Tensor::ones(&[64], DType::F64);
        for _ in 0..20 {
            // `cat` fills its output; `exp`'s buffer is taken back on the next run.
            arena.enter(|| drop(Tensor::cat(&[x.exp(), x.clone()], 0)));
        }
        assert!(arena.bytes() <= 2 * (64 + 128) * 8, "{} bytes held", arena.bytes());
    }

    #[test]
    fn nothing_is_kept_outside_an_arena_and_arenas_nest() {
        let mut outer = Arena::new();
        let mut inner = Arena::new();
        outer.enter(|| {
            inner.enter(|| drop(Tensor::ones(&[10], DType::F32)));
            drop(Tensor::ones(&[20], DType::F32));
        });
        drop(Tensor::ones(&[30], DType::F32));
        assert_eq!((inner.kept(), inner.bytes()), (1, 40));
        assert_eq!((outer.kept(), outer.bytes()), (1, 80));
    }

    #[test]
    fn an_arena_survives_a_panic_inside_it() {
        let mut arena = Arena::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            arena.enter(|| {
                drop(Tensor::ones(&[4], DType::F64));
                panic!("inside");
            })
        }));
        assert!(r.is_err());
        assert_eq!(arena.kept(), 1);
        drop(Tensor::ones(&[4], DType::F64));
        assert_eq!(arena.kept(), 1, "no longer in force");
    }
}
