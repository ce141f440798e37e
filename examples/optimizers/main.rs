//! The main example: backpropagation computes the gradients; the optimizers differ in what they
//! do with them.
//!
//! The same 2-32-32-2 tanh network, from the same initial weights, learns to separate two
//! interleaved spirals (generated here from a seed: nothing is downloaded) with SGD, Momentum,
//! Nesterov, Adagrad, RMSprop, Adam and AdamW. Each trains full-batch for the same number of
//! steps; the table shows the final loss, the accuracy, the first step whose loss fell below
//! 0.1, and the wall time.
//!
//! It then writes SVG plots (to `optimizers-plots/` unless told otherwise): the loss curves, and
//! the path each optimizer takes on three 2-D surfaces (Rosenbrock's valley, a saddle, a
//! ravine), the pictures that explain the table.
//!
//! `cargo run --release --example optimizers -- [--steps N] [--seed S] [--points N] [--plots DIR | --no-plots] [--compile]`

use std::time::Instant;

use backprop::prelude::*;

mod plots;

struct Args {
    steps: usize,
    seed: u64,
    points: usize,
    /// Where the SVG plots go (`None`: no plots).
    plots: Option<String>,
    /// Train through `autograd::compile` (the step traced once, replayed).
    compile: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { steps: 1500, seed: 0, points: 200, plots: Some("optimizers-plots".into()), compile: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--steps" => args.steps = value("--steps")?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--points" => args.points = value("--points")?.parse().map_err(|e| format!("--points: {e}"))?,
            "--plots" => args.plots = Some(value("--plots")?),
            "--no-plots" => args.plots = None,
            "--compile" => args.compile = true,
            "--help" | "-h" => {
                println!("{}", HELP);
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(args)
}

const HELP: &str = "optimizers: the same network trained on two spirals by seven optimizers

USAGE: cargo run --release --example optimizers -- [--steps N] [--seed S] [--points N] [--plots DIR | --no-plots] [--compile]

  --steps N     full-batch training steps per optimizer (default 1500)
  --seed S      seed of the data and of the initial weights (default 0)
  --points N    points per spiral (default 200)
  --plots DIR   where to write the SVG plots (default optimizers-plots): the loss curves, and
                each optimizer's path over three 2-D surfaces (a valley, a saddle, a ravine)
  --no-plots    skip the plots
  --compile     trace the training step (with the update) once and replay it (autograd::compile);
                the same numbers, bit for bit";

/// Two interleaved spirals with a little noise: inputs `[2n, 2]`, labels `[2n]`.
fn spirals(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut rng = Rng::seed(seed);
    let mut xs = Vec::with_capacity(4 * n);
    let mut ys = Vec::with_capacity(2 * n);
    for class in 0..2 {
        for i in 0..n {
            let r = 0.2 + 0.8 * i as f64 / n as f64;
            let angle = 3.0 * std::f64::consts::PI * i as f64 / n as f64 + class as f64 * std::f64::consts::PI;
            xs.push((r * angle.cos() + 0.03 * rng.next_normal()) as f32);
            xs.push((r * angle.sin() + 0.03 * rng.next_normal()) as f32);
            ys.push(class as i64);
        }
    }
    (Tensor::from_vec(xs, &[2 * n, 2]), Tensor::from_vec(ys, &[2 * n]))
}

fn model(seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed.wrapping_add(1));
    Sequential::new()
        .add(Linear::new(2, 32, &mut rng))
        .add(Tanh)
        .add(Linear::new(32, 32, &mut rng))
        .add(Tanh)
        .add(Linear::new(32, 2, &mut rng))
}

struct Outcome {
    losses: Vec<f64>,
    final_loss: f64,
    accuracy: f64,
    below: Option<usize>,
    seconds: f64,
}

fn train<A: Algorithm>(config: A, args: &Args, data: &(Tensor, Tensor)) -> Result<Outcome, Box<dyn std::error::Error>> {
    let net = model(args.seed);
    let mut opt = Optim::new(net.parameters(), config)?;
    let tape = Tape::new();
    let (x, y) = data;
    let (mut below, mut final_loss, mut losses) = (None, f64::NAN, Vec::with_capacity(args.steps));
    let loss_of = |x: &Var, y: &Var| cross_entropy(&net.forward(x)?, y, Reduction::Mean);
    let start = Instant::now();
    let mut record = |step: usize, loss: f64| {
        final_loss = loss;
        losses.push(loss);
        if below.is_none() && loss < 0.1 {
            below = Some(step);
        }
    };
    if args.compile {
        // Forward, loss, backward and the update, traced once and replayed: each parameter
        // is updated during the replay, as soon as its gradient is complete.
        let mut train_step = compile(|xs: &[Var]| loss_of(&xs[0], &xs[1])).with_optimizer(&mut opt);
        for step in 0..args.steps {
            let out = train_step.run(&[x.clone(), y.clone()])?;
            record(step, out.outputs[0].to_dtype(DType::F64).item());
        }
    } else {
        for step in 0..args.steps {
            tape.clear();
            let loss = loss_of(&tape.constant(x.clone()), &tape.input(y.clone()))?;
            record(step, loss.item());
            opt.step(&loss.backward()?)?;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    tape.clear();
    let accuracy = accuracy(&net.forward(&tape.constant(x.clone()))?, y)?;
    Ok(Outcome { losses, final_loss, accuracy, below, seconds })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&parse_args()?)
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let data = spirals(args.points, args.seed);
    println!(
        "Two spirals, {} points; a 2-32-32-2 tanh network from the same initial weights; {} full-batch steps each.\n",
        2 * args.points,
        args.steps
    );
    println!("{:<10} {:>14} {:>10} {:>12} {:>9}", "optimizer", "final loss", "accuracy", "loss < 0.1", "time");
    let runs: Vec<(&str, Outcome)> = vec![
        ("SGD", train(Sgd { lr: 0.1, ..Sgd::default() }, args, &data)?),
        ("Momentum", train(Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() }, args, &data)?),
        ("Nesterov", train(Sgd { lr: 0.1, momentum: 0.9, nesterov: true, ..Sgd::default() }, args, &data)?),
        ("Adagrad", train(Adagrad { lr: 0.1, ..Adagrad::default() }, args, &data)?),
        ("RMSprop", train(RmsProp { lr: 0.01, ..RmsProp::default() }, args, &data)?),
        ("Adam", train(Adam { lr: 0.01, ..Adam::default() }, args, &data)?),
        ("AdamW", train(Adam { lr: 0.01, ..Adam::adamw() }, args, &data)?),
    ];
    for (name, o) in &runs {
        let below = o.below.map_or("never".to_string(), |s| format!("step {s}"));
        println!("{name:<10} {:>14.6} {:>9.1}% {:>12} {:>8.2}s", o.final_loss, 100.0 * o.accuracy, below, o.seconds);
    }
    println!("\nSame gradients, different updates: plain SGD crawls along the spiral's narrow valleys;");
    println!("momentum and Nesterov build up speed; Adagrad, RMSprop and Adam scale each weight's step.");
    if let Some(dir) = &args.plots {
        std::fs::create_dir_all(dir)?;
        let curves: Vec<(&str, &[f64])> = runs.iter().map(|(n, o)| (*n, o.losses.as_slice())).collect();
        let path = format!("{dir}/loss.svg");
        plots::loss_curves(&path, &curves)?;
        println!("\nwrote {path}");
        for surface in &plots::SURFACES {
            let path = format!("{dir}/{}.svg", surface.file);
            plots::paths(&path, surface)?;
            println!("wrote {path}");
        }
    }
    Ok(())
}

#[test]
fn runs_on_tiny_settings() {
    let dir = std::env::temp_dir().join(format!("backprop-optimizers-{}", std::process::id()));
    let plots = Some(dir.display().to_string());
    run(&Args { steps: 20, seed: 1, points: 16, plots, compile: false }).unwrap();
    for file in ["loss.svg", "valley.svg", "saddle.svg", "ravine.svg"] {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{file}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_compiled_run_matches_the_eager_one_bit_for_bit() {
    let data = spirals(16, 3);
    let losses = |compile: bool| -> Vec<u64> {
        let args = Args { steps: 30, seed: 3, points: 16, plots: None, compile };
        let o = train(Adam { lr: 0.01, ..Adam::default() }, &args, &data).unwrap();
        o.losses.iter().map(|l| l.to_bits()).collect()
    };
    assert_eq!(losses(false), losses(true));
}
