//! What the `mnist` and `distributed` examples share: the MLP, the datasets, the epoch line and
//! the checkpoint files. (A module of both examples, not an example itself.)

#![allow(dead_code)] // each example uses its own part

use std::path::Path;

use backprop::nn::data::TensorDataset;
use backprop::nn::Flatten;
use backprop::prelude::*;

pub type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Flatten, `[Linear, ReLU]` per hidden width, `Linear` to 10 classes, with torch's default
/// initialisation drawn from `rng`.
pub fn mlp(hidden: &[usize], rng: &mut Rng) -> Sequential {
    let mut net = Sequential::new().add(Flatten::batch());
    let mut width = 28 * 28;
    for &h in hidden {
        net = net.add(Linear::new(width, h, rng)).add(Relu);
        width = h;
    }
    net.add(Linear::new(width, 10, rng))
}

/// Training and test sets from images and labels, each cut to its first `limit` examples.
pub fn datasets(
    (train_images, train_labels): (Tensor, Tensor),
    (test_images, test_labels): (Tensor, Tensor),
    limit: Option<usize>,
) -> AnyResult<(TensorDataset, TensorDataset)> {
    let first = |t: Tensor| -> AnyResult<Tensor> {
        let n = limit.unwrap_or(usize::MAX).min(t.shape()[0]);
        Ok(t.try_narrow(0, 0, n)?.contiguous())
    };
    let train = TensorDataset::new(first(train_images)?, first(train_labels)?)?;
    let test = TensorDataset::new(first(test_images)?, first(test_labels)?)?;
    Ok((train, test))
}

/// One epoch's metrics over the whole training set.
#[derive(Clone, Debug)]
pub struct Epoch {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub seconds: f64,
}

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "epoch {:>3}: loss {:.4}  train {:.2}%  test {:.2}%  {:.1}s",
            self.epoch,
            self.loss,
            100.0 * self.train_accuracy,
            100.0 * self.test_accuracy,
            self.seconds
        )
    }
}

/// The model's parameters and buffers, the optimizer's state and the epoch, in three files.
pub fn save_checkpoint<A: Algorithm>(dir: &Path, net: &Sequential, opt: &Optim<A>, epoch: usize) -> AnyResult<()>
where
    Optim<A>: Checkpoint,
{
    std::fs::create_dir_all(dir)?;
    backprop::nn::state::save(net, dir.join("model.safetensors"))?;
    opt.save(dir.join("optimizer.safetensors"))?;
    // The epoch goes last: a checkpoint cut off mid-write still names the previous, complete one.
    std::fs::write(dir.join("epoch"), format!("{epoch}\n"))?;
    Ok(())
}

/// Loads a checkpoint; returns the epoch it was saved after.
pub fn load_checkpoint<A: Algorithm>(dir: &Path, net: &Sequential, opt: &mut Optim<A>) -> AnyResult<usize>
where
    Optim<A>: Checkpoint,
{
    let epoch_file = dir.join("epoch");
    let text = std::fs::read_to_string(&epoch_file).map_err(|e| format!("{}: {e}", epoch_file.display()))?;
    let epoch = text.trim().parse().map_err(|_| format!("{}: not an epoch number: {text:?}", epoch_file.display()))?;
    backprop::nn::state::load(net, dir.join("model.safetensors"))?;
    opt.load(dir.join("optimizer.safetensors"))?;
    Ok(epoch)
}

/// `--flag N`: a whole number.
pub fn number(flag: &str, v: &str) -> Result<usize, String> {
    v.parse::<usize>().map_err(|_| format!("{flag}: not a whole number: {v}"))
}

/// `--hidden N[,N..]`: layer widths.
pub fn widths(flag: &str, list: &str) -> Result<Vec<usize>, String> {
    list.split(',').map(|w| number(flag, w.trim())).collect()
}

/// `--lr LR`: a real number.
pub fn real(flag: &str, v: &str) -> Result<f64, String> {
    v.parse().map_err(|_| format!("{flag}: not a number"))
}

/// The checks both examples make on their shared options.
pub fn check(batch_size: usize, hidden: &[usize], resume: bool, checkpoint: Option<&Path>) -> Result<(), String> {
    if batch_size == 0 || hidden.contains(&0) {
        return Err("--batch-size and --hidden widths must be positive".into());
    }
    if resume && checkpoint.is_none() {
        return Err("--resume needs --checkpoint DIR".into());
    }
    Ok(())
}
