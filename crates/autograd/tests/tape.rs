//! The tape as a graph IR: printing, DOT, recording rules, memory, and the engine's errors.

use autograd::{grad, no_grad, AutogradError, BackwardOptions, Gradients, Param, Tape, Var};
use tensor::{DType, Tensor};

fn v(data: &[f64]) -> Tensor {
    Tensor::from_slice(data, &[data.len()])
}

#[test]
fn prints_like_a_jaxpr_with_constants_and_params() {
    let tape = Tape::new();
    let w = Param::new(Tensor::ones(&[2, 3], DType::F32));
    let x = tape.constant(Tensor::ones(&[4, 2], DType::F32));
    let wv = tape.param(&w);
    let y = x.matmul(&wv).relu().mean_all();
    let _ = y;
    assert_eq!(
        tape.to_string(),
        "{ lambda b:f32[4,2] ; a:f32[2,3]. let\n    c:f32[4,3] = matmul b a\n    d:f32[4,3] = relu c\n    e:f32[] = mean[axes=()] d\n  in (e) }"
    );
    let dot = tape.to_dot();
    assert!(dot.starts_with("digraph tape {"), "{dot}");
    assert!(dot.contains("n2 [label=\"c = matmul\\nf32[4,3]\" shape=box];"), "{dot}");
    assert!(dot.contains("n1 -> n2;") && dot.contains("n0 -> n2;"), "{dot}");
}

#[test]
fn a_recorded_backward_prints_the_same_way() {
    let tape = Tape::new();
    let x = tape.var(v(&[0.5]).reshape(&[]));
    let y = x.tanh();
    let _ = grad(&[y], &[x], true).unwrap();
    assert_eq!(
        tape.to_string(),
        "{ lambda c:f64[]=1 ; a:f64[]. let\n    b:f64[] = tanh a\n    d:f64[] = tanh_backward b c\n  in (d) }"
    );
}

#[test]
fn params_with_static_arguments_print_in_brackets() {
    let tape = Tape::new();
    let x = tape.var(Tensor::ones(&[2, 3], DType::F64));
    let _ = x.sum(&[0, -1], true).powf(2.0) + x.transpose(0, 1).narrow(0, 1, 2).sum_all();
    let s = tape.to_string();
    assert!(s.contains("sum[axes=(0, -1) keepdim=true] a"), "{s}");
    assert!(s.contains("powf[exponent=2] b"), "{s}");
    assert!(s.contains("permute[axes=(1, 0)] a"), "{s}");
    assert!(s.contains("slice[axis=0 start=1 len=2 step=1] d"), "{s}");
}

#[test]
fn gradients_flow_only_where_needed() {
    let tape = Tape::new();
    let a = tape.var(v(&[1.0, 2.0]));
    let c = tape.constant(v(&[3.0, 4.0]));
    let y = (&a * &c).sum_all();
    assert!(y.requires_grad());
    assert!(!(&c * 2.0).requires_grad(), "constants stay untracked");
    let g = y.backward().unwrap();
    assert_eq!(g.get(&a).unwrap().to_vec::<f64>(), vec![3.0, 4.0]);
    assert!(g.get(&c).is_none());
}

#[test]
fn fan_out_and_broadcast_accumulate_in_the_engine() {
    let tape = Tape::new();
    let b = tape.var(v(&[1.0, 2.0, 3.0]));
    let x = tape.constant(Tensor::ones(&[4, 3], DType::F64));
    // b used twice, once broadcast over 4 rows.
    let y = (&x + &b).sum_all() + (&b * &b).sum_all();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&b).unwrap().to_vec::<f64>(), vec![4.0 + 2.0, 4.0 + 4.0, 4.0 + 6.0]);
}

#[test]
fn gradients_accumulate_across_backward_calls_until_cleared() {
    let w = Param::new(v(&[1.0, -1.0]));
    let mut grads = Gradients::new();
    for _ in 0..3 {
        let tape = Tape::new();
        tape.param(&w).mul_scalar(2.0).sum_all().backward_into(&mut grads).unwrap();
    }
    assert_eq!(grads.param(&w).unwrap().to_vec::<f64>(), vec![6.0, 6.0]);
    grads.clear();
    assert!(grads.param(&w).is_none() && grads.is_empty());
}

#[test]
fn no_grad_records_nothing_and_detached_or_frozen_values_take_no_gradient() {
    let tape = Tape::new();
    let x = tape.var(v(&[1.0]));
    let before = tape.len();
    let y = no_grad(|| x.exp() * 2.0);
    assert!(!y.requires_grad());
    assert_eq!(tape.len(), before);
    assert!(autograd::is_grad_enabled());
    let d = x.detach();
    assert!(!d.requires_grad());
    let p = Param::new(v(&[2.0]));
    p.set_requires_grad(false);
    let z = (tape.param(&p) * &x).sum_all();
    let g = z.backward().unwrap();
    assert!(g.param(&p).is_none());
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>(), vec![2.0]);
}

#[test]
fn saved_tensors_are_released_by_backward_and_memory_stays_flat() {
    let w = Param::new(Tensor::ones(&[8, 8], DType::F32));
    let x = Tensor::ones(&[4, 8], DType::F32);
    let tape = Tape::new();
    let mut lens = Vec::new();
    for step in 0..10_000 {
        tape.clear();
        let y = tape.constant(x.clone()).matmul(&tape.param(&w)).tanh().mean_all();
        assert!(tape.saved_bytes() > 0);
        let g = y.backward().unwrap();
        assert_eq!(tape.saved_bytes(), 0, "step {step}: backward frees what it saved");
        w.update(|t| *t = &*t - &(g.param(&w).unwrap() * 1e-3));
        lens.push(tape.len());
    }
    assert!(lens.iter().all(|&n| n == lens[0]), "the tape does not grow across steps");
}

#[test]
fn retain_graph_allows_a_second_backward() {
    let tape = Tape::new();
    let x = tape.var(v(&[2.0]));
    let y = x.square().sum_all();
    let mut g = Gradients::new();
    let seed = Tensor::ones(&[], DType::F64);
    y.backward_with_into(&seed, BackwardOptions { retain_graph: true, create_graph: false }, &mut g).unwrap();
    y.backward_into(&mut g).unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>(), vec![8.0]);
    let err = y.backward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "backward: the saved tensors of `square` were already freed by an earlier backward pass; pass retain_graph = true to the first one"
    );
}

#[test]
fn engine_errors_name_the_problem() {
    let tape = Tape::new();
    let x = tape.var(v(&[1.0, 2.0]));
    let y = x.exp();
    assert_eq!(
        y.backward().unwrap_err().to_string(),
        "backward: output has shape [2]; backward() needs a scalar (one element), use backward_with(seed) for other outputs"
    );
    assert_eq!(
        y.backward_with(&Tensor::ones(&[3], DType::F64)).unwrap_err().to_string(),
        "backward_with: seed has shape [3] and dtype f64, but the output has shape [2] and dtype f64"
    );
    let other = Tape::new().var(v(&[1.0, 2.0]));
    assert_eq!(
        x.try_add(&other).unwrap_err().to_string(),
        "add: inputs were recorded on different tapes; combine Vars of one tape only"
    );
    let c = tape.constant(v(&[1.0]));
    assert_eq!(
        c.backward().unwrap_err().to_string(),
        "backward: the Var is not on the tape being differentiated (it is a constant, detached, or from another tape)"
    );
    assert_eq!(
        grad(&[x.sum_all()], &[c], false).unwrap_err().to_string(),
        "grad input: the Var is not on the tape being differentiated (it is a constant, detached, or from another tape)"
    );
    // An input the outputs do not depend on: an error from `grad` (torch's default), None from
    // `grad_with`.
    let unused = tape.var(v(&[2.0]));
    assert_eq!(
        grad(&[x.sum_all()], &[x.clone(), unused.clone()], false).unwrap_err().to_string(),
        "grad: input 1 does not influence the outputs, so it has no gradient; drop it, or use grad_with (which gives None for it, as torch's allow_unused)"
    );
    let opts = autograd::BackwardOptions { retain_graph: false, create_graph: false };
    let both = autograd::grad_with(&[x.sum_all()], None, &[x.clone(), unused], opts).unwrap();
    assert_eq!((both[0].as_ref().map(|g| g.tensor().to_vec::<f64>()), both[1].is_none()), (Some(vec![1.0, 1.0]), true));
    assert_eq!(
        x.try_matmul(&tape.var(v(&[1.0]))).unwrap_err().to_string(),
        "matmul: [2] @ [1]: inner dimensions 2 and 1 differ"
    );
    assert!(matches!(x.try_sum(&[3], false), Err(AutogradError::Tensor(_))));
}

#[test]
fn anomaly_mode_names_the_op_and_its_line() {
    let tape = Tape::new();
    tape.set_detect_anomaly(true);
    let x = tape.var(v(&[1.0, -1.0]));
    let y = x.exp();
    let err = y.try_log().and_then(|l| l.try_sqrt()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "anomaly: forward value of `sqrt` contains NaN (line 4 of the printed graph: `d:f64[2] = sqrt c`)"
    );
    // A gradient that blows up: d/dx sqrt(x) at 0.
    let tape = Tape::new();
    tape.set_detect_anomaly(true);
    let z = tape.var(v(&[0.0, 1.0]));
    let err = z.sqrt().sum_all().backward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "anomaly: gradient of `sqrt` contains infinity (line 2 of the printed graph: `b:f64[2] = sqrt a`)"
    );
    // Off by default.
    let tape = Tape::new();
    assert!(tape.var(v(&[-1.0])).try_sqrt().is_ok());
}

#[test]
fn custom_op_without_rule_is_an_error_at_backward() {
    struct Opaque;
    impl autograd::CustomOp for Opaque {
        fn name(&self) -> &str {
            "opaque"
        }
        fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
            Ok(inputs[0].clone())
        }
    }
    let tape = Tape::new();
    let x = tape.var(v(&[1.0]));
    let y = Var::custom(std::sync::Arc::new(Opaque), &[&x]);
    assert!(tape.to_string().contains("b:f64[1] = opaque a"));
    assert_eq!(
        y.sum_all().backward().unwrap_err().to_string(),
        "opaque: has no backward rule, so gradients cannot flow through it"
    );
}

#[test]
fn placeholders_constants_and_no_grad_nodes_print_distinctly() {
    let tape = Tape::new();
    let x = tape.input(Tensor::ones(&[4, 2], DType::F32));
    let w = Param::new(Tensor::ones(&[2, 3], DType::F32));
    let h = x.matmul(&tape.param(&w));
    let mask = h.gt(&tape.constant(Tensor::scalar(0.5f32)));
    let big = tape.constant(Tensor::ones(&[4, 3], DType::F32));
    let y = (h.masked_fill(&mask, 0.0) + big).sum_all();
    let _ = y;
    assert_eq!(
        tape.to_string(),
        "{ lambda d:f32[]=0.5 g:f32[4,3] ; input a:f32[4,2] b:f32[2,3]. let\n    c:f32[4,3] = matmul a b\n    e:bool[4,3] = gt c d    # no grad\n    f:f32[4,3] = masked_fill[value=0] c e\n    h:f32[4,3] = add f g\n    i:f32[] = sum[axes=()] h\n  in (i) }"
    );
    let dot = tape.to_dot();
    assert!(dot.contains("n0 [label=\"a = input\\nf32[4,2]\" shape=invhouse];"), "{dot}");
    assert!(dot.contains("n3 [label=\"d = const\\nf32[]\" shape=note];"), "{dot}");
    assert!(dot.contains("n4 [label=\"e = gt\\nbool[4,3]\" shape=box style=dashed];"), "{dot}");
}

#[test]
fn masks_built_by_backward_rules_are_recorded_nodes() {
    let tape = Tape::new();
    let x = tape.var(v(&[-1.0, 2.0]));
    let y = x.leaky_relu(0.1).sum_all();
    let _ = grad(&[y], &[x], true).unwrap();
    let s = tape.to_string();
    assert!(s.contains("gt_scalar[scalar=0] a    # no grad"), "{s}");
    assert!(!s.split(';').next().unwrap_or("").contains("bool"), "the mask is not a frozen constant: {s}");
}

#[test]
fn relu_backward_is_one_recorded_node_on_the_input() {
    let tape = Tape::new();
    let x = tape.var(v(&[-1.0, 2.0]));
    let y = x.relu().sum_all();
    let _ = grad(&[y], &[x], true).unwrap();
    let s = tape.to_string();
    assert!(s.contains("= relu_backward a "), "{s}");
    assert!(!s.contains("bool"), "no mask is built: {s}");
}
