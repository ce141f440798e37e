//! A cache of large buffers, so a loop that allocates the same tensor sizes every step (every
//! training loop, every benchmark) reuses memory instead of asking the OS for fresh pages.
//!
//! Fresh pages are the hidden cost of big tensors: glibc serves allocations above 32 MiB with
//! `mmap` and returns them with `munmap`, so each new 40 MB output page-faults on first touch
//! (measured: 40% of a 10M-element `exp` was kernel page-fault time). Buffers of at least
//! [`MIN_POOLED_BYTES`] whose storage is dropped are kept here, keyed by dtype and length, up to
//! [`MAX_POOLED_BYTES`] in total; kernels that overwrite every element take them back.
//! Small buffers are left to the allocator, which handles them well.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

// `Buffer` and `FromBuffer` live beside the element types they convert (dtype.rs), so the
// dependency runs one way: the cache uses the dtypes, not the reverse.
pub use crate::dtype::{Buffer, FromBuffer};
use crate::dtype::{Element, Storage};
use crate::error::{Result, TensorError};
use crate::DType;

/// Buffers smaller than this are not cached.
pub const MIN_POOLED_BYTES: usize = 1 << 20;
/// The most memory the cache holds on to.
pub const MAX_POOLED_BYTES: usize = 1 << 29;

#[derive(Default)]
struct Cache {
    bytes: usize,
    free: HashMap<(DType, usize), Vec<Buffer>>,
    /// Keys in the order buffers arrived, oldest first: when full, the oldest go, so sizes a
    /// program stopped using do not crowd out the ones it uses now.
    arrivals: VecDeque<(DType, usize)>,
}

impl Cache {
    /// Frees the oldest buffers until `bytes` more fit.
    fn make_room(&mut self, bytes: usize) {
        while self.bytes + bytes > MAX_POOLED_BYTES {
            let Some(key) = self.arrivals.pop_front() else { break };
            if let Some(bufs) = self.free.get_mut(&key) {
                if !bufs.is_empty() {
                    bufs.remove(0);
                    self.bytes -= key.1 * key.0.size_in_bytes();
                }
            }
        }
    }
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Cache::default))
}

/// A buffer of `n` elements of `T` (old contents) from the arena in force on this thread, else
/// from the thread's spare small tensors.
fn recycled<T: Element>(n: usize) -> Option<Vec<T>> {
    crate::arena::take::<T>(n).or_else(|| crate::spares::take::<T>(n))
}

/// A `Vec<T>` of length `n` whose contents are unspecified (but valid `T`s): for kernels that
/// write every element. Reuses a cached buffer of the same dtype and length when there is one.
pub(crate) fn for_overwrite<T: Element>(n: usize) -> Vec<T> {
    if let Some(v) = recycled::<T>(n) {
        return v;
    }
    let bytes = n * T::DTYPE.size_in_bytes();
    if bytes >= MIN_POOLED_BYTES {
        let reused = with_cache(|c| {
            let buf = c.free.get_mut(&(T::DTYPE, n))?.pop()?;
            c.bytes -= bytes;
            // Keep one arrival per cached buffer: drop this key's most recent one.
            if let Some(i) = c.arrivals.iter().rposition(|&k| k == (T::DTYPE, n)) {
                c.arrivals.remove(i);
            }
            Some(buf)
        });
        if let Some(buf) = reused {
            if let Some(v) = T::from_buffer(buf) {
                return v;
            }
        }
    }
    if bytes >= MIN_POOLED_BYTES {
        // Fresh zeroed pages from the OS (`calloc` skips the memset for them).
        return vec![T::default(); n];
    }
    // `calloc` takes glibc's slow path even for a few bytes; `malloc` serves small sizes from
    // its per-thread cache.
    let mut v = Vec::with_capacity(n);
    v.resize(n, T::default());
    v
}

/// Requests at least this large are probed with `try_reserve` before a kernel allocates them.
const PROBE_BYTES: usize = 1 << 28;

/// Whether `numel` elements of `dtype` can be allocated: [`TensorError::OutOfMemory`] when the
/// byte count overflows or the allocator refuses it, so a `try_` op returns an error where a
/// plain allocation would abort the process. Small requests are not probed (an allocator that
/// refuses 256 MiB has already failed elsewhere); a large one costs one reserve and release
/// (an `mmap`/`munmap` pair) beside a kernel that then writes every byte of it.
pub(crate) fn ensure_alloc(op: &'static str, numel: usize, dtype: DType) -> Result<()> {
    let too_big = |bytes: u128| TensorError::OutOfMemory { op, numel, dtype, bytes };
    let bytes = numel.checked_mul(dtype.size_in_bytes()).filter(|&b| b <= isize::MAX as usize);
    let Some(bytes) = bytes else { return Err(too_big(numel as u128 * dtype.size_in_bytes() as u128)) };
    if bytes >= PROBE_BYTES {
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| too_big(bytes as u128))?;
    }
    Ok(())
}

/// `vec![value; n]`, or [`TensorError::OutOfMemory`] instead of an abort.
pub(crate) fn try_filled<T: Element>(op: &'static str, n: usize, value: T) -> Result<Vec<T>> {
    if let Some(mut v) = recycled::<T>(n) {
        v.fill(value);
        return Ok(v);
    }
    ensure_alloc(op, n, T::DTYPE)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| TensorError::OutOfMemory {
        op,
        numel: n,
        dtype: T::DTYPE,
        bytes: n as u128 * T::DTYPE.size_in_bytes() as u128,
    })?;
    v.resize(n, value);
    Ok(v)
}

/// Hands a scratch buffer back as if a tensor holding it were dropped: to the arena in force, or
/// this thread's spares, or (large) this cache, so the next kernel asking for its size takes it.
pub(crate) fn recycle_vec<T: Element>(v: Vec<T>) {
    let n = v.len();
    drop(crate::Tensor::from_data(v, &[n]));
}

/// Takes a dropped storage's buffer into the cache if it is large and there is room.
pub(crate) fn recycle(storage: &mut Storage) {
    let (dtype, len) = (storage.dtype(), storage.len());
    let bytes = len * dtype.size_in_bytes();
    if !(MIN_POOLED_BYTES..=MAX_POOLED_BYTES / 4).contains(&bytes) {
        return;
    }
    with_cache(|c| {
        c.make_room(bytes);
        let buf = storage.take_buffer();
        c.bytes += bytes;
        c.free.entry((dtype, len)).or_default().push(buf);
        c.arrivals.push_back((dtype, len));
    });
}

/// Bytes currently cached.
pub fn cached_bytes() -> usize {
    with_cache(|c| c.bytes)
}

/// Frees every cached buffer.
pub fn clear() {
    with_cache(|c| {
        c.free.clear();
        c.arrivals.clear();
        c.bytes = 0;
    });
}

impl Drop for Storage {
    fn drop(&mut self) {
        if !(crate::arena::is_active() && crate::arena::keep(self)) {
            recycle(self);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_are_reused_and_the_cache_stays_bounded() {
        let n = MIN_POOLED_BYTES / 4 + 7;
        let v = for_overwrite::<f32>(n);
        let ptr = v.as_ptr();
        drop(Storage::F32(v));
        assert!(cached_bytes() >= n * 4);
        let w = for_overwrite::<f32>(n);
        assert_eq!(w.as_ptr(), ptr, "the same buffer comes back");
        assert_eq!(w.len(), n);
        let small = for_overwrite::<f32>(8);
        assert_eq!(small, vec![0.0; 8]);

        // A full cache frees its oldest buffers (one test: the cache is process-wide).
        let n = MAX_POOLED_BYTES / 4 / 4; // four of these fill the cache
        for _ in 0..4 {
            drop(Storage::F32(vec![0.0; n]));
        }
        let m = n + 1;
        drop(Storage::F32(vec![0.0; m]));
        assert!(cached_bytes() <= MAX_POOLED_BYTES);
        let newest = for_overwrite::<f32>(m);
        assert_eq!(newest.len(), m);
        with_cache(|c| assert_eq!(c.arrivals.len(), c.free.values().map(Vec::len).sum::<usize>()));
    }
}
