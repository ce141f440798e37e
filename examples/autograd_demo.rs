//! Autograd on its own: a recorded graph, a gradient-descent fit, the same step recorded once
//! and replayed on new data, and a second derivative.
//!
//! Run with `cargo run --release --example autograd_demo`.

use backprop::autograd::{grad, Param, Tape};
use backprop::tensor::{DType, Rng, Tensor};

fn main() {
    // Fit y = 2x - 0.5 with one weight and one bias by plain gradient descent.
    let mut rng = Rng::seed(1);
    let x = Tensor::linspace(-1.0, 1.0, 32, DType::F32).reshape(&[32, 1]);
    let y = &(&x * 2.0 - 0.5) + &Tensor::normal(&[32, 1], 0.0, 0.05, DType::F32, &mut rng);
    let w = Param::new(Tensor::zeros(&[1, 1], DType::F32));
    let b = Param::new(Tensor::zeros(&[1], DType::F32));
    let tape = Tape::new();
    for step in 0..200 {
        tape.clear();
        let pred = tape.constant(x.clone()).matmul(&tape.param(&w)) + tape.param(&b);
        let loss = (pred - tape.constant(y.clone())).square().mean_all();
        if step == 0 {
            println!("the recorded step:\n{tape}\n");
        }
        let grads = loss.backward().expect("the loss is a scalar");
        for p in [&w, &b] {
            let g = grads.param(p).expect("both parameters are used");
            p.set(p.value() - g * 0.5);
        }
        if step % 50 == 0 {
            println!("step {step:3}: loss {:.5}", loss.item());
        }
    }
    println!("fitted w = {:.3}, b = {:.3}   (true: 2, -0.5)\n", w.value().item(), b.value().item());

    // The same fit, recorded once with placeholders for the data and replayed: the training
    // step (loss and both gradients) runs without this Rust code running again.
    let (w, b) = (Param::new(Tensor::zeros(&[1, 1], DType::F32)), Param::new(Tensor::zeros(&[1], DType::F32)));
    let tape = Tape::new();
    let (xs, ys) = (tape.input(x.clone()), tape.input(y.clone()));
    let (wv, bv) = (tape.param(&w), tape.param(&b));
    let loss = ((xs.matmul(&wv) + &bv) - &ys).square().mean_all();
    let grads = grad(std::slice::from_ref(&loss), &[wv, bv], true).expect("the loss is a scalar");
    let outputs: Vec<_> = std::iter::once(loss).chain(grads).collect();
    let step = tape.function(&[xs, ys], &outputs).expect("x and y are the placeholders");
    println!("the recorded training step, forward and backward:\n{step}\n");
    for k in 0..200 {
        // A new batch each step: the same line, shifted noise.
        let noise = Tensor::normal(&[32, 1], 0.0, 0.05, DType::F32, &mut rng);
        let out = step.run(&[x.clone(), &(&x * 2.0 - 0.5) + &noise]).expect("same shapes as recorded");
        w.set(w.value() - &out[1] * 0.5);
        b.set(b.value() - &out[2] * 0.5);
        if k % 50 == 0 {
            println!("replayed step {k:3}: loss {:.5}", out[0].item());
        }
    }
    println!("replayed fit w = {:.3}, b = {:.3}\n", w.value().item(), b.value().item());

    // d^2/dx^2 of x^3 sin(x) at x = 1, through the recorded backward pass.
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(1.0f64));
    let f = x.powf(3.0) * x.sin();
    let df = grad(&[f], std::slice::from_ref(&x), true).expect("f depends on x")[0].clone();
    let d2f = grad(std::slice::from_ref(&df), std::slice::from_ref(&x), false).expect("df depends on x")[0].clone();
    let exact = 6.0 * 1f64.sin() + 6.0 * 1f64.cos() - 1f64.sin();
    println!("f''(1) = {:.12} (exact {exact:.12})", d2f.item());
}
