//! Small products without blocking: for the GEMMs of a small model (a 32 x 16 activation times
//! a 16 x 16 weight, a gradient with one column), packing `A` into slivers and walking the
//! blocks costs more than the product.
//!
//! `B` is copied once, row-major and zero-padded to whole register tiles, unless it is already
//! row-major and whole (a transposed `B` read in place costs a gather per element, for every
//! group of rows). Then each group of `ROWS` rows of `C` is computed `width` columns at a time,
//! the sums in registers over the whole `k` loop. A product with few columns and more rows
//! runs transposed (`Cᵀ = Bᵀ Aᵀ`), so a one-column gradient fills the tile's lanes instead of
//! running one scalar chain per row.
//!
//! Each element is computed exactly as the micro-kernel computes it: a fused multiply-add per
//! term, `k` ascending, from zero, then written with the same `alpha`/`beta` expression
//! ([`write_back`]). Transposing swaps the factors of each product, which changes no bits
//! (`a·b = b·a` exactly). With `k` within one `KC` block (where the packed path makes one pass
//! too), the two paths give the same bits, so which one runs (it depends on the block's size,
//! hence on how matmul split `C` between threads) never shows in the results.

use std::arch::x86_64::*;

use super::avx2::{transpose_blocks_f32, transpose_blocks_f64};
use super::{write_back, Kernel, Product};

/// The largest product (`m k n`) taken here; above it packing pays for itself.
const MAX_WORK: usize = 48 * 48 * 48;

/// Whether [`gemm`] takes an `m x k` by `k x n` product.
pub(super) fn fits<T: Kernel>(m: usize, k: usize, n: usize) -> bool {
    k <= T::KC && m.saturating_mul(k).saturating_mul(n) <= MAX_WORK
}

/// Rows of `C` computed together: with two vectors of columns each, twelve independent chains
/// of multiply-adds in flight (one chain would wait on each add's latency), and fifteen of the
/// sixteen vector registers of AVX2 busy (the sums, a row of `B` and `A`'s broadcast element),
/// as in the packed micro-kernel's 6 x 16 tile. (Four rows took 1.06x the instructions in
/// W6's products: `B`'s row loaded and the loop run for fewer multiply-adds.)
const ROWS: usize = 6;

/// Columns of `C` computed together: two 256-bit vectors of `T`.
const fn width<T>() -> usize {
    64 / std::mem::size_of::<T>()
}

/// `C = alpha A B + beta C` (see the module documentation).
///
/// # Safety
/// As [`super::gemm`], and [`fits`] holds.
pub(super) unsafe fn gemm<T: Kernel>(p: &Product<T>) {
    let p = if p.n < width::<T>() && p.m > p.n { transposed(p) } else { *p };
    // SAFETY: the caller's contract.
    T::with_scratch(|_, scratch| unsafe { compute(&p, scratch) })
}

/// [`gemm`] with this thread's scratch.
///
/// # Safety
/// As [`gemm`].
unsafe fn compute<T: Kernel>(p: &Product<T>, scratch: &mut Vec<T>) {
    let (b, rsb) = tiled_b(p, scratch);
    // SAFETY (both arms): the caller's contract; `T` is `f32` or `f64` (the two `Kernel`
    // types), told apart by size, so the casts name the same type; `b` holds `k` rows of whole
    // tiles (see `tiled_b`).
    unsafe {
        if std::mem::size_of::<T>() == 4 {
            tiles_f32(&*(p as *const Product<T> as *const Product<f32>), b as *const f32, rsb);
        } else {
            tiles_f64(&*(p as *const Product<T> as *const Product<f64>), b as *const f64, rsb);
        }
    }
}

/// `Cᵀ = Bᵀ Aᵀ`: the same product, rows and columns swapped.
fn transposed<T: Copy>(p: &Product<T>) -> Product<T> {
    Product {
        m: p.n,
        n: p.m,
        a: p.b,
        rsa: p.csb,
        csa: p.rsb,
        b: p.a,
        rsb: p.csa,
        csb: p.rsa,
        rsc: p.csc,
        csc: p.rsc,
        ..*p
    }
}

/// `B` as `k` row-major rows of whole tiles (`width` columns), and its row stride: `B` itself
/// when it is already, else a copy in `scratch`, zero-padded.
///
/// # Safety
/// `B`'s elements are readable as [`super::gemm`] says.
unsafe fn tiled_b<T: Kernel>(p: &Product<T>, scratch: &mut Vec<T>) -> (*const T, isize) {
    if p.csb == 1 && p.n.is_multiple_of(width::<T>()) {
        return (p.b, p.rsb);
    }
    let padded = p.n.div_ceil(width::<T>()) * width::<T>();
    if scratch.len() < p.k * padded {
        scratch.resize(p.k * padded, T::zero()); // grown, never shrunk: no allocation per call
    }
    let rows = &mut scratch[..p.k * padded];
    // SAFETY (both arms): `row < k` and `j < n` address an element of `B`.
    if p.csb.unsigned_abs() <= p.rsb.unsigned_abs() {
        for (row, dst) in rows.chunks_exact_mut(padded).enumerate() {
            let src = unsafe { p.b.offset(row as isize * p.rsb) };
            for (j, d) in dst[..p.n].iter_mut().enumerate() {
                *d = unsafe { *src.offset(j as isize * p.csb) };
            }
            dst[p.n..].fill(T::zero());
        }
    } else {
        // A column-major `B` (a transposed operand): square blocks transposed in registers,
        // then the ragged edges read along its columns.
        let (k_done, n_done) = if p.rsb != 1 {
            (0, 0)
        } else if std::mem::size_of::<T>() == 4 {
            // SAFETY: `T` is `f32` (see `compute`); the blocks address elements of `B` and of `rows`.
            unsafe { transpose_blocks_f32(p.b as *const f32, p.csb, p.k, p.n, rows.as_mut_ptr() as *mut f32, padded) }
        } else {
            // SAFETY: as above, for `f64`.
            unsafe { transpose_blocks_f64(p.b as *const f64, p.csb, p.k, p.n, rows.as_mut_ptr() as *mut f64, padded) }
        };
        // Rows below `k_done` of the columns below `n_done` are copied already; those columns
        // are skipped outright when no rows are left below them, not walked element by element
        // to no effect (2,500 of W6's 62,400 instructions per compiled step).
        let first_column = if k_done == p.k { n_done } else { 0 };
        for j in first_column..p.n {
            let src = unsafe { p.b.offset(j as isize * p.csb) };
            let first = if j < n_done { k_done } else { 0 };
            for (row, d) in rows.iter_mut().skip(j).step_by(padded).enumerate().skip(first) {
                *d = unsafe { *src.offset(row as isize * p.rsb) };
            }
        }
        for dst in rows.chunks_exact_mut(padded) {
            dst[p.n..].fill(T::zero());
        }
    }
    (scratch.as_ptr(), padded as isize)
}

/// Every row of `C`, `ROWS` at a time, then the rest together; each group of rows `2 * LANES`
/// columns at a time: each term `A[i, p] B[p, j..]` added with one fused multiply-add per
/// element (`p` ascending, from zero), the sums in registers over the whole `k` loop, then
/// written back as the packed micro-kernel writes a tile (`alpha`, `beta`; scalar for the
/// columns of a ragged edge or a strided `C`, as `write_back`).
macro_rules! small_tiles {
    ($tiles:ident, $rows:ident, $t:ty, $vec:ty, $lanes:expr, $zero:ident, $load:ident, $bcast:ident,
     $fma:ident, $mul:ident, $add:ident, $set1:ident, $store:ident) => {
        /// # Safety
        /// As [`gemm`]; `b` holds `k` rows, `rsb` apart, of `n` columns rounded up to whole tiles.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $tiles(p: &Product<$t>, b: *const $t, rsb: isize) {
            let grouped = p.m / ROWS * ROWS;
            // SAFETY: forwarded; each call covers rows inside `0..m`.
            unsafe {
                for i in (0..grouped).step_by(ROWS) {
                    $rows::<ROWS>(p, b, rsb, i);
                }
                // The last rows together: each row of `B` loaded once for them all.
                match p.m - grouped {
                    5 => $rows::<5>(p, b, rsb, grouped),
                    4 => $rows::<4>(p, b, rsb, grouped),
                    3 => $rows::<3>(p, b, rsb, grouped),
                    2 => $rows::<2>(p, b, rsb, grouped),
                    1 => $rows::<1>(p, b, rsb, grouped),
                    _ => {}
                }
            }
        }

        /// Rows `i..i + R` of `C`.
        ///
        /// # Safety
        /// As the tiles function, and rows `i..i + R` are rows of `C`.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $rows<const R: usize>(o: &Product<$t>, b: *const $t, rsb: isize, i: usize) {
            const W: usize = 2 * $lanes;
            // SAFETY (throughout): every offset addresses an element of its matrix (or of the
            // padded copy of `B`), per the contract.
            unsafe {
                let a: [*const $t; R] = std::array::from_fn(|r| o.a.offset((i + r) as isize * o.rsa));
                for j in (0..o.n).step_by(W) {
                    let mut acc = [[$zero(); 2]; R];
                    let mut b_row = b.add(j);
                    for p in 0..o.k {
                        let (b0, b1) = ($load(b_row), $load(b_row.add($lanes)));
                        for r in 0..R {
                            let arp = $bcast(&*a[r].offset(p as isize * o.csa));
                            acc[r][0] = $fma(arp, b0, acc[r][0]);
                            acc[r][1] = $fma(arp, b1, acc[r][1]);
                        }
                        b_row = b_row.offset(rsb);
                    }
                    let columns = W.min(o.n - j);
                    for (r, halves) in acc.iter().enumerate() {
                        let c = o.c.offset((i + r) as isize * o.rsc + j as isize * o.csc);
                        if columns == W && o.csc == 1 {
                            let (va, vb) = ($set1(o.alpha), $set1(o.beta));
                            for (h, &v) in halves.iter().enumerate() {
                                let dst = c.add(h * $lanes);
                                let value = if o.beta == 0.0 {
                                    $mul(va, v)
                                } else if o.alpha == 1.0 && o.beta == 1.0 {
                                    $add(v, $load(dst))
                                } else {
                                    $add($mul(va, v), $mul(vb, $load(dst)))
                                };
                                $store(dst, value);
                            }
                        } else {
                            let mut sums = [0.0 as $t; W];
                            $store(sums.as_mut_ptr(), halves[0]);
                            $store(sums.as_mut_ptr().add($lanes), halves[1]);
                            for (l, &t) in sums[..columns].iter().enumerate() {
                                write_back(&mut *c.offset(l as isize * o.csc), t, o.alpha, o.beta);
                            }
                        }
                    }
                }
            }
        }
    };
}

small_tiles!(
    tiles_f32,
    rows_f32,
    f32,
    __m256,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_broadcast_ss,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps,
    _mm256_set1_ps,
    _mm256_storeu_ps
);
small_tiles!(
    tiles_f64,
    rows_f64,
    f64,
    __m256d,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_broadcast_sd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    _mm256_add_pd,
    _mm256_set1_pd,
    _mm256_storeu_pd
);
