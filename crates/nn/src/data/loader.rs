//! `Dataset` and `DataLoader` (`torch.utils.data`): batches, seeded shuffling, `drop_last`,
//! and optional prefetching of the next batch on a second thread.

use std::sync::mpsc;

use tensor::{Rng, Tensor};

use crate::error::NnError;

/// Examples by index: each an input and a target tensor.
pub trait Dataset: Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Example `i`.
    fn get(&self, i: usize) -> Result<(Tensor, Tensor), NnError>;

    /// The examples at `indices`, stacked along a new first dimension (torch's default
    /// collation). Datasets that hold whole tensors override it with one gather.
    fn batch(&self, indices: &[usize]) -> Result<(Tensor, Tensor), NnError> {
        let (mut xs, mut ys) = (Vec::with_capacity(indices.len()), Vec::with_capacity(indices.len()));
        for &i in indices {
            let (x, y) = self.get(i)?;
            xs.push(x);
            ys.push(y);
        }
        let stack = |v: &[Tensor]| Tensor::try_stack(v, 0).map_err(|e| NnError::Data { msg: e.to_string() });
        Ok((stack(&xs)?, stack(&ys)?))
    }
}

/// Inputs and targets as two tensors whose first dimension indexes the examples.
pub struct TensorDataset {
    pub inputs: Tensor,
    pub targets: Tensor,
}

impl TensorDataset {
    /// Checks that both have the same number of examples.
    pub fn new(inputs: Tensor, targets: Tensor) -> Result<TensorDataset, NnError> {
        let (n, m) = (inputs.shape().first().copied(), targets.shape().first().copied());
        if n.is_none() || n != m {
            return Err(NnError::Data {
                msg: format!(
                    "inputs {:?} and targets {:?} do not have the same first dimension",
                    inputs.shape(),
                    targets.shape()
                ),
            });
        }
        Ok(TensorDataset { inputs, targets })
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.inputs.shape()[0]
    }

    fn get(&self, i: usize) -> Result<(Tensor, Tensor), NnError> {
        let pick = |t: &Tensor| t.try_select(0, i).map_err(|e| NnError::Data { msg: e.to_string() });
        Ok((pick(&self.inputs)?, pick(&self.targets)?))
    }

    fn batch(&self, indices: &[usize]) -> Result<(Tensor, Tensor), NnError> {
        let ids = Tensor::from_vec(indices.iter().map(|&i| i as i64).collect::<Vec<i64>>(), &[indices.len()]);
        let pick = |t: &Tensor| t.try_index_select(0, &ids).map_err(|e| NnError::Data { msg: e.to_string() });
        Ok((pick(&self.inputs)?, pick(&self.targets)?))
    }
}

/// Batches of a dataset, in order or shuffled from a seed (the same seed and epoch give the same
/// order on any machine), with or without the last short batch.
///
/// ```
/// use nn::data::{DataLoader, TensorDataset};
/// use tensor::{DType, Tensor};
/// let data = TensorDataset::new(Tensor::zeros(&[10, 3], DType::F32), Tensor::zeros(&[10], DType::I64)).unwrap();
/// let loader = DataLoader { batch_size: 4, shuffle: true, seed: 7, ..DataLoader::new(&data) };
/// let sizes: Vec<usize> = loader.batches(0).map(|b| b.unwrap().0.shape()[0]).collect();
/// assert_eq!(sizes, vec![4, 4, 2]);
/// ```
pub struct DataLoader<'a, D: Dataset + ?Sized> {
    pub dataset: &'a D,
    pub batch_size: usize,
    pub shuffle: bool,
    pub drop_last: bool,
    /// Shuffling draws epoch `e`'s order from `Rng::seed(seed + e)`.
    pub seed: u64,
    /// Prepare the next batch on a second thread while the caller works on this one
    /// ([`for_each`](Self::for_each) only).
    pub prefetch: bool,
    /// For data-parallel training: this process's share of every batch (see [`Shard`]).
    /// `batch_size` stays the global batch size.
    pub shard: Shard,
}

/// One of `count` disjoint shares of every batch, for data-parallel training (torch's
/// `DistributedSampler`, arranged so the shares of a step make up the single-process batch).
///
/// Every process shuffles the same order from the same seed and cuts it into the same global
/// batches; process `index` takes the `index`-th of `count` near-equal consecutive pieces of each
/// (`len * index / count .. len * (index + 1) / count`). So the shards are disjoint and together
/// complete, every process sees the same number of batches, and the union of the processes' `k`-th
/// batches is the single-process `k`-th batch. A global batch shorter than `count` leaves some
/// pieces empty.
///
/// ```
/// use nn::data::{DataLoader, Shard, TensorDataset};
/// use tensor::{DType, Tensor};
/// let data = TensorDataset::new(Tensor::zeros(&[10, 3], DType::F32), Tensor::zeros(&[10], DType::I64)).unwrap();
/// let whole = DataLoader { batch_size: 4, ..DataLoader::new(&data) };
/// let second = DataLoader { shard: Shard::new(1, 2).unwrap(), ..DataLoader::new(&data) };
/// let second = DataLoader { batch_size: 4, ..second };
/// assert_eq!(whole.index_batches(0), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
/// assert_eq!(second.index_batches(0), vec![vec![2, 3], vec![6, 7], vec![9]]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Share `index` of `count`; `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Shard, NnError> {
        if index >= count {
            return Err(NnError::Data { msg: format!("shard {index} of {count}: the index must be below the count") });
        }
        Ok(Shard { index, count })
    }

    /// The whole of every batch (one process).
    pub fn whole() -> Shard {
        Shard { index: 0, count: 1 }
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// This shard's piece of `batch`.
    pub fn piece<'b, T>(&self, batch: &'b [T]) -> &'b [T] {
        let len = batch.len();
        &batch[len * self.index / self.count..len * (self.index + 1) / self.count]
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::whole()
    }
}

impl<'a, D: Dataset + ?Sized> DataLoader<'a, D> {
    /// torch's defaults: batches of 1, in order, keeping the last short batch.
    pub fn new(dataset: &'a D) -> DataLoader<'a, D> {
        DataLoader {
            dataset,
            batch_size: 1,
            shuffle: false,
            drop_last: false,
            seed: 0,
            prefetch: false,
            shard: Shard::whole(),
        }
    }

    /// The example indices of each batch of epoch `epoch` (this shard's piece of each).
    pub fn index_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let n = self.dataset.len();
        let order: Vec<usize> =
            if self.shuffle { Rng::seed(self.seed.wrapping_add(epoch)).permutation(n) } else { (0..n).collect() };
        let size = self.batch_size.max(1);
        order
            .chunks(size)
            .filter(|c| !self.drop_last || c.len() == size)
            .map(|c| self.shard.piece(c).to_vec())
            .collect()
    }

    /// The batches of epoch `epoch`, made as they are asked for.
    pub fn batches(&self, epoch: u64) -> impl Iterator<Item = Result<(Tensor, Tensor), NnError>> + '_ {
        self.index_batches(epoch).into_iter().map(move |ids| self.dataset.batch(&ids))
    }

    /// Calls `f` on every batch of epoch `epoch` in order; with `prefetch`, the next batch is
    /// made on a second thread while `f` runs. Stops at the first error, from the data or `f`.
    pub fn for_each<E: From<NnError>>(
        &self,
        epoch: u64,
        mut f: impl FnMut((Tensor, Tensor)) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.prefetch {
            for batch in self.batches(epoch) {
                f(batch?)?;
            }
            return Ok(());
        }
        let plan = self.index_batches(epoch);
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel(1);
            let dataset = self.dataset;
            scope.spawn(move || {
                for ids in plan {
                    let batch = dataset.batch(&ids);
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                }
            });
            for batch in rx {
                f(batch?)?;
            }
            Ok(())
        })
    }
}
