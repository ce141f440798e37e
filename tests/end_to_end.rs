//! Across the crates: an `nn` model trained by every `optim` optimizer learns, and a training
//! run checkpointed halfway and resumed in fresh objects ends where the uninterrupted run does.

use backprop::optim::{Adadelta, Adamax, Lion, NAdam, RAdam};
use backprop::prelude::*;

/// Four Gaussian blobs in the corners of a square, labelled like XOR: not linearly separable.
fn xor_blobs(seed: u64) -> (Tensor, Tensor) {
    let mut rng = Rng::seed(seed);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for i in 0..64 {
        let (cx, cy) = [(1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)][i % 4];
        xs.push((cx + 0.2 * rng.next_normal()) as f32);
        xs.push((cy + 0.2 * rng.next_normal()) as f32);
        ys.push(if i % 4 < 2 { 0i64 } else { 1 });
    }
    (Tensor::from_vec(xs, &[64, 2]), Tensor::from_vec(ys, &[64]))
}

fn model() -> Sequential {
    let mut rng = Rng::seed(11);
    Sequential::new().add(Linear::new(2, 16, &mut rng)).add(Tanh).add(Linear::new(16, 2, &mut rng))
}

/// Trains `steps` full-batch steps; returns the last loss and the accuracy.
fn fit<A: Algorithm>(config: A, steps: usize) -> (f64, f64) {
    let (x, y) = xor_blobs(5);
    let net = model();
    let mut opt = Optim::new(net.parameters(), config).unwrap();
    let tape = Tape::new();
    let mut last = f64::NAN;
    for _ in 0..steps {
        tape.clear();
        let loss = cross_entropy(&net.forward(&tape.constant(x.clone())).unwrap(), &y, Reduction::Mean).unwrap();
        last = loss.item();
        opt.step(&loss.backward().unwrap()).unwrap();
    }
    tape.clear();
    (last, accuracy(&net.forward(&tape.constant(x)).unwrap(), &y).unwrap())
}

#[test]
fn every_optimizer_trains_an_nn_model() {
    let results = [
        ("SGD", fit(Sgd { lr: 0.5, ..Sgd::default() }, 300)),
        ("Momentum", fit(Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() }, 300)),
        ("Nesterov", fit(Sgd { lr: 0.1, momentum: 0.9, nesterov: true, ..Sgd::default() }, 300)),
        ("Adagrad", fit(Adagrad { lr: 0.1, ..Adagrad::default() }, 300)),
        ("RMSprop", fit(RmsProp { lr: 0.01, ..RmsProp::default() }, 300)),
        ("Adam", fit(Adam { lr: 0.02, ..Adam::default() }, 300)),
        ("AdamW", fit(Adam { lr: 0.02, ..Adam::adamw() }, 300)),
        ("Adadelta", fit(Adadelta::default(), 300)),
        ("Adamax", fit(Adamax { lr: 0.02, ..Adamax::default() }, 300)),
        ("NAdam", fit(NAdam { lr: 0.02, ..NAdam::default() }, 300)),
        ("RAdam", fit(RAdam { lr: 0.02, ..RAdam::default() }, 300)),
        ("Lion", fit(Lion { lr: 0.002, ..Lion::default() }, 300)),
    ];
    for (name, (loss, acc)) in results {
        assert!(loss < 0.1 && acc == 1.0, "{name}: loss {loss}, accuracy {acc}");
    }
}

#[test]
fn a_checkpointed_run_resumes_exactly() {
    let (x, y) = xor_blobs(6);
    let config = Adam { lr: 0.01, amsgrad: true, ..Adam::adamw() };
    let steps = |net: &Sequential, opt: &mut Optim<Adam>, n: usize| {
        let tape = Tape::new();
        for _ in 0..n {
            tape.clear();
            let loss = cross_entropy(&net.forward(&tape.constant(x.clone())).unwrap(), &y, Reduction::Mean).unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        }
    };
    let whole = model();
    let mut opt = Optim::new(whole.parameters(), config.clone()).unwrap();
    steps(&whole, &mut opt, 20);

    let first = model();
    let mut opt1 = Optim::new(first.parameters(), config.clone()).unwrap();
    steps(&first, &mut opt1, 10);
    let saved_state = opt1.to_bytes().unwrap();
    let saved_values: Vec<Tensor> = first.parameters().iter().map(|p| p.value()).collect();

    let second = model();
    for (p, v) in second.parameters().iter().zip(&saved_values) {
        p.set(v.clone());
    }
    let mut opt2 = Optim::new(second.parameters(), config).unwrap();
    opt2.load_bytes(&saved_state).unwrap();
    steps(&second, &mut opt2, 10);

    let values = |m: &Sequential| m.parameters().iter().map(|p| p.value().to_vec::<f32>()).collect::<Vec<_>>();
    assert_eq!(values(&second), values(&whole));
}
