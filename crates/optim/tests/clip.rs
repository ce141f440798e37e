//! Gradient clipping, in place, with torch's formula.

use autograd::{Gradients, Param};
use optim::{clip_grad_norm, clip_grad_value, OptimError};
use tensor::Tensor;

fn grads(values: &[&[f64]]) -> (Vec<Param>, Gradients) {
    let mut g = Gradients::new();
    let params: Vec<Param> = values.iter().map(|v| Param::new(Tensor::from_slice(v, &[v.len()]))).collect();
    for (p, v) in params.iter().zip(values) {
        g.set_param(p.id(), Tensor::from_slice(v, &[v.len()]));
    }
    (params, g)
}

#[test]
fn clip_grad_norm_scales_by_the_total_norm() {
    let (p, mut g) = grads(&[&[3.0], &[0.0, 4.0]]);
    let total = clip_grad_norm(&mut g, 1.0, 2.0, true).unwrap();
    assert_eq!(total, 5.0);
    let c = 1.0 / (5.0 + 1e-6);
    assert_eq!(g.param(&p[0]).unwrap().to_vec::<f64>(), vec![3.0 * c]);
    assert_eq!(g.param(&p[1]).unwrap().to_vec::<f64>(), vec![0.0, 4.0 * c]);
    // Below the bound the factor is 1: nothing changes.
    let (p, mut g) = grads(&[&[0.3, -0.4]]);
    assert!((clip_grad_norm(&mut g, 1.0, 2.0, true).unwrap() - 0.5).abs() < 1e-15);
    assert_eq!(g.param(&p[0]).unwrap().to_vec::<f64>(), vec![0.3, -0.4]);
}

#[test]
fn clip_grad_norm_with_other_norms() {
    let (_, mut g) = grads(&[&[3.0, -7.0], &[5.0]]);
    assert_eq!(clip_grad_norm(&mut g, 100.0, f64::INFINITY, true).unwrap(), 7.0);
    let (_, mut g) = grads(&[&[3.0, -7.0], &[5.0]]);
    assert!((clip_grad_norm(&mut g, 100.0, 1.0, true).unwrap() - 15.0).abs() < 1e-12);
}

#[test]
fn a_non_finite_norm_is_an_error_when_asked_and_nothing_is_scaled() {
    let (p, mut g) = grads(&[&[f64::INFINITY, 1.0]]);
    let err = clip_grad_norm(&mut g, 1.0, 2.0, true).unwrap_err();
    assert!(matches!(err, OptimError::NonFiniteNorm { .. }));
    assert_eq!(
        err.to_string(),
        "clip_grad_norm: the total 2-norm of the gradients is inf; pass error_if_nonfinite = false to clip anyway"
    );
    assert_eq!(g.param(&p[0]).unwrap().to_vec::<f64>(), vec![f64::INFINITY, 1.0]);
    assert!(clip_grad_norm(&mut g, 1.0, 2.0, false).unwrap().is_infinite());
}

#[test]
fn clip_grad_value_clamps_in_place() {
    let (p, mut g) = grads(&[&[-3.0, 0.5, 2.0]]);
    clip_grad_value(&mut g, 1.0).unwrap();
    assert_eq!(g.param(&p[0]).unwrap().to_vec::<f64>(), vec![-1.0, 0.5, 1.0]);
    assert!(clip_grad_value(&mut g, -1.0).is_err());
}
