//! Whole training steps with `nn` and `optim` (`../shared/WORKLOADS.md`): one step is
//! forward, loss, backward and the optimizer's update, on a fixed random batch.
//! - W3: MLP 784-512-256-10, ReLU, cross-entropy, batch 128, Adam(lr = 1e-3);
//! - W5: conv 3x3 (1 -> 32) - ReLU - maxpool 2 - conv 3x3 (32 -> 64) - ReLU - maxpool 2 -
//!   flatten - linear 1600 -> 10, cross-entropy, batch 64, SGD(lr = 0.01, momentum = 0.9).
//!
//! Each also runs compiled (`_compiled`: `autograd::compile(..).with_optimizer(..)`, the
//! optimizer's update inside the replayed step).
//!
//! `cargo bench --bench training`; PyTorch: `python3 benches/pytorch/training.py`.

use criterion::{criterion_group, criterion_main, Criterion};

use backprop::nn::{Conv2d, Flatten, MaxPool2d};
use backprop::prelude::*;

/// A random batch of `shape` images and labels in 0..10.
fn batch(shape: &[usize], rng: &mut Rng) -> (Tensor, Tensor) {
    (Tensor::randn(shape, DType::F32, rng), Tensor::randint(&[shape[0]], 0, 10, rng))
}

/// The eager step under `name`, and the same step through `autograd::compile` (traced once,
/// replayed) under `name` + `_compiled`, from the same initial weights.
fn bench_steps<A: Algorithm + Clone>(
    c: &mut Criterion,
    name: &str,
    net: Sequential,
    config: A,
    data: (Tensor, Tensor),
) {
    let mut opt = Optim::new(net.parameters(), config.clone()).expect("valid hyperparameters");
    let tape = Tape::new();
    let (x, y) = data;
    let start: Vec<Tensor> = net.parameters().iter().map(|p| p.value()).collect();
    c.bench_function(name, |b| {
        b.iter(|| {
            tape.clear();
            let logits = net.forward(&tape.constant(x.clone())).expect("shapes fit");
            let loss = cross_entropy(&logits, &y, Reduction::Mean).expect("labels fit");
            opt.step(&loss.backward().expect("scalar loss")).expect("gradients fit");
        })
    });
    for (p, v) in net.parameters().iter().zip(start) {
        p.set(v);
    }
    let mut opt = Optim::new(net.parameters(), config).expect("valid hyperparameters");
    let mut step =
        compile(|xs: &[Var]| cross_entropy(&net.forward(&xs[0])?, &xs[1], Reduction::Mean)).with_optimizer(&mut opt);
    let batch = [x.clone(), y.clone()];
    c.bench_function(&format!("{name}_compiled"), |b| {
        b.iter(|| {
            step.run(&batch).expect("shapes fit");
        })
    });
}

fn w3(c: &mut Criterion) {
    let mut rng = Rng::seed(3);
    let net = Sequential::new()
        .add(Flatten::batch())
        .add(Linear::new(784, 512, &mut rng))
        .add(Relu)
        .add(Linear::new(512, 256, &mut rng))
        .add(Relu)
        .add(Linear::new(256, 10, &mut rng));
    let data = batch(&[128, 784], &mut rng);
    bench_steps(c, "w3_mlp_adam_step", net, Adam { lr: 1e-3, ..Adam::default() }, data);
}

fn w5(c: &mut Criterion) {
    let mut rng = Rng::seed(5);
    let net = Sequential::new()
        .add(Conv2d::new(1, 32, [3, 3], &mut rng))
        .add(Relu)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(32, 64, [3, 3], &mut rng))
        .add(Relu)
        .add(MaxPool2d::new(2))
        .add(Flatten::batch())
        .add(Linear::new(1600, 10, &mut rng));
    let data = batch(&[64, 1, 28, 28], &mut rng);
    bench_steps(c, "w5_cnn_momentum_step", net, Sgd { lr: 0.01, momentum: 0.9, ..Sgd::default() }, data);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = w3, w5
}
criterion_main!(benches);
