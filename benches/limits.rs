//! The machine's limits, measured by the smallest programs that reach them, so every other
//! number can be read as a fraction of what the hardware does (`../shared/WORKLOADS.md`, L1):
//! - peak f32 FMA throughput: independent vector FMA chains on registers (AVX-512 or AVX2+FMA,
//!   picked at run time; a scalar `mul_add` loop elsewhere), on 1 thread and on every rayon
//!   thread;
//! - memory bandwidth: a STREAM-like triad `a[i] = b[i] + 3 c[i]` over 100M-element f32 arrays on
//!   every rayon thread (12 bytes moved per element).
//!
//! `cargo bench --bench limits` prints one JSON line; `benches/compare.py` reads it.

use std::time::Instant;

use rayon::prelude::*;

/// FMA iterations per chain per call: long enough that the loop dominates.
const FMA_ITERS: usize = 20_000_000;

/// Independent accumulators: enough to cover an FMA's latency on two FMA ports.
const CHAINS: usize = 12;

/// Floating-point operations done by one call of the FMA loop on one thread.
fn fma_flops(lanes: usize) -> f64 {
    (FMA_ITERS * CHAINS * lanes * 2) as f64
}

#[cfg(target_arch = "x86_64")]
mod fma {
    use std::arch::x86_64::*;

    use super::{CHAINS, FMA_ITERS};

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(seed: f32) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(seed * 1e-7));
        let mut acc = [_mm512_set1_ps(seed); CHAINS];
        for _ in 0..FMA_ITERS {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        acc.iter().map(|&x| _mm512_reduce_add_ps(x)).sum()
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(seed: f32) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(seed * 1e-7));
        let mut acc = [_mm256_set1_ps(seed); CHAINS];
        for _ in 0..FMA_ITERS {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut out = [0f32; 8];
        let mut total = 0.0;
        for x in acc {
            _mm256_storeu_ps(out.as_mut_ptr(), x);
            total += out.iter().sum::<f32>();
        }
        total
    }
}

/// One call of the widest FMA loop the CPU has; returns (checksum, f32 lanes per vector).
fn fma_loop(seed: f32) -> (f32, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is present, checked just above.
            return (unsafe { fma::avx512(seed) }, 16);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA are present, checked just above.
            return (unsafe { fma::avx2(seed) }, 8);
        }
    }
    let mut acc = [seed; CHAINS];
    for _ in 0..FMA_ITERS {
        for x in acc.iter_mut() {
            *x = x.mul_add(0.999_999, seed * 1e-7);
        }
    }
    (acc.iter().sum(), 1)
}

/// GFLOP/s of the FMA loop run once on each of `threads` threads at the same time (best of 3).
fn fma_gflops(threads: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let lanes: Vec<(f32, usize)> =
            pool.install(|| (0..threads).into_par_iter().map(|i| fma_loop(i as f32)).collect());
        let secs = start.elapsed().as_secs_f64();
        assert!(lanes.iter().all(|(sum, _)| sum.is_finite()), "the FMA loop overflowed");
        best = best.max(fma_flops(lanes[0].1) * threads as f64 / secs / 1e9);
    }
    best
}

/// GB/s of the triad on 100M-element f32 arrays, on every rayon thread (best of 5).
fn triad_gbs() -> f64 {
    const N: usize = 100_000_000;
    let b = vec![1.0f32; N];
    let c = vec![2.0f32; N];
    let mut a = vec![0.0f32; N];
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        a.par_chunks_mut(1 << 16).zip(b.par_chunks(1 << 16)).zip(c.par_chunks(1 << 16)).for_each(|((a, b), c)| {
            for ((x, &y), &z) in a.iter_mut().zip(b).zip(c) {
                *x = y + 3.0 * z;
            }
        });
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(&a);
        best = best.max(12.0 * N as f64 / secs / 1e9);
    }
    best
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument, as criterion takes, is accepted and ignored.
    let threads = rayon::current_num_threads();
    let (one, all) = (fma_gflops(1), fma_gflops(threads));
    let triad = triad_gbs();
    println!(
        "{{\"threads\": {threads}, \"fma_gflops_1t\": {one:.1}, \"fma_gflops\": {all:.1}, \"triad_gbs\": {triad:.1}}}"
    );
}
