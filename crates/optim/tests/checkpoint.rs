//! Checkpoints: a run stopped after step k, reloaded into fresh objects (as a new process would
//! build them) and continued, follows the uninterrupted run exactly; broken files are clear
//! errors that leave the optimizer and scheduler as they were.

use autograd::{Param, Tape};
use optim::{
    Adam, Checkpoint, LrScheduler, Optim, OptimError, Optimizer, PlateauScheduler, ReduceLrOnPlateau, RmsProp,
    Scheduler, Sgd, StepLr,
};
use tensor::{DType, Rng, Tensor};

/// A small regression problem: the loss of step `k` on its own deterministic batch.
fn step_loss(tape: &Tape, params: &[Param], k: u64) -> autograd::Var {
    let mut rng = Rng::seed(1000 + k);
    let x = tape.constant(Tensor::randn(&[8, 3], DType::F64, &mut rng));
    let y = tape.constant(Tensor::randn(&[8, 2], DType::F64, &mut rng));
    let h = (x.matmul(&tape.param(&params[0])) + tape.param(&params[1])).tanh();
    (h - y).square().mean_all()
}

fn fresh_params(values: &[Tensor]) -> Vec<Param> {
    values.iter().map(|v| Param::new(v.contiguous())).collect()
}

fn initial() -> Vec<Tensor> {
    let mut rng = Rng::seed(7);
    vec![Tensor::randn(&[3, 2], DType::F64, &mut rng), Tensor::randn(&[2], DType::F64, &mut rng)]
}

/// Adam (AMSGrad) over two groups, and a StepLR.
fn build(params: &[Param]) -> (Optim<Adam>, Scheduler<StepLr>) {
    let mut opt = Optim::new([params[0].clone()], Adam { lr: 0.05, amsgrad: true, ..Adam::adamw() }).unwrap();
    opt.add_param_group([params[1].clone()], Adam { lr: 0.02, ..Adam::default() }).unwrap();
    let sched = Scheduler::new(&mut opt, StepLr { step_size: 3, gamma: 0.7 }).unwrap();
    (opt, sched)
}

fn run(params: &[Param], opt: &mut Optim<Adam>, sched: &mut Scheduler<StepLr>, steps: std::ops::Range<u64>) {
    let tape = Tape::new();
    for k in steps {
        tape.clear();
        let grads = step_loss(&tape, params, k).backward().unwrap();
        opt.step(&grads).unwrap();
        sched.step(opt).unwrap();
    }
}

fn values(params: &[Param]) -> Vec<Vec<f64>> {
    params.iter().map(|p| p.value().to_vec::<f64>()).collect()
}

#[test]
fn a_resumed_run_follows_the_uninterrupted_one_exactly() {
    let whole = fresh_params(&initial());
    let (mut opt, mut sched) = build(&whole);
    run(&whole, &mut opt, &mut sched, 0..20);

    // Stop after step 8, write everything to files.
    let first = fresh_params(&initial());
    let (mut opt1, mut sched1) = build(&first);
    run(&first, &mut opt1, &mut sched1, 0..8);
    let dir = std::env::temp_dir().join(format!("backprop-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    opt1.save(dir.join("optim.safetensors")).unwrap();
    sched1.save(dir.join("sched.safetensors")).unwrap();
    let saved: Vec<Tensor> = first.iter().map(|p| p.value()).collect();
    drop((opt1, sched1, first));

    // A "new process": new parameters (new ids) from the saved values, new objects, load, go on.
    let second = fresh_params(&saved);
    let (mut opt2, mut sched2) = build(&second);
    opt2.load(dir.join("optim.safetensors")).unwrap();
    sched2.load(dir.join("sched.safetensors")).unwrap();
    assert_eq!(sched2.last_epoch(), 8);
    assert_eq!(opt2.state(&second[0]).unwrap().step, 8);
    run(&second, &mut opt2, &mut sched2, 8..20);
    std::fs::remove_dir_all(&dir).ok();

    assert_eq!(values(&second), values(&whole), "bit-identical parameters after 20 steps");
    assert_eq!(opt2.lr(0).unwrap(), opt.lr(0).unwrap());
}

#[test]
fn every_algorithm_and_the_plateau_scheduler_round_trip() {
    let p = fresh_params(&initial());
    let tape = Tape::new();
    let grads = step_loss(&tape, &p, 0).backward().unwrap();
    let mut rms = Optim::new(p.clone(), RmsProp { centered: true, momentum: 0.5, ..RmsProp::default() }).unwrap();
    rms.step(&grads).unwrap();
    let bytes = rms.to_bytes().unwrap();
    let mut back = Optim::new(p.clone(), RmsProp::default()).unwrap();
    back.load_bytes(&bytes).unwrap();
    assert_eq!(back.groups()[0].config, rms.groups()[0].config, "hyperparameters travel with the state");
    for q in &p {
        assert_eq!(format!("{:?}", back.state(q)), format!("{:?}", rms.state(q)));
    }

    let mut sgd = Optim::new(p.clone(), Sgd { lr: 0.1, ..Sgd::default() }).unwrap();
    let mut plateau = ReduceLrOnPlateau { patience: 1, ..Default::default() }.start().unwrap();
    for m in [1.0, 1.0, 1.0, 1.0] {
        plateau.step(&mut sgd, m).unwrap();
    }
    let mut other: PlateauScheduler = ReduceLrOnPlateau::default().start().unwrap();
    other.load_bytes(&plateau.to_bytes().unwrap()).unwrap();
    assert_eq!(other, plateau);
}

/// The optimizer's hyperparameters and state, to check that a failed load changed nothing.
fn snapshot(opt: &Optim<Adam>) -> String {
    let groups = opt.groups();
    let states: Vec<String> =
        groups.iter().flat_map(|g| g.params.iter()).map(|p| format!("{:?}", opt.state(p))).collect();
    format!("{groups:?} {states:?}")
}

#[test]
fn broken_files_are_clear_errors_and_change_nothing() {
    let p = fresh_params(&initial());
    let (mut opt, mut sched) = build(&p);
    run(&p, &mut opt, &mut sched, 0..3);
    let good = opt.to_bytes().unwrap();
    let before = snapshot(&opt);
    let msg = |r: optim::Result<()>| match r {
        Err(OptimError::Checkpoint { msg }) => msg,
        other => panic!("expected a checkpoint error, got {other:?}"),
    };

    // Truncated.
    let m = msg(opt.load_bytes(&good[..good.len() / 2]));
    assert!(m.starts_with("not a readable safetensors file"), "{m}");
    // Not a safetensors file at all.
    assert!(msg(opt.load_bytes(b"hello, world")).starts_with("not a readable safetensors file"));
    // A damaged buffer (the last byte of the data).
    let mut damaged = good.clone();
    *damaged.last_mut().unwrap() ^= 0x40;
    assert_eq!(msg(opt.load_bytes(&damaged)), "the tensors' checksum does not match the header: the file is damaged");
    // A damaged header.
    let mut header = good.clone();
    let at = header.iter().position(|&b| b == b'{').unwrap() + 1;
    header[at] = b'#';
    assert!(msg(opt.load_bytes(&header)).starts_with("not a readable safetensors file"));
    // Another kind of file: the scheduler's, another optimizer's, a plain safetensors file.
    assert_eq!(
        msg(opt.load_bytes(&sched.to_bytes().unwrap())),
        "the file holds the state of scheduler `StepLR`, not of optimizer `Adam`"
    );
    let sgd = Optim::new(p.clone(), Sgd::default()).unwrap();
    assert_eq!(
        msg(opt.load_bytes(&sgd.to_bytes().unwrap())),
        "the file holds the state of optimizer `SGD`, not of optimizer `Adam`"
    );
    let plain = safetensors::serialize(Vec::<(String, safetensors::tensor::TensorView)>::new(), None).unwrap();
    assert_eq!(
        msg(opt.load_bytes(&plain)),
        "not a backprop optimizer or scheduler checkpoint (no `format = backprop.optim` in its header)"
    );
    // Mis-shaped: the same optimizer over parameters of other shapes.
    let other = fresh_params(&[Tensor::zeros(&[4, 2], DType::F64), Tensor::zeros(&[2], DType::F64)]);
    let (mut wide, _) = build(&other);
    assert_eq!(msg(wide.load_bytes(&good)), "tensor `state.0.0.exp_avg` is f64[3, 2] but its parameter is f64[4, 2]");
    // Other group or parameter counts.
    let one_group = Optim::new(p.clone(), Adam::default()).unwrap();
    assert_eq!(msg(opt.load_bytes(&one_group.to_bytes().unwrap())), "the file has 1 param groups, this optimizer 2");
    let mut two_in_first = Optim::new(p.clone(), Adam::default()).unwrap();
    two_in_first.add_param_group([Param::new(Tensor::zeros(&[1], DType::F64))], Adam::default()).unwrap();
    assert_eq!(msg(opt.load_bytes(&two_in_first.to_bytes().unwrap())), "group 0 has 2 parameters in the file, 1 here");

    assert_eq!(snapshot(&opt), before, "no failed load changed the optimizer");
    opt.load_bytes(&good).unwrap();
    assert_eq!(snapshot(&opt), before);
}
