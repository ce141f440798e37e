//! Safe handles: a `Var` from an earlier recording is a typed error, never an alias of a new
//! node, and gradients of leaves from different tapes or recordings never merge.

use autograd::{grad, AutogradError, Gradients, Param, Tape};
use tensor::{DType, Tensor};

fn v(data: &[f64]) -> Tensor {
    Tensor::from_slice(data, &[data.len()])
}

const STALE: &str = "a Var recorded before Tape::clear() was used after it; record the value again in the current step";

#[test]
fn a_var_used_after_clear_is_an_error_in_ops() {
    let tape = Tape::new();
    let a = tape.var(v(&[1.0, 2.0]));
    let b0 = tape.var(v(&[5.0, 6.0]));
    tape.clear();
    // Node 0 of the new recording has the index `a` had: before generations, `b * a` printed
    // as `mul b b` and doubled the gradient.
    let b = tape.var(v(&[3.0, 4.0]));
    let err = b.try_mul(&a).unwrap_err();
    assert!(matches!(err, AutogradError::StaleVar { .. }));
    assert_eq!(err.to_string(), format!("mul: {STALE}"));
    // An index past the new recording's end used to panic with an index out of bounds.
    assert_eq!(b0.try_exp().unwrap_err().to_string(), format!("exp: {STALE}"));
    assert_eq!(tape.len(), 1, "nothing was recorded by the failed ops");
    // Unrecorded values (constants) are not tied to a recording.
    let c = tape.constant(v(&[1.0, 1.0]));
    tape.clear();
    assert!(c.try_add(&tape.var(v(&[0.0, 0.0]))).is_ok());
}

#[test]
fn a_stale_var_in_backward_or_grad_is_an_error() {
    let tape = Tape::new();
    let x = tape.var(v(&[1.0, 2.0]));
    let y = x.square().sum_all();
    tape.clear();
    let x2 = tape.var(v(&[3.0, 4.0]));
    let y2 = x2.square().sum_all();
    assert_eq!(y.backward().unwrap_err().to_string(), format!("backward: {STALE}"));
    let (one_y2, one_x, one_x2) = (std::slice::from_ref(&y2), std::slice::from_ref(&x), std::slice::from_ref(&x2));
    assert_eq!(grad(one_y2, one_x, false).unwrap_err().to_string(), format!("grad input: {STALE}"));
    assert_eq!(grad(&[y], one_x2, false).unwrap_err().to_string(), format!("grad output: {STALE}"));
    assert_eq!(tape.function(one_x, one_y2).unwrap_err().to_string(), format!("function: {STALE}"));
    // The current recording is unaffected.
    let g = y2.backward().unwrap();
    assert_eq!(g.get(&x2).unwrap().to_vec::<f64>(), vec![6.0, 8.0]);
}

#[test]
fn leaves_of_two_tapes_accumulate_apart() {
    let mut grads = Gradients::new();
    let t1 = Tape::new();
    let a = t1.var(Tensor::scalar(1.0f64));
    (&a * 2.0).backward_into(&mut grads).unwrap();
    let t2 = Tape::new();
    let b = t2.var(Tensor::scalar(1.0f64));
    (&b * 5.0).backward_into(&mut grads).unwrap();
    // Both are node 0 of their tape: keyed by node alone they merged into 7 and 7.
    assert_eq!(grads.get(&a).unwrap().item(), 2.0);
    assert_eq!(grads.get(&b).unwrap().item(), 5.0);
}

#[test]
fn leaves_of_two_recordings_of_one_tape_accumulate_apart() {
    let mut grads = Gradients::new();
    let tape = Tape::new();
    let a = tape.var(Tensor::scalar(1.0f64));
    (&a * 2.0).backward_into(&mut grads).unwrap();
    tape.clear();
    let b = tape.var(Tensor::scalar(1.0f64));
    (&b * 5.0).backward_into(&mut grads).unwrap();
    // Node 0 of each recording: apart, not merged into 7.
    assert_eq!(grads.get(&b).unwrap().item(), 5.0);
    assert_eq!(grads.get(&a).unwrap().item(), 2.0);
}

#[test]
fn gradients_get_of_a_param_var_is_the_param_gradient() {
    let w = Param::new(v(&[1.0, -1.0]));
    let tape = Tape::new();
    let wv = tape.param(&w);
    let loss = (tape.param(&w) * 3.0).sum_all() + wv.square().sum_all();
    let grads = loss.backward().unwrap();
    // Used twice (two leaves): both report the parameter's whole gradient, as the doc says.
    assert_eq!(grads.get(&wv).unwrap().to_vec::<f64>(), vec![5.0, 1.0]);
    assert_eq!(grads.get(&wv).unwrap().to_vec::<f64>(), grads.param(&w).unwrap().to_vec::<f64>());
}

#[test]
fn placeholders_and_masks_do_not_require_grad_and_cannot_be_differentiated() {
    let tape = Tape::new();
    let x = tape.input(Tensor::ones(&[2], DType::F64));
    let w = tape.var(v(&[2.0, 3.0]));
    let y = (&x * &w).sum_all();
    assert!(x.is_recorded() && !x.requires_grad());
    assert!(y.requires_grad());
    let mask = w.gt_scalar(2.5);
    assert!(mask.is_recorded() && !mask.requires_grad());
    let z = (&x * 2.0).sum_all();
    assert!(z.is_recorded() && !z.requires_grad());
    let no_grad = "the Var does not require grad (a placeholder, a mask or index, or a value that depends on no Tape::var leaf or trainable parameter)";
    assert_eq!(z.backward().unwrap_err().to_string(), format!("backward: {no_grad}"));
    assert_eq!(grad(&[y], &[x], false).unwrap_err().to_string(), format!("grad input: {no_grad}"));
}
