//! A small data-parallel training run, shared by the thread-world and the MPI tests.

#![allow(dead_code)]

use autograd::Tape;
use distributed::{GradientAverager, World};
use nn::data::{DataLoader, TensorDataset};
use nn::loss::cross_entropy;
use nn::{Linear, Module, Reduction, Sequential, Tanh};
use optim::{Adam, Optim, Optimizer};
use tensor::{DType, Rng, Tensor};

/// 600 examples of 6 features in 3 classes: 9 full batches of 64 and a last one of 24.
pub fn dataset(dtype: DType) -> TensorDataset {
    let mut rng = Rng::seed(11);
    let x = Tensor::randn(&[600, 6], DType::F64, &mut rng);
    let w = Tensor::randn(&[6, 3], DType::F64, &mut rng);
    let y = x.try_matmul(&w).unwrap().try_argmax(-1, false).unwrap();
    TensorDataset::new(x.to_dtype(dtype), y).unwrap()
}

/// A 6-16-16-3 tanh MLP in `dtype`, initialised from `seed`.
pub fn model(dtype: DType, seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed);
    let net = Sequential::new()
        .add(Linear::new(6, 16, &mut rng))
        .add(Tanh)
        .add(Linear::new(16, 16, &mut rng))
        .add(Tanh)
        .add(Linear::new(16, 3, &mut rng));
    for p in net.parameters() {
        p.replace(p.value().to_dtype(dtype));
    }
    net
}

pub const BATCH: usize = 64;

/// Trains `steps` Adam steps on global batches of [`BATCH`]; returns the loss of every step
/// (the mean over the global batch) and the model. With a world, each rank takes its shard of
/// every batch, starts from rank 0's weights (each rank's own seed differs), averages its
/// gradients weighted by its number of examples, and checks after every step that all ranks hold
/// the same parameters. Without one, this is the plain single-process run.
pub fn train(world: Option<&World>, dtype: DType, steps: usize) -> (Vec<f64>, Sequential) {
    let data = dataset(dtype);
    let rank = world.map_or(0, |w| w.rank());
    let net = model(dtype, 1 + rank as u64);
    if let Some(world) = world {
        world.broadcast_module(&net).unwrap();
    }
    let mut averager = GradientAverager::new(net.named_parameters()).unwrap();
    let mut opt = Optim::new(net.parameters(), Adam { lr: 1e-2, ..Adam::default() }).unwrap();
    let loader = DataLoader {
        batch_size: BATCH,
        shuffle: true,
        seed: 5,
        shard: world.map_or_else(Default::default, |w| w.shard()),
        ..DataLoader::new(&data)
    };
    let tape = Tape::new();
    let mut losses = Vec::new();
    let mut epoch = 0;
    while losses.len() < steps {
        for batch in loader.batches(epoch) {
            let (x, y) = batch.unwrap();
            let n = y.shape()[0];
            tape.clear();
            let logits = net.forward(&tape.constant(x)).unwrap();
            let loss = cross_entropy(&logits, &y, Reduction::Mean).unwrap();
            let mut grads = loss.backward().unwrap();
            let loss = match world {
                None => loss.item(),
                Some(world) => {
                    averager.average_weighted(world, &mut grads, n as f64).unwrap();
                    let total = world.sum(&[loss.item() * n as f64, n as f64]).unwrap();
                    total[0] / total[1]
                }
            };
            opt.step(&grads).unwrap();
            if let Some(world) = world {
                world.check_same_parameters(net.named_parameters()).unwrap();
            }
            losses.push(loss);
            if losses.len() == steps {
                break;
            }
        }
        epoch += 1;
    }
    (losses, net)
}

/// Asserts that the data-parallel losses match the single-process ones to `tol` relative.
pub fn assert_close(parallel: &[f64], single: &[f64], tol: f64) {
    assert_eq!(parallel.len(), single.len());
    for (step, (p, s)) in parallel.iter().zip(single).enumerate() {
        let rel = (p - s).abs() / s.abs().max(1e-30);
        assert!(rel <= tol, "step {step}: data-parallel loss {p}, single-process {s}, relative difference {rel:e}");
    }
}
