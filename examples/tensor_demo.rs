//! The main example (for now): the `tensor` crate used on its own.
//!
//! Fits a least-squares line through embedded, noisy points with tensor ops alone
//! (normal equations solved in closed form), then shows views, broadcasting and reductions.
//!
//! Run with `cargo run --release --example tensor_demo`.

use backprop::tensor::{DType, Rng, Tensor};

fn main() {
    // Embedded data: y = 3x - 1 plus seeded noise.
    let mut rng = Rng::seed(0);
    let x = Tensor::linspace(-1.0, 1.0, 64, DType::F64);
    let noise = Tensor::normal(&[64], 0.0, 0.1, DType::F64, &mut rng);
    let y = &(&x * 3.0 - 1.0) + &noise;

    // Design matrix [x, 1] built by stacking; least squares via the 2x2 normal equations.
    let design = Tensor::stack(&[x.clone(), x.ones_like()], 1); // [64, 2]
    let gram = design.t().matmul(&design); // [2, 2], the transpose is a view
    let rhs = design.t().matmul(&y); // [2]
    let g = gram.to_vec::<f64>();
    let r = rhs.to_vec::<f64>();
    let det = g[0] * g[3] - g[1] * g[2];
    let slope = (g[3] * r[0] - g[1] * r[1]) / det;
    let intercept = (g[0] * r[1] - g[2] * r[0]) / det;
    println!("fitted y = {slope:.3} x {intercept:+.3}   (true: 3x - 1)");

    let residual = &y - &(&x * slope + intercept);
    println!("residual std: {:.4}", residual.std(&[], 1, false).item());

    // Views, broadcasting, reductions, softmax.
    let m = Tensor::arange(0.0, 12.0, 1.0, DType::F32).reshape(&[3, 4]);
    println!("m =\n{m}");
    println!("m.t() (a view, shares storage: {}) =\n{}", m.t().shares_storage(&m), m.t());
    let centered = &m - &m.mean(&[0], true);
    println!("columns centred by broadcasting =\n{centered}");
    println!("row sums = {}", m.sum(&[1], false));
    println!("softmax of the last row = {}", m.select(0, 2).softmax(-1));
}
