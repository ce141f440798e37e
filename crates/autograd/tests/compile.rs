//! The compiler: each pass on a program made for it, the guards, gradients, and compiled runs
//! equal to eager ones bit for bit.

use autograd::{compile, Param, Tape, Var};
use tensor::{DType, Rng, Tensor};

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_dtype(DType::F64).to_vec::<f64>().iter().map(|v| v.to_bits()).collect()
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::normal(shape, 0.0, 1.0, DType::F64, &mut Rng::seed(seed))
}

#[test]
fn repeated_subexpressions_are_computed_once() {
    let mut f = compile(|xs: &[Var]| Ok(xs[0].tanh() * xs[0].tanh() + xs[0].tanh().exp()));
    let x = randn(&[3, 4], 1);
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    let plan = f.plan(std::slice::from_ref(&x)).unwrap();
    assert_eq!(plan.count("tanh"), 1, "{plan}");
    let eager = {
        let t = x.tanh();
        &(&t * &t) + &t.exp()
    };
    assert_eq!(bits(&out.outputs[0]), bits(&eager));
}

/// Ops whose inputs are all constants are evaluated while tracing and enter the program as
/// constants (the folding pass catches any such node a later rewrite exposes; its unit test
/// is in `compile/fold.rs`).
#[test]
fn constants_are_folded_at_compile_time() {
    let mut f = compile(|xs: &[Var]| {
        let tape = xs[0].tape();
        let scale = tape.constant(Tensor::full(&[4], 2.0, DType::F64)).exp().add_scalar(1.0);
        Ok(&xs[0] * &scale)
    });
    let x = randn(&[2, 4], 2);
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    let plan = f.plan(std::slice::from_ref(&x)).unwrap();
    assert_eq!((plan.count("exp"), plan.count("add_scalar"), plan.count("mul")), (0, 0, 1), "{plan}");
    let eager = &x * &Tensor::full(&[4], 2.0, DType::F64).exp().add_scalar(1.0);
    assert_eq!(bits(&out.outputs[0]), bits(&eager));
    assert_eq!(plan.report()[1].pass, "constant folding");
}

#[test]
fn exact_identities_are_removed_and_views_merged() {
    let mut f = compile(|xs: &[Var]| {
        let y = xs[0].exp().mul_scalar(1.0).powf(1.0).add_scalar(-0.0).detach();
        let y = y.reshape(&[2, 6]).transpose(0, 1).transpose(-1, -2).permute(&[-2, -1]);
        Ok(y.tanh())
    })
    .without_fusion(); // exp and tanh would fuse: this test is about the identities
    let x = randn(&[2, 6], 3);
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    let plan = f.plan(std::slice::from_ref(&x)).unwrap();
    // Everything between exp and tanh was the identity: arithmetic on exp's fresh output, a
    // reshape to its own shape, a transpose undone, an identity permute with negative axes
    assert_eq!(plan.program().len(), 3, "{plan}");
    assert_eq!(bits(&out.outputs[0]), bits(&x.exp().tanh()));
}

/// A keepdim reduction reshaped to drop its kept axes is the reduction without keepdim (what
/// a bias gradient's `sum_to` records); not when the keepdim result is read elsewhere, when the
/// reshape is to another shape, or for logsumexp.
#[test]
fn a_reshaped_keepdim_reduction_is_one_reduction() {
    let x = randn(&[6, 5, 4], 5);
    let eager = |x: &Tensor| {
        let a = x.sum(&[0], true).reshape(&[5, 4]);
        let b = x.max(&[-1, 1], true).reshape(&[6]);
        let c = x.mean(&[], true).reshape(&[]);
        (a, b, c)
    };
    let mut f = compile(|xs: &[Var]| {
        let a = xs[0].sum(&[0], true).reshape(&[5, 4]);
        let b = xs[0].max(&[-1, 1], true).reshape(&[6]);
        let c = xs[0].mean(&[], true).reshape(&[]);
        Ok(vec![a, b, c])
    });
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    let plan = f.plan(std::slice::from_ref(&x)).unwrap();
    assert_eq!((plan.count("reshape"), plan.program().len()), (0, 4), "{plan}");
    let (a, b, c) = eager(&x);
    assert_eq!([bits(&out.outputs[0]), bits(&out.outputs[1]), bits(&out.outputs[2])], [bits(&a), bits(&b), bits(&c)]);
    assert_eq!(out.outputs[1].shape(), &[6]);

    let mut kept = compile(|xs: &[Var]| {
        let s = xs[0].sum(&[0], true);
        Ok(vec![
            s.reshape(&[5, 4]),
            s.exp(),
            xs[0].sum(&[2], true).reshape(&[6, 1, 5]),
            xs[0].logsumexp(&[0], true).reshape(&[5, 4]),
        ])
    });
    let out = kept.run(std::slice::from_ref(&x)).unwrap();
    assert_eq!(kept.plan(std::slice::from_ref(&x)).unwrap().count("reshape"), 3);
    assert_eq!(bits(&out.outputs[2]), bits(&x.sum(&[2], true).reshape(&[6, 1, 5])));
}

/// Products read transposed operands in place (the executor folds the transpose in): the
/// values are those of the eager products bit for bit, whether the transpose is of an argument
/// (itself strided here), of a computed value, read by something else too (then still
/// computed), or an output.
#[test]
fn transposes_read_by_products_are_folded_into_them() {
    let (x, w, z) = (randn(&[6, 4], 8).t(), randn(&[6, 5], 9), randn(&[4, 6], 10).t());
    let eager = |x: &Tensor, w: &Tensor, z: &Tensor| {
        let h = x.matmul(w).tanh(); // [4, 5]
        let g = h.t().matmul(&z.t()); // [5, 6]: both operands transposes
        let wt = w.t();
        vec![g.matmul(w), wt.exp(), h.t(), wt.matmul(z)]
    };
    let mut f = compile(|xs: &[Var]| {
        let h = xs[0].matmul(&xs[1]).tanh();
        let g = h.transpose(0, 1).matmul(&xs[2].transpose(0, 1));
        let wt = xs[1].transpose(0, 1);
        Ok(vec![g.matmul(&xs[1]), wt.exp(), h.transpose(0, 1), wt.matmul(&xs[2])])
    });
    let inputs = [x.clone(), w.clone(), z.clone()];
    for _ in 0..2 {
        let out = f.run(&inputs).unwrap();
        for (got, want) in out.outputs.iter().zip(eager(&x, &w, &z)) {
            assert_eq!(bits(got), bits(&want));
        }
    }
    let plan = f.plan(&inputs).unwrap();
    // Three operands are read in place: h's and z's transposes in g, w's in the last product.
    // Only z's transpose is not computed: h's is an output (one node, after CSE), w's is read
    // by exp too.
    assert_eq!(plan.folded_transposes(), (3, 1), "{plan}");
}

/// `x * 1` on a transposed input is a row-major copy in eager execution; a later row sum runs
/// another path over it than over the strided `x`. Removing the multiply would change the
/// rounding, so it stays; so does a reshape of a reshape, whose inner copy has a layout of its
/// own.
#[test]
fn identities_that_would_change_a_layout_are_kept() {
    let mut f = compile(|xs: &[Var]| Ok(xs[0].transpose(0, 1).mul_scalar(1.0).sum(&[1], false)));
    let x = randn(&[40, 30], 11);
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    assert_eq!(f.plan(std::slice::from_ref(&x)).unwrap().count("mul_scalar"), 1);
    assert_eq!(bits(&out.outputs[0]), bits(&x.t().mul_scalar(1.0).sum(&[1], false)));
    let mut g = compile(|xs: &[Var]| Ok(xs[0].transpose(0, 1).reshape(&[-1]).reshape(&[30, 40]).sum(&[1], false)));
    let out = g.run(std::slice::from_ref(&x)).unwrap();
    assert_eq!(g.plan(std::slice::from_ref(&x)).unwrap().count("reshape"), 2);
    assert_eq!(bits(&out.outputs[0]), bits(&x.t().reshape(&[-1]).reshape(&[30, 40]).sum(&[1], false)));
}

#[test]
fn inexact_rewrites_are_not_made() {
    // x + 0.0 turns -0.0 into +0.0: it must stay.
    let mut f = compile(|xs: &[Var]| Ok(xs[0].add_scalar(0.0)));
    let x = Tensor::from_vec(vec![-0.0f64, 1.0], &[2]);
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    assert_eq!(f.plan(std::slice::from_ref(&x)).unwrap().count("add_scalar"), 1);
    assert_eq!(out.outputs[0].to_vec::<f64>()[0].to_bits(), 0.0f64.to_bits());
    // Arithmetic identities on an argument stay (an argument may be a strided view).
    let mut g = compile(|xs: &[Var]| Ok(xs[0].mul_scalar(1.0)));
    let x = randn(&[2, 2], 4);
    g.run(std::slice::from_ref(&x)).unwrap();
    assert_eq!(g.plan(&[x]).unwrap().count("mul_scalar"), 1);
}

#[test]
fn a_new_input_signature_traces_a_second_plan() {
    let traces = std::cell::Cell::new(0);
    let mut f = compile(|xs: &[Var]| {
        traces.set(traces.get() + 1);
        Ok(xs[0].sum_all())
    });
    f.run(&[randn(&[4, 3], 5)]).unwrap();
    f.run(&[randn(&[4, 3], 6)]).unwrap();
    assert_eq!((f.plans(), traces.get()), (1, 1), "same shapes: replayed, not traced");
    let last = f.run(&[randn(&[2, 3], 7)]).unwrap();
    assert_eq!((f.plans(), traces.get()), (2, 2), "a shorter batch: a second plan");
    assert_eq!(f.plan(&[randn(&[2, 3], 0)]).unwrap().program().len(), 2);
    assert_eq!(bits(&last.outputs[0]), bits(&randn(&[2, 3], 7).sum(&[], false)));
    f.run(&[randn(&[4, 3], 8).to_dtype(DType::F32)]).unwrap();
    assert_eq!(f.plans(), 3, "another dtype is another signature");
}

/// A 2-16-16-1 tanh MLP's loss, as W6 defines it.
fn mlp_loss(params: &[Param], x: &Var, y: &Var) -> autograd::Result<Var> {
    let tape = x.tape();
    let w: Vec<Var> = params.iter().map(|p| tape.param(p)).collect();
    let h = x.matmul(&w[0]).add(&w[1]).tanh();
    let h = h.matmul(&w[2]).add(&w[3]).tanh();
    let pred = h.matmul(&w[4]).add(&w[5]);
    Ok((pred - y).square().mean_all())
}

fn mlp_params(seed: u64) -> Vec<Param> {
    let shapes: [&[usize]; 6] = [&[2, 16], &[16], &[16, 16], &[16], &[16, 1], &[1]];
    shapes.iter().enumerate().map(|(i, s)| Param::new(randn(s, seed + i as u64).mul_scalar(0.5))).collect()
}

#[test]
fn a_compiled_training_step_equals_the_eager_one_bit_for_bit() {
    for fusion in [false, true] {
        training_equals_eager(fusion);
    }
}

fn training_equals_eager(fusion: bool) {
    let (eager_params, compiled_params) = (mlp_params(10), mlp_params(10));
    let step = compile(|xs: &[Var]| mlp_loss(&compiled_params, &xs[0], &xs[1])).with_grads();
    let mut step = if fusion { step } else { step.without_fusion() };
    let lr = 0.05;
    for i in 0..100 {
        let x = randn(&[32, 2], 100 + i);
        let y = x.sum(&[1], true).sin();
        // Eager: record, backward, SGD.
        let tape = Tape::new();
        let loss = mlp_loss(&eager_params, &tape.input(x.clone()), &tape.input(y.clone())).unwrap();
        let grads = loss.backward().unwrap();
        for p in &eager_params {
            p.set(p.value() - grads.param(p).unwrap() * lr);
        }
        // Compiled: replay, SGD on the replayed gradients.
        let out = step.run(&[x, y]).unwrap();
        for p in &compiled_params {
            p.set(p.value() - out.grads.param(p).unwrap() * lr);
        }
        assert_eq!(bits(&out.outputs[0]), bits(&loss.tensor()), "step {i}");
    }
    for (a, b) in eager_params.iter().zip(&compiled_params) {
        assert_eq!(bits(&a.value()), bits(&b.value()));
    }
    assert_eq!(step.plans(), 1);
}

#[test]
fn a_parameter_read_twice_gets_one_summed_gradient() {
    let w = Param::new(Tensor::from_vec(vec![2.0f64], &[1]));
    let mut f = compile(|xs: &[Var]| {
        let tape = xs[0].tape();
        Ok((&xs[0] * &tape.param(&w) + &xs[0] * &tape.param(&w).square()).sum_all())
    })
    .with_grads();
    let out = f.run(&[Tensor::from_vec(vec![1.0f64, 3.0], &[2])]).unwrap();
    // d/dw sum(x w + x w^2) = sum(x) (1 + 2w) = 4 * 5.
    assert_eq!(out.grads.param(&w).unwrap().to_vec::<f64>(), vec![20.0]);
}

#[test]
fn with_grads_needs_a_loss() {
    let mut f = compile(|_: &[Var]| Ok(Vec::<Var>::new())).with_grads();
    let err = f.run(&[Tensor::zeros(&[1], DType::F64)]).unwrap_err();
    assert_eq!(err.to_string(), "compile: gradients need the closure to return a loss as its first output");
}

#[test]
fn the_optimised_program_prints_with_what_each_pass_did() {
    let mut f = compile(|xs: &[Var]| Ok(xs[0].tanh() + xs[0].tanh()));
    let x = randn(&[2], 9);
    f.run(std::slice::from_ref(&x)).unwrap();
    let listing = f.plan(&[x]).unwrap().to_string();
    assert!(listing.starts_with("# dead-node elimination: 0 changed, 4 nodes\n"), "{listing}");
    assert!(listing.contains("# common subexpressions: 1 changed, 3 nodes"), "{listing}");
    assert_eq!(listing.matches("tanh").count(), 1, "{listing}");
}

#[test]
fn a_first_run_under_no_grad_still_traces_a_program() {
    let mut f = compile(|xs: &[Var]| Ok(xs[0].exp()));
    let first = autograd::no_grad(|| f.run(&[Tensor::from_vec(vec![0.0f64], &[1])])).unwrap();
    let second = f.run(&[Tensor::from_vec(vec![1.0f64], &[1])]).unwrap();
    assert_eq!((first.outputs[0].to_vec::<f64>(), second.outputs[0].to_vec::<f64>()), (vec![1.0], vec![1f64.exp()]));
}

#[test]
fn gradients_of_a_parameter_read_often_equal_the_eager_ones_bit_for_bit() {
    let w = Param::new(randn(&[3, 3], 20));
    let loss = |x: &Var| -> autograd::Result<Var> {
        let tape = x.tape();
        let mut h = x.clone();
        for _ in 0..4 {
            h = h.matmul(&tape.param(&w)).tanh(); // an unrolled recurrence: w read four times
        }
        Ok(h.square().mean_all())
    };
    let x = randn(&[5, 3], 21);
    let mut f = compile(|xs: &[Var]| loss(&xs[0])).with_grads();
    let compiled = f.run(std::slice::from_ref(&x)).unwrap();
    let tape = Tape::new();
    let eager = loss(&tape.input(x)).unwrap().backward().unwrap();
    assert_eq!(bits(compiled.grads.param(&w).unwrap()), bits(eager.param(&w).unwrap()));
}

#[test]
fn frozen_parameters_get_no_gradients_and_no_error() {
    let w = Param::new(randn(&[2], 22));
    w.set_requires_grad(false);
    let mut f = compile(|xs: &[Var]| Ok((&xs[0] * &xs[0].tape().param(&w)).sum_all())).with_grads();
    let out = f.run(&[randn(&[2], 23)]).unwrap();
    assert!(out.grads.param(&w).is_none());
}

#[test]
fn input_gradients_equal_the_eager_ones_bit_for_bit() {
    // W2: ((a * b + c).tanh()).sum(), differentiated with respect to all three inputs.
    let f = |xs: &[Var]| Ok((&xs[0] * &xs[1] + &xs[2]).tanh().sum(&[0], false));
    let mut compiled = compile(f).with_input_grads();
    let ids = Tensor::from_vec(vec![1i64], &[1]);
    let abc = [randn(&[4], 30), randn(&[4], 31), randn(&[4], 32)];
    let out = compiled.run(&abc).unwrap();
    let tape = Tape::new();
    let vars: Vec<Var> = abc.iter().map(|t| tape.var(t.clone())).collect();
    let eager = f(&vars).unwrap().backward().unwrap();
    for (k, v) in vars.iter().enumerate() {
        assert_eq!(bits(out.input_grads[k].as_ref().unwrap()), bits(eager.get(v).unwrap()), "input {k}");
    }
    // An integer input has no gradient.
    let mut g = compile(|xs: &[Var]| Ok(xs[0].index_select(0, &xs[1]).sum_all())).with_input_grads();
    let out = g.run(&[randn(&[3], 33), ids]).unwrap();
    assert!(out.input_grads[0].is_some() && out.input_grads[1].is_none());
}

#[test]
fn elementwise_chains_fuse_and_shared_values_stay() {
    // h = tanh(x @ w + b) is read twice (by the square and by the sum): it stays a node; the
    // bias add and tanh fuse, and so do square, mul_scalar and add after it.
    let w = Param::new(randn(&[3, 4], 40));
    let b = Param::new(randn(&[4], 41));
    let body = |x: &Var| -> autograd::Result<Var> {
        let tape = x.tape();
        let h = x.matmul(&tape.param(&w)).add(&tape.param(&b)).tanh();
        Ok((h.square().mul_scalar(0.5) + &h).sum_all())
    };
    let mut f = compile(|xs: &[Var]| body(&xs[0])).with_grads();
    let x = randn(&[5, 3], 42);
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    let plan = f.plan(std::slice::from_ref(&x)).unwrap();
    assert!(plan.count("fused") >= 2, "{plan}");
    assert_eq!(plan.count("tanh") + plan.count("square"), 0, "{plan}");
    let listing = plan.to_string();
    assert!(listing.contains("fused[r2 = add(x0, x1); r3 = tanh(r2)]"), "{listing}");
    let tape = Tape::new();
    let loss = body(&tape.input(x)).unwrap();
    let eager = loss.backward().unwrap();
    assert_eq!(bits(&out.outputs[0]), bits(&loss.tensor()));
    assert_eq!(bits(out.grads.param(&w).unwrap()), bits(eager.param(&w).unwrap()));
    assert_eq!(bits(out.grads.param(&b).unwrap()), bits(eager.param(&b).unwrap()));
}

/// The memory plan: unfused, a chain of same-shape elementwise ops needs two buffers, whatever
/// its length (a node never writes over its own input, and a value's buffer is free once its
/// reader has run); fused, it is one node and one buffer.
#[test]
fn a_chain_of_elementwise_ops_lives_in_two_buffers() {
    let chain = |xs: &[Var]| Ok(xs[0].exp().tanh().neg().sin().square().sigmoid());
    let x = randn(&[5, 3], 2);
    let want = bits(&x.exp().tanh().neg().sin().square().sigmoid());
    let mut f = compile(chain).without_fusion();
    let out = f.run(std::slice::from_ref(&x)).unwrap();
    let plan = f.plan(std::slice::from_ref(&x)).unwrap();
    assert_eq!(plan.planned_buffers(), (2, 6), "{plan}");
    assert_eq!(plan.planned_bytes(), 2 * 15 * 8);
    assert_eq!(bits(&out.outputs[0]), want);

    let mut f = compile(chain);
    for _ in 0..2 {
        let out = f.run(std::slice::from_ref(&x)).unwrap();
        assert_eq!(bits(&out.outputs[0]), want);
    }
    let plan = f.plan(std::slice::from_ref(&x)).unwrap();
    assert_eq!((plan.planned_buffers(), plan.count("fused")), ((1, 1), 1), "{plan}");
}

/// The planned buffers are written in place only when nothing else holds them: outputs kept
/// from earlier runs, and values a view still reads, keep their values.
#[test]
fn outputs_held_from_earlier_runs_keep_their_values() {
    // `t` is an output and is read again after a view of it was taken.
    let mut f = compile(|xs: &[Var]| {
        let t = xs[0].tanh();
        let v = t.reshape(&[-1]);
        let u = (&t * &xs[0]).exp();
        Ok(vec![t, u, v.neg()])
    });
    let runs: Vec<Tensor> = (0..4).map(|k| randn(&[2, 3], 10 + k)).collect();
    let held: Vec<Vec<Tensor>> = runs.iter().map(|x| f.run(std::slice::from_ref(x)).unwrap().outputs).collect();
    let mut step = autograd::Step::default();
    for (x, outputs) in runs.iter().zip(&held) {
        let t = x.tanh();
        let want = [t.clone(), (&t * x).exp(), t.reshape(&[-1]).neg()];
        for (got, want) in outputs.iter().zip(&want) {
            assert_eq!(bits(got), bits(want));
        }
        // `run_into` reuses the step's buffers, and gives the same values.
        f.run_into(std::slice::from_ref(x), &mut step).unwrap();
        for (got, want) in step.outputs.iter().zip(&want) {
            assert_eq!(bits(got), bits(want));
        }
    }
    assert_eq!(f.plans(), 1);
}

/// A training step replayed with `run_into` and updated in place between runs equals the eager
/// steps bit for bit, with the gradients of every run computed from that run's parameters.
#[test]
fn a_step_replayed_into_one_step_and_updated_in_place_equals_eager() {
    let mut rng = Rng::seed(7);
    let init = [Tensor::normal(&[3, 4], 0.0, 0.5, DType::F64, &mut rng), Tensor::zeros(&[4], DType::F64)];
    let (x, y) = (randn(&[8, 3], 8), randn(&[8, 4], 9));
    let train = |compiled: bool| -> Vec<Vec<u64>> {
        let params: Vec<Param> = init.iter().map(|t| Param::new(t.clone())).collect();
        let loss_of = |xs: &[Var]| {
            let tape = xs[0].tape();
            let h = xs[0].matmul(&tape.param(&params[0])) + tape.param(&params[1]);
            Ok((h.tanh() - &xs[1]).square().mean_all())
        };
        let mut f = compile(loss_of).with_grads();
        let mut step = autograd::Step::default();
        let mut losses = Vec::new();
        for _ in 0..5 {
            let grads: Vec<Tensor> = if compiled {
                f.run_into(&[x.clone(), y.clone()], &mut step).unwrap();
                losses.push(bits(&step.outputs[0]));
                params.iter().map(|p| step.grads.param(p).unwrap().clone()).collect()
            } else {
                let tape = Tape::new();
                let loss = loss_of(&[tape.constant(x.clone()), tape.constant(y.clone())]).unwrap();
                losses.push(bits(loss.value()));
                let g = loss.backward().unwrap();
                params.iter().map(|p| g.param(p).unwrap().clone()).collect()
            };
            // In place: the run let go of the parameters' buffers, so nothing is copied.
            for (p, g) in params.iter().zip(grads) {
                p.update(|w| w.try_add_assign(&g.mul_scalar(-0.5)).unwrap());
            }
        }
        losses.push(params.iter().flat_map(|p| bits(&p.value())).collect());
        losses
    };
    assert_eq!(train(true), train(false));
}

/// `run_updating` calls the update of each parameter during the run, once its gradient is
/// complete and its value read for the last time: the last layer's first (backward reaches it
/// first), and each on a buffer nothing else holds (so the update writes in place).
#[test]
fn updates_run_during_the_run_on_exclusive_parameters() {
    let params = mlp_params(4);
    let mut f = compile(|xs: &[Var]| mlp_loss(&params, &xs[0], &xs[1])).with_grads();
    let (x, y) = (randn(&[8, 2], 5), randn(&[8, 1], 6));
    let mut seen = Vec::new();
    let mut step = autograd::Step::default();
    for _ in 0..2 {
        seen.clear();
        let mut update = |id: autograd::ParamId, g: &Tensor| -> autograd::Result<()> {
            let p = params.iter().find(|p| p.id() == id).unwrap();
            seen.push((params.iter().position(|q| q.id() == id).unwrap(), p.is_exclusive(), g.shape() == p.shape()));
            Ok(())
        };
        f.run_updating(&[x.clone(), y.clone()], &mut step, &mut update).unwrap();
    }
    let order: Vec<usize> = seen.iter().map(|s| s.0).collect();
    assert_eq!(order.len(), params.len(), "{order:?}");
    assert!(order.iter().position(|&k| k == params.len() - 1) < order.iter().position(|&k| k == 0), "{order:?}");
    assert!(seen.iter().all(|&(_, exclusive, shape)| exclusive && shape), "{seen:?}");
}

#[test]
fn run_updating_needs_gradients() {
    let mut f = compile(|xs: &[Var]| Ok(xs[0].sum_all()));
    let mut update = |_: autograd::ParamId, _: &Tensor| -> autograd::Result<()> { Ok(()) };
    let err = f.run_updating(&[randn(&[2], 1)], &mut autograd::Step::default(), &mut update).unwrap_err();
    assert_eq!(err.to_string(), "compile: run_updating needs the parameters' gradients: compile with with_grads()");
}

/// An update that fails stops the run with its error; the plan is left clean, and the next run
/// gives the same outputs as a run that never failed.
#[test]
fn a_failing_update_stops_the_run_and_the_next_run_is_whole() {
    let params = mlp_params(4);
    let mut f = compile(|xs: &[Var]| mlp_loss(&params, &xs[0], &xs[1])).with_grads();
    let (x, y) = (randn(&[8, 2], 5), randn(&[8, 1], 6));
    let mut step = autograd::Step::default();
    let mut calls = 0;
    let mut failing = |_: autograd::ParamId, _: &Tensor| -> autograd::Result<()> {
        calls += 1;
        if calls == 2 {
            return Err(autograd::AutogradError::Invalid { op: "update", msg: "refused".into() });
        }
        Ok(())
    };
    let err = f.run_updating(&[x.clone(), y.clone()], &mut step, &mut failing).unwrap_err();
    assert_eq!(err.to_string(), "update: refused");
    assert_eq!(calls, 2, "the run stopped at the failing update");
    let out = f.run(&[x.clone(), y.clone()]).unwrap();
    let eager = compile(|xs: &[Var]| mlp_loss(&params, &xs[0], &xs[1])).with_grads().run(&[x, y]).unwrap();
    assert_eq!(bits(&out.outputs[0]), bits(&eager.outputs[0]));
    for p in &params {
        assert_eq!(bits(out.grads.param(p).unwrap()), bits(eager.grads.param(p).unwrap()));
    }
}
