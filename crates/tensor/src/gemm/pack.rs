//! Packing: copying a block of `A` or `B` into the order the micro-kernel reads it.

use crate::dtype::Float;

/// Packs the `mc x kc` block of `A` at `a` into `MR`-row slivers. Sliver `s` holds, for each
/// `p`, rows `s MR .. s MR + MR` of column `p` (zeros past the last row), so the micro-kernel
/// reads `MR` consecutive values per step.
///
/// # Safety
/// Every element of the block is readable, and the CPU has AVX2 and FMA (as for all of this
/// GEMM: [`super::available`]).
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
    // Two more: the vector packing's last store spills two elements (`pack_a6_f32`).
    grow(out, slivers * mr * kc + 2);
    for s in 0..slivers {
        let rows = mr.min(mc - s * mr);
        // SAFETY: row `s mr` of the block.
        let first = unsafe { a.offset((s * mr) as isize * rsa) };
        if csa == 1 {
            // A row-major `A`: whole sets of six f32 rows transposed in registers, eight columns
            // at a time; the rest read row by row, written every `MR`.
            #[allow(unused_mut)] // assigned only on x86-64
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if T::DTYPE == crate::DType::F32 && mr == 6 && rows == 6 {
                // SAFETY: the six rows have `kc` elements each; `out` holds this sliver and two
                // more elements; AVX2 per the contract; `T` is `f32`.
                done = unsafe {
                    let row = |i: usize| first.offset(i as isize * rsa) as *const f32;
                    super::avx2::pack_a6_f32(
                        std::array::from_fn(row),
                        kc,
                        out.as_mut_ptr().add(s * mr * kc) as *mut f32,
                    )
                };
            }
            let dst = &mut out[s * mr * kc..(s + 1) * mr * kc];
            for i in 0..rows {
                // SAFETY: row `s mr + i < mc`, its first `kc` elements.
                let row = unsafe { std::slice::from_raw_parts(first.offset(i as isize * rsa), kc) };
                for (column, &v) in dst.chunks_exact_mut(mr).zip(row).skip(done) {
                    column[i] = v;
                }
            }
        } else {
            let dst = &mut out[s * mr * kc..(s + 1) * mr * kc];
            // Written in order, `MR` values (one per row) per column.
            for (p, column) in dst.chunks_exact_mut(mr).enumerate() {
                // SAFETY: column `p < kc` of the block.
                let top = unsafe { first.offset(p as isize * csa) };
                for (i, d) in column[..rows].iter_mut().enumerate() {
                    // SAFETY: row `s mr + i < mc`.
                    *d = unsafe { *top.offset(i as isize * rsa) };
                }
            }
        }
        if rows < mr {
            // The last sliver's missing rows are zeros.
            for column in out[s * mr * kc..(s + 1) * mr * kc].chunks_exact_mut(mr) {
                column[rows..].fill(T::zero());
            }
        }
    }
}

/// Packs the `kc x nc` block of `B` at `b` into `NR`-column slivers in `out`. Sliver `s` holds,
/// for each `p`, columns `s NR .. s NR + NR` of row `p` (zeros past the last column).
///
/// # Safety
/// Every element of the block is readable; `out` holds at least `nc.div_ceil(nr) * nr * kc`
/// elements; the CPU has AVX2 and FMA ([`super::available`]).
pub(super) unsafe fn pack_b<T: Float>(
    kc: usize,
    nc: usize,
    nr: usize,
    b: *const T,
    rsb: isize,
    csb: isize,
    out: &mut [T],
) {
    let slivers = nc.div_ceil(nr);
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
            // A column-major `B` (a transposed operand, as `Linear` reads its weight): whole
            // f32 slivers eight rows at a time through 8 x 8 transposes in registers, as the
            // small path copies such a `B`.
            #[allow(unused_mut)] // assigned only on x86-64
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if T::DTYPE == crate::DType::F32 && nr == 16 && cols == 16 && rsb == 1 {
                // SAFETY: the sixteen columns of `kc` elements each, one apart and `csb` from
                // each other, lie in `B`; `dst` holds the sliver's `kc` rows of 16; AVX2 per the
                // contract; `T` is `f32`.
                done = unsafe {
                    let (first, dst) = (columns[0] as *const f32, dst.as_mut_ptr() as *mut f32);
                    super::avx2::transpose_blocks_f32(first, csb, kc, 16, dst, 16).0
                };
            }
            for (p, row) in dst.chunks_exact_mut(nr).enumerate().skip(done) {
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

/// Makes `out` at least `len` long. It never shrinks: packing writes every element it uses,
/// and a shrink would make the next, larger block fill zeros it then overwrites (GEMMs of
/// different sizes alternate in a training step).
fn grow<T: Float>(out: &mut Vec<T>, len: usize) {
    if out.len() < len {
        out.resize(len, T::zero());
    }
}
