//! Gradients of gradients: grad with create_graph, hvp, jacobian, hessian, gradient penalties.

use autograd::{grad, hessian, hvp, jacobian, Tape};
use tensor::{DType, Tensor};

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
    }
}

#[test]
fn third_derivative_of_a_cubic() {
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(2.0f64));
    let y = x.powf(3.0).mul_scalar(2.0); // 2x^3
    let d1 = grad(&[y], std::slice::from_ref(&x), true).unwrap()[0].clone();
    let d2 = grad(std::slice::from_ref(&d1), std::slice::from_ref(&x), true).unwrap()[0].clone();
    let d3 = grad(std::slice::from_ref(&d2), std::slice::from_ref(&x), false).unwrap()[0].clone();
    assert_eq!((d1.item(), d2.item(), d3.item()), (24.0, 24.0, 12.0));
}

#[test]
fn hessian_of_a_quadratic_form_is_the_symmetrised_matrix() {
    let a = Tensor::from_vec(vec![1.0f64, 2.0, 0.5, 3.0], &[2, 2]);
    let x = Tensor::from_vec(vec![0.3f64, -0.7], &[2]);
    let am = a.clone();
    let h = hessian(&|v| v.try_matmul(&v.constant(am.clone()))?.try_matmul(v), &x).unwrap();
    close(&h.to_vec::<f64>(), &(&a + &a.t()).to_vec::<f64>());
    let v = Tensor::from_vec(vec![1.0f64, -1.0], &[2]);
    let hv = hvp(&|v| v.try_matmul(&v.constant(a.clone()))?.try_matmul(v), &x, &v).unwrap();
    close(&hv.to_vec::<f64>(), &(&a + &a.t()).matmul(&v).to_vec::<f64>());
}

#[test]
fn jacobian_of_elementwise_and_linear_maps() {
    let x = Tensor::from_vec(vec![0.1f64, 0.2, 0.3], &[3]);
    let j = jacobian(&|v| v.try_tanh(), &x).unwrap();
    let d: Vec<f64> = x.to_vec::<f64>().iter().map(|t| 1.0 - t.tanh().powi(2)).collect();
    close(&j.to_vec::<f64>(), &[d[0], 0.0, 0.0, 0.0, d[1], 0.0, 0.0, 0.0, d[2]]);
    let w = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let wc = w.clone();
    let j = jacobian(&|v| v.constant(wc.clone()).try_matmul(v), &x).unwrap();
    assert_eq!(j.shape(), &[2, 3]);
    close(&j.to_vec::<f64>(), &w.to_vec::<f64>());
}

#[test]
fn gradient_penalty_trains_through_the_gradient() {
    // WGAN-GP style: penalty = (||d f / d x|| - 1)^2, differentiated with respect to w.
    let tape = Tape::new();
    let w = tape.var(Tensor::from_vec(vec![0.5f64, -2.0], &[2]));
    let x = tape.var(Tensor::from_vec(vec![1.0f64, 1.0], &[2]));
    let f = (&w * &x).tanh().sum_all();
    let gx = grad(&[f], std::slice::from_ref(&x), true).unwrap()[0].clone();
    let penalty = gx.norm(2.0, &[], false).sub_scalar(1.0).square();
    let gw = grad(std::slice::from_ref(&penalty), std::slice::from_ref(&w), false).unwrap()[0].clone();
    // Check against central differences of the penalty in w.
    let eval = |wv: &[f64]| {
        let gx: Vec<f64> = wv.iter().map(|&wi| wi * (1.0 - (wi * 1.0f64).tanh().powi(2))).collect();
        ((gx[0] * gx[0] + gx[1] * gx[1]).sqrt() - 1.0).powi(2)
    };
    assert!((penalty.item() - eval(&[0.5, -2.0])).abs() < 1e-12);
    let eps = 1e-6;
    let num: Vec<f64> = (0..2)
        .map(|i| {
            let mut p = [0.5, -2.0];
            let mut m = p;
            p[i] += eps;
            m[i] -= eps;
            (eval(&p) - eval(&m)) / (2.0 * eps)
        })
        .collect();
    for (a, n) in gw.value().to_vec::<f64>().iter().zip(&num) {
        assert!((a - n).abs() < 1e-6, "{a} vs {n}");
    }
}

#[test]
fn helpers_reject_bad_input() {
    let x = Tensor::ones(&[2], DType::F64);
    assert_eq!(
        hessian(&|v| Ok(v.clone()), &x).unwrap_err().to_string(),
        "hessian: f must return a scalar, got shape [2]"
    );
    assert_eq!(
        hvp(&|v| v.try_sum(&[], false), &x, &Tensor::ones(&[3], DType::F64)).unwrap_err().to_string(),
        "hvp: vector shape [3] differs from input shape [2]"
    );
}
