//! Every differentiable op, checked by finite differences (first and second order, f64) on
//! contiguous, transposed and strided inputs, and on broadcasting shapes: one line per op.

mod common;

use std::sync::Arc;

use autograd::{gradcheck, gradgradcheck, CustomOp, GradcheckOptions, Result, Var};
use common::{cases, layouts};
use tensor::{DType, Tensor};

#[test]
fn every_op_passes_gradcheck_and_gradgradcheck_on_every_layout() {
    let opts = GradcheckOptions::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for c in cases() {
        for variant in 0..3 {
            let mut inputs = Vec::new();
            let mut label = Vec::new();
            for (k, shape) in c.shapes.iter().enumerate() {
                let all = layouts(shape, 100 + k as u64);
                let (name, t) = all[variant.min(all.len() - 1)].clone();
                label.push(name);
                inputs.push(t);
            }
            for (order, report) in [(1, gradcheck(&c.f, &inputs, opts)), (2, gradgradcheck(&c.f, &inputs, opts))] {
                checked += 1;
                match report {
                    Ok(r) if r.ok => {}
                    Ok(r) => failures.push(format!("{} {:?} order {order}: {r}", c.name, label)),
                    Err(e) => failures.push(format!("{} {:?} order {order}: error {e}", c.name, label)),
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} checks ran");
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn gradcheck_reports_a_wrong_rule() {
    struct Wrong;
    impl CustomOp for Wrong {
        fn name(&self) -> &str {
            "wrong_square"
        }
        fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
            Ok(inputs[0].square())
        }
        fn backward(&self, inputs: &[Var], _: &Var, grad: &Var) -> Result<Vec<Option<Var>>> {
            Ok(vec![Some(grad.try_mul(&inputs[0])?)]) // missing the factor 2
        }
    }
    let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
    let r = gradcheck(&|v| Var::try_custom(Arc::new(Wrong), &[&v[0]]), &[x], GradcheckOptions::default()).unwrap();
    assert!(!r.ok);
    let w = r.worst.as_ref().unwrap();
    assert!((w.analytic * 2.0 - w.numeric).abs() < 1e-6, "{r}");
    assert!(r.to_string().starts_with("gradcheck FAILED over 2 elements; worst: input 0 at ["), "{r}");
}

#[test]
fn mixed_precision_paths_convert_gradients_back() {
    let tape = autograd::Tape::new();
    let x = tape.var(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let y = x.to_dtype(DType::F32).square().sum_all();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().dtype(), DType::F64);
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>(), vec![2.0, 4.0]);
}

#[test]
fn clamp_and_abs_gradients_follow_torch_at_the_kinks_and_for_nan() {
    // PyTorch 2.15: x.clamp(-1, 1) passes the gradient strictly inside (0 at the bounds and for
    // NaN); x.abs() gives sign(x), 0 at 0 and for NaN.
    let tape = autograd::Tape::new();
    let x = tape.var(Tensor::from_vec(vec![-2.0f64, -1.0, 0.5, 1.0, 3.0, f64::NAN, 0.0], &[7]));
    let g = x.clamp(-1.0, 1.0).sum_all().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>(), vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let g = x.abs().sum_all().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>(), vec![-1.0, -1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
}
