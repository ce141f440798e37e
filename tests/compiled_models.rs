//! The models of the benches, trained 100 steps eagerly and 100 steps compiled with their
//! optimizer (`with_optimizer`), from the same weights on the same batches: the losses and the
//! final parameters agree bit for bit, with elementwise fusion and without. (Sizes are cut down from the benches' so the test stays
//! quick; the ops are the same.)

use backprop::nn::{Conv2d, Flatten, LayerNorm, MaxPool2d};
use backprop::prelude::*;

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_dtype(DType::F64).to_vec::<f64>().into_iter().map(f64::to_bits).collect()
}

/// 100 steps on four batches in turn; the losses and the final parameters, as bits.
fn train<A: Algorithm>(
    make: &dyn Fn() -> Sequential,
    config: A,
    batches: &[[Tensor; 2]],
    mode: Mode,
) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
    let net = make();
    let mut opt = Optim::new(net.parameters(), config).unwrap();
    let loss_of = |x: &Var, y: &Var| cross_entropy(&net.forward(x)?, y, Reduction::Mean);
    let mut losses = Vec::new();
    if mode != Mode::Eager {
        let f = compile(|xs: &[Var]| loss_of(&xs[0], &xs[1]));
        let f = if mode == Mode::Fused { f } else { f.without_fusion() };
        let mut step = f.with_optimizer(&mut opt);
        for k in 0..100 {
            losses.push(bits(&step.run(&batches[k % batches.len()]).unwrap().outputs[0]));
        }
    } else {
        let tape = Tape::new();
        for k in 0..100 {
            tape.clear();
            let [x, y] = &batches[k % batches.len()];
            let loss = loss_of(&tape.input(x.clone()), &tape.input(y.clone())).unwrap();
            losses.push(bits(loss.value()));
            opt.step(&loss.backward().unwrap()).unwrap();
        }
    }
    (losses, net.parameters().iter().map(|p| bits(&p.value())).collect())
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Eager,
    Compiled,
    Fused,
}

fn batches(shape: &[usize], seed: u64) -> Vec<[Tensor; 2]> {
    let mut rng = Rng::seed(seed);
    (0..4)
        .map(|_| [Tensor::randn(shape, DType::F32, &mut rng), Tensor::randint(&[shape[0]], 0, 10, &mut rng)])
        .collect()
}

fn same_both_ways<A: Algorithm>(make: &dyn Fn() -> Sequential, config: A, batches: &[[Tensor; 2]]) {
    let eager = train(make, config.clone(), batches, Mode::Eager);
    for mode in [Mode::Compiled, Mode::Fused] {
        let compiled = train(make, config.clone(), batches, mode);
        assert_eq!(eager.0, compiled.0, "{mode:?}: losses");
        assert_eq!(eager.1, compiled.1, "{mode:?}: parameters");
    }
}

/// W3's MLP (flatten, linear, ReLU, cross-entropy) with Adam.
#[test]
fn the_w3_mlp_trains_the_same_compiled() {
    let make = || {
        let mut rng = Rng::seed(3);
        Sequential::new()
            .add(Flatten::batch())
            .add(Linear::new(64, 32, &mut rng))
            .add(Relu)
            .add(Linear::new(32, 16, &mut rng))
            .add(Relu)
            .add(Linear::new(16, 10, &mut rng))
    };
    same_both_ways(&make, Adam { lr: 1e-3, ..Adam::default() }, &batches(&[16, 8, 8], 30));
}

/// W5's CNN (conv, ReLU, max-pool twice, flatten, linear) with momentum SGD.
#[test]
fn the_w5_cnn_trains_the_same_compiled() {
    let make = || {
        let mut rng = Rng::seed(5);
        Sequential::new()
            .add(Conv2d::new(1, 4, [3, 3], &mut rng))
            .add(Relu)
            .add(MaxPool2d::new(2))
            .add(Conv2d::new(4, 8, [3, 3], &mut rng))
            .add(Relu)
            .add(MaxPool2d::new(2))
            .add(Flatten::batch())
            .add(Linear::new(8 * 2 * 2, 10, &mut rng))
    };
    same_both_ways(&make, Sgd { lr: 0.01, momentum: 0.9, ..Sgd::default() }, &batches(&[8, 1, 14, 14], 50));
}

/// A layer-normalised GELU MLP with AdamW: the normalisation's reductions and the GELU's
/// elementwise chain, forward and backward.
#[test]
fn a_layer_norm_gelu_mlp_trains_the_same_compiled() {
    let make = || {
        let mut rng = Rng::seed(7);
        Sequential::new()
            .add(Linear::new(12, 24, &mut rng))
            .add(LayerNorm::new(&[24], DType::F32))
            .add(Gelu { tanh_approximation: false })
            .add(Linear::new(24, 10, &mut rng))
    };
    same_both_ways(&make, Adam { lr: 1e-2, ..Adam::adamw() }, &batches(&[16, 12], 70));
}
