//! Schedulers made of schedulers (`SequentialLR`, `ChainedScheduler`).

use super::LrScheduler;
use crate::error::{check, Result};
use crate::optimizer::Optimizer;

/// Hands the optimizer to `schedulers[i]` between `milestones[i-1]` and `milestones[i]`, each
/// restarting from epoch 0 at its milestone, as torch's `SequentialLR`.
pub struct SequentialLr {
    schedulers: Vec<Box<dyn LrScheduler>>,
    milestones: Vec<i64>,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl SequentialLr {
    /// Takes schedulers already built on `opt` (each took its initial step): resets every group
    /// to its `initial_lr`, undoes those steps and redoes the first scheduler's.
    pub fn new(
        opt: &mut dyn Optimizer,
        mut schedulers: Vec<Box<dyn LrScheduler>>,
        milestones: Vec<i64>,
    ) -> Result<SequentialLr> {
        let expected = schedulers.len().saturating_sub(1) as f64;
        check(
            "SequentialLR",
            "milestones",
            milestones.len() as f64,
            milestones.len() as f64 == expected && !schedulers.is_empty(),
            "needs one milestone fewer than schedulers (and at least one scheduler)",
        )?;
        for g in 0..opt.num_groups() {
            if let Some(lr) = opt.initial_lr(g)? {
                opt.set_lr(g, lr)?;
            }
        }
        for s in schedulers.iter_mut() {
            s.set_last_epoch(s.last_epoch() - 1);
        }
        schedulers[0].step(opt)?;
        let last_lr = schedulers[0].last_lr().to_vec();
        Ok(SequentialLr { schedulers, milestones, last_epoch: 0, last_lr })
    }
}

impl LrScheduler for SequentialLr {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.last_epoch += 1;
        let idx = self.milestones.iter().filter(|&&m| m <= self.last_epoch).count();
        let at_milestone = idx > 0 && self.milestones[idx - 1] == self.last_epoch;
        let s = &mut self.schedulers[idx];
        if at_milestone {
            s.step_to(opt, 0)?;
        } else {
            s.step(opt)?;
        }
        self.last_lr = s.last_lr().to_vec();
        Ok(())
    }

    fn step_to(&mut self, opt: &mut dyn Optimizer, epoch: i64) -> Result<()> {
        self.last_epoch = epoch - 1;
        self.step(opt)
    }

    fn last_epoch(&self) -> i64 {
        self.last_epoch
    }

    fn set_last_epoch(&mut self, epoch: i64) {
        self.last_epoch = epoch;
    }

    fn last_lr(&self) -> &[f64] {
        &self.last_lr
    }
}

/// Steps every scheduler in order each epoch, so their factors multiply (`ChainedScheduler`).
pub struct ChainedScheduler {
    schedulers: Vec<Box<dyn LrScheduler>>,
    last_lr: Vec<f64>,
}

impl ChainedScheduler {
    /// Takes schedulers already built on `opt`.
    pub fn new(opt: &dyn Optimizer, schedulers: Vec<Box<dyn LrScheduler>>) -> Result<ChainedScheduler> {
        let last_lr = (0..opt.num_groups()).map(|g| opt.lr(g)).collect::<Result<_>>()?;
        Ok(ChainedScheduler { schedulers, last_lr })
    }
}

impl LrScheduler for ChainedScheduler {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        for s in self.schedulers.iter_mut() {
            s.step(opt)?;
        }
        self.last_lr = (0..opt.num_groups()).map(|g| opt.lr(g)).collect::<Result<_>>()?;
        Ok(())
    }

    fn step_to(&mut self, opt: &mut dyn Optimizer, epoch: i64) -> Result<()> {
        for s in self.schedulers.iter_mut() {
            s.step_to(opt, epoch)?;
        }
        self.last_lr = (0..opt.num_groups()).map(|g| opt.lr(g)).collect::<Result<_>>()?;
        Ok(())
    }

    fn last_epoch(&self) -> i64 {
        self.schedulers.first().map_or(0, |s| s.last_epoch())
    }

    fn set_last_epoch(&mut self, epoch: i64) {
        for s in self.schedulers.iter_mut() {
            s.set_last_epoch(epoch);
        }
    }

    fn last_lr(&self) -> &[f64] {
        &self.last_lr
    }
}
