//! What optimizers rely on: mutable and taking access to gradients, contiguous parameter
//! gradients, in-place accumulation, checked `Param::set`, and when an update writes in place.

use autograd::{AutogradError, Gradients, Param, Tape};
use tensor::{DType, Rng, Tensor};

#[test]
fn gradients_can_be_changed_in_place_and_taken() {
    let (a, b) = (Param::new(Tensor::ones(&[2], DType::F64)), Param::new(Tensor::ones(&[3], DType::F64)));
    let tape = Tape::new();
    let loss = (tape.param(&a) * 2.0).sum_all() + (tape.param(&b) * 3.0).sum_all();
    let mut grads = loss.backward().unwrap();
    let g = grads.param_mut(&a).unwrap();
    let before = g.as_slice::<f64>().unwrap().as_ptr();
    for x in g.try_as_mut_slice::<f64>().unwrap() {
        *x *= 0.5;
    }
    assert_eq!(g.as_slice::<f64>().unwrap().as_ptr(), before, "a gradient from backward owns its buffer");
    assert_eq!(grads.param(&a).unwrap().to_vec::<f64>(), vec![1.0, 1.0]);
    for (_, g) in grads.params_mut() {
        *g = g.mul_scalar(10.0);
    }
    assert_eq!(grads.take(&b).unwrap().to_vec::<f64>(), vec![30.0; 3]);
    assert!(grads.param(&b).is_none());
    assert_eq!(grads.params().count(), 1);
}

#[test]
fn parameter_gradients_leave_backward_contiguous() {
    // y = x @ w.t(): the gradient of w is computed transposed.
    let w = Param::new(Tensor::randn(&[3, 4], DType::F64, &mut Rng::seed(1)));
    let tape = Tape::new();
    let x = tape.constant(Tensor::randn(&[5, 4], DType::F64, &mut Rng::seed(2)));
    let grads = x.matmul(&tape.param(&w).t()).sum_all().backward().unwrap();
    let g = grads.param(&w).unwrap();
    assert_eq!(g.shape(), &[3, 4]);
    assert!(g.is_contiguous() && g.as_slice::<f64>().is_some());
}

#[test]
fn accumulation_adds_in_place_and_stays_correct_when_shared() {
    let w = Param::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let mut grads = Gradients::new();
    let tape = Tape::new();
    tape.param(&w).square().sum_all().backward_into(&mut grads).unwrap();
    let first = grads.param(&w).unwrap().as_slice::<f64>().unwrap().as_ptr();
    tape.clear();
    tape.param(&w).square().sum_all().backward_into(&mut grads).unwrap();
    assert_eq!(grads.param(&w).unwrap().as_slice::<f64>().unwrap().as_ptr(), first, "added in place");
    assert_eq!(grads.param(&w).unwrap().to_vec::<f64>(), vec![4.0, 8.0]);
    // A caller holding the gradient keeps its value.
    let held = grads.param(&w).unwrap().clone();
    tape.clear();
    tape.param(&w).square().sum_all().backward_into(&mut grads).unwrap();
    assert_eq!(held.to_vec::<f64>(), vec![4.0, 8.0]);
    assert_eq!(grads.param(&w).unwrap().to_vec::<f64>(), vec![6.0, 12.0]);
    // Fan-out inside one sweep (x used three times) accumulates correctly too.
    let tape = Tape::new();
    let x = tape.var(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let g = (&x + &x + &x * 2.0).sum_all().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>(), vec![4.0, 4.0]);
}

#[test]
fn param_set_checks_shape_and_dtype() {
    let w = Param::new(Tensor::zeros(&[2, 3], DType::F32));
    let err = w.try_set(Tensor::zeros(&[3, 2], DType::F32)).unwrap_err();
    assert!(matches!(err, AutogradError::ParamMismatch { .. }));
    assert_eq!(
        err.to_string(),
        format!("Param::set: parameter {} is f32[2, 3], got f32[3, 2] (Param::replace changes the shape)", w.id().0)
    );
    assert!(w.try_set(Tensor::zeros(&[2, 3], DType::F64)).is_err());
    assert_eq!(w.shape(), vec![2, 3], "unchanged after a refused set");
    w.set(Tensor::ones(&[2, 3], DType::F32));
    w.replace(Tensor::ones(&[4], DType::F32));
    assert_eq!(w.shape(), vec![4]);
}

#[test]
fn an_update_writes_in_place_exactly_when_no_one_else_holds_the_value() {
    let w = Param::new(Tensor::ones(&[4], DType::F32));
    let tape = Tape::new();
    let wv = tape.param(&w);
    let grads = (&wv * &wv).sum_all().backward().unwrap();
    // The Var still holds the value: an update copies, and the Var keeps the old values.
    assert!(!w.is_exclusive());
    w.update(|t| t.try_as_mut_slice::<f32>().unwrap()[0] = 5.0);
    assert_eq!(wv.value().to_vec::<f32>(), vec![1.0; 4]);
    drop(wv);
    tape.clear();
    // Now nothing else holds it: the update writes where the value already is.
    assert!(w.is_exclusive());
    let ptr = w.update(|t| t.as_slice::<f32>().unwrap().as_ptr());
    let g = grads.param(&w).unwrap().as_slice::<f32>().unwrap().to_vec();
    w.update(|t| {
        for (p, d) in t.try_as_mut_slice::<f32>().unwrap().iter_mut().zip(&g) {
            *p -= 0.1 * d;
        }
    });
    assert_eq!(w.update(|t| t.as_slice::<f32>().unwrap().as_ptr()), ptr);
    assert_eq!(w.value().to_vec::<f32>(), vec![4.8, 0.8, 0.8, 0.8]);
}
