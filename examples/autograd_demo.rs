//! Autograd on its own: a recorded graph, a gradient-descent fit, and a second derivative.
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

    // d^2/dx^2 of x^3 sin(x) at x = 1, through the recorded backward pass.
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(1.0f64));
    let f = x.powf(3.0) * x.sin();
    let df = grad(&[f], std::slice::from_ref(&x), true).expect("scalar")[0].clone().expect("f depends on x");
    let d2f = grad(std::slice::from_ref(&df), std::slice::from_ref(&x), false).expect("scalar")[0]
        .clone()
        .expect("df depends on x");
    let exact = 6.0 * 1f64.sin() + 6.0 * 1f64.cos() - 1f64.sin();
    println!("f''(1) = {:.12} (exact {exact:.12})", d2f.item());
}
