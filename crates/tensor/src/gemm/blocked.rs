//! The packed, blocked product (Goto's algorithm, as in BLIS) and how its work is shared
//! between rayon's threads.
//!
//! For each `NC`-column panel and `KC`-deep slice of `B`, one packed panel is shared by all
//! threads. The rows of `C` are cut into blocks, at least two per thread, and each block packs
//! its own rows of `A` and runs the micro-kernel over the whole panel, slice after slice: the
//! panels of several slices (up to [`MAX_PANEL_BYTES`]) are packed side by side, so threads
//! meet once per set of slices, not after each one. The panel is packed sliver
//! by sliver by whichever task first needs each one ([`Panel`]); tasks that run together start on
//! different slivers, so they pack it together, and none waits for the whole of it. When `C` has
//! too few rows to give every thread a share, the panel's slivers are shared out instead (each
//! group then packs the same few rows of `A`).
//!
//! The thread that calls takes tasks too, from the start (`parallel::run_tasks`). Through a
//! [`Shared`] pointer the tasks read `A`, `B` and the panel, and write disjoint tiles of `C` and
//! each its claimed slivers of the panel (`Panel::sliver`).
//!
//! The earlier split gave each thread a strip of `C` and left each to pack all of `A` (or of
//! `B`) for itself: on two threads at n = 256, half the packing was done twice, and the caller
//! only waited. Best-of-ten GFLOP/s, the builds alternated 8 to 10 times (`examples/gemm_gflops`):
//! 1.13x at n = 256, 1.05x at 512, 1.06x at 1024 with the panel packed before the blocks ran;
//! packing it sliver by sliver as needed then gave 1.06x more at 256 and 1.03x at 1024; the
//! slices of a panel in one set of tasks (on two threads or more), 1.017x at 1024 (median of 26
//! alternated pairs, 16 above 1; 512 unchanged) and 1.10x for W3's 128 x 784 x 512.
//!
//! Every element of `C` still gets its `k` terms in one order (by `KC` slice, then by `k`), and
//! every block starts on a whole tile, so the bits do not depend on the number of threads.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};

use super::{pack, write_tile, Kernel, Out, Product};
use crate::parallel::{run_tasks, Shared, PARALLEL_GEMM};

/// How a panel's work is cut into tasks: `blocks` blocks of `rows` rows of `C` (the last one
/// shorter), each cut into `groups` groups of the panel's slivers; a task runs its share
/// through every `KC` slice of its set.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Split {
    rows: usize,
    blocks: usize,
    groups: usize,
}

impl Split {
    /// The cut for an `m`-row `C` and a panel of `slivers` slivers on `threads` threads: rows
    /// when each thread gets at least four tiles' worth, in equal blocks of at most `MC` rows,
    /// at least two per thread; otherwise the slivers, one group per thread.
    fn new<T: Kernel>(m: usize, slivers: usize, threads: usize) -> Split {
        if threads < 2 {
            return Split { rows: T::MC, blocks: m.div_ceil(T::MC), groups: 1 };
        }
        if m >= threads * 4 * T::MR {
            // At least two blocks per thread, so that when one thread starts late the other
            // takes more of them.
            let per_thread = m.div_ceil(threads * T::MC).max(2);
            let rows = m.div_ceil(threads * per_thread).next_multiple_of(T::MR);
            return Split { rows, blocks: m.div_ceil(rows), groups: 1 };
        }
        Split { rows: T::MC, blocks: m.div_ceil(T::MC), groups: threads.min(slivers) }
    }

    /// Task `task`'s rows of `C` (within `0..m`) and slivers of the panel.
    fn task(&self, task: usize, m: usize, slivers: usize) -> (Range<usize>, Range<usize>) {
        let (block, group) = (task / self.groups, task % self.groups);
        let first_row = block * self.rows;
        let per_group = slivers.div_ceil(self.groups);
        let first_sliver = (group * per_group).min(slivers);
        (first_row..(first_row + self.rows).min(m), first_sliver..(first_sliver + per_group).min(slivers))
    }

    fn tasks(&self) -> usize {
        self.blocks * self.groups
    }
}

/// `C = alpha A B + beta C` by packing and blocking, whatever the size, on every rayon thread
/// when the product is large.
///
/// # Safety
/// As [`super::gemm`].
pub(super) unsafe fn packed<T: Kernel>(p: &Product<T>) {
    let threads =
        if p.m.saturating_mul(p.n).saturating_mul(p.k) >= PARALLEL_GEMM { rayon::current_num_threads() } else { 1 };
    // Taken out of this thread's scratch while the tasks run: one of them may run on this
    // thread and borrow its buffer for `A`.
    let mut buffer = T::with_scratch(|_, b| std::mem::take(b));
    let ready: [AtomicU8; MAX_FLAGS] = std::array::from_fn(|_| AtomicU8::new(UNPACKED));
    let shared = Shared(*p);
    let slices = p.k.div_ceil(T::KC);
    for jc in (0..p.n).step_by(T::NC) {
        let nc = T::NC.min(p.n - jc);
        let count = nc.div_ceil(T::NR);
        // Several `KC` slices per set of tasks: each task runs its rows of `C` through all of
        // them, so threads do not meet at a barrier after each slice.
        let stride = count * T::NR * T::KC;
        // On one thread there is no barrier to spare, and going slice by slice keeps each
        // slice's panel in cache for all the blocks: f64 at n = 1024 ran 1.18x faster that way
        // than with its four slices in one set.
        let per_run =
            if threads < 2 { 1 } else { (MAX_FLAGS / count).min(MAX_PANEL_BYTES / size_of::<T>() / stride).max(1) };
        let split = Split::new::<T>(p.m, count, threads);
        let (m, k, beta0) = (p.m, p.k, p.beta);
        for run in (0..slices).step_by(per_run) {
            let run = run..slices.min(run + per_run);
            let len = stride * run.len();
            if buffer.len() < len {
                buffer.resize(len, T::zero()); // grown, never shrunk: no allocation per call
            }
            for flag in &ready[..count * run.len()] {
                flag.store(UNPACKED, Ordering::Relaxed); // published to the tasks by their spawn
            }
            let base = Shared(buffer.as_mut_ptr());
            let task = |task: usize| {
                let (rows, slivers) = split.task(task, m, count);
                // Concurrent tasks start on different slivers, so they pack different ones.
                let first = (task % threads) * slivers.len() / threads;
                for (i, slice) in run.clone().enumerate() {
                    let pc = slice * T::KC;
                    let panel = Panel {
                        // SAFETY: slice `i`'s part of the buffer, which holds `run.len()` of them.
                        buffer: Shared(unsafe { base.get().add(i * stride) }),
                        ready: &ready[i * count..(i + 1) * count],
                        cols: jc..jc + nc,
                        ks: pc..(pc + T::KC).min(k),
                    };
                    // Later slices add to what the first one wrote.
                    let beta = if pc == 0 { beta0 } else { T::one() };
                    T::with_scratch(|apack, _| {
                        // SAFETY: the contract; `split` gives each task its own tiles of `C`.
                        unsafe { block(&shared.get(), rows.clone(), slivers.clone(), first, &panel, apack, beta) }
                    })
                }
            };
            run_tasks(split.tasks(), threads, task);
        }
    }
    T::with_scratch(|_, b| *b = buffer);
}

/// Flags for the slivers of the panels of one set of tasks (`NC / NR`, the most slivers in a
/// panel, is 255 for f32 and 510 for f64).
const MAX_FLAGS: usize = 2048;
// A set holds at least one slice: every panel's slivers must have their flags.
const _: () = assert!(f32::NC.div_ceil(f32::NR) <= MAX_FLAGS && f64::NC.div_ceil(f64::NR) <= MAX_FLAGS);
/// The most bytes of `B` packed for one set of tasks (beyond it, the slices are taken in
/// several sets): all four slices of an f32 `B` of 1024 x 1024, two of an f64 one. With 8 MiB,
/// f64 at n = 1024 read 0.94x the speed of one set per slice on two threads.
const MAX_PANEL_BYTES: usize = 4 << 20;
const UNPACKED: u8 = 0;
const PACKING: u8 = 1;
const PACKED: u8 = 2;

/// One `KC x NC` panel of `B` (rows `ks`, columns `cols`), packed sliver by sliver by the first
/// task that needs each sliver and shared by all: a task that finds a sliver being packed waits
/// for it (about a microsecond). No task waits for the whole panel, so the panel is packed by
/// as many threads as have started, and a thread that starts late finds it packed.
struct Panel<'a, T> {
    buffer: Shared<*mut T>,
    ready: &'a [AtomicU8],
    cols: Range<usize>,
    ks: Range<usize>,
}

impl<T: Kernel> Panel<'_, T> {
    /// Sliver `sliver`, packed (by this call, or by the task that claimed it first).
    ///
    /// # Safety
    /// The panel lies inside `B` (the product's contract), and `buffer` holds all its slivers.
    unsafe fn sliver(&self, p: &Product<T>, sliver: usize) -> *const T {
        let kc = self.ks.len();
        // SAFETY: sliver `sliver` of the buffer.
        let start = unsafe { self.buffer.get().add(sliver * T::NR * kc) };
        let flag = &self.ready[sliver];
        if flag.load(Ordering::Acquire) == PACKED {
            return start;
        }
        if flag.compare_exchange(UNPACKED, PACKING, Ordering::Acquire, Ordering::Acquire).is_ok() {
            let first = self.cols.start + sliver * T::NR;
            let columns = T::NR.min(self.cols.end - first);
            // SAFETY: this task alone writes the sliver (it claimed it); its columns lie inside
            // `B`, per the contract.
            unsafe {
                let out = std::slice::from_raw_parts_mut(start, T::NR * kc);
                let corner = p.b.offset(self.ks.start as isize * p.rsb + first as isize * p.csb);
                pack::pack_b(kc, columns, T::NR, corner, p.rsb, p.csb, out);
            }
            flag.store(PACKED, Ordering::Release);
        } else {
            let mut spins = 0u32;
            while flag.load(Ordering::Acquire) != PACKED {
                std::hint::spin_loop();
                spins += 1;
                if spins.is_multiple_of(1024) {
                    std::thread::yield_now(); // the packing thread may have been descheduled
                }
            }
        }
        start
    }
}

/// Rows `rows` of `C` times the panel's slivers `slivers`, starting at the `first`-th of them
/// and wrapping around: those rows of `A` packed into `apack`, then the micro-kernel on each
/// pair of slivers, each tile of `C` written with `alpha` and `beta`.
///
/// # Safety
/// As [`super::gemm`]; no other thread writes these tiles of `C`.
unsafe fn block<T: Kernel>(
    p: &Product<T>,
    rows: Range<usize>,
    slivers: Range<usize>,
    first: usize,
    panel: &Panel<'_, T>,
    apack: &mut Vec<T>,
    beta: T,
) {
    let at = |r: usize, s: isize, col: usize, t: isize| r as isize * s + col as isize * t;
    let (mc, kc, nc) = (rows.len(), panel.ks.len(), panel.cols.len());
    // SAFETY (here and below): offsets stay inside the matrices, per the contract.
    unsafe {
        pack::pack_a(mc, kc, T::MR, p.a.offset(at(rows.start, p.rsa, panel.ks.start, p.csa)), p.rsa, p.csa, apack)
    };
    let mut tile = [T::zero(); 96];
    let count = slivers.len();
    for i in 0..count {
        let sliver = slivers.start + (first + i) % count;
        let jr = sliver * T::NR;
        let nr = T::NR.min(nc - jr);
        // SAFETY: as above.
        let bp = unsafe { panel.sliver(p, sliver) };
        for ir in (0..mc).step_by(T::MR) {
            let mr = T::MR.min(mc - ir);
            unsafe {
                let ap = apack.as_ptr().add(ir * kc);
                let corner = p.c.offset(at(rows.start + ir, p.rsc, panel.cols.start + jr, p.csc));
                if mr == T::MR && nr == T::NR && p.csc == 1 {
                    T::micro(kc, ap, bp, Out::Direct { c: corner, rsc: p.rsc, alpha: p.alpha, beta });
                } else {
                    T::micro(kc, ap, bp, Out::Tile(&mut tile));
                    write_tile(mr, nr, T::NR, &tile, p.alpha, beta, corner, p.rsc, p.csc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every cut covers each row and sliver exactly once, starts blocks on whole tiles, and
    /// gives two threads equal shares where the sizes allow.
    #[test]
    fn splits_cover_c_once_on_whole_tiles() {
        for threads in 1..=4 {
            for m in [1, 5, 6, 23, 24, 47, 48, 100, 256, 300, 1024, 1031] {
                for slivers in [1, 2, 3, 16, 64] {
                    let split = Split::new::<f32>(m, slivers, threads);
                    let mut seen = vec![0u32; m * slivers];
                    for task in 0..split.tasks() {
                        let (rows, cols) = split.task(task, m, slivers);
                        assert_eq!(rows.start % f32::MR, 0, "{split:?}");
                        for i in rows {
                            for s in cols.clone() {
                                seen[i * slivers + s] += 1;
                            }
                        }
                    }
                    assert!(seen.iter().all(|&n| n == 1), "m {m} slivers {slivers} threads {threads}: {split:?}");
                }
            }
        }
        assert_eq!(Split::new::<f32>(256, 16, 2), Split { rows: 66, blocks: 4, groups: 1 });
        assert_eq!(Split::new::<f32>(512, 16, 2), Split { rows: 132, blocks: 4, groups: 1 });
        assert_eq!(Split::new::<f32>(1024, 64, 2), Split { rows: 132, blocks: 8, groups: 1 });
        assert_eq!(Split::new::<f32>(7, 257, 2), Split { rows: 144, blocks: 1, groups: 2 });
    }
}
