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

use super::{write_back, Kernel, Product};

/// The largest product (`m k n`) taken here; above it packing pays for itself.
const MAX_WORK: usize = 48 * 48 * 48;

/// Whether [`gemm`] takes an `m x k` by `k x n` product.
pub(super) fn fits<T: Kernel>(m: usize, k: usize, n: usize) -> bool {
    k <= T::KC && m.saturating_mul(k).saturating_mul(n) <= MAX_WORK
}

/// Rows of `C` computed together: with two vectors of columns each, eight independent chains
/// of multiply-adds in flight (one chain would wait on each add's latency), and all sixteen
/// vector registers of AVX2 between the sums, a row of `B` and `A`'s broadcast element.
const ROWS: usize = 4;

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

/// [`gemm`] with this thread's scratch, compiled for AVX2 and FMA (a closure would not be).
///
/// # Safety
/// As [`gemm`].
#[target_feature(enable = "avx2,fma")]
unsafe fn compute<T: Kernel>(p: &Product<T>, scratch: &mut Vec<T>) {
    // SAFETY (both arms): the caller's contract; `b` holds `k` rows of whole tiles (the copy),
    // or is `B` itself when its rows are contiguous and whole tiles.
    unsafe {
        if std::mem::size_of::<T>() == 4 {
            let (b, rsb) = tiled_b::<T, 16>(p, scratch);
            tiles::<T, 16>(p, b, rsb);
        } else {
            let (b, rsb) = tiled_b::<T, 8>(p, scratch);
            tiles::<T, 8>(p, b, rsb);
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

/// `B` as `k` row-major rows of whole `W`-column tiles, and its row stride: `B` itself when it
/// is already, else a copy in `scratch`, zero-padded.
///
/// # Safety
/// `B`'s elements are readable as [`super::gemm`] says.
#[inline(always)]
unsafe fn tiled_b<T: Kernel, const W: usize>(p: &Product<T>, scratch: &mut Vec<T>) -> (*const T, isize) {
    if p.csb == 1 && p.n.is_multiple_of(W) {
        return (p.b, p.rsb);
    }
    let padded = p.n.div_ceil(W) * W;
    if scratch.len() < p.k * padded {
        scratch.resize(p.k * padded, T::zero()); // grown, never shrunk: no allocation per call
    }
    for (row, dst) in scratch.chunks_exact_mut(padded).take(p.k).enumerate() {
        for (j, d) in dst.iter_mut().enumerate() {
            // SAFETY: `row < k` and `j < n` address an element of `B`.
            *d = if j < p.n { unsafe { *p.b.offset(row as isize * p.rsb + j as isize * p.csb) } } else { T::zero() };
        }
    }
    (scratch.as_ptr(), padded as isize)
}

/// Every row of `C`: `ROWS` at a time, then the rest one by one.
///
/// # Safety
/// As [`gemm`]; `b` holds `k` rows, `rsb` apart, of `n` columns rounded up to whole `W` tiles.
#[inline(always)]
unsafe fn tiles<T: Kernel, const W: usize>(p: &Product<T>, b: *const T, rsb: isize) {
    let grouped = p.m / ROWS * ROWS;
    // SAFETY: forwarded; each call covers rows inside `0..m`.
    unsafe {
        for i in (0..grouped).step_by(ROWS) {
            rows::<T, ROWS, W>(p, b, rsb, i);
        }
        for i in grouped..p.m {
            rows::<T, 1, W>(p, b, rsb, i);
        }
    }
}

/// Rows `i..i + R` of `C`, `W` columns at a time: each term `A[i, p] B[p, j..j + W]` added with
/// one fused multiply-add per element (`p` ascending, from zero), then the columns inside `C`
/// written back.
///
/// # Safety
/// As [`tiles`], and rows `i..i + R` are rows of `C`.
#[inline(always)]
unsafe fn rows<T: Kernel, const R: usize, const W: usize>(o: &Product<T>, b: *const T, rsb: isize, i: usize) {
    // SAFETY (throughout): every index addresses an element of its matrix, per the contract;
    // `[T; W]` has `T`'s alignment.
    unsafe {
        let a_at = |r: usize, p: usize| *o.a.offset((i + r) as isize * o.rsa + p as isize * o.csa);
        for j in (0..o.n).step_by(W) {
            let mut acc = [[T::zero(); W]; R];
            for p in 0..o.k {
                let b_row: [T; W] = *(b.offset(p as isize * rsb + j as isize) as *const [T; W]);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let arp = a_at(r, p);
                    for (s, &bpj) in acc.iter_mut().zip(&b_row) {
                        *s = arp.mul_add(bpj, *s);
                    }
                }
            }
            let columns = W.min(o.n - j);
            for (r, acc) in acc.iter().enumerate() {
                for (l, &t) in acc[..columns].iter().enumerate() {
                    let c = &mut *o.c.offset((i + r) as isize * o.rsc + (j + l) as isize * o.csc);
                    write_back(c, t, o.alpha, o.beta);
                }
            }
        }
    }
}
