//! Learning-rate schedulers in torch's chainable form (`torch.optim.lr_scheduler`), so their
//! numbers match and several can drive one optimizer.
//!
//! A [`Scheduler<S>`] applies a [`Schedule`] to every param group. As in torch, constructing it
//! takes the first step (epoch 0) at once, the first scheduler on an optimizer records each
//! group's `initial_lr`, and `step` computes the new rate from the current one (the recursive
//! form), not from a closed formula.
//!
//! ```
//! use autograd::Param;
//! use optim::{LrScheduler, Optim, Optimizer, Scheduler, Sgd, StepLr};
//! use tensor::{DType, Tensor};
//! let mut opt = Optim::new([Param::new(Tensor::zeros(&[1], DType::F64))], Sgd { lr: 0.1, ..Sgd::default() }).unwrap();
//! let mut sched = Scheduler::new(&mut opt, StepLr { step_size: 2, gamma: 0.5 }).unwrap();
//! for _ in 0..4 {
//!     // opt.step(&grads) ...
//!     sched.step(&mut opt).unwrap();
//! }
//! assert_eq!(opt.lr(0).unwrap(), 0.025);
//! ```

mod chainable;
mod compose;
mod cyclic;
mod plateau;

pub use chainable::{
    ConstantLr, CosineAnnealingLr, ExponentialLr, LambdaLr, LinearLr, LrLambda, MultiStepLr, MultiplicativeLr,
    PolynomialLr, StepLr,
};
pub use compose::{ChainedScheduler, SequentialLr};
pub use cyclic::{CosineAnnealingWarmRestarts, CyclicLr, CyclicMode, OneCycleLr};
pub use plateau::{PlateauMode, PlateauScheduler, ReduceLrOnPlateau, ThresholdMode};

use crate::checkpoint::{Checkpoint, Field, Reader, Record, Writer};
use crate::error::{OptimError, Result};
use crate::optimizer::Optimizer;

/// What a training loop calls once per epoch (or step) after `optimizer.step`.
pub trait LrScheduler: Send {
    /// Advances one epoch and sets every group's learning rate.
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()>;

    /// Jumps to `epoch` (torch's deprecated `step(epoch)`, which `SequentialLr` uses at its
    /// milestones): the closed form where the schedule has one.
    fn step_to(&mut self, opt: &mut dyn Optimizer, epoch: i64) -> Result<()>;

    /// The epoch of the last step (0 right after construction).
    fn last_epoch(&self) -> i64;

    /// Moves the epoch counter (`SequentialLr` undoes its children's initial steps).
    fn set_last_epoch(&mut self, epoch: i64);

    /// The rates the last step set, one per group.
    fn last_lr(&self) -> &[f64];
}

/// One schedule, per param group: the new rate at epoch `t` from the group's base rate
/// (`initial_lr`) and its current rate.
pub trait Schedule: Send {
    /// The schedule's name in errors.
    const NAME: &'static str;

    /// Rejects parameters torch would reject.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The base rate a group starts from, given its `initial_lr` (most schedules keep it).
    fn base_lr(&self, initial_lr: f64) -> f64 {
        initial_lr
    }

    /// Called once per step, before the groups' rates, with the new epoch (`explicit`: set by
    /// `step_to` rather than counted).
    fn advance(&mut self, _t: i64, _explicit: bool) -> Result<()> {
        Ok(())
    }

    /// torch's `get_lr`: the chainable form.
    fn lr(&self, t: i64, base: f64, current: f64) -> f64;

    /// torch's `_get_closed_form_lr`, where the schedule has one.
    fn closed_form(&self, _t: i64, _base: f64) -> Option<f64> {
        None
    }

    /// The momentum at epoch `t`, for schedules that cycle it (every group gets the same);
    /// `initial` is the one set at construction.
    fn momentum(&self, _t: i64) -> Option<f64> {
        None
    }

    /// The momentum set on every group at construction, for schedules that cycle it.
    fn initial_momentum(&self) -> Option<f64> {
        None
    }
}

/// A [`Schedule`] applied to every group of an optimizer.
pub struct Scheduler<S> {
    schedule: S,
    base_lrs: Vec<f64>,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl<S: Schedule> Scheduler<S> {
    /// Records the groups' `initial_lr` (if no scheduler did), then takes the first step.
    pub fn new(opt: &mut dyn Optimizer, schedule: S) -> Result<Scheduler<S>> {
        schedule.validate()?;
        let mut base_lrs = Vec::with_capacity(opt.num_groups());
        for g in 0..opt.num_groups() {
            let initial = match opt.initial_lr(g)? {
                Some(lr) => lr,
                None => {
                    let lr = opt.lr(g)?;
                    opt.set_initial_lr(g, lr)?;
                    lr
                }
            };
            base_lrs.push(schedule.base_lr(initial));
        }
        if let Some(m) = schedule.initial_momentum() {
            for g in 0..opt.num_groups() {
                if opt.momentum(g)?.is_none() {
                    return Err(OptimError::Hyperparameter {
                        optimizer: S::NAME,
                        name: "cycle_momentum",
                        value: "true".into(),
                        expected: "needs an optimizer with momentum (or betas); pass cycle_momentum = false",
                    });
                }
                opt.set_momentum(g, m)?;
            }
        }
        let mut s = Scheduler { schedule, base_lrs, last_epoch: -1, last_lr: Vec::new() };
        s.step(opt)?;
        Ok(s)
    }

    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    fn apply(&mut self, opt: &mut dyn Optimizer, closed_form: bool) -> Result<()> {
        let t = self.last_epoch;
        let mut lrs = Vec::with_capacity(self.base_lrs.len());
        for (g, &base) in self.base_lrs.iter().enumerate() {
            let lr = match closed_form.then(|| self.schedule.closed_form(t, base)).flatten() {
                Some(lr) => lr,
                None => self.schedule.lr(t, base, opt.lr(g)?),
            };
            lrs.push(lr);
        }
        let momentum = self.schedule.momentum(t);
        for (g, &lr) in lrs.iter().enumerate() {
            opt.set_lr(g, lr)?;
            if let Some(m) = momentum {
                opt.set_momentum(g, m)?;
            }
        }
        self.last_lr = lrs;
        Ok(())
    }
}

impl<S: Schedule> LrScheduler for Scheduler<S> {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.last_epoch += 1;
        self.schedule.advance(self.last_epoch, false)?;
        self.apply(opt, false)
    }

    fn step_to(&mut self, opt: &mut dyn Optimizer, epoch: i64) -> Result<()> {
        self.last_epoch = epoch;
        self.schedule.advance(epoch, true)?;
        self.apply(opt, true)
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

impl<S: Schedule + Record + Clone> Checkpoint for Scheduler<S> {
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new("scheduler", S::NAME);
        let (mut last_epoch, mut base_lrs, mut last_lr) =
            (self.last_epoch, self.base_lrs.clone(), self.last_lr.clone());
        w.fields("scheduler", counters(&mut last_epoch, &mut base_lrs, &mut last_lr))?;
        w.fields("schedule", self.schedule.clone().fields())?;
        w.finish()
    }

    fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let r = Reader::open(bytes, "scheduler", S::NAME)?;
        let (mut last_epoch, mut base_lrs, mut last_lr) = (0, Vec::new(), Vec::new());
        r.fill("scheduler", counters(&mut last_epoch, &mut base_lrs, &mut last_lr), None)?;
        if base_lrs.len() != self.base_lrs.len() {
            return Err(OptimError::Checkpoint {
                msg: format!(
                    "the file schedules {} param groups, this scheduler {}",
                    base_lrs.len(),
                    self.base_lrs.len()
                ),
            });
        }
        let mut schedule = self.schedule.clone();
        r.fill("schedule", schedule.fields(), None)?;
        schedule.validate()?;
        (self.schedule, self.last_epoch, self.base_lrs, self.last_lr) = (schedule, last_epoch, base_lrs, last_lr);
        Ok(())
    }
}

fn counters<'a>(last_epoch: &'a mut i64, base_lrs: &'a mut Vec<f64>, last_lr: &'a mut Vec<f64>) -> Vec<Field<'a>> {
    vec![Field::Int("last_epoch", last_epoch), Field::F64s("base_lrs", base_lrs), Field::F64s("last_lr", last_lr)]
}
