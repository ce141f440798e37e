//! Trains an MLP or a CNN on MNIST-format data that you have on disk (MNIST, Fashion-MNIST, ...).
//!
//! `--data DIR` holds the four standard IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`), each plain or gzipped; nothing is
//! downloaded. Fashion-MNIST comes with Debian (`apt-get install dataset-fashion-mnist`, files in
//! `/usr/share/datasets/fashion-mnist`); MNIST itself is at <https://yann.lecun.com/exdb/mnist/>
//! and its mirrors. Pixels are scaled to `[0, 1]`.
//!
//! `cargo run --release --example mnist -- --data DIR [--model mlp|cnn] [--optimizer adam] ...`
//! (`--help` lists every option).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use backprop::nn::data::{DataLoader, Mnist, TensorDataset};
use backprop::nn::{Conv2d, Flatten, MaxPool2d};
use backprop::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

#[path = "common/mnist.rs"]
mod common;
use common::{AnyResult, Epoch};

const USAGE: &str = "\
Trains an MLP or a CNN on MNIST-format IDX files.

USAGE: cargo run --release --example mnist -- --data DIR [OPTIONS]

  --data DIR          the four standard IDX files, plain or .gz (required)
  --model mlp|cnn     mlp: flatten, [Linear, ReLU] per hidden layer, Linear to 10 classes;
                      cnn: conv 3x3 (32) - ReLU - maxpool 2 - conv 3x3 (64) - ReLU - maxpool 2 - Linear
                      (default mlp)
  --hidden N[,N..]    the MLP's hidden widths (default 128)
  --optimizer NAME    sgd|momentum|nesterov|adagrad|rmsprop|adam|adamw (default adam); momentum and
                      nesterov mean SGD with momentum 0.9; every other hyperparameter is torch's default
  --lr LR             learning rate (default: the optimizer's torch default)
  --batch-size N      (default 64)
  --epochs N          (default 10)
  --seed S            initial weights and shuffling (default 0)
  --metrics FILE      append one JSON line per epoch (loss, train and test accuracy, seconds)
  --checkpoint DIR    save the model, the optimizer and the epoch to DIR after every epoch
  --resume            continue from --checkpoint DIR's last epoch
  --limit N           use only the first N training and N test examples (quick trials)
  --compile           trace the training step (forward, loss, backward) once per batch shape and
                      replay the optimised program (autograd::compile); same results, bit for bit";

#[derive(Clone, Debug)]
struct Args {
    data: PathBuf,
    model: String,
    hidden: Vec<usize>,
    optimizer: String,
    lr: Option<f64>,
    batch_size: usize,
    epochs: usize,
    seed: u64,
    metrics: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    resume: bool,
    limit: Option<usize>,
    compile: bool,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            data: PathBuf::new(),
            model: "mlp".into(),
            hidden: vec![128],
            optimizer: "adam".into(),
            lr: None,
            batch_size: 64,
            epochs: 10,
            seed: 0,
            metrics: None,
            checkpoint: None,
            resume: false,
            limit: None,
            compile: false,
        }
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args::default();
    let mut data = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n\n{USAGE}"));
        let number = |v: String| common::number(&flag, &v);
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--data" => data = Some(PathBuf::from(value()?)),
            "--model" => args.model = value()?,
            "--hidden" => args.hidden = common::widths(&flag, &value()?)?,
            "--optimizer" => args.optimizer = value()?,
            "--lr" => args.lr = Some(common::real(&flag, &value()?)?),
            "--batch-size" => args.batch_size = number(value()?)?,
            "--epochs" => args.epochs = number(value()?)?,
            "--seed" => args.seed = number(value()?)? as u64,
            "--metrics" => args.metrics = Some(value()?.into()),
            "--checkpoint" => args.checkpoint = Some(value()?.into()),
            "--resume" => args.resume = true,
            "--limit" => args.limit = Some(number(value()?)?),
            "--compile" => args.compile = true,
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    args.data = data.ok_or(format!("--data DIR is required\n\n{USAGE}"))?;
    if !["mlp", "cnn"].contains(&args.model.as_str()) {
        return Err(format!("--model must be mlp or cnn, not {}", args.model));
    }
    common::check(args.batch_size, &args.hidden, args.resume, args.checkpoint.as_deref())?;
    Ok(Some(args))
}

fn main() -> AnyResult<()> {
    match parse_args()? {
        None => println!("{USAGE}"),
        Some(args) => {
            run(&args)?;
        }
    }
    Ok(())
}

/// The model `--model` names, with torch's default initialisation from `seed`.
fn model(args: &Args) -> Sequential {
    let mut rng = Rng::seed(args.seed);
    if args.model == "cnn" {
        return Sequential::new()
            .add(Conv2d::new(1, 32, [3, 3], &mut rng))
            .add(Relu)
            .add(MaxPool2d::new(2))
            .add(Conv2d::new(32, 64, [3, 3], &mut rng))
            .add(Relu)
            .add(MaxPool2d::new(2))
            .add(Flatten::batch())
            .add(Linear::new(64 * 5 * 5, 10, &mut rng));
    }
    common::mlp(&args.hidden, &mut rng)
}

/// Trains as the arguments say; returns the epochs this run trained.
fn run(args: &Args) -> AnyResult<Vec<Epoch>> {
    let lr = args.lr;
    let sgd = |momentum: f64, nesterov: bool| Sgd { lr: lr.unwrap_or(1e-3), momentum, nesterov, ..Sgd::default() };
    match args.optimizer.as_str() {
        "sgd" => train(args, sgd(0.0, false)),
        "momentum" => train(args, sgd(0.9, false)),
        "nesterov" => train(args, sgd(0.9, true)),
        "adagrad" => train(args, Adagrad { lr: lr.unwrap_or(1e-2), ..Adagrad::default() }),
        "rmsprop" => train(args, RmsProp { lr: lr.unwrap_or(1e-2), ..RmsProp::default() }),
        "adam" => train(args, Adam { lr: lr.unwrap_or(1e-3), ..Adam::default() }),
        "adamw" => train(args, Adam { lr: lr.unwrap_or(1e-3), ..Adam::adamw() }),
        other => Err(format!("unknown optimizer {other}: sgd|momentum|nesterov|adagrad|rmsprop|adam|adamw").into()),
    }
}

fn load_data(args: &Args) -> AnyResult<(TensorDataset, TensorDataset)> {
    let mnist = Mnist::load(&args.data)?;
    common::datasets((mnist.train_images, mnist.train_labels), (mnist.test_images, mnist.test_labels), args.limit)
}

fn train<A: Algorithm>(args: &Args, config: A) -> AnyResult<Vec<Epoch>> {
    let (train_set, test_set) = load_data(args)?;
    let mut net = model(args);
    let mut opt = Optim::new(net.parameters(), config)?;
    let mut first_epoch = 1;
    if let (Some(dir), true) = (&args.checkpoint, args.resume) {
        first_epoch = common::load_checkpoint(dir, &net, &mut opt)? + 1;
        println!("resumed from {} after epoch {}", dir.display(), first_epoch - 1);
    }
    println!(
        "{} training and {} test images; {} with {}, batch {}, {} epochs",
        train_set.inputs.shape()[0],
        test_set.inputs.shape()[0],
        args.model,
        args.optimizer,
        args.batch_size,
        args.epochs
    );

    let tape = Tape::new();
    let mut done = Vec::new();
    for epoch in first_epoch..=args.epochs {
        let start = Instant::now();
        net.set_training(true);
        let loader = DataLoader {
            batch_size: args.batch_size,
            shuffle: true,
            seed: args.seed,
            prefetch: true,
            ..DataLoader::new(&train_set)
        };
        let bar = progress_bar(loader.index_batches(epoch as u64).len(), epoch, args.epochs);
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0.0, 0usize);
        // One batch's training step, which returns its loss and hits. The compiled one is
        // traced on the first batch of each shape (the full batch and the last, shorter one)
        // and replayed on the rest, each parameter updated during the replay as soon as its
        // gradient is complete; it borrows the model and the optimizer for the epoch.
        let model = &net;
        type Step<'a> = Box<dyn FnMut(Tensor, &Tensor) -> AnyResult<(f64, f64)> + 'a>;
        let mut train_batch: Step = if args.compile {
            let mut step = compile(|xs: &[Var]| {
                let logits = model.forward(&xs[0])?;
                Ok((cross_entropy(&logits, &xs[1], Reduction::Mean)?, logits))
            })
            .with_optimizer(&mut opt);
            Box::new(move |x, y| {
                let out = step.run(&[x, y.clone()])?;
                let hits = out.outputs[1].try_argmax(-1, false)?.try_eq(y)?.to_dtype(DType::F64).sum_all().item();
                Ok((out.outputs[0].to_dtype(DType::F64).item(), hits))
            })
        } else {
            let (tape, opt) = (&tape, &mut opt);
            Box::new(move |x, y| {
                tape.clear();
                let logits = model.forward(&tape.constant(x))?;
                let loss = cross_entropy(&logits, y, Reduction::Mean)?;
                let hits = accuracy(&logits, y)? * y.shape()[0] as f64;
                opt.step(&loss.backward()?)?;
                Ok((loss.item(), hits))
            })
        };
        loader.for_each(epoch as u64, |(x, y)| -> AnyResult<()> {
            let n = y.shape()[0];
            let (loss, batch_correct) = train_batch(x, &y)?;
            loss_sum += loss * n as f64;
            correct += batch_correct;
            seen += n;
            bar.set_message(format!("loss {:.4}", loss_sum / seen as f64));
            bar.inc(1);
            Ok(())
        })?;
        drop(train_batch);
        bar.finish_and_clear();
        net.set_training(false);
        let test_accuracy = evaluate(&net, &test_set, &tape)?;
        let e = Epoch {
            epoch,
            loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct / seen.max(1) as f64,
            test_accuracy,
            seconds: start.elapsed().as_secs_f64(),
        };
        println!("{e}");
        if let Some(path) = &args.metrics {
            append_metrics(path, &e)?;
        }
        if let Some(dir) = &args.checkpoint {
            common::save_checkpoint(dir, &net, &opt, epoch)?;
        }
        done.push(e);
    }
    Ok(done)
}

fn progress_bar(batches: usize, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(batches as u64);
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

/// Test accuracy, in batches of 1000 so memory stays flat.
fn evaluate(net: &Sequential, data: &TensorDataset, tape: &Tape) -> AnyResult<f64> {
    let loader = DataLoader { batch_size: 1000, ..DataLoader::new(data) };
    let (mut correct, mut seen) = (0.0, 0usize);
    for batch in loader.batches(0) {
        let (x, y) = batch?;
        tape.clear();
        let logits = no_grad(|| net.forward(&tape.constant(x)))?;
        correct += accuracy(&logits, &y)? * y.shape()[0] as f64;
        seen += y.shape()[0];
    }
    tape.clear();
    Ok(correct / seen.max(1) as f64)
}

fn append_metrics(path: &Path, e: &Epoch) -> AnyResult<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(
        file,
        "{{\"epoch\": {}, \"loss\": {}, \"train_accuracy\": {}, \"test_accuracy\": {}, \"seconds\": {}}}",
        e.epoch, e.loss, e.train_accuracy, e.test_accuracy, e.seconds
    )?;
    Ok(())
}

/// Writes a small MNIST-format dataset whose classes are learnable (class `c` lights row block
/// `c`), plain for training and gzipped for test, as the real files come either way.
#[cfg(test)]
fn write_tiny_mnist(dir: &Path, train: usize, test: usize) {
    use std::io::Write;
    let idx = |dims: &[usize], bytes: &[u8]| {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for &d in dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        out.extend_from_slice(bytes);
        out
    };
    let mut rng = Rng::seed(3);
    let mut split = |n: usize, stem: &str, gz: bool| {
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let noise = Tensor::rand(&[n * 28 * 28], DType::F64, &mut rng).to_vec::<f64>();
        let mut pixels = vec![0u8; n * 28 * 28];
        for (i, &c) in labels.iter().enumerate() {
            for p in 0..28 * 28 {
                let lit = (p / 28) / 3 == c as usize;
                pixels[i * 784 + p] = if lit { 200 } else { (noise[i * 784 + p] * 60.0) as u8 };
            }
        }
        for (name, bytes) in [
            (format!("{stem}-images-idx3-ubyte"), idx(&[n, 28, 28], &pixels)),
            (format!("{stem}-labels-idx1-ubyte"), idx(&[n], &labels)),
        ] {
            if gz {
                let file = std::fs::File::create(dir.join(format!("{name}.gz"))).unwrap();
                let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                enc.write_all(&bytes).unwrap();
                enc.finish().unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    };
    split(train, "train", false);
    split(test, "t10k", true);
}

#[test]
fn runs_on_tiny_settings() {
    let dir = std::env::temp_dir().join(format!("backprop-mnist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_tiny_mnist(&dir, 200, 50);
    let metrics = dir.join("metrics.jsonl");
    let checkpoint = dir.join("ckpt");
    let base = Args {
        data: dir.clone(),
        hidden: vec![32],
        batch_size: 20,
        metrics: Some(metrics.clone()),
        checkpoint: Some(checkpoint.clone()),
        ..Args::default()
    };

    // The MLP learns the tiny set; a resumed run picks up at the next epoch.
    let first = run(&Args { epochs: 2, lr: Some(1e-2), ..base.clone() }).unwrap();
    assert_eq!(first.len(), 2);
    assert!(first[1].test_accuracy > 0.9, "{first:?}");
    let resumed = run(&Args { epochs: 3, lr: Some(1e-2), resume: true, ..base.clone() }).unwrap();
    assert_eq!(resumed.iter().map(|e| e.epoch).collect::<Vec<_>>(), vec![3]);
    let lines = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(lines.lines().count(), 3);
    assert!(lines.lines().all(|l| l.starts_with("{\"epoch\": ") && l.contains("\"test_accuracy\": ")));

    // A compiled training step gives the eager run's numbers bit for bit.
    let quick = Args { epochs: 2, lr: Some(1e-2), metrics: None, checkpoint: None, ..base.clone() };
    let eager = run(&quick).unwrap();
    let compiled = run(&Args { compile: true, ..quick }).unwrap();
    for (e, c) in eager.iter().zip(&compiled) {
        assert_eq!(
            (e.loss.to_bits(), e.train_accuracy.to_bits(), e.test_accuracy.to_bits()),
            (c.loss.to_bits(), c.train_accuracy.to_bits(), c.test_accuracy.to_bits()),
            "epoch {}: eager {e:?}, compiled {c:?}",
            e.epoch
        );
    }

    // The CNN runs too, with momentum SGD, on a few batches.
    let cnn =
        Args { model: "cnn".into(), optimizer: "momentum".into(), lr: Some(0.01), epochs: 1, limit: Some(40), ..base };
    let cnn = run(&Args { metrics: None, checkpoint: None, ..cnn }).unwrap();
    assert!(cnn[0].loss.is_finite());
    std::fs::remove_dir_all(&dir).ok();
}
