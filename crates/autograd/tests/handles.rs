//! Safe handles: a `Var` from an earlier recording is a typed error, never an alias of a new
//! node, and gradients of leaves from different tapes or recordings never merge.

use std::sync::Arc;

use autograd::{grad, AutogradError, CustomOp, Gradients, Op, Param, Tape, Var};
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

#[test]
fn detach_of_a_stale_var_is_an_error_too() {
    let tape = Tape::new();
    let x = tape.var(v(&[1.0]));
    tape.clear();
    assert_eq!(x.try_detach().unwrap_err().to_string(), format!("stop_gradient: {STALE}"));
    let c = tape.constant(v(&[1.0]));
    assert!(!c.try_detach().unwrap().is_recorded(), "a constant detaches to a constant");
}

#[test]
fn a_param_var_finds_its_gradient_after_the_tape_moved_on() {
    let w = Param::new(v(&[1.0, 2.0]));
    let tape = Tape::new();
    let wv = tape.param(&w);
    let grads = wv.square().sum_all().backward().unwrap();
    tape.clear();
    let _next_step = tape.param(&w);
    assert_eq!(grads.get(&wv).unwrap().to_vec::<f64>(), vec![2.0, 4.0]);
}

#[test]
fn integer_leaves_cannot_require_grad() {
    let tape = Tape::new();
    let err = tape.try_var(Tensor::from_vec(vec![1i64, 2], &[2])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "var: a i64 tensor cannot require grad (only f32 and f64 can); record integer data with Tape::input or Tape::constant"
    );
    assert!(matches!(tape.try_var(Tensor::zeros(&[1], DType::Bool)), Err(AutogradError::IntegerLeaf { .. })));
    assert!(tape.is_empty(), "a refused leaf records nothing");
    let ids = tape.input(Tensor::from_vec(vec![1i64, 2], &[2]));
    assert!(ids.is_recorded() && !ids.requires_grad());
    let y = ids.to_dtype(DType::F64).sum_all();
    assert!(matches!(y.backward(), Err(AutogradError::NoGrad { .. })));
}

#[test]
fn ne_scalar_is_the_negation_of_eq_scalar_on_integers() {
    let tape = Tape::new();
    let x = tape.input(Tensor::from_vec(vec![0i64, 1], &[2]));
    for s in [0.5, -1.0, 1.0, f64::NAN] {
        let eq = x.eq_scalar(s).tensor().to_vec::<bool>();
        let ne = x.ne_scalar(s).tensor().to_vec::<bool>();
        assert!(eq.iter().zip(&ne).all(|(a, b)| a != b), "scalar {s}: eq {eq:?} ne {ne:?}");
    }
}

#[test]
fn a_hand_built_op_with_bad_parameters_is_an_error_not_a_panic() {
    let x = Tensor::ones(&[4], DType::F64);
    let huge = Op::Slice { axis: 0, start: 1, len: usize::MAX, step: 2 };
    assert!(huge.eval(&[&x]).is_err());
    let past_end = Op::Slice { axis: 0, start: 2, len: 3, step: 1 };
    assert_eq!(
        past_end.eval(&[&x]).unwrap_err().to_string(),
        "slice: 3 elements from 2 step 1 do not fit axis 0 of [4]"
    );
    assert_eq!(Op::Matmul.eval(&[&x]).unwrap_err().to_string(), "eval: `matmul` cannot take 1 inputs");
}

/// A custom op whose backward returns whatever gradient it was built with.
struct ReturnsGradient(fn(&Var) -> autograd::Result<Var>);

impl CustomOp for ReturnsGradient {
    fn name(&self) -> &str {
        "my_op"
    }
    fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
        Ok(inputs[0].clone())
    }
    fn backward(&self, _: &[Var], _: &Var, grad: &Var) -> autograd::Result<Vec<Option<Var>>> {
        Ok(vec![Some((self.0)(grad)?)])
    }
}

fn backward_through(f: fn(&Var) -> autograd::Result<Var>) -> autograd::Result<Tensor> {
    let tape = Tape::new();
    let x = tape.var(Tensor::ones(&[2, 3], DType::F64));
    let y = Var::try_custom(Arc::new(ReturnsGradient(f)), &[&x])?;
    Ok(y.sum_all().backward()?.get(&x).cloned().expect("x has a gradient"))
}

#[test]
fn a_custom_gradient_of_the_wrong_dtype_or_shape_is_an_error_naming_the_op() {
    assert_eq!(
        backward_through(|g| g.try_to_dtype(DType::F32)).unwrap_err().to_string(),
        "my_op: backward returned a f32[2, 3] gradient for input 0, which is f64[2, 3] (a gradient must have its \
         input's dtype and a shape that sums to the input's)"
    );
    let wrong_shape = backward_through(|g| g.try_reshape(&[3, 2])).unwrap_err();
    assert!(
        matches!(&wrong_shape, AutogradError::BadGradient { op, got, .. } if op == "my_op" && got == &[3, 2]),
        "{wrong_shape}"
    );
    // A gradient that broadcast (one that sums to the input's shape) is summed down, as torch.
    let wide = backward_through(|g| g.try_unsqueeze(0)?.try_expand(&[4, 2, 3])).unwrap();
    assert_eq!(wide.to_vec::<f64>(), vec![4.0; 6]);
}

#[test]
fn a_custom_op_with_many_inputs_keeps_them_all_for_backward() {
    struct SumAll;
    impl CustomOp for SumAll {
        fn name(&self) -> &str {
            "sum_inputs"
        }
        fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
            inputs[1..].iter().try_fold(inputs[0].clone(), |acc, t| acc.try_add(t))
        }
        fn backward(&self, inputs: &[Var], _: &Var, grad: &Var) -> autograd::Result<Vec<Option<Var>>> {
            // Reads every input (as a rule that needs them would), so all must have been kept.
            inputs.iter().map(|x| Ok(Some(grad.try_mul(&x.try_mul_scalar(0.0)?.try_add_scalar(1.0)?)?))).collect()
        }
    }
    let tape = Tape::new();
    let xs: Vec<Var> = (0..10).map(|k| tape.var(v(&[k as f64]))).collect();
    let refs: Vec<&Var> = xs.iter().collect();
    let y = Var::custom(Arc::new(SumAll), &refs).sum_all();
    let g = y.backward().unwrap();
    assert!(xs.iter().all(|x| g.get(x).unwrap().to_vec::<f64>() == vec![1.0]));
}
