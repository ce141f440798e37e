//! A compiled training step with its optimizer (`with_optimizer`): the same numbers as the
//! eager loop (forward, backward, then `step`) bit for bit, for every per-parameter algorithm,
//! with parameters read late in the program, tied, outside the optimizer, or returned.

use autograd::{compile, Param, Tape, Var};
use optim::{
    Adagrad, Adam, Algorithm, LrScheduler, Optim, OptimError, Optimizer, RmsProp, Scheduler, Sgd, StepLr, WithOptimizer,
};
use tensor::{DType, Rng, Tensor};

/// The W6 model (2-16-16-1 tanh MLP) with MSE, on the parameters `w`.
fn w6_loss(x: &Var, y: &Var, w: &[Var]) -> autograd::Result<Var> {
    let h = x.matmul(&w[0]).add(&w[1]).tanh();
    let h = h.matmul(&w[2]).add(&w[3]).tanh();
    Ok((h.matmul(&w[4]).add(&w[5]) - y).square().mean_all())
}

fn w6_params(seed: u64, dtype: DType) -> Vec<Param> {
    let mut rng = Rng::seed(seed);
    let shapes: [&[usize]; 6] = [&[2, 16], &[16], &[16, 16], &[16], &[16, 1], &[1]];
    shapes.iter().map(|s| Param::new(Tensor::randn(s, dtype, &mut rng))).collect()
}

fn batches(dtype: DType) -> Vec<[Tensor; 2]> {
    let mut rng = Rng::seed(99);
    (0..4).map(|_| [Tensor::randn(&[32, 2], dtype, &mut rng), Tensor::randn(&[32, 1], dtype, &mut rng)]).collect()
}

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_dtype(DType::F64).to_vec::<f64>().iter().map(|v| v.to_bits()).collect()
}

/// 100 steps of W6 eagerly and compiled with the optimizer; the losses and final parameters.
fn train<A: Algorithm>(config: A, dtype: DType, compiled: bool) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
    let params = w6_params(6, dtype);
    let mut opt = Optim::new(params.clone(), config).unwrap();
    let data = batches(dtype);
    let mut losses = Vec::new();
    if compiled {
        let mut step = compile(|xs: &[Var]| {
            let w: Vec<Var> = params.iter().map(|p| xs[0].tape().param(p)).collect();
            w6_loss(&xs[0], &xs[1], &w)
        })
        .with_optimizer(&mut opt);
        for k in 0..100 {
            losses.push(bits(&step.run(&data[k % 4]).unwrap().outputs[0]));
        }
    } else {
        let tape = Tape::new();
        for k in 0..100 {
            tape.clear();
            let w: Vec<Var> = params.iter().map(|p| tape.param(p)).collect();
            let [x, y] = &data[k % 4];
            let loss = w6_loss(&tape.input(x.clone()), &tape.input(y.clone()), &w).unwrap();
            losses.push(bits(loss.value()));
            let grads = loss.backward().unwrap();
            opt.step(&grads).unwrap();
        }
    }
    (losses, params.iter().map(|p| bits(&p.value())).collect())
}

fn same_as_eager<A: Algorithm>(config: A) {
    for dtype in [DType::F32, DType::F64] {
        let (eager, compiled) = (train(config.clone(), dtype, false), train(config.clone(), dtype, true));
        assert_eq!(eager.0, compiled.0, "{config:?} {dtype}: losses");
        assert_eq!(eager.1, compiled.1, "{config:?} {dtype}: parameters");
    }
}

#[test]
fn sgd_momentum_and_nesterov_match_the_eager_loop_bit_for_bit() {
    same_as_eager(Sgd { lr: 0.05, ..Sgd::default() });
    same_as_eager(Sgd { lr: 0.05, momentum: 0.9, weight_decay: 1e-3, ..Sgd::default() });
    same_as_eager(Sgd { lr: 0.05, momentum: 0.9, nesterov: true, ..Sgd::default() });
}

#[test]
fn adaptive_methods_match_the_eager_loop_bit_for_bit() {
    same_as_eager(Adam { lr: 1e-2, ..Adam::default() });
    same_as_eager(Adam { lr: 1e-2, amsgrad: true, ..Adam::adamw() });
    same_as_eager(RmsProp { lr: 1e-2, momentum: 0.5, ..RmsProp::default() });
    same_as_eager(Adagrad { lr: 0.1, ..Adagrad::default() });
}

/// Tied weights: `w` is read in the forward pass twice, once transposed, and its value again
/// by the backward pass, after part of its gradient is known. Its update waits for the last
/// read; the step's reported gradient is the one the update used.
#[test]
fn a_parameter_read_late_is_updated_after_its_last_read() {
    let run = |compiled: bool| {
        let w = Param::new(Tensor::randn(&[3, 4], DType::F64, &mut Rng::seed(1)));
        let x = Tensor::randn(&[5, 3], DType::F64, &mut Rng::seed(2));
        let mut opt = Optim::new([w.clone()], Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() }).unwrap();
        let autoencoder = |x: &Var, w: &Var| -> autograd::Result<Var> {
            Ok((x.matmul(w).tanh().matmul(&w.t()) - x).square().mean_all())
        };
        let mut grads = Vec::new();
        if compiled {
            let mut step = compile(|xs: &[Var]| autoencoder(&xs[0], &xs[0].tape().param(&w))).with_optimizer(&mut opt);
            for _ in 0..10 {
                grads.push(bits(step.run(std::slice::from_ref(&x)).unwrap().grads.param(&w).unwrap()));
            }
        } else {
            let tape = Tape::new();
            for _ in 0..10 {
                tape.clear();
                let g = autoencoder(&tape.input(x.clone()), &tape.param(&w)).unwrap().backward().unwrap();
                grads.push(bits(g.param(&w).unwrap()));
                opt.step(&g).unwrap();
            }
        }
        (grads, bits(&w.value()))
    };
    assert_eq!(run(false), run(true));
}

/// A parameter outside the optimizer keeps its value, though its gradient is reported; a
/// parameter the function returns is returned as it was before the update.
#[test]
fn parameters_outside_the_optimizer_or_returned_keep_their_values() {
    let (a, b) =
        (Param::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2])), Param::new(Tensor::from_vec(vec![3.0f64], &[1])));
    let mut opt = Optim::new([a.clone()], Sgd { lr: 0.5, ..Sgd::default() }).unwrap();
    let mut step = compile(|xs: &[Var]| {
        let (pa, pb) = (xs[0].tape().param(&a), xs[0].tape().param(&b));
        Ok(((&xs[0] * &pa).sum_all() * pb.sum_all(), pa))
    })
    .with_optimizer(&mut opt);
    let out = step.run(&[Tensor::from_vec(vec![1.0f64, 1.0], &[2])]).unwrap();
    // loss = (a0 + a1) * b: ∂/∂a = [b, b] = [3, 3], ∂/∂b = a0 + a1 = 3.
    assert_eq!(out.outputs[1].to_vec::<f64>(), vec![1.0, 2.0], "the returned parameter, before the update");
    assert_eq!(out.grads.param(&b).unwrap().to_vec::<f64>(), vec![3.0]);
    assert_eq!(a.value().to_vec::<f64>(), vec![1.0 - 1.5, 2.0 - 1.5]);
    assert_eq!(b.value().to_vec::<f64>(), vec![3.0], "b is not in the optimizer");
}

/// A scheduler drives the learning rate between runs through `optimizer()`.
#[test]
fn a_scheduler_sets_the_learning_rate_between_runs() {
    let w = Param::new(Tensor::from_vec(vec![1.0f64], &[1]));
    let mut opt = Optim::new([w.clone()], Sgd { lr: 1.0, ..Sgd::default() }).unwrap();
    let mut sched = Scheduler::new(&mut opt, StepLr { step_size: 1, gamma: 0.5 }).unwrap();
    let mut step = compile(|xs: &[Var]| Ok((&xs[0] * &xs[0].tape().param(&w)).sum_all())).with_optimizer(&mut opt);
    let x = [Tensor::from_vec(vec![1.0f64], &[1])];
    for _ in 0..3 {
        step.run(&x).unwrap(); // gradient 1, lr 1, 0.5, 0.25
        sched.step(step.optimizer()).unwrap();
    }
    assert_eq!(w.value().to_vec::<f64>(), vec![1.0 - 1.0 - 0.5 - 0.25]);
}

/// A bad hyperparameter is reported before the run, and nothing changes.
#[test]
fn a_bad_hyperparameter_stops_the_run_before_any_update() {
    let (a, b) = (Param::new(Tensor::from_vec(vec![1.0f64], &[1])), Param::new(Tensor::from_vec(vec![2.0f64], &[1])));
    let mut opt = Optim::new([a.clone()], Sgd { lr: 0.1, ..Sgd::default() }).unwrap();
    opt.add_param_group([b.clone()], Sgd { lr: 0.1, ..Sgd::default() }).unwrap();
    opt.config_mut(1).unwrap().lr = -1.0;
    let mut step = compile(|xs: &[Var]| {
        let t = xs[0].tape();
        Ok((&xs[0] * &t.param(&a) * t.param(&b)).sum_all())
    })
    .with_optimizer(&mut opt);
    let err = step.run(&[Tensor::from_vec(vec![1.0f64], &[1])]).map(|_| ()).unwrap_err();
    assert_eq!(err.to_string(), "SGD: lr = -1 is invalid: must be >= 0");
    assert_eq!((a.value().to_vec::<f64>(), b.value().to_vec::<f64>()), (vec![1.0], vec![2.0]));
}

/// An optimizer that cannot update one parameter at a time says so.
#[test]
fn an_optimizer_without_step_param_is_refused_with_a_clear_error() {
    struct AllAtOnce;
    impl Optimizer for AllAtOnce {
        fn step(&mut self, _: &autograd::Gradients) -> optim::Result<()> {
            Ok(())
        }
        fn num_groups(&self) -> usize {
            1
        }
        fn lr(&self, _: usize) -> optim::Result<f64> {
            Ok(0.1)
        }
        fn set_lr(&mut self, _: usize, _: f64) -> optim::Result<()> {
            Ok(())
        }
        fn initial_lr(&self, _: usize) -> optim::Result<Option<f64>> {
            Ok(None)
        }
        fn set_initial_lr(&mut self, _: usize, _: f64) -> optim::Result<()> {
            Ok(())
        }
        fn momentum(&self, _: usize) -> optim::Result<Option<f64>> {
            Ok(None)
        }
        fn set_momentum(&mut self, _: usize, _: f64) -> optim::Result<()> {
            Ok(())
        }
    }
    let w = Param::new(Tensor::from_vec(vec![1.0f64], &[1]));
    let mut opt = AllAtOnce;
    let mut step = compile(|xs: &[Var]| Ok((&xs[0] * &xs[0].tape().param(&w)).sum_all())).with_optimizer(&mut opt);
    let err = step.run(&[Tensor::from_vec(vec![1.0f64], &[1])]).map(|_| ()).unwrap_err();
    assert!(matches!(err, OptimError::NoParamStep { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "step_param: this optimizer cannot update parameter {} alone (it needs every gradient at once); call step with all the gradients",
            w.id().0
        )
    );
}

/// `step_param` on the optimizer directly: a parameter it does not hold is left alone, and a
/// gradient of the wrong shape is the same error `step` gives.
#[test]
fn step_param_checks_like_step() {
    let (a, other) =
        (Param::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2])), Param::new(Tensor::zeros(&[1], DType::F64)));
    let mut opt = Optim::new([a.clone()], Sgd { lr: 1.0, ..Sgd::default() }).unwrap();
    assert!(!opt.step_param(other.id(), &Tensor::ones(&[1], DType::F64)).unwrap());
    let err = opt.step_param(a.id(), &Tensor::ones(&[3], DType::F64)).unwrap_err();
    assert!(matches!(err, OptimError::GradientMismatch { .. }), "{err}");
    assert!(opt.step_param(a.id(), &Tensor::ones(&[2], DType::F64)).unwrap());
    assert_eq!(a.value().to_vec::<f64>(), vec![0.0, 1.0]);
}

/// Freezing a parameter after the step was traced: the plan is traced again, so the frozen
/// parameter is neither differentiated nor updated, as in the eager loop; unfreezing brings it
/// back.
#[test]
fn freezing_a_parameter_after_tracing_stops_its_updates() {
    let run = |compiled: bool| {
        let (a, b) = (
            Param::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2])),
            Param::new(Tensor::from_vec(vec![3.0f64, -1.0], &[2])),
        );
        let mut opt = Optim::new([a.clone(), b.clone()], Sgd { lr: 0.1, momentum: 0.5, ..Sgd::default() }).unwrap();
        let loss = |x: &Var, a: &Var, b: &Var| -> autograd::Result<Var> { Ok((x * a * b).tanh().sum_all()) };
        let x = Tensor::from_vec(vec![0.5f64, -0.25], &[2]);
        let mut seen = Vec::new();
        let mut step = compile(|xs: &[Var]| {
            let t = xs[0].tape();
            loss(&xs[0], &t.param(&a), &t.param(&b))
        })
        .with_optimizer(&mut opt);
        let tape = Tape::new();
        let mut eager_opt =
            Optim::new([a.clone(), b.clone()], Sgd { lr: 0.1, momentum: 0.5, ..Sgd::default() }).unwrap();
        for k in 0..9 {
            b.set_requires_grad(!(3..6).contains(&k));
            if compiled {
                let out = step.run(std::slice::from_ref(&x)).unwrap();
                seen.push(out.grads.param(&b).is_some());
            } else {
                tape.clear();
                let grads = loss(&tape.input(x.clone()), &tape.param(&a), &tape.param(&b)).unwrap().backward().unwrap();
                seen.push(grads.param(&b).is_some());
                eager_opt.step(&grads).unwrap();
            }
        }
        assert_eq!(step.compiled().plans(), usize::from(compiled), "a retraced plan replaces the old one");
        (seen, bits(&a.value()), bits(&b.value()))
    };
    let (eager, compiled) = (run(false), run(true));
    assert_eq!(eager.0, vec![true, true, true, false, false, false, true, true, true]);
    assert_eq!(eager, compiled);
}

/// Gradients that are other parameters' values (`d/da sum(a * b) = b`): each update reads the
/// gradient as it was, though the parameter it aliases is updated in the same run.
#[test]
fn gradients_that_alias_parameters_are_read_before_they_change() {
    let run = |compiled: bool| {
        let (a, b) = (
            Param::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2])),
            Param::new(Tensor::from_vec(vec![3.0f64, -1.0], &[2])),
        );
        let mut opt = Optim::new([a.clone(), b.clone()], Sgd { lr: 0.1, ..Sgd::default() }).unwrap();
        if compiled {
            let mut step = compile(|xs: &[Var]| {
                let t = xs[0].tape();
                Ok((t.param(&a) * t.param(&b)).sum_all())
            })
            .with_optimizer(&mut opt);
            for _ in 0..5 {
                step.run(&[Tensor::zeros(&[1], DType::F64)]).unwrap();
            }
        } else {
            let tape = Tape::new();
            for _ in 0..5 {
                tape.clear();
                opt.step(&(tape.param(&a) * tape.param(&b)).sum_all().backward().unwrap()).unwrap();
            }
        }
        (bits(&a.value()), bits(&b.value()))
    };
    assert_eq!(run(false), run(true));
}
