//! Tensor kernel benchmarks: W1 (GEMM), memory-bound elementwise ops and reductions against a
//! plain Rust triad, and W5's conv2d shapes (see `../shared/WORKLOADS.md`).
//!
//! `cargo bench --bench tensor_ops` runs everything on the default 2 threads. For W1's
//! single-thread figure run `RAYON_NUM_THREADS=1 cargo bench --bench tensor_ops -- gemm/1024`
//! (GEMM threads on rayon's pool, which reads its thread count once per process).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;

use backprop::tensor::{Conv2dParams, DType, Rng, Tensor};

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(20);
    for n in [256usize, 512, 1024] {
        let mut rng = Rng::seed(n as u64);
        let a = Tensor::randn(&[n, n], DType::F32, &mut rng);
        let b = Tensor::randn(&[n, n], DType::F32, &mut rng);
        // Elements = flops, so criterion's "elem/s" reads as FLOP/s.
        g.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| bench.iter(|| a.matmul(&b)));
        let bt = b.t();
        g.bench_with_input(BenchmarkId::new("b_transposed", n), &n, |bench, _| bench.iter(|| a.matmul(&bt)));
    }
    g.finish();
}

const N: usize = 10_000_000;

fn bandwidth(c: &mut Criterion) {
    let mut g = c.benchmark_group("bandwidth_10M_f32");
    g.sample_size(20);
    let mut rng = Rng::seed(1);
    let x = Tensor::randn(&[N], DType::F32, &mut rng);
    let y = Tensor::randn(&[N], DType::F32, &mut rng);

    // Baseline: a[i] = b[i] + s * c[i] on rayon, into a preallocated buffer.
    let (bv, cv) = (x.to_vec::<f32>(), y.to_vec::<f32>());
    let mut av = vec![0f32; N];
    g.throughput(Throughput::Bytes(12 * N as u64));
    g.bench_function("triad_baseline", |bench| {
        bench.iter(|| {
            av.par_chunks_mut(1 << 16).zip(bv.par_chunks(1 << 16)).zip(cv.par_chunks(1 << 16)).for_each(
                |((a, b), c)| {
                    for i in 0..a.len() {
                        a[i] = b[i] + 3.0 * c[i];
                    }
                },
            );
            black_box(&av);
        })
    });
    // add reads two arrays and writes one: the triad's traffic.
    g.bench_function("add", |bench| bench.iter(|| black_box(&x + &y)));
    g.throughput(Throughput::Bytes(8 * N as u64));
    g.bench_function("exp", |bench| bench.iter(|| black_box(x.exp())));
    g.throughput(Throughput::Bytes(4 * N as u64));
    g.bench_function("sum", |bench| bench.iter(|| black_box(x.sum_all())));
    g.finish();
}

/// In-cache sizes: each op against the same loop written by hand on plain slices into a
/// preallocated buffer (the kernel's ceiling). The ratio shows what allocation, dispatch and
/// the tensor machinery cost where memory is not the limit.
fn in_cache(c: &mut Criterion) {
    let mut g = c.benchmark_group("in_cache_f32");
    let mut rng = Rng::seed(2);
    for n in [4096usize, 65536] {
        let x = Tensor::randn(&[n], DType::F32, &mut rng);
        let y = Tensor::randn(&[n], DType::F32, &mut rng);
        let (xv, yv) = (x.to_vec::<f32>(), y.to_vec::<f32>());
        let mut out = vec![0f32; n];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("loop_add", n), |bench| {
            bench.iter(|| {
                for ((o, &a), &b) in out.iter_mut().zip(&xv).zip(&yv) {
                    *o = a + b;
                }
                black_box(&out);
            })
        });
        g.bench_function(BenchmarkId::new("add", n), |bench| bench.iter(|| black_box(&x + &y)));
        g.bench_function(BenchmarkId::new("mul", n), |bench| bench.iter(|| black_box(&x * &y)));
        g.bench_function(BenchmarkId::new("relu_backward", n), |bench| bench.iter(|| black_box(x.relu_backward(&y))));
        g.bench_function(BenchmarkId::new("loop_relu", n), |bench| {
            bench.iter(|| {
                for (o, &a) in out.iter_mut().zip(&xv) {
                    *o = if a <= 0.0 { 0.0 } else { a };
                }
                black_box(&out);
            })
        });
        g.bench_function(BenchmarkId::new("relu", n), |bench| bench.iter(|| black_box(x.relu())));
        g.bench_function(BenchmarkId::new("loop_sum", n), |bench| {
            bench.iter(|| {
                black_box(xv.chunks_exact(16).fold([0f32; 16], |mut acc, c| {
                    for i in 0..16 {
                        acc[i] += c[i];
                    }
                    acc
                }))
            })
        });
        g.bench_function(BenchmarkId::new("sum", n), |bench| bench.iter(|| black_box(x.sum_all())));
        g.bench_function(BenchmarkId::new("max", n), |bench| bench.iter(|| black_box(x.max(&[], false))));
    }
    g.finish();
}

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d_w5");
    g.sample_size(20);
    let mut rng = Rng::seed(5);
    let shapes: [(&str, [usize; 4], [usize; 4]); 2] = [
        ("conv1_64x1x28x28_32x3x3", [64, 1, 28, 28], [32, 1, 3, 3]),
        ("conv2_64x32x13x13_64x3x3", [64, 32, 13, 13], [64, 32, 3, 3]),
    ];
    for (name, xs, ws) in shapes {
        let x = Tensor::randn(&xs, DType::F32, &mut rng);
        let w = Tensor::randn(&ws, DType::F32, &mut rng);
        let b = Tensor::randn(&[ws[0]], DType::F32, &mut rng);
        g.bench_function(name, |bench| bench.iter(|| black_box(x.conv2d(&w, Some(&b), Conv2dParams::default()))));
    }
    g.finish();
}

/// W5's two 2x2 max-pools (forward, values and indices).
fn max_pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("max_pool2d_w5");
    g.sample_size(20);
    let mut rng = Rng::seed(6);
    for (name, xs) in [("pool1_64x32x26x26", [64, 32, 26, 26]), ("pool2_64x64x11x11", [64, 64, 11, 11])] {
        let x = Tensor::randn(&xs, DType::F32, &mut rng);
        g.bench_function(name, |bench| bench.iter(|| black_box(x.max_pool2d([2, 2], [2, 2], [0, 0]))));
    }
    g.finish();
}

criterion_group!(benches, gemm, bandwidth, in_cache, conv, max_pool);
criterion_main!(benches);
