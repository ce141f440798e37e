//! Trains the `mnist` example's MLP data-parallel: every rank holds the model, trains on its
//! share of each batch, and the gradients are averaged over the ranks before each step.
//!
//! ```text
//! cargo build --release --features mpi --example distributed
//! mpirun -np 2 target/release/examples/distributed --data /usr/share/datasets/fashion-mnist
//! ```
//!
//! Rank 0 prints the same per-epoch metrics as `cargo run --release --example mnist -- --data DIR`
//! with the same options (`--batch-size` is the global batch, split over the ranks), equal to
//! within rounding: the ranks' gradients are averaged in rank order, weighted by their share of
//! the batch. Built without the `mpi` feature, or started without `mpirun`, it runs as one process.

use std::path::PathBuf;
use std::time::Instant;

use backprop::distributed::{self, GradientAverager, World};
use backprop::nn::data::{DataLoader, Mnist, TensorDataset};
use backprop::prelude::*;

#[path = "common/mnist.rs"]
mod common;
use common::{AnyResult, Epoch};

const USAGE: &str = "\
Trains an MLP on MNIST-format IDX files, data-parallel over MPI.

USAGE: mpirun -np N target/release/examples/distributed --data DIR [OPTIONS]

  --data DIR          the four standard IDX files, plain or .gz
  --synthetic N       instead of --data: N generated training images (N/5 test), learnable
  --hidden N[,N..]    the MLP's hidden widths (default 128)
  --optimizer NAME    sgd|momentum|adam (default adam), torch's defaults otherwise
  --lr LR             learning rate (default: the optimizer's torch default)
  --batch-size N      the global batch, split over the ranks (default 64)
  --epochs N          (default 10)
  --seed S            rank 0's initial weights, and the shuffling (default 0)
  --limit N           use only the first N training and N test examples
  --steps N           stop after N steps and print the steps per second (timing)
  --checkpoint DIR    rank 0 saves the model, the optimizer and the epoch to DIR after every epoch
  --resume            every rank continues from --checkpoint DIR's last epoch";

#[derive(Clone, Debug)]
struct Args {
    data: Option<PathBuf>,
    synthetic: Option<usize>,
    hidden: Vec<usize>,
    optimizer: String,
    lr: Option<f64>,
    batch_size: usize,
    epochs: usize,
    seed: u64,
    limit: Option<usize>,
    steps: Option<usize>,
    checkpoint: Option<PathBuf>,
    resume: bool,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            data: None,
            synthetic: None,
            hidden: vec![128],
            optimizer: "adam".into(),
            lr: None,
            batch_size: 64,
            epochs: 10,
            seed: 0,
            limit: None,
            steps: None,
            checkpoint: None,
            resume: false,
        }
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n\n{USAGE}"));
        let number = |v: String| common::number(&flag, &v);
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--data" => args.data = Some(PathBuf::from(value()?)),
            "--synthetic" => args.synthetic = Some(number(value()?)?),
            "--hidden" => args.hidden = common::widths(&flag, &value()?)?,
            "--optimizer" => args.optimizer = value()?,
            "--lr" => args.lr = Some(common::real(&flag, &value()?)?),
            "--batch-size" => args.batch_size = number(value()?)?,
            "--epochs" => args.epochs = number(value()?)?,
            "--seed" => args.seed = number(value()?)? as u64,
            "--limit" => args.limit = Some(number(value()?)?),
            "--steps" => args.steps = Some(number(value()?)?),
            "--checkpoint" => args.checkpoint = Some(value()?.into()),
            "--resume" => args.resume = true,
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    if args.data.is_none() == args.synthetic.is_none() {
        return Err(format!("give either --data DIR or --synthetic N\n\n{USAGE}"));
    }
    common::check(args.batch_size, &args.hidden, args.resume, args.checkpoint.as_deref())?;
    Ok(Some(args))
}

fn main() -> AnyResult<()> {
    let world = distributed::init()?;
    match parse_args() {
        Ok(None) => world.log(USAGE),
        Ok(Some(args)) => {
            run(&world, &args)?;
        }
        Err(msg) => {
            world.log(&msg);
            return Err(msg.into());
        }
    }
    Ok(())
}

fn run(world: &World, args: &Args) -> AnyResult<Vec<Epoch>> {
    let lr = args.lr;
    let sgd = |momentum: f64| Sgd { lr: lr.unwrap_or(1e-3), momentum, ..Sgd::default() };
    match args.optimizer.as_str() {
        "sgd" => train(world, args, sgd(0.0)),
        "momentum" => train(world, args, sgd(0.9)),
        "adam" => train(world, args, Adam { lr: lr.unwrap_or(1e-3), ..Adam::default() }),
        other => Err(format!("unknown optimizer {other}: sgd|momentum|adam").into()),
    }
}

/// The `mnist` example's MLP; each rank draws its own weights, and rank 0's are broadcast.
fn model(args: &Args, rank: usize) -> Sequential {
    common::mlp(&args.hidden, &mut Rng::seed(args.seed.wrapping_add(rank as u64)))
}

fn train<A: Algorithm>(world: &World, args: &Args, config: A) -> AnyResult<Vec<Epoch>>
where
    Optim<A>: Checkpoint,
{
    let (train_set, test_set) = load_data(args)?;
    let net = model(args, world.rank());
    world.broadcast_module(&net)?;
    let mut opt = Optim::new(net.parameters(), config)?;
    let mut averager = GradientAverager::new(net.named_parameters())?;
    let mut first_epoch = 1;
    if let (Some(dir), true) = (&args.checkpoint, args.resume) {
        // Every rank reads the checkpoint; if one cannot, all stop (none waits for it).
        first_epoch = world.agree(common::load_checkpoint(dir, &net, &mut opt))? + 1;
        world.check_same_parameters(net.named_parameters())?;
        world.log(format!("resumed from {} after epoch {}", dir.display(), first_epoch - 1));
    }
    world.log(format!(
        "{} ranks; {} training and {} test images; mlp with {}, global batch {}, {} epochs",
        world.size(),
        train_set.inputs.shape()[0],
        test_set.inputs.shape()[0],
        args.optimizer,
        args.batch_size,
        args.epochs
    ));

    let tape = Tape::new();
    let mut done = Vec::new();
    let (mut steps, started) = (0usize, Instant::now());
    for epoch in first_epoch..=args.epochs {
        let start = Instant::now();
        let loader = DataLoader {
            batch_size: args.batch_size,
            shuffle: true,
            seed: args.seed,
            shard: world.shard(),
            ..DataLoader::new(&train_set)
        };
        // Per rank: loss times examples, correct predictions, examples.
        let mut sums = [0.0f64; 3];
        for batch in loader.batches(epoch as u64) {
            let (x, y) = batch?;
            let n = y.shape()[0];
            tape.clear();
            let logits = net.forward(&tape.constant(x))?;
            let loss = cross_entropy(&logits, &y, Reduction::Mean)?;
            let mut grads = if n > 0 { loss.backward()? } else { Gradients::new() };
            // Weighted by the examples each rank saw: the single-process mean over the batch.
            averager.average_weighted(world, &mut grads, n as f64)?;
            opt.step(&grads)?;
            if n > 0 {
                sums[0] += loss.item() * n as f64;
                sums[1] += accuracy(&logits, &y)? * n as f64;
                sums[2] += n as f64;
            }
            steps += 1;
            if args.steps == Some(steps) {
                let seconds = started.elapsed().as_secs_f64();
                world.log(format!("{steps} steps in {seconds:.3} s: {:.1} steps/s", steps as f64 / seconds));
                return Ok(done);
            }
        }
        let totals = world.sum(&sums)?;
        let test_accuracy = evaluate(world, &net, &test_set, &tape)?;
        let e = Epoch {
            epoch,
            loss: totals[0] / totals[2].max(1.0),
            train_accuracy: totals[1] / totals[2].max(1.0),
            test_accuracy,
            seconds: start.elapsed().as_secs_f64(),
        };
        world.log(&e);
        if let Some(dir) = &args.checkpoint {
            world.on_root(|| common::save_checkpoint(dir, &net, &opt, epoch))?;
        }
        done.push(e);
    }
    Ok(done)
}

/// Test accuracy over the whole test set: each rank scores its shard, in batches of 1000.
fn evaluate(world: &World, net: &Sequential, data: &TensorDataset, tape: &Tape) -> AnyResult<f64> {
    let loader = DataLoader { batch_size: 1000, shard: world.shard(), ..DataLoader::new(data) };
    let mut sums = [0.0f64; 2];
    for batch in loader.batches(0) {
        let (x, y) = batch?;
        tape.clear();
        let logits = no_grad(|| net.forward(&tape.constant(x)))?;
        sums[0] += accuracy(&logits, &y)? * y.shape()[0] as f64;
        sums[1] += y.shape()[0] as f64;
    }
    tape.clear();
    let totals = world.sum(&sums)?;
    Ok(totals[0] / totals[1].max(1.0))
}

fn load_data(args: &Args) -> AnyResult<(TensorDataset, TensorDataset)> {
    let (train_images, train_labels, test_images, test_labels) = match (&args.data, args.synthetic) {
        (Some(dir), _) => {
            let mnist = Mnist::load(dir)?;
            (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels)
        }
        (None, n) => {
            let n = n.unwrap_or(0);
            let (train_images, train_labels) = synthetic(n, 1);
            let (test_images, test_labels) = synthetic(n / 5, 2);
            (train_images, train_labels, test_images, test_labels)
        }
    };
    common::datasets((train_images, train_labels), (test_images, test_labels), args.limit)
}

/// `n` 28x28 images in `[0, 1]` whose class `c` brightens rows `2c + 4..2c + 6`, with noise.
fn synthetic(n: usize, seed: u64) -> (Tensor, Tensor) {
    let labels: Vec<i64> = (0..n).map(|i| (i % 10) as i64).collect();
    let mut pixels = Tensor::rand(&[n, 28 * 28], DType::F32, &mut Rng::seed(seed)).to_vec::<f32>();
    for (i, &c) in labels.iter().enumerate() {
        let lit = 28 * (2 * c as usize + 4)..28 * (2 * c as usize + 6);
        for (p, value) in pixels[i * 784..(i + 1) * 784].iter_mut().enumerate() {
            *value = if lit.contains(&p) { 0.8 + 0.2 * *value } else { 0.3 * *value };
        }
    }
    (Tensor::from_vec(pixels, &[n, 28, 28]), Tensor::from_vec(labels, &[n]))
}

#[test]
fn two_ranks_report_the_single_process_metrics() {
    let args =
        Args { synthetic: Some(600), hidden: vec![32], batch_size: 50, epochs: 2, lr: Some(1e-2), ..Args::default() };
    let single = run(&World::alone(), &args).unwrap();
    assert!(single[1].test_accuracy > 0.9, "{single:?}");
    let ranks = distributed::threads(2, std::time::Duration::from_secs(120), |world| run(&world, &args).unwrap());
    for rank in ranks {
        for (p, s) in rank.unwrap().iter().zip(&single) {
            for (a, b) in [(p.loss, s.loss), (p.train_accuracy, s.train_accuracy), (p.test_accuracy, s.test_accuracy)] {
                assert!((a - b).abs() <= 1e-6 * b.abs(), "epoch {}: 2 ranks {p:?}, one {s:?}", p.epoch);
            }
        }
    }
}
