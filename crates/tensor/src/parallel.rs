//! Every threading decision of the crate lives here.
//!
//! Kernels call these helpers instead of rayon directly, so "is this big enough to be worth
//! waking a second thread?" is answered in one place. Below [`MIN_PARALLEL_ELEMS`] work runs on
//! the calling thread: a tiny tensor must not pay rayon's fork/join cost (microseconds).

use rayon::prelude::*;

/// Work items (elements touched) below which a kernel stays on the calling thread. Waking a
/// parked rayon worker and joining it costs about 10 µs on the development machine: the time
/// of a 256k-element f32 add in cache. Below this an add on two threads was up to 3x slower
/// than on one (65k elements: 16.6 µs against 5.7 µs); at 1M elements, 1.4x faster.
pub const MIN_PARALLEL_ELEMS: usize = 1 << 18;

/// Products of at least this many multiply-adds are shared between threads: by our GEMM's own
/// blocks (`gemm::blocked`), or, on matrixmultiply, as strips of `C` (`ops::matmul`).
#[cfg(not(feature = "gemm-crate"))]
pub(crate) const PARALLEL_GEMM: usize = 1 << 21;

/// Smallest chunk handed to one rayon task.
const MIN_CHUNK: usize = 1 << 13;

/// Whether `work` elements are worth spreading over the rayon pool.
pub fn should_parallelize(work: usize) -> bool {
    work >= MIN_PARALLEL_ELEMS && rayon::current_num_threads() > 1
}

/// A chunk length that gives every thread a few chunks (for load balance) of at least `MIN_CHUNK`.
pub fn chunk_len(n: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    n.div_ceil(threads * 4).max(MIN_CHUNK)
}

/// Fills `out` by calling `f(start, chunk)` on consecutive chunks, in parallel when large.
/// `start` is the index of the chunk's first element in `out`.
pub fn fill_chunks<T: Send>(out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let n = out.len();
    if !should_parallelize(n) {
        f(0, out);
        return;
    }
    let chunk = chunk_len(n);
    out.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i * chunk, c));
}

/// Runs `f(i)` for `i in 0..n`, in parallel when `n * work_per_item` is large.
pub fn for_each_index(n: usize, work_per_item: usize, f: impl Fn(usize) + Sync + Send) {
    if n > 1 && should_parallelize(n.saturating_mul(work_per_item)) {
        (0..n).into_par_iter().for_each(f);
    } else {
        (0..n).for_each(f);
    }
}

/// Maps `0..n` to values, in parallel when `n * work_per_item` is large. Order is preserved.
pub fn map_indices<R: Send>(n: usize, work_per_item: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if n > 1 && should_parallelize(n.saturating_mul(work_per_item)) {
        (0..n).into_par_iter().map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// Like [`fill_chunks`], for outputs that each cost `work_per_item` elements of work.
pub fn fill_chunks_weighted<T: Send>(out: &mut [T], work_per_item: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let n = out.len();
    if n < 2 || !should_parallelize(n.saturating_mul(work_per_item.max(1))) {
        f(0, out);
        return;
    }
    let threads = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(threads * 4).max(1);
    out.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i * chunk, c));
}

/// Fills `out`, made of rows of `row_len` elements, by calling `f(first_row, rows)` on groups of
/// whole rows, in parallel when large.
pub fn fill_rows<T: Send>(out: &mut [T], row_len: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let n = out.len();
    if row_len == 0 || n == 0 {
        return;
    }
    let rows = n / row_len;
    if rows < 2 || !should_parallelize(n) {
        f(0, out);
        return;
    }
    let rows_per_chunk = chunk_len(n).div_ceil(row_len).max(1).min(rows.div_ceil(2));
    out.par_chunks_mut(rows_per_chunk * row_len).enumerate().for_each(|(i, c)| f(i * rows_per_chunk, c));
}

/// A raw pointer, or a value made of them, handed to the tasks of one parallel kernel. Only for
/// kernels whose tasks write disjoint elements through it (each user says why, where it wraps
/// the pointer).
#[cfg(not(feature = "gemm-crate"))]
#[derive(Clone, Copy)]
pub(crate) struct Shared<P>(pub P);

// SAFETY: the wrapper only carries the pointer across threads; every user guarantees that its
// tasks read shared data and write disjoint elements.
#[cfg(not(feature = "gemm-crate"))]
unsafe impl<P> Send for Shared<P> {}
#[cfg(not(feature = "gemm-crate"))]
unsafe impl<P> Sync for Shared<P> {}

#[cfg(not(feature = "gemm-crate"))]
impl<P: Copy> Shared<P> {
    /// The value; a method, so closures capture the whole (`Sync`) wrapper, not its field.
    pub(crate) fn get(&self) -> P {
        self.0
    }
}

/// Runs `task(0)`, ..., `task(tasks - 1)`, on up to `threads` threads: this one, which starts at
/// once, and helpers from rayon's pool, each taking the next task not yet taken. A helper that
/// is slow to wake finds the work done (a GEMM of 256 x 256 takes about 0.3 ms; waking a pool
/// thread, and waking the caller when the pool has finished, cost a measurable share of that
/// when the caller only waited).
#[cfg(not(feature = "gemm-crate"))]
pub(crate) fn run_tasks(tasks: usize, threads: usize, task: impl Fn(usize) + Sync) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    if threads < 2 || tasks < 2 {
        return (0..tasks).for_each(task);
    }
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= tasks {
            break;
        }
        task(i);
    };
    rayon::in_place_scope(|scope| {
        for _ in 1..threads.min(tasks) {
            scope.spawn(|_| work());
        }
        work();
    });
}
