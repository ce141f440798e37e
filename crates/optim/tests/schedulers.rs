//! Every scheduler matches PyTorch's learning-rate sequence over 100 steps, on an optimizer with
//! two param groups. The references are `tests/data/schedulers.txt`, made by
//! `tests/data/gen_schedulers.py` with `torch.optim.lr_scheduler` itself.

use autograd::Param;
use optim::{
    ChainedScheduler, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts, CyclicLr, CyclicMode, ExponentialLr,
    LambdaLr, LinearLr, LrScheduler, MultiStepLr, MultiplicativeLr, OneCycleLr, Optim, Optimizer, PlateauMode,
    PlateauScheduler, PolynomialLr, ReduceLrOnPlateau, Scheduler, SequentialLr, Sgd, StepLr, ThresholdMode,
};
use tensor::{DType, Tensor};

const FIXTURE: &str = include_str!("data/schedulers.txt");

fn optimizer() -> Optim<Sgd> {
    let p = || Param::new(Tensor::zeros(&[1], DType::F64));
    let mut opt = Optim::new([p()], Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() }).unwrap();
    opt.add_param_group([p()], Sgd { lr: 0.02, momentum: 0.9, ..Sgd::default() }).unwrap();
    opt
}

fn boxed<S: optim::Schedule + 'static>(opt: &mut Optim<Sgd>, s: S) -> Box<dyn LrScheduler> {
    Box::new(Scheduler::new(opt, s).unwrap())
}

/// The scheduler the fixture names, built on `opt`.
fn make(name: &str, opt: &mut Optim<Sgd>) -> Box<dyn LrScheduler> {
    match name {
        "lambda" => boxed(opt, LambdaLr { lr_lambda: std::sync::Arc::new(|t| 0.95f64.powf(t as f64)) }),
        "multiplicative" => boxed(opt, MultiplicativeLr { lr_lambda: std::sync::Arc::new(|_| 0.97) }),
        "step" => boxed(opt, StepLr { step_size: 7, gamma: 0.5 }),
        "multistep" => boxed(opt, MultiStepLr { milestones: vec![10, 25, 25, 60], gamma: 0.3 }),
        "constant" => boxed(opt, ConstantLr { factor: 0.25, total_iters: 12 }),
        "linear" => boxed(opt, LinearLr { start_factor: 0.2, end_factor: 0.9, total_iters: 30 }),
        "exponential" => boxed(opt, ExponentialLr { gamma: 0.96 }),
        "polynomial" => boxed(opt, PolynomialLr { total_iters: 40, power: 2.0 }),
        "cosine" => boxed(opt, CosineAnnealingLr { t_max: 30, eta_min: 0.001 }),
        "warm_restarts" => boxed(opt, CosineAnnealingWarmRestarts::new(10, 2, 0.0005)),
        "warm_restarts_1" => boxed(opt, CosineAnnealingWarmRestarts::new(15, 1, 0.0)),
        "cyclic_triangular" => boxed(opt, CyclicLr::new(0.01, 0.2, 8)),
        "cyclic_no_momentum" => boxed(opt, CyclicLr { cycle_momentum: false, ..CyclicLr::new(0.01, 0.2, 8) }),
        "cyclic_triangular2" => boxed(
            opt,
            CyclicLr {
                step_size_down: Some(9),
                mode: CyclicMode::Triangular2,
                base_momentum: 0.7,
                max_momentum: 0.95,
                ..CyclicLr::new(0.01, 0.2, 5)
            },
        ),
        "cyclic_exp_range" => {
            boxed(opt, CyclicLr { mode: CyclicMode::ExpRange { gamma: 0.98 }, ..CyclicLr::new(0.01, 0.2, 6) })
        }
        "one_cycle" => boxed(opt, OneCycleLr::new(0.3, 100)),
        "one_cycle_linear_three_phase" => boxed(
            opt,
            OneCycleLr {
                pct_start: 0.25,
                anneal_cos: false,
                three_phase: true,
                base_momentum: 0.8,
                max_momentum: 0.9,
                ..OneCycleLr::new(0.3, 100)
            },
        ),
        "sequential" => {
            let a = boxed(opt, LinearLr { start_factor: 0.1, total_iters: 4, ..LinearLr::default() });
            let b = boxed(opt, ExponentialLr { gamma: 0.9 });
            Box::new(SequentialLr::new(opt, vec![a, b], vec![5]).unwrap())
        }
        "sequential_cosine" => {
            let a = boxed(opt, ConstantLr { factor: 0.5, total_iters: 10 });
            let b = boxed(opt, CosineAnnealingLr { t_max: 20, eta_min: 0.0 });
            let c = boxed(opt, StepLr { step_size: 10, gamma: 0.5 });
            Box::new(SequentialLr::new(opt, vec![a, b, c], vec![10, 50]).unwrap())
        }
        "chained" => {
            let a = boxed(opt, ConstantLr { factor: 0.5, total_iters: 8 });
            let b = boxed(opt, ExponentialLr { gamma: 0.95 });
            Box::new(ChainedScheduler::new(opt, vec![a, b]).unwrap())
        }
        other => panic!("fixture names a scheduler this test does not know: {other}"),
    }
}

fn plateau(name: &str) -> PlateauScheduler {
    match name {
        "plateau" => {
            ReduceLrOnPlateau { factor: 0.5, patience: 5, cooldown: 3, min_lr: vec![0.004, 0.0], ..Default::default() }
        }
        "plateau_max_abs" => ReduceLrOnPlateau {
            mode: PlateauMode::Max,
            factor: 0.3,
            patience: 2,
            threshold: 0.01,
            threshold_mode: ThresholdMode::Abs,
            ..Default::default()
        },
        other => panic!("unknown plateau case {other}"),
    }
    .start()
    .unwrap()
}

/// The metric the generator steps ReduceLROnPlateau with.
fn metric(t: i64) -> f64 {
    if t <= 30 {
        1.0 / (1.0 + t as f64)
    } else if t <= 70 {
        1.0 / 31.0 + 1e-6 * (t as f64).sin()
    } else {
        1.0 / 31.0 - 1e-3 * (t - 70) as f64
    }
}

/// (name, rates per step, momenta per step) for every scheduler in the fixture.
type Sequences = (String, Vec<Vec<f64>>, Vec<Vec<f64>>);

fn cases() -> Vec<Sequences> {
    let mut out: Vec<Sequences> = Vec::new();
    for line in FIXTURE.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let values = || f[2..].iter().map(|v| v.parse().unwrap()).collect();
        match f.first().copied() {
            Some("sched") => out.push((f[1].to_string(), Vec::new(), Vec::new())),
            Some("lr") => out.last_mut().unwrap().1.push(values()),
            Some("momentum") => out.last_mut().unwrap().2.push(values()),
            _ => {}
        }
    }
    out
}

#[test]
fn every_scheduler_matches_torch_over_100_steps() {
    let cases = cases();
    assert_eq!(cases.len(), 22);
    let mut failures = Vec::new();
    for (name, expected, expected_momentum) in &cases {
        let mut momenta = Vec::new();
        let mut opt = optimizer();
        let mut got = Vec::new();
        if name.starts_with("plateau") {
            let mut s = plateau(name);
            got.push(vec![opt.lr(0).unwrap(), opt.lr(1).unwrap()]);
            momenta.push(vec![opt.momentum(0).unwrap().unwrap(), opt.momentum(1).unwrap().unwrap()]);
            for t in 1..expected.len() as i64 {
                let m = metric(t);
                s.step(&mut opt, if name.contains("max") { -m } else { m }).unwrap();
                got.push(vec![opt.lr(0).unwrap(), opt.lr(1).unwrap()]);
                momenta.push(vec![opt.momentum(0).unwrap().unwrap(), opt.momentum(1).unwrap().unwrap()]);
            }
        } else {
            let mut s = make(name, &mut opt);
            got.push(vec![opt.lr(0).unwrap(), opt.lr(1).unwrap()]);
            momenta.push(vec![opt.momentum(0).unwrap().unwrap(), opt.momentum(1).unwrap().unwrap()]);
            for _ in 1..expected.len() {
                s.step(&mut opt).unwrap();
                got.push(vec![opt.lr(0).unwrap(), opt.lr(1).unwrap()]);
                momenta.push(vec![opt.momentum(0).unwrap().unwrap(), opt.momentum(1).unwrap().unwrap()]);
            }
            assert_eq!(s.last_lr(), got.last().unwrap().as_slice(), "{name}: last_lr");
        }
        let worst = got
            .iter()
            .flatten()
            .zip(expected.iter().flatten())
            .map(|(g, e)| (g - e).abs() / e.abs().max(1e-300))
            .fold(0.0, f64::max);
        let worst_momentum = momenta
            .iter()
            .flatten()
            .zip(expected_momentum.iter().flatten())
            .map(|(g, e)| (g - e).abs() / e.abs().max(1e-300))
            .fold(0.0, f64::max);
        if worst_momentum > 1e-12 || momenta.len() != expected_momentum.len() {
            failures.push(format!("{name}: momentum off by {worst_momentum:e}"));
        }
        if worst > 1e-12 {
            let t = got.iter().zip(expected).position(|(g, e)| g != e).unwrap_or(0);
            failures.push(format!(
                "{name}: worst relative deviation {worst:e}; first at t = {t}: {:?} vs {:?}",
                got[t], expected[t]
            ));
        }
    }
    assert!(failures.is_empty(), "{} schedulers off torch:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn scheduler_settings_are_checked_and_one_cycle_ends() {
    let mut opt = optimizer();
    let err = Scheduler::new(&mut opt, StepLr { step_size: 0, gamma: 0.1 }).map(|_| ()).unwrap_err();
    assert_eq!(err.to_string(), "StepLR: step_size = 0 is invalid: must be >= 1");
    let err = Scheduler::new(&mut opt, ConstantLr { factor: 2.0, total_iters: 3 }).map(|_| ()).unwrap_err();
    assert_eq!(err.to_string(), "ConstantLR: factor = 2 is invalid: must be in [0, 1]");
    let mut s = Scheduler::new(&mut opt, OneCycleLr::new(0.1, 3)).unwrap();
    for _ in 0..3 {
        s.step(&mut opt).unwrap();
    }
    assert_eq!(
        s.step(&mut opt).unwrap_err().to_string(),
        "OneCycleLR: step = 4 is invalid: at most total_steps: the schedule has ended"
    );
    assert!(ReduceLrOnPlateau { factor: 1.5, ..Default::default() }.start().is_err());
}
