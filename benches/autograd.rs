//! Autograd overhead benchmarks (see `../shared/WORKLOADS.md`):
//! - W2: `((a*b + c).tanh()).sum()` forward + backward on `[4]` tensors, grads read
//!   (`_compiled`: through `autograd::compile(..).with_input_grads()`, replayed with `run_into`);
//! - W6: a 2-16-16-1 tanh MLP, batch 32, MSE loss, plain SGD (lr 0.1), one step per iteration;
//!   `w6_replay`: the same step recorded once (forward and backward) and replayed with
//!   `Function::run`, the SGD update applied to the returned gradients; `1000_optim_sgd_steps`:
//!   the eager step with `optim::Sgd` instead of the hand-written update;
//!   `1000_compiled_sgd_steps`: the step through `autograd::compile(..).with_grads()`, replayed
//!   with `run_into` (one `Step` reused, as a training loop does), the hand-written update
//!   after it; `1000_compiled_optim_sgd_steps`: compiled `with_optimizer` (`Optim<Sgd>`'s
//!   update inside the replay).
//!
//! `cargo bench --bench autograd`; the PyTorch reference is `benches/pytorch/autograd.py`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use backprop::autograd::{compile, grad, Function, Param, Step, Tape, Var};
use backprop::nn::loss::{mse_loss, Reduction};
use backprop::nn::{Linear, Module, Sequential, Tanh};
use backprop::optim::{Optim, Optimizer, Sgd, WithOptimizer};
use backprop::tensor::{DType, Rng, Tensor};

fn w2(c: &mut Criterion) {
    let mut rng = Rng::seed(2);
    let (a, b, cc) = (
        Tensor::randn(&[4], DType::F32, &mut rng),
        Tensor::randn(&[4], DType::F32, &mut rng),
        Tensor::randn(&[4], DType::F32, &mut rng),
    );
    let tape = Tape::new();
    c.bench_function("w2_tiny_graph_fwd_bwd", |bench| {
        bench.iter(|| {
            tape.clear();
            let (va, vb, vc) = (tape.var(a.clone()), tape.var(b.clone()), tape.var(cc.clone()));
            let y = (&va * &vb + &vc).tanh().sum(&[0], false);
            let g = y.backward().expect("scalar output");
            black_box((g.get(&va).cloned(), g.get(&vb).cloned(), g.get(&vc).cloned()))
        })
    });
    let mut compiled = compile(|xs: &[Var]| Ok((&xs[0] * &xs[1] + &xs[2]).tanh().sum(&[0], false))).with_input_grads();
    let inputs = [a.clone(), b.clone(), cc.clone()];
    let mut step = Step::default();
    c.bench_function("w2_tiny_graph_fwd_bwd_compiled", |bench| {
        bench.iter(|| {
            compiled.run_into(&inputs, &mut step).expect("shapes fit");
            black_box(&step.input_grads);
        })
    });
}

struct Mlp {
    layers: Vec<(Param, Param)>,
}

impl Mlp {
    fn new(sizes: &[usize], rng: &mut Rng) -> Mlp {
        let layers = sizes
            .windows(2)
            .map(|w| {
                let bound = 1.0 / (w[0] as f64).sqrt();
                (
                    Param::new(Tensor::uniform(&[w[0], w[1]], -bound, bound, DType::F32, rng)),
                    Param::new(Tensor::uniform(&[w[1]], -bound, bound, DType::F32, rng)),
                )
            })
            .collect();
        Mlp { layers }
    }

    fn forward(&self, tape: &Tape, x: &Var) -> Var {
        let last = self.layers.len() - 1;
        let mut h = x.clone();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(&tape.param(w)) + tape.param(b);
            if i < last {
                h = h.tanh();
            }
        }
        h
    }

    /// One SGD step: zero grads, forward, MSE loss, backward, in-place update.
    fn step(&self, tape: &Tape, x: &Tensor, y: &Tensor, lr: f32) -> f32 {
        tape.clear();
        // The forward Vars are dropped before the update, so the parameters' buffers are no
        // longer shared and update in place.
        let (loss, grads) = {
            let pred = self.forward(tape, &tape.constant(x.clone()));
            let loss = (pred - tape.constant(y.clone())).square().mean_all();
            (loss.value().to_scalar::<f32>(), loss.backward().expect("scalar loss"))
        };
        for (w, b) in &self.layers {
            for p in [w, b] {
                let g = grads.param(p).expect("every parameter is used").contiguous();
                let g = g.as_slice::<f32>().expect("f32 gradient");
                p.update(|t| {
                    for (v, &d) in t.try_as_mut_slice::<f32>().expect("f32 parameter").iter_mut().zip(g) {
                        *v -= lr * d;
                    }
                });
            }
        }
        loss
    }
}

impl Mlp {
    /// The training step as a program: placeholders for the batch, outputs the loss and one
    /// gradient per parameter.
    fn record(&self, x: &Tensor, y: &Tensor) -> Function {
        let tape = Tape::new();
        let (xs, ys) = (tape.input(x.clone()), tape.input(y.clone()));
        let last = self.layers.len() - 1;
        let mut h = xs.clone();
        let mut params = Vec::new();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            let (wv, bv) = (tape.param(w), tape.param(b));
            h = h.matmul(&wv) + &bv;
            if i < last {
                h = h.tanh();
            }
            params.extend([wv, bv]);
        }
        let loss = (h - &ys).square().mean_all();
        let grads = grad(std::slice::from_ref(&loss), &params, true).expect("scalar loss");
        let outputs: Vec<Var> = std::iter::once(loss).chain(grads).collect();
        tape.function(&[xs, ys], &outputs).expect("x and y are the placeholders")
    }

    fn replayed_step(&self, step: &Function, x: &Tensor, y: &Tensor, lr: f32) -> f32 {
        let out = step.run(&[x.clone(), y.clone()]).expect("recorded shapes");
        let params = self.layers.iter().flat_map(|(w, b)| [w, b]);
        for (p, g) in params.zip(&out[1..]) {
            let g = g.contiguous();
            let g = g.as_slice::<f32>().expect("f32 gradient");
            p.update(|t| {
                for (v, &d) in t.try_as_mut_slice::<f32>().expect("f32 parameter").iter_mut().zip(g) {
                    *v -= lr * d;
                }
            });
        }
        out[0].to_scalar::<f32>()
    }
}

fn w6(c: &mut Criterion) {
    let mut rng = Rng::seed(6);
    let mlp = Mlp::new(&[2, 16, 16, 1], &mut rng);
    let x = Tensor::randn(&[32, 2], DType::F32, &mut rng);
    let y = Tensor::randn(&[32, 1], DType::F32, &mut rng);
    let tape = Tape::new();
    let mut g = c.benchmark_group("w6_tiny_mlp");
    g.sample_size(20);
    g.bench_function("1000_sgd_steps", |bench| {
        bench.iter(|| {
            for _ in 0..1000 {
                black_box(mlp.step(&tape, &x, &y, 0.1));
            }
        })
    });
    let mut opt =
        Optim::new(mlp.layers.iter().flat_map(|(w, b)| [w.clone(), b.clone()]), Sgd { lr: 0.1, ..Sgd::default() })
            .expect("valid SGD");
    g.bench_function("1000_optim_sgd_steps", |bench| {
        bench.iter(|| {
            for _ in 0..1000 {
                tape.clear();
                let grads = {
                    let pred = mlp.forward(&tape, &tape.constant(x.clone()));
                    let loss = (pred - tape.constant(y.clone())).square().mean_all();
                    black_box(loss.value().to_scalar::<f32>());
                    loss.backward().expect("scalar loss")
                };
                opt.step(&grads).expect("matching gradients");
            }
        })
    });
    // The same model built from nn's layers (torch's init, so other weights: the work per step
    // is the same) and trained with Optim<Sgd> and nn's mse_loss.
    let mut init = Rng::seed(6);
    let net = Sequential::new()
        .add(Linear::new(2, 16, &mut init))
        .add(Tanh)
        .add(Linear::new(16, 16, &mut init))
        .add(Tanh)
        .add(Linear::new(16, 1, &mut init));
    let mut nn_opt = Optim::new(net.parameters(), Sgd { lr: 0.1, ..Sgd::default() }).expect("valid SGD");
    g.bench_function("1000_nn_linear_optim_sgd_steps", |bench| {
        bench.iter(|| {
            for _ in 0..1000 {
                tape.clear();
                let pred = net.forward(&tape.constant(x.clone())).expect("shapes fit");
                let loss = mse_loss(&pred, &tape.constant(y.clone()), Reduction::Mean).expect("shapes fit");
                black_box(loss.value().to_scalar::<f32>());
                nn_opt.step(&loss.backward().expect("scalar loss")).expect("matching gradients");
            }
        })
    });
    let step = mlp.record(&x, &y);
    g.bench_function("1000_replayed_sgd_steps", |bench| {
        bench.iter(|| {
            for _ in 0..1000 {
                black_box(mlp.replayed_step(&step, &x, &y, 0.1));
            }
        })
    });
    let mut compiled = compile(|xs: &[Var]| {
        let pred = mlp.forward(xs[0].tape(), &xs[0]);
        Ok((pred - &xs[1]).square().mean_all())
    })
    .with_grads();
    let params: Vec<Param> = mlp.layers.iter().flat_map(|(w, b)| [w.clone(), b.clone()]).collect();
    let batch = [x.clone(), y.clone()];
    let mut out = Step::default();
    g.bench_function("1000_compiled_sgd_steps", |bench| {
        bench.iter(|| {
            for _ in 0..1000 {
                compiled.run_into(&batch, &mut out).expect("shapes fit");
                for p in &params {
                    let g = out.grads.param(p).expect("every parameter is used").contiguous();
                    let g = g.as_slice::<f32>().expect("f32 gradient");
                    p.update(|t| {
                        for (v, &d) in t.try_as_mut_slice::<f32>().expect("f32 parameter").iter_mut().zip(g) {
                            *v -= 0.1 * d;
                        }
                    });
                }
                black_box(out.outputs[0].to_scalar::<f32>());
            }
        })
    });
    // Compiled with its optimizer: the Optim<Sgd> update of each parameter runs inside the
    // replay (against `1000_optim_sgd_steps`, the same update eagerly).
    let mut opt = Optim::new(params.clone(), Sgd { lr: 0.1, ..Sgd::default() }).expect("valid SGD");
    let mut train_step = compile(|xs: &[Var]| {
        let pred = mlp.forward(xs[0].tape(), &xs[0]);
        Ok((pred - &xs[1]).square().mean_all())
    })
    .with_optimizer(&mut opt);
    g.bench_function("1000_compiled_optim_sgd_steps", |bench| {
        bench.iter(|| {
            for _ in 0..1000 {
                let out = train_step.run(&batch).expect("shapes fit");
                black_box(out.outputs[0].to_scalar::<f32>());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, w2, w6);
criterion_main!(benches);
