//! Replay: a recorded graph run on new inputs equals the eager run on those inputs, bit for
//! bit, for every op of the gradcheck table, for a whole training step, and for dropout.

mod common;

use autograd::{grad, AutogradError, Function, Param, Tape, Var};
use common::{cases, layouts};
use tensor::{DType, Rng, Tensor};

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_dtype(DType::F64).contiguous().to_vec::<f64>().iter().map(|x| x.to_bits()).collect()
}

fn same(a: &Tensor, b: &Tensor) -> bool {
    a.shape() == b.shape() && a.dtype() == b.dtype() && bits(a) == bits(b)
}

/// The output, and the gradients of `sum(output * r)` that exist, evaluated eagerly.
fn eager(f: common::F, inputs: &[Tensor], r: &Tensor) -> Vec<Tensor> {
    let tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|t| tape.var(t.clone())).collect();
    let out = f(&vars).unwrap();
    let loss = out.mul(&tape.constant(r.clone())).sum_all();
    let grads = grad(&[loss], &vars, false).unwrap();
    std::iter::once(out.tensor()).chain(grads.into_iter().map(|g| g.tensor())).collect()
}

#[test]
fn every_op_replays_bit_for_bit_on_new_inputs() {
    let mut failures = Vec::new();
    for c in cases() {
        for variant in [0, 2] {
            // Record on one set of values (with the backward pass), replay on fresh ones.
            let pick = |seed: u64| -> Vec<Tensor> {
                c.shapes
                    .iter()
                    .enumerate()
                    .map(|(k, s)| {
                        let all = layouts(s, seed + k as u64);
                        all[variant.min(all.len() - 1)].1.clone()
                    })
                    .collect()
            };
            let (first, fresh) = (pick(100), pick(900));
            let tape = Tape::new();
            let vars: Vec<Var> = first.iter().map(|t| tape.var(t.clone())).collect();
            let out = (c.f)(&vars).unwrap();
            let r = Tensor::uniform(out.shape(), -1.0, 1.0, DType::F64, &mut Rng::seed(5));
            let loss = out.mul(&tape.constant(r.clone())).sum_all();
            let grads = grad(&[loss], &vars, true).unwrap();
            let outputs: Vec<Var> = std::iter::once(out).chain(grads).collect();
            let step = tape.function(&vars, &outputs).unwrap();
            let replayed = step.run(&fresh).unwrap();
            let expected = eager(c.f, &fresh, &r);
            let ok = replayed.len() == expected.len() && replayed.iter().zip(&expected).all(|(a, b)| same(a, b));
            if !ok {
                failures.push(format!("{} (layout {variant})", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "replay differs from eager for: {}", failures.join(", "));
}

/// A 4-16-3 MLP with ReLU and a softmax cross-entropy loss plus an L2 penalty.
struct Mlp {
    params: Vec<Param>,
}

impl Mlp {
    fn new(rng: &mut Rng) -> Mlp {
        let shapes: [&[usize]; 4] = [&[4, 16], &[16], &[16, 3], &[3]];
        Mlp { params: shapes.iter().map(|s| Param::new(Tensor::uniform(s, -0.5, 0.5, DType::F32, rng))).collect() }
    }

    fn copy(&self) -> Mlp {
        Mlp { params: self.params.iter().map(|p| Param::new(p.value().contiguous())).collect() }
    }

    fn loss(&self, tape: &Tape, x: &Var, y: &impl autograd::AsVar) -> (Var, Vec<Var>) {
        let p: Vec<Var> = self.params.iter().map(|p| tape.param(p)).collect();
        let h = (x.matmul(&p[0]) + &p[1]).relu();
        let logits = h.matmul(&p[2]) + &p[3];
        let loss = logits.softmax_cross_entropy(y) + p[0].square().sum_all() * 1e-3;
        (loss, p)
    }

    fn sgd(&self, grads: &[Tensor]) {
        for (p, g) in self.params.iter().zip(grads) {
            p.set(p.value() - g * 0.1);
        }
    }
}

/// Random inputs labelled by which of their first three features is largest: learnable.
fn batch(rng: &mut Rng) -> (Tensor, Tensor) {
    let x = Tensor::randn(&[8, 4], DType::F32, rng);
    let y = x.narrow(1, 0, 3).argmax(1, false);
    (x, y)
}

#[test]
fn a_recorded_training_step_replays_100_steps_bit_for_bit() {
    let mut rng = Rng::seed(3);
    let eager_model = Mlp::new(&mut rng);
    let replay_model = eager_model.copy();
    let batches: Vec<(Tensor, Tensor)> = (0..100).map(|_| batch(&mut rng)).collect();

    // Eager: record, backward, update, every step.
    let tape = Tape::new();
    let mut eager_losses = Vec::new();
    for (x, y) in &batches {
        tape.clear();
        let (loss, _) = eager_model.loss(&tape, &tape.constant(x.clone()), y);
        let grads = loss.backward().unwrap();
        let g: Vec<Tensor> = eager_model.params.iter().map(|p| grads.param(p).unwrap().clone()).collect();
        eager_losses.push(loss.tensor());
        eager_model.sgd(&g);
    }

    // Replay: record forward + backward once on placeholders, then run it on every batch.
    let rec = Tape::new();
    let (x, y) = (rec.input(batches[0].0.clone()), rec.input(batches[0].1.clone()));
    let (loss, p) = replay_model.loss(&rec, &x, &y);
    let grads = grad(std::slice::from_ref(&loss), &p, true).unwrap();
    let outputs: Vec<Var> = std::iter::once(loss).chain(grads).collect();
    let step = rec.function(&[x, y], &outputs).unwrap();
    for (k, (x, y)) in batches.iter().enumerate() {
        let out = step.run(&[x.clone(), y.clone()]).unwrap();
        assert!(same(&out[0], &eager_losses[k]), "step {k}: loss {} vs {}", out[0], eager_losses[k]);
        replay_model.sgd(&out[1..]);
    }
    for (a, b) in eager_model.params.iter().zip(&replay_model.params) {
        assert!(same(&a.value(), &b.value()), "parameters diverged");
    }
    let first = eager_losses[0].item();
    let last = eager_losses[99].item();
    assert!(last < first, "the model learns: loss {first} -> {last}");
}

#[test]
fn dropout_replays_with_a_new_mask_per_seed() {
    let tape = Tape::new();
    let x = tape.input(Tensor::ones(&[64], DType::F64));
    let seed = tape.input(Tensor::scalar(0i64));
    let w = tape.param(&Param::new(Tensor::full(&[64], 2.0, DType::F64)));
    let y = (&x * &w).dropout(0.5, &seed);
    let dw = grad(&[y.sum_all()], &[w], true).unwrap()[0].clone();
    let f = tape.function(&[x, seed], &[y, dw]).unwrap();
    let data = Tensor::randn(&[64], DType::F64, &mut Rng::seed(1));
    let run = |s: i64| f.run(&[data.clone(), Tensor::scalar(s)]).unwrap();
    let (a, b, a_again) = (run(1), run(2), run(1));
    assert!(!same(&a[0], &b[0]), "a new seed draws a new mask");
    assert!(same(&a[0], &a_again[0]) && same(&a[1], &a_again[1]), "the same seed, the same mask");
    // Each replay equals the eager computation with that seed.
    for s in [1i64, 2] {
        let t = Tape::new();
        let w = t.var(Tensor::full(&[64], 2.0, DType::F64));
        let y = (t.constant(data.clone()) * &w).dropout(0.5, &Tensor::scalar(s));
        let g = y.sum_all().backward().unwrap();
        let out = run(s);
        assert!(same(&out[0], y.value()) && same(&out[1], g.get(&w).unwrap()), "seed {s}");
    }
}

#[test]
fn parameters_are_read_when_the_function_runs() {
    let w = Param::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let tape = Tape::new();
    let x = tape.input(Tensor::ones(&[2], DType::F64));
    let y = (&x * &tape.param(&w)).sum_all();
    let f = tape.function(&[x], &[y]).unwrap();
    let ones = Tensor::ones(&[2], DType::F64);
    assert_eq!(f.run(std::slice::from_ref(&ones)).unwrap()[0].item(), 3.0);
    w.set(Tensor::from_vec(vec![10.0f64, 20.0], &[2]));
    assert_eq!(f.run(&[ones]).unwrap()[0].item(), 30.0);
    w.replace(Tensor::zeros(&[3], DType::F64));
    assert_eq!(
        f.run(&[Tensor::ones(&[2], DType::F64)]).unwrap_err().to_string(),
        format!("run: parameter {} was recorded as f64[2] but is now f64[3]; record the graph again", w.id().0)
    );
}

#[test]
fn a_mismatched_input_is_an_error_naming_the_placeholder() {
    let tape = Tape::new();
    let x = tape.input(Tensor::zeros(&[3, 2], DType::F32));
    let t = tape.input(Tensor::zeros(&[3], DType::I64));
    let loss = x.softmax_cross_entropy(&t);
    let f = tape.function(&[x, t], &[loss]).unwrap();
    let err = f.run(&[Tensor::zeros(&[4, 2], DType::F32), Tensor::zeros(&[3], DType::I64)]).unwrap_err();
    assert!(matches!(err, AutogradError::InputMismatch { index: 0, .. }));
    assert_eq!(
        err.to_string(),
        "run: input 0 (a) was recorded as f32[3, 2] but got f32[4, 2]; record the graph again for new shapes"
    );
    let err = f.run(&[Tensor::zeros(&[3, 2], DType::F32), Tensor::zeros(&[3], DType::F32)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "run: input 1 (b) was recorded as i64[3] but got f32[3]; record the graph again for new shapes"
    );
    assert_eq!(f.run(&[]).unwrap_err().to_string(), "run: the function takes 2 inputs, got 0");
    // Data is validated on replay as in the eager call: a class id out of range.
    let err = f.run(&[Tensor::zeros(&[3, 2], DType::F32), Tensor::from_vec(vec![0i64, 2, 1], &[3])]).unwrap_err();
    assert!(err.to_string().starts_with("softmax_cross_entropy"), "{err}");
}

#[test]
fn every_placeholder_the_outputs_need_must_be_an_input() {
    let tape = Tape::new();
    let x = tape.input(Tensor::ones(&[2], DType::F64));
    let y = tape.input(Tensor::ones(&[2], DType::F64));
    let z = (&x + &y).sum_all();
    assert_eq!(
        tape.function(std::slice::from_ref(&x), std::slice::from_ref(&z)).unwrap_err().to_string(),
        "function: placeholder `b` feeds the outputs but is not among the inputs"
    );
    let w = tape.var(Tensor::ones(&[2], DType::F64));
    let wz = (&z * &w).sum_all();
    assert_eq!(
        tape.function(&[x.clone(), y.clone()], &[wz]).unwrap_err().to_string(),
        "function: leaf `e` feeds the outputs but is not among the inputs"
    );
    assert_eq!(
        tape.function(&[x.clone(), x.clone()], std::slice::from_ref(&z)).unwrap_err().to_string(),
        "function: input 1 (a) is input 0 again"
    );
    let m = x.gt_scalar(0.0);
    assert_eq!(
        tape.function(&[m], &[z]).unwrap_err().to_string(),
        "function: input 0 (h) is a `gt_scalar[scalar=0]` node; inputs are placeholders (Tape::input) or Tape::var leaves"
    );
}

#[test]
fn a_function_prints_its_program_and_crosses_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Function>();
    let tape = Tape::new();
    let x = tape.input(Tensor::ones(&[3], DType::F64));
    let w = tape.param(&Param::new(Tensor::full(&[3], 2.0, DType::F64)));
    let _unused = w.exp(); // not needed by the output: pruned
    let y = (&x * &w).relu().sum_all();
    let f = tape.function(&[x], &[y]).unwrap();
    assert_eq!(
        f.to_string(),
        "{ lambda input a:f64[3] b:f64[3]. let\n    d:f64[3] = mul a b\n    e:f64[3] = relu d\n    f:f64[] = sum[axes=()] e\n  in (f) }"
    );
    assert_eq!(f.len(), 5);
    let out =
        std::thread::spawn(move || f.run(&[Tensor::from_vec(vec![1.0f64, -1.0, 2.0], &[3])]).unwrap()).join().unwrap();
    assert_eq!(out[0].item(), 6.0);
}
