//! GEMM of our own: packing and blocking around a register-tile micro-kernel, as in BLIS (Goto's
//! algorithm), for x86-64 with AVX2 and FMA. Elsewhere matmul runs on matrixmultiply.
//!
//! `C = alpha A B + beta C` is cut as follows:
//! - **`NC` columns of `B` at a time**, then **`KC` of the inner dimension**. That `KC x NC` block of
//!   `B` is packed into `NR`-column slivers, laid out so the micro-kernel reads it in order
//!   (it stays in L3, and one sliver in L1). All threads pack it together and share it; the
//!   blocks of several `KC` slices are packed side by side, so the threads go through them
//!   without meeting in between (`blocked`).
//! - **At most `MC` rows of `A` at a time**, a block per task. That block is packed into
//!   `MR`-row slivers (it stays in L2). How rows (or slivers) are shared between threads is
//!   `blocked`'s.
//! - **The micro-kernel.** For each pair of slivers it holds an `MR x NR` tile of `C` in registers
//!   over the whole `KC` loop, one fused multiply-add per element and step. It then writes the
//!   tile back with `alpha` and `beta`.
//!
//! Products small enough that packing would cost more than it saves (`small`) skip it, with the
//! same arithmetic per element, so the same bits.
//!
//! Packing buffers live in thread-local scratch that grows to the largest size once (for `B`,
//! one `KC x NC` panel, about 4 MiB of f32 or 8 MiB of f64, or several smaller ones up to
//! `blocked::MAX_PANEL_BYTES`), so a GEMM does not allocate after the first call on a thread.
//!
//! Each element of `C` gets its `k` terms in the same order (by `KC` block, and within a block
//! by `k`), however the work is split between threads. So results do not depend on the thread
//! count.

mod avx2;
mod blocked;
mod pack;
#[cfg(target_arch = "x86_64")]
mod small;

use std::cell::RefCell;

use crate::dtype::Float;
use blocked::packed;

/// A micro-kernel and its blocking for one element type.
pub(crate) trait Kernel: Float {
    /// Rows of the register tile.
    const MR: usize;
    /// Columns of the register tile.
    const NR: usize;
    /// Rows of `A` packed at a time (a multiple of `MR`).
    const MC: usize;
    /// Inner-dimension block.
    const KC: usize;
    /// Columns of `B` packed at a time (a multiple of `NR`).
    const NC: usize;

    /// `t[i, j] = sum_p a[p * MR + i] * b[p * NR + j]` for `p < kc`, into `out`.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA ([`available`]); `a` holds `kc * MR` and `b` `kc * NR` elements;
    /// an [`Out::Direct`] block is a full `MR x NR` block of `C`, unit column stride, unshared.
    unsafe fn micro(kc: usize, a: *const Self, b: *const Self, out: Out<'_, Self>);

    /// Runs `f` with this thread's packing buffers for `A` and `B`.
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>, &mut Vec<Self>) -> R) -> R;
}

/// Whether these kernels can run: the CPU has AVX2 and FMA, and the environment does not say
/// `BACKPROP_GEMM=matrixmultiply` (for comparisons). Checked once.
#[cfg(test)]
pub(crate) fn available() -> bool {
    choice() != Choice::Fallback
}

/// Products of at least this many multiply-adds run on matrixmultiply where the CPU has
/// AVX-512F: its AVX-512 kernel is faster than these AVX2 ones from about this size (on an Intel
/// Xeon with AVX-512, 2026-11-29: 32 x 32 x 32 about even, 64 x 64 x 64 1.3x, W3's 128 x 784
/// x 512 1.5x; 16 x 16 x 16 0.76x, W6's products 0.44-1.07x, most below 0.9x). BENCHMARKS.md has the figures.
pub(crate) const WIDE_FALLBACK_MACS: usize = 1 << 15;

/// Whether a product of `macs` multiply-adds runs on these kernels: [`available`], and on a
/// CPU with AVX-512F only below [`WIDE_FALLBACK_MACS`] (`BACKPROP_GEMM=own` keeps every
/// product here, for comparisons). The choice depends on the CPU and the size alone, so a
/// product's bits do not depend on the thread count.
pub(crate) fn takes(macs: usize) -> bool {
    match choice() {
        Choice::Own => true,
        Choice::Fallback => false,
        Choice::Small => macs < WIDE_FALLBACK_MACS,
    }
}

/// Which kernels run products.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Choice {
    /// Ours, every size.
    Own,
    /// matrixmultiply, every size (no AVX2 and FMA, or `BACKPROP_GEMM=matrixmultiply`).
    Fallback,
    /// Ours below [`WIDE_FALLBACK_MACS`], matrixmultiply's AVX-512 kernel above.
    Small,
}

/// The CPU's and the environment's choice, checked once.
fn choice() -> Choice {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use std::sync::OnceLock;
        static CHOICE: OnceLock<Choice> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            let asked = std::env::var("BACKPROP_GEMM").unwrap_or_default();
            let ours = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
            if !ours || asked == "matrixmultiply" {
                Choice::Fallback
            } else if asked != "own" && std::arch::is_x86_feature_detected!("avx512f") {
                Choice::Small
            } else {
                Choice::Own
            }
        })
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        Choice::Fallback
    }
}

/// Where a micro-kernel puts its tile.
pub(crate) enum Out<'a, T> {
    /// Row-major into a buffer, for [`write_tile`] (edge tiles, strided `C`).
    Tile(&'a mut [T; 96]),
    /// Straight into a full tile of `C` (unit column stride): `C = alpha t + beta C`, as
    /// `write_tile` computes it.
    Direct { c: *mut T, rsc: isize, alpha: T, beta: T },
}

thread_local! {
    static SCRATCH_F32: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    static SCRATCH_F64: RefCell<(Vec<f64>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The `Kernel` impl of one element type: its blocking, micro-kernel and scratch.
macro_rules! kernel {
    ($t:ty, nr: $nr:expr, mc: $mc:expr, $micro:path, $scratch:ident) => {
        impl Kernel for $t {
            const MR: usize = 6;
            const NR: usize = $nr;
            const MC: usize = $mc;
            const KC: usize = 256;
            const NC: usize = 4080;

            unsafe fn micro(kc: usize, a: *const $t, b: *const $t, out: Out<'_, $t>) {
                // SAFETY: forwarded from the caller's contract.
                unsafe { $micro(kc, a, b, out) }
            }

            fn with_scratch<R>(f: impl FnOnce(&mut Vec<$t>, &mut Vec<$t>) -> R) -> R {
                $scratch.with(|s| match s.try_borrow_mut() {
                    Ok(mut pair) => {
                        let (a, b) = &mut *pair;
                        f(a, b)
                    }
                    // Re-entered on this thread (nothing does today): fresh buffers, never a panic.
                    Err(_) => f(&mut Vec::new(), &mut Vec::new()),
                })
            }
        }
    };
}

kernel!(f32, nr: 16, mc: 144, avx2::micro_f32, SCRATCH_F32);
kernel!(f64, nr: 8, mc: 72, avx2::micro_f64, SCRATCH_F64);

/// `C = alpha A B + beta C` for an `m x k` `A`, a `k x n` `B` and an `m x n` `C`, each given by
/// a pointer to its first element and its row and column strides (in elements; any sign). When
/// `beta` is 0, `C` is only written, never read, so it may hold anything.
///
/// # Safety
/// [`available`] holds; every element the three matrices address is inside its allocation; `C`
/// does not overlap `A` or `B`, and no other thread touches the elements of `C` meanwhile; `k > 0`.
#[allow(clippy::too_many_arguments)] // BLAS-shaped: each matrix is a pointer and two strides
pub(crate) unsafe fn gemm<T: Kernel>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    let product = Product { m, k, n, alpha, beta, a, rsa, csa, b, rsb, csb, c, rsc, csc };
    #[cfg(target_arch = "x86_64")]
    if small::fits::<T>(m, k, n) {
        // SAFETY: the caller's contract, and `fits` holds.
        return unsafe { small::gemm(&product) };
    }
    // SAFETY: the caller's contract.
    unsafe { packed(&product) }
}

/// One product `C = alpha A B + beta C` as [`gemm`] takes it: the sizes, the scalars, and each
/// matrix as a pointer to its first element with its row and column strides.
#[derive(Clone, Copy)]
pub(super) struct Product<T> {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub alpha: T,
    pub beta: T,
    pub a: *const T,
    pub rsa: isize,
    pub csa: isize,
    pub b: *const T,
    pub rsb: isize,
    pub csb: isize,
    pub c: *mut T,
    pub rsc: isize,
    pub csc: isize,
}

/// `C[i, j] = alpha tile[i, j] + beta C[i, j]` on the `mr x nr` corner of a tile (`C` not read
/// when `beta` is 0).
///
/// # Safety
/// The `mr x nr` block of `C` at `c` is inside its allocation and not shared.
#[allow(clippy::too_many_arguments)]
unsafe fn write_tile<T: Float>(
    mr: usize,
    nr: usize,
    width: usize,
    tile: &[T; 96],
    alpha: T,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    for i in 0..mr {
        let row = &tile[i * width..i * width + nr];
        for (j, &t) in row.iter().enumerate() {
            // SAFETY: forwarded from the caller's contract.
            write_back(unsafe { &mut *c.offset(i as isize * rsc + j as isize * csc) }, t, alpha, beta);
        }
    }
}

/// `o = alpha t + beta o`, one element of `C` written back from its sum `t`, as the
/// micro-kernel's direct write does it lane by lane (`o` is not read when `beta` is 0, and
/// `alpha = beta = 1` is one addition): the edge tiles and the small path call this, so every
/// path gives an element the same bits.
#[inline(always)]
fn write_back<T: Float>(o: &mut T, t: T, alpha: T, beta: T) {
    *o = if beta == T::zero() {
        alpha * t
    } else if beta == T::one() && alpha == T::one() {
        t + *o
    } else {
        alpha * t + beta * *o
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strided matrix in a buffer with `pad` unused elements around it.
    struct Strided<T> {
        buf: Vec<T>,
        offset: usize,
        rs: isize,
        cs: isize,
    }

    /// `rows x cols`, row-major or column-major, with a gap between rows (columns) and an
    /// offset, filled with small integers (so sums are exact in any order).
    fn strided<T: Kernel>(rows: usize, cols: usize, col_major: bool, gap: usize, seed: usize) -> Strided<T> {
        let (outer, inner) = if col_major { (cols, rows) } else { (rows, cols) };
        let lead = inner + gap;
        let offset = 3;
        let mut buf = vec![T::lit(-7.0); offset + outer * lead + 5];
        for o in 0..outer {
            for i in 0..inner {
                buf[offset + o * lead + i] = T::lit(((o * 31 + i * 17 + seed) % 13) as f64 - 6.0);
            }
        }
        let (rs, cs) = if col_major { (1, lead as isize) } else { (lead as isize, 1) };
        Strided { buf, offset, rs, cs }
    }

    fn at<T: Copy>(m: &Strided<T>, i: usize, j: usize) -> T {
        m.buf[(m.offset as isize + i as isize * m.rs + j as isize * m.cs) as usize]
    }

    fn check<T: Kernel + std::fmt::Debug>(m: usize, k: usize, n: usize, layouts: [bool; 3], alpha: f64, beta: f64) {
        let a = strided::<T>(m, k, layouts[0], 2, 1);
        let b = strided::<T>(k, n, layouts[1], 1, 2);
        let mut c = strided::<T>(m, n, layouts[2], 3, 3);
        let before = c.buf.clone();
        let (alpha, beta) = (T::lit(alpha), T::lit(beta));
        // SAFETY: the matrices lie inside their buffers and C is its own buffer.
        unsafe {
            gemm::<T>(
                m,
                k,
                n,
                alpha,
                a.buf.as_ptr().add(a.offset),
                a.rs,
                a.cs,
                b.buf.as_ptr().add(b.offset),
                b.rs,
                b.cs,
                beta,
                c.buf.as_mut_ptr().add(c.offset),
                c.rs,
                c.cs,
            )
        };
        let mut expected = before.clone();
        for i in 0..m {
            for j in 0..n {
                let dot = (0..k).fold(T::zero(), |s, p| s + at(&a, i, p) * at(&b, p, j));
                let slot = (c.offset as isize + i as isize * c.rs + j as isize * c.cs) as usize;
                expected[slot] = if beta == T::zero() { alpha * dot } else { alpha * dot + beta * before[slot] };
            }
        }
        assert_eq!(c.buf, expected, "{m}x{k}x{n}, layouts {layouts:?}, alpha {alpha:?}, beta {beta:?}");
    }

    #[test]
    fn matches_a_naive_product_on_odd_sizes_strides_and_offsets() {
        if !available() {
            return;
        }
        let sizes = [(1, 1, 1), (5, 3, 17), (6, 16, 16), (7, 300, 33), (13, 1, 9), (150, 270, 20), (37, 513, 45)];
        for &(m, k, n) in &sizes {
            for layouts in [[false; 3], [true, false, false], [false, true, false], [true, true, true]] {
                for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (2.0, -0.5), (0.5, 0.0)] {
                    check::<f32>(m, k, n, layouts, alpha, beta);
                    check::<f64>(m, k, n, layouts, alpha, beta);
                }
            }
        }
        // Several column blocks (NC) and k-blocks (KC) for f32, shared between threads by
        // slivers (few rows).
        check::<f32>(7, 600, 4100, [false; 3], 1.0, 1.0);
        // On two threads or more, several k-blocks per set of tasks, in several sets (four and
        // two of the six for f32, two per set for f64).
        check::<f32>(7, 1300, 1024, [false; 3], 1.0, 1.0);
        check::<f64>(7, 1300, 1024, [true, false, false], 2.0, -0.5);
        // Shared between threads by rows, over two k-blocks, with edge tiles.
        check::<f32>(301, 300, 41, [false, true, false], 2.0, -0.5);
        check::<f64>(301, 300, 41, [true, false, true], 1.0, 1.0);
    }

    #[test]
    fn beta_zero_never_reads_c() {
        if !available() {
            return;
        }
        let (m, k, n) = (8, 5, 20);
        let a = vec![1.0f32; m * k];
        let b = vec![1.0f32; k * n];
        let mut c = vec![f32::NAN; m * n];
        // SAFETY: contiguous matrices in their own buffers.
        unsafe {
            gemm::<f32>(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        };
        assert!(c.iter().all(|&x| x == 5.0));
    }

    /// The small path and the packed one give the same bits on values whose sums round (so the
    /// order of the terms and the fused multiply-adds matter), for every layout and
    /// `alpha`/`beta` form: which one runs never shows.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_small_path_equals_the_packed_one_bit_for_bit() {
        if !available() {
            return;
        }
        /// `C` after the product on each path, as bits.
        fn both<T: Kernel + Into<f64>>(p: Product<T>, a: &[T], b: &[T], c: &[T]) -> [Vec<u64>; 2] {
            let (mut small_c, mut packed_c) = (c.to_vec(), c.to_vec());
            let bits = |v: &[T]| v.iter().map(|&x| x.into().to_bits()).collect::<Vec<_>>();
            let with = |c: &mut Vec<T>| Product { a: a.as_ptr(), b: b.as_ptr(), c: c.as_mut_ptr(), ..p };
            // SAFETY: every matrix is a dense buffer of its size with these strides.
            unsafe {
                small::gemm(&with(&mut small_c));
                packed(&with(&mut packed_c));
            }
            [bits(&small_c), bits(&packed_c)]
        }
        let mut rng = crate::Rng::seed(11);
        for &(m, k, n) in &[
            (1, 1, 1),
            (32, 16, 16),
            (32, 2, 16),
            (16, 32, 1),
            (7, 45, 33),
            (48, 48, 48),
            (2, 256, 9),
            (33, 7, 3),
            (20, 5, 7),
            // After the groups of six rows, every count of rows left (1 to 5) computed together.
            (11, 9, 20),
            (4, 3, 17),
        ] {
            assert!(small::fits::<f32>(m, k, n) && small::fits::<f64>(m, k, n), "{m}x{k}x{n}");
            for layouts in [[false; 3], [true, false, false], [false, true, false], [true, true, true]] {
                for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (0.5, -1.5)] {
                    let mut values =
                        |len: usize| crate::Tensor::randn(&[len], crate::DType::F64, &mut rng).to_vec::<f64>();
                    let (a, b, c) = (values(m * k), values(k * n), values(m * n));
                    let (rsa, csa) = if layouts[0] { (1, m as isize) } else { (k as isize, 1) };
                    let (rsb, csb) = if layouts[1] { (1, k as isize) } else { (n as isize, 1) };
                    let (rsc, csc) = if layouts[2] { (1, m as isize) } else { (n as isize, 1) };
                    let (a_ptr, b_ptr, c_ptr) = (std::ptr::null(), std::ptr::null(), std::ptr::null_mut());
                    let p =
                        Product { m, k, n, alpha, beta, a: a_ptr, rsa, csa, b: b_ptr, rsb, csb, c: c_ptr, rsc, csc };
                    let [small_c, packed_c] = both(p, &a, &b, &c);
                    assert_eq!(small_c, packed_c, "f64 {m}x{k}x{n} {layouts:?} {alpha} {beta}");
                    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                    let p = Product {
                        alpha: alpha as f32,
                        beta: beta as f32,
                        a: std::ptr::null(),
                        b: std::ptr::null(),
                        c: std::ptr::null_mut(),
                        m,
                        k,
                        n,
                        rsa,
                        csa,
                        rsb,
                        csb,
                        rsc,
                        csc,
                    };
                    let [small_c, packed_c] = both(p, &f(&a), &f(&b), &f(&c));
                    assert_eq!(small_c, packed_c, "f32 {m}x{k}x{n} {layouts:?} {alpha} {beta}");
                }
            }
        }
    }
}
