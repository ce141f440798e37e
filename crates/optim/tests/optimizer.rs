//! The driver's contract: param groups, skipping parameters without gradients, checked
//! hyperparameters and gradients (a failed step changes nothing), learning rates per group.

use autograd::{Gradients, Param, Tape};
use optim::{Adagrad, Adam, Optim, OptimError, Optimizer, RmsProp, Sgd};
use tensor::{DType, Tensor};

fn v(data: &[f64]) -> Tensor {
    Tensor::from_slice(data, &[data.len()])
}

fn grads_of(pairs: &[(&Param, Tensor)]) -> Gradients {
    let mut g = Gradients::new();
    for (p, t) in pairs {
        g.set_param(p.id(), t.clone());
    }
    g
}

#[test]
fn hyperparameters_are_checked_with_their_names() {
    let p = || vec![Param::new(v(&[1.0]))];
    let err = |r: optim::Result<()>| r.unwrap_err().to_string();
    assert_eq!(
        err(Optim::new(p(), Sgd { lr: -0.1, ..Sgd::default() }).map(|_| ())),
        "SGD: lr = -0.1 is invalid: must be >= 0"
    );
    assert_eq!(
        err(Optim::new(p(), Sgd { nesterov: true, ..Sgd::default() }).map(|_| ())),
        "SGD: nesterov = 0 is invalid: Nesterov momentum needs momentum > 0 and dampening = 0"
    );
    assert_eq!(
        err(Optim::new(p(), Adam { betas: (0.9, 1.0), ..Adam::default() }).map(|_| ())),
        "Adam: betas.1 = 1 is invalid: must be in [0, 1)"
    );
    assert_eq!(
        err(Optim::new(p(), RmsProp { alpha: -0.5, ..RmsProp::default() }).map(|_| ())),
        "RMSprop: alpha = -0.5 is invalid: must be >= 0"
    );
    assert_eq!(
        err(Optim::new(p(), Adagrad { eps: -1.0, ..Adagrad::default() }).map(|_| ())),
        "Adagrad: eps = -1 is invalid: must be >= 0"
    );
    let ints = Param::new(Tensor::from_vec(vec![1i64], &[1]));
    let e = Optim::new([ints.clone()], Sgd::default()).map(|_| ()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("SGD: parameter {} is i64; optimizers update f32 or f64 parameters", ints.id().0)
    );
}

#[test]
fn a_parameter_without_a_gradient_is_skipped_and_its_state_does_not_advance() {
    let (a, b) = (Param::new(v(&[1.0])), Param::new(v(&[1.0])));
    let mut opt = Optim::new([a.clone(), b.clone()], Adam { lr: 0.1, ..Adam::default() }).unwrap();
    opt.step(&grads_of(&[(&a, v(&[1.0]))])).unwrap();
    opt.step(&grads_of(&[(&a, v(&[1.0]))])).unwrap();
    assert_eq!(opt.state(&a).unwrap().step, 2);
    assert!(opt.state(&b).is_none(), "b never had a gradient: no state");
    assert_eq!(b.value().to_vec::<f64>(), vec![1.0]);
    opt.step(&grads_of(&[(&b, v(&[1.0]))])).unwrap();
    assert_eq!((opt.state(&a).unwrap().step, opt.state(&b).unwrap().step), (2, 1));

    // A first step for b: bias-corrected Adam moves by lr (up to eps).
    assert!((b.value().item() - 0.9).abs() < 1e-8);
}

#[test]
fn a_mismatched_gradient_is_an_error_and_the_step_changes_nothing() {
    let (a, b) = (Param::new(v(&[1.0, 2.0])), Param::new(v(&[3.0])));
    let mut opt = Optim::new([a.clone(), b.clone()], Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() }).unwrap();
    let bad = grads_of(&[(&a, v(&[1.0, 1.0])), (&b, v(&[1.0, 1.0]))]);
    let err = opt.step(&bad).unwrap_err();
    assert!(matches!(err, OptimError::GradientMismatch { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "SGD: the gradient of parameter {} is f64[2] but the parameter is f64[1]; the step changed nothing",
            b.id().0
        )
    );
    assert_eq!(a.value().to_vec::<f64>(), vec![1.0, 2.0], "a (checked first, valid) was not updated");
    assert!(opt.state(&a).is_none());
    let wrong_dtype = grads_of(&[(&a, Tensor::ones(&[2], DType::F32))]);
    assert!(matches!(opt.step(&wrong_dtype), Err(OptimError::GradientMismatch { .. })));
}

#[test]
fn param_groups_have_their_own_hyperparameters_and_learning_rates() {
    let (w, bias) = (Param::new(v(&[1.0])), Param::new(v(&[1.0])));
    let mut opt = Optim::new([w.clone()], Sgd { lr: 0.1, weight_decay: 1.0, ..Sgd::default() }).unwrap();
    opt.add_param_group([bias.clone()], Sgd { lr: 0.01, ..Sgd::default() }).unwrap();
    assert_eq!(opt.num_groups(), 2);
    assert_eq!((opt.lr(0).unwrap(), opt.lr(1).unwrap()), (0.1, 0.01));
    let g = grads_of(&[(&w, v(&[1.0])), (&bias, v(&[1.0]))]);
    opt.step(&g).unwrap();
    // w: 1 - 0.1 * (1 + 1 * 1) = 0.8; bias: 1 - 0.01 * 1 = 0.99.
    assert!((w.value().item() - 0.8).abs() < 1e-15 && (bias.value().item() - 0.99).abs() < 1e-15);
    opt.set_lr(1, 0.5).unwrap();
    opt.step(&grads_of(&[(&bias, v(&[1.0]))])).unwrap();
    assert!((bias.value().item() - 0.49).abs() < 1e-15);
    opt.config_mut(0).unwrap().lr = -1.0;
    assert!(matches!(opt.step(&g), Err(OptimError::Hyperparameter { .. })), "checked at the next step");
    assert_eq!(opt.lr(2).unwrap_err().to_string(), "SGD: there is no param group 2 (it has 2)");
    let dup = opt.add_param_group([w.clone()], Sgd::default()).unwrap_err();
    assert_eq!(dup.to_string(), format!("SGD: parameter {} is already in param group 0", w.id().0));
}

#[test]
fn a_training_loop_learns() {
    // Fit y = 3x with one weight: SGD with momentum, gradients from the tape.
    let w = Param::new(Tensor::zeros(&[1, 1], DType::F32));
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4, 1]);
    let y = x.mul_scalar(3.0);
    let mut opt = Optim::new([w.clone()], Sgd { lr: 0.02, momentum: 0.9, ..Sgd::default() }).unwrap();
    let tape = Tape::new();
    for _ in 0..200 {
        tape.clear();
        let loss = (tape.constant(x.clone()).matmul(&tape.param(&w)) - tape.constant(y.clone())).square().mean_all();
        opt.step(&loss.backward().unwrap()).unwrap();
    }
    assert!((w.value().item() - 3.0).abs() < 1e-3, "w = {}", w.value().item());
}

#[test]
fn lbfgs_minimizes_a_quadratic_through_its_closure() {
    use optim::{Lbfgs, LbfgsConfig};
    // f(w) = sum((w - c)^2 * scale): minimum at c.
    let w = Param::new(Tensor::zeros(&[4], DType::F64));
    let c = Tensor::from_vec(vec![1.0f64, -2.0, 3.0, 0.5], &[4]);
    let scale = Tensor::from_vec(vec![1.0f64, 10.0, 0.1, 3.0], &[4]);
    let mut opt = Lbfgs::new([w.clone()], LbfgsConfig { strong_wolfe: true, ..LbfgsConfig::default() }).unwrap();
    let tape = Tape::new();
    let mut closure = || {
        tape.clear();
        let loss = ((tape.param(&w) - tape.constant(c.clone())).square() * tape.constant(scale.clone())).sum_all();
        Ok((loss.item(), loss.backward()?))
    };
    let first = opt.step(&mut closure).unwrap();
    assert!(first > 10.0);
    let got = w.value().to_vec::<f64>();
    // Stopped by torch's criteria (loss change below 1e-9), close to the minimum.
    assert!(got.iter().zip(c.to_vec::<f64>()).all(|(a, b)| (a - b).abs() < 1e-4), "{got:?}");
    assert!(opt.func_evals() <= 25, "{} evaluations", opt.func_evals());
    assert!(Lbfgs::new([w.clone()], LbfgsConfig { lr: -1.0, ..LbfgsConfig::default() }).is_err());
}
