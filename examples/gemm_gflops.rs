//! Prints the f32 matmul GFLOP/s of an `n x n` product, best of 10 timings: a quick, noise-robust
//! check of the GEMM on this machine (criterion's medians are in `cargo bench --bench tensor_ops`).
//!
//! `cargo run --release --example gemm_gflops -- N [t]` (`t`: `B` transposed, as `Linear` uses
//! it); `BACKPROP_GEMM=matrixmultiply` runs the fallback GEMM, `BACKPROP_GEMM=own` tensor's own kernels at every size;
//! `RAYON_NUM_THREADS` sets the threads. `benches/scripts/gemm_ab.sh` interleaves the two.

use backprop::prelude::*;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let transposed = std::env::args().nth(2).is_some_and(|s| s == "t");
    let mut rng = Rng::seed(0);
    let a = Tensor::randn(&[n, n], DType::F32, &mut rng);
    let mut b = Tensor::randn(&[n, n], DType::F32, &mut rng);
    if transposed {
        b = b.t().contiguous().t();
    }
    let flops = 2.0 * (n * n * n) as f64;
    let reps = (4e9 / flops).max(2.0) as usize;
    let mut best = f64::MAX;
    for _ in 0..10 {
        let start = std::time::Instant::now();
        for _ in 0..reps {
            std::hint::black_box(a.matmul(&b));
        }
        best = best.min(start.elapsed().as_secs_f64() / reps as f64);
    }
    println!("{:.1}", flops / best / 1e9);
}
