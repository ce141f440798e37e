//! Optimizer steps at memory speed (W4 in `../shared/WORKLOADS.md`), next to a triad on the
//! same number of elements in the same run:
//! - W4a: Adam on one 10M-parameter f32 tensor; W4b: Adam on 100 tensors of 100k;
//! - SGD with momentum, RMSprop and Adagrad on 10M parameters.
//!
//! Bytes per parameter and step: Adam reads p, g, m, v and writes p, m, v (28 B in f32); SGD with
//! momentum reads p, g, b and writes p, b (20 B); RMSprop and Adagrad read p, g, s and write p,
//! s (20 B); the triad reads two arrays and writes one (12 B).
//!
//! `cargo bench --bench optim`; PyTorch: `python3 benches/pytorch/optim.py`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;

use backprop::autograd::{Gradients, Param};
use backprop::optim::{Adagrad, Adam, Algorithm, Optim, Optimizer, RmsProp, Sgd};
use backprop::tensor::{DType, Rng, Tensor};

const N: usize = 10_000_000;

/// Parameters of `sizes` and a fixed gradient for each.
fn setup(sizes: &[usize]) -> (Vec<Param>, Gradients) {
    let mut rng = Rng::seed(4);
    let params: Vec<Param> = sizes.iter().map(|&n| Param::new(Tensor::randn(&[n], DType::F32, &mut rng))).collect();
    let mut grads = Gradients::new();
    for p in &params {
        grads.set_param(p.id(), Tensor::randn(&p.shape(), DType::F32, &mut rng).mul_scalar(1e-3));
    }
    (params, grads)
}

fn bench_step<A: Algorithm>(c: &mut Criterion, name: &str, sizes: &[usize], bytes_per_param: u64, config: A) {
    let (params, grads) = setup(sizes);
    let mut opt = Optim::new(params, config).expect("valid config");
    let mut g = c.benchmark_group("optim");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes_per_param * sizes.iter().sum::<usize>() as u64));
    g.bench_function(name, |bench| bench.iter(|| opt.step(black_box(&grads)).expect("matching gradients")));
    g.finish();
}

fn triad(c: &mut Criterion) {
    let (mut a, b, cc) = (vec![0.0f32; N], vec![1.0f32; N], vec![2.0f32; N]);
    let mut g = c.benchmark_group("optim");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(12 * N as u64));
    g.bench_function("triad_baseline_10m", |bench| {
        bench.iter(|| {
            a.par_chunks_mut(1 << 16).zip(b.par_chunks(1 << 16)).zip(cc.par_chunks(1 << 16)).for_each(|((a, b), c)| {
                for i in 0..a.len() {
                    a[i] = b[i] + 3.0 * c[i];
                }
            });
            black_box(&a);
        })
    });
    g.finish();
}

fn optimizers(c: &mut Criterion) {
    triad(c);
    bench_step(c, "w4a_adam_10m", &[N], 28, Adam::default());
    bench_step(c, "w4b_adam_100x100k", &[100_000; 100], 28, Adam::default());
    bench_step(c, "sgd_momentum_10m", &[N], 20, Sgd { lr: 0.01, momentum: 0.9, ..Sgd::default() });
    bench_step(c, "rmsprop_10m", &[N], 20, RmsProp::default());
    bench_step(c, "adagrad_10m", &[N], 20, Adagrad::default());
}

criterion_group!(benches, optimizers);
criterion_main!(benches);
