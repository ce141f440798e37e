//! Small products without packing: for the GEMMs of a small model (a 32 x 16 activation times
//! a 16 x 16 weight, a gradient with one column), packing `A` and `B` into slivers costs more
//! than the product, and a one-column `B` fills a 16-wide register tile with zeros.
//!
//! Each element is computed exactly as the micro-kernel computes it: a fused multiply-add per
//! term, `k` ascending, from zero, then written with the same `alpha`/`beta` expression. With
//! `k` within one `KC` block (where the packed path makes one pass too), the two paths give the
//! same bits, so which one runs (it depends on the block's size, hence on how matmul split `C`
//! between threads) never shows in the results.

use super::{write_back, Kernel, Product};

/// The largest product (`m k n`) taken here; above it packing pays for itself.
const MAX_WORK: usize = 48 * 48 * 48;

/// Whether [`gemm`] takes an `m x k` by `k x n` product.
pub(super) fn fits<T: Kernel>(m: usize, k: usize, n: usize) -> bool {
    k <= T::KC && m.saturating_mul(k).saturating_mul(n) <= MAX_WORK
}

/// Columns of `C` computed together: their accumulators stay in registers over the `k` loop.
const WIDTH: usize = 16;

/// Rows of `C` computed together: with `WIDTH` columns, eight independent chains of
/// multiply-adds in flight (one chain would wait on each add's latency).
const ROWS: usize = 4;

/// `C = alpha A B + beta C`, `ROWS` rows of `C` at a time, then the rest one by one.
///
/// # Safety
/// As [`super::gemm`], and [`fits`] holds.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gemm<T: Kernel>(p: &Product<T>) {
    let grouped = p.m / ROWS * ROWS;
    // SAFETY: forwarded; each call covers rows inside `0..m`.
    unsafe {
        for i in (0..grouped).step_by(ROWS) {
            rows::<T, ROWS>(p, i);
        }
        for i in grouped..p.m {
            rows::<T, 1>(p, i);
        }
    }
}

/// Rows `i..i + R` of `C`: `WIDTH` columns at a time, each term `A[i, p] B[p, j..j + WIDTH]`
/// added with one fused multiply-add per element (`p` ascending, from zero), then the last
/// columns one by one.
///
/// # Safety
/// As [`gemm`], and rows `i..i + R` are rows of `C`.
#[inline(always)]
unsafe fn rows<T: Kernel, const R: usize>(o: &Product<T>, i: usize) {
    let full = o.n / WIDTH * WIDTH;
    // SAFETY (throughout): every index addresses an element of its matrix, per the contract.
    unsafe {
        let a_at = |r: usize, p: usize| *o.a.offset((i + r) as isize * o.rsa + p as isize * o.csa);
        let c_at = |r: usize, j: usize| &mut *o.c.offset((i + r) as isize * o.rsc + j as isize * o.csc);
        for j in (0..full).step_by(WIDTH) {
            let mut acc = [[T::zero(); WIDTH]; R];
            for p in 0..o.k {
                let b_row = o.b.offset(p as isize * o.rsb + j as isize * o.csb);
                let mut b_vals = [T::zero(); WIDTH];
                if o.csb == 1 {
                    b_vals = *(b_row as *const [T; WIDTH]);
                } else {
                    for (l, v) in b_vals.iter_mut().enumerate() {
                        *v = *b_row.offset(l as isize * o.csb);
                    }
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let arp = a_at(r, p);
                    for (s, &bpj) in acc.iter_mut().zip(&b_vals) {
                        *s = arp.mul_add(bpj, *s);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                for (l, &t) in acc.iter().enumerate() {
                    write_back(c_at(r, j + l), t, o.alpha, o.beta);
                }
            }
        }
        for j in full..o.n {
            // One column: a chain of multiply-adds per row.
            let mut acc = [T::zero(); R];
            for p in 0..o.k {
                let bpj = *o.b.offset(p as isize * o.rsb + j as isize * o.csb);
                for (r, s) in acc.iter_mut().enumerate() {
                    *s = a_at(r, p).mul_add(bpj, *s);
                }
            }
            for (r, &t) in acc.iter().enumerate() {
                write_back(c_at(r, j), t, o.alpha, o.beta);
            }
        }
    }
}
