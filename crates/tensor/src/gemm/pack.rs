//! Packing: copying a block of `A` or `B` into the order the micro-kernel reads it.

use crate::dtype::Float;

/// Packs the `mc x kc` block of `A` at `a` into `MR`-row slivers. Sliver `s` holds, for each
/// `p`, rows `s MR .. s MR + MR` of column `p` (zeros past the last row), so the micro-kernel
/// reads `MR` consecutive values per step.
///
/// # Safety
/// Every element of the block is readable.
pub(super) unsafe fn pack_a<T: Float>(
    mc: usize,
    kc: usize,
    mr: usize,
    a: *const T,
    rsa: isize,
    csa: isize,
    out: &mut Vec<T>,
) {
    let slivers = mc.div_ceil(mr);
    out.resize(slivers * mr * kc, T::zero());
    for s in 0..slivers {
        let rows = mr.min(mc - s * mr);
        let dst = &mut out[s * mr * kc..(s + 1) * mr * kc];
        // SAFETY: row `s mr` of the block.
        let first = unsafe { a.offset((s * mr) as isize * rsa) };
        // Written in order, `MR` values (one per row) per column.
        for (p, column) in dst.chunks_exact_mut(mr).enumerate() {
            // SAFETY: column `p < kc` of the block.
            let top = unsafe { first.offset(p as isize * csa) };
            for (i, d) in column.iter_mut().enumerate() {
                // SAFETY: row `s mr + i < mc` when `i < rows`.
                *d = if i < rows { unsafe { *top.offset(i as isize * rsa) } } else { T::zero() };
            }
        }
    }
}

/// Packs the `kc x nc` block of `B` at `b` into `NR`-column slivers. Sliver `s` holds, for each
/// `p`, columns `s NR .. s NR + NR` of row `p` (zeros past the last column).
///
/// # Safety
/// Every element of the block is readable.
pub(super) unsafe fn pack_b<T: Float>(
    kc: usize,
    nc: usize,
    nr: usize,
    b: *const T,
    rsb: isize,
    csb: isize,
    out: &mut Vec<T>,
) {
    let slivers = nc.div_ceil(nr);
    out.resize(slivers * nr * kc, T::zero());
    for s in 0..slivers {
        let cols = nr.min(nc - s * nr);
        let dst = &mut out[s * nr * kc..(s + 1) * nr * kc];
        if csb == 1 && cols == nr {
            for (p, row) in dst.chunks_exact_mut(nr).enumerate() {
                // SAFETY: row `p < kc`, columns `s nr .. s nr + nr` of the block.
                let src = unsafe { b.offset(p as isize * rsb + (s * nr) as isize) };
                for (j, d) in row.iter_mut().enumerate() {
                    // SAFETY: as above.
                    *d = unsafe { *src.add(j) };
                }
            }
        } else if csb == 1 {
            for p in 0..kc {
                // SAFETY: row `p < kc`, columns `s nr .. s nr + cols` of the block.
                let src = unsafe { std::slice::from_raw_parts(b.offset(p as isize * rsb + (s * nr) as isize), cols) };
                dst[p * nr..p * nr + cols].copy_from_slice(src);
                dst[p * nr + cols..(p + 1) * nr].fill(T::zero());
            }
        } else {
            // Row `p` of the sliver gathers one element from each of its columns; a column's
            // cache line serves the next steps too.
            debug_assert!(nr <= 32, "tiles are at most 32 columns wide");
            // SAFETY: column `s nr + j < nc` of the block.
            let column = |j: usize| unsafe { b.offset((s * nr + j) as isize * csb) };
            let mut columns = [b; 32];
            for (j, c) in columns.iter_mut().enumerate().take(cols) {
                *c = column(j);
            }
            for (p, row) in dst.chunks_exact_mut(nr).enumerate() {
                let offset = p as isize * rsb;
                for (d, c) in row.iter_mut().zip(&columns[..cols]) {
                    // SAFETY: row `p < kc` of column `j < cols` of the block.
                    *d = unsafe { *c.offset(offset) };
                }
                row[cols..].fill(T::zero());
            }
        }
    }
}
