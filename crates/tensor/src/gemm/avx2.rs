//! The AVX2 + FMA micro-kernels: a 6 x 16 f32 tile and a 6 x 8 f64 tile, each twelve 256-bit
//! accumulators, with two loads of `B` and six broadcasts of `A` per step; and the register
//! transposes that packing and the small path's copy of a transposed `B` go through.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Twelve accumulators `c[i][h]` (row `i`, half `h` of the tile's row), updated for `kc` steps,
/// then written to `C` (`out`) or to `tile`.
macro_rules! tile_kernel {
    ($name:ident, $t:ty, $nr:expr, $vec:ty, $zero:ident, $load:ident, $bcast:ident, $fma:ident,
     $mul:ident, $add:ident, $set1:ident, $store:ident, $lanes:expr) => {
        /// The register-tile product over `kc` packed steps (see `Kernel::micro`).
        ///
        /// # Safety
        /// AVX2 and FMA are available; `a` holds `kc * 6` and `b` `kc * NR` elements; a `Direct`
        /// output addresses a full, unshared `6 x NR` block with unit column stride.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        pub(super) unsafe fn $name(kc: usize, a: *const $t, b: *const $t, out: super::Out<'_, $t>) {
            // SAFETY: every pointer below stays within `a[..kc * 6]`, `b[..kc * NR]`, and the
            // output block the caller vouches for.
            unsafe {
                if let super::Out::Direct { c, rsc, .. } = out {
                    // C's rows are read at the end; start fetching them now (each row is one or
                    // two cache lines).
                    for i in 0..6 {
                        let row = c.offset(i * rsc) as *const i8;
                        _mm_prefetch::<_MM_HINT_T0>(row);
                        _mm_prefetch::<_MM_HINT_T0>(row.add(std::mem::size_of::<$t>() * $nr - 1));
                    }
                }
                let mut acc: [[$vec; 2]; 6] = [[$zero(); 2]; 6];
                let (mut a, mut b) = (a, b);
                let step = |acc: &mut [[$vec; 2]; 6], a: *const $t, b: *const $t| {
                    let b0 = $load(b);
                    let b1 = $load(b.add($lanes));
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = $bcast(&*a.add(i));
                        row[0] = $fma(ai, b0, row[0]);
                        row[1] = $fma(ai, b1, row[1]);
                    }
                };
                // Four steps per iteration, fetching A's sliver a few steps ahead (B's is in L1).
                for _ in 0..kc / 4 {
                    _mm_prefetch::<_MM_HINT_T0>(a.add(6 * 8) as *const i8);
                    step(&mut acc, a, b);
                    step(&mut acc, a.add(6), b.add($nr));
                    step(&mut acc, a.add(12), b.add(2 * $nr));
                    step(&mut acc, a.add(18), b.add(3 * $nr));
                    a = a.add(24);
                    b = b.add(4 * $nr);
                }
                for _ in 0..kc % 4 {
                    step(&mut acc, a, b);
                    a = a.add(6);
                    b = b.add($nr);
                }
                match out {
                    super::Out::Tile(tile) => {
                        for (i, row) in acc.iter().enumerate() {
                            $store(tile.as_mut_ptr().add(i * $nr), row[0]);
                            $store(tile.as_mut_ptr().add(i * $nr + $lanes), row[1]);
                        }
                    }
                    // The same arithmetic as `write_tile`, lane by lane, so a tile's values do not
                    // depend on whether it was written here or there.
                    super::Out::Direct { c, rsc, alpha, beta } => {
                        let (va, vb) = ($set1(alpha), $set1(beta));
                        for (i, row) in acc.iter().enumerate() {
                            for (h, &v) in row.iter().enumerate() {
                                let dst = c.offset(i as isize * rsc).add(h * $lanes);
                                let value = if beta == 0.0 {
                                    $mul(va, v)
                                } else if alpha == 1.0 && beta == 1.0 {
                                    $add(v, $load(dst))
                                } else {
                                    $add($mul(va, v), $mul(vb, $load(dst)))
                                };
                                $store(dst, value);
                            }
                        }
                    }
                }
            }
        }
    };
}

tile_kernel!(
    micro_f32,
    f32,
    16,
    __m256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_broadcast_ss,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps,
    _mm256_set1_ps,
    _mm256_storeu_ps,
    8
);
tile_kernel!(
    micro_f64,
    f64,
    8,
    __m256d,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_broadcast_sd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    _mm256_add_pd,
    _mm256_set1_pd,
    _mm256_storeu_pd,
    4
);

/// The 8 x 8 transpose of `r` (vector `i` holds row `i`; so does the result's, of the transpose),
/// in registers: unpacks, then shuffles within 128-bit halves, then swaps of halves.
///
/// # Safety
/// AVX is available.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn transpose8_f32(r: [__m256; 8]) -> [__m256; 8] {
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    let s = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    std::array::from_fn(|q| {
        if q < 4 {
            _mm256_permute2f128_ps::<0x20>(s[q], s[q + 4])
        } else {
            _mm256_permute2f128_ps::<0x31>(s[q - 4], s[q])
        }
    })
}

/// Packs `kc` columns of six rows of a row-major `A` (`rows[i]` is row `i`'s first element) into
/// `dst` as [`super::pack::pack_a`] lays out a sliver (the six values of column `p` at
/// `dst[6 p..]`), eight columns at a time through [`transpose8_f32`]; returns the columns done
/// (a multiple of 8; the caller packs the rest). Each column is stored as eight values, the
/// last two spilling into the next column's place, which the next store (or the caller's)
/// overwrites, or into two elements past `6 kc`.
///
/// # Safety
/// AVX is available; each row has `kc` readable elements; `dst` holds `6 kc + 2` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn pack_a6_f32(rows: [*const f32; 6], kc: usize, dst: *mut f32) -> usize {
    let k8 = kc / 8 * 8;
    // SAFETY: loads read columns `p..p + 8 <= k8` of the six rows; stores write
    // `dst[6 (p + q)..6 (p + q) + 8]`, within `6 kc + 2`.
    unsafe {
        for p in (0..k8).step_by(8) {
            let r: [__m256; 8] =
                std::array::from_fn(|i| if i < 6 { _mm256_loadu_ps(rows[i].add(p)) } else { _mm256_setzero_ps() });
            for (q, column) in transpose8_f32(r).into_iter().enumerate() {
                _mm256_storeu_ps(dst.add(6 * (p + q)), column);
            }
        }
    }
    k8
}

/// Copies the whole 8 x 8 blocks of a column-major `k x n` `B` (`b[p + j * csb]`) row-major into
/// `dst` (rows `padded` apart), each block transposed in registers; returns the rows and columns
/// covered (multiples of 8). The small path copies a transposed `B` this way, and `pack_b` a
/// sliver of sixteen of its columns (`n = padded = 16`).
///
/// # Safety
/// AVX is available; `b` addresses a `k x n` matrix with these strides, `dst` holds `k` rows of
/// `padded >= n` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn transpose_blocks_f32(
    b: *const f32,
    csb: isize,
    k: usize,
    n: usize,
    dst: *mut f32,
    padded: usize,
) -> (usize, usize) {
    let (k8, n8) = (k / 8 * 8, n / 8 * 8);
    // SAFETY: every load reads 8 elements of one of B's columns below row `k8`, every store
    // writes 8 elements of a row of `dst` below column `n8`.
    unsafe {
        // Eight rows of `dst` at a time, written whole (as the packed path's slivers fill).
        for p in (0..k8).step_by(8) {
            for j in (0..n8).step_by(8) {
                let r: [__m256; 8] =
                    std::array::from_fn(|c| _mm256_loadu_ps(b.offset((j + c) as isize * csb + p as isize)));
                for (q, row) in transpose8_f32(r).into_iter().enumerate() {
                    _mm256_storeu_ps(dst.add((p + q) * padded + j), row);
                }
            }
        }
    }
    (k8, n8)
}

/// [`transpose_blocks_f32`] for `f64`, in 4 x 4 blocks.
///
/// # Safety
/// As [`transpose_blocks_f32`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn transpose_blocks_f64(
    b: *const f64,
    csb: isize,
    k: usize,
    n: usize,
    dst: *mut f64,
    padded: usize,
) -> (usize, usize) {
    let (k4, n4) = (k / 4 * 4, n / 4 * 4);
    // SAFETY: as in `transpose_blocks_f32`, with 4 elements per load and store.
    unsafe {
        for j in (0..n4).step_by(4) {
            for p in (0..k4).step_by(4) {
                let r: [__m256d; 4] =
                    std::array::from_fn(|c| _mm256_loadu_pd(b.offset((j + c) as isize * csb + p as isize)));
                let (lo01, hi01) = (_mm256_unpacklo_pd(r[0], r[1]), _mm256_unpackhi_pd(r[0], r[1]));
                let (lo23, hi23) = (_mm256_unpacklo_pd(r[2], r[3]), _mm256_unpackhi_pd(r[2], r[3]));
                let rows = [
                    _mm256_permute2f128_pd::<0x20>(lo01, lo23),
                    _mm256_permute2f128_pd::<0x20>(hi01, hi23),
                    _mm256_permute2f128_pd::<0x31>(lo01, lo23),
                    _mm256_permute2f128_pd::<0x31>(hi01, hi23),
                ];
                for (q, &v) in rows.iter().enumerate() {
                    _mm256_storeu_pd(dst.add((p + q) * padded + j), v);
                }
            }
        }
    }
    (k4, n4)
}

/// Never called: [`super::available`] is false off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn micro_f32(_: usize, _: *const f32, _: *const f32, _: super::Out<'_, f32>) {
    unreachable!("the AVX2 micro-kernel runs only on x86-64")
}

/// Never called: [`super::available`] is false off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn micro_f64(_: usize, _: *const f64, _: *const f64, _: super::Out<'_, f64>) {
    unreachable!("the AVX2 micro-kernel runs only on x86-64")
}
