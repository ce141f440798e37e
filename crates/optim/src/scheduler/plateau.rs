//! Reducing the rate when a metric stops improving (`ReduceLROnPlateau`).

use crate::checkpoint::{Checkpoint, Field, Reader, Record, Writer};
use crate::error::{check, Result};
use crate::optimizer::Optimizer;

/// Whether the metric should go down (a loss) or up (an accuracy).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlateauMode {
    Min,
    Max,
}

/// Whether `threshold` is relative to the best value or absolute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdMode {
    Rel,
    Abs,
}

/// The settings of torch's `ReduceLROnPlateau`: multiply every group's rate by `factor` (down to
/// `min_lr`) once the metric has not improved for `patience` epochs, then wait `cooldown` epochs.
/// [`start`](Self::start) gives the [`PlateauScheduler`] that is stepped with the metric (so it
/// is not an [`LrScheduler`](super::LrScheduler)).
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceLrOnPlateau {
    pub mode: PlateauMode,
    pub factor: f64,
    pub patience: u64,
    pub threshold: f64,
    pub threshold_mode: ThresholdMode,
    pub cooldown: u64,
    /// One per group, or one for all.
    pub min_lr: Vec<f64>,
    pub eps: f64,
}

/// A running [`ReduceLrOnPlateau`].
#[derive(Clone, Debug, PartialEq)]
pub struct PlateauScheduler {
    settings: ReduceLrOnPlateau,
    best: f64,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    last_epoch: i64,
}

impl Default for ReduceLrOnPlateau {
    /// torch's defaults: `mode = min`, `factor = 0.1`, `patience = 10`, `threshold = 1e-4`
    /// relative, no cooldown, `min_lr = 0`, `eps = 1e-8`.
    fn default() -> ReduceLrOnPlateau {
        ReduceLrOnPlateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: vec![0.0],
            eps: 1e-8,
        }
    }
}

impl ReduceLrOnPlateau {
    /// Checks the settings and starts from "no best value yet".
    pub fn start(self) -> Result<PlateauScheduler> {
        check("ReduceLROnPlateau", "factor", self.factor, self.factor < 1.0, "must be < 1")?;
        let best = match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        Ok(PlateauScheduler { settings: self, best, num_bad_epochs: 0, cooldown_counter: 0, last_epoch: 0 })
    }
}

impl PlateauScheduler {
    fn is_better(&self, a: f64) -> bool {
        let (best, thr) = (self.best, self.settings.threshold);
        match (self.settings.mode, self.settings.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - thr),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - thr,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (thr + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + thr,
        }
    }

    /// One epoch with its metric: reduces the rates after a plateau.
    pub fn step(&mut self, opt: &mut dyn Optimizer, metric: f64) -> Result<()> {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        let s = &self.settings;
        if self.num_bad_epochs > s.patience {
            for g in 0..opt.num_groups() {
                let min_lr = s.min_lr.get(g).or(s.min_lr.first()).copied().unwrap_or(0.0);
                let old = opt.lr(g)?;
                let new = (old * s.factor).max(min_lr);
                if old - new > s.eps {
                    opt.set_lr(g, new)?;
                }
            }
            self.cooldown_counter = s.cooldown;
            self.num_bad_epochs = 0;
        }
        Ok(())
    }

    /// The number of epochs stepped.
    pub fn last_epoch(&self) -> i64 {
        self.last_epoch
    }

    /// The settings.
    pub fn settings(&self) -> &ReduceLrOnPlateau {
        &self.settings
    }
}

/// The modes (min or max, relative or absolute threshold) come from the code that builds the
/// scheduler; everything else is saved.
impl Record for PlateauScheduler {
    fn fields(&mut self) -> Vec<Field<'_>> {
        let s = &mut self.settings;
        vec![
            Field::F64("factor", &mut s.factor),
            Field::Count("patience", &mut s.patience),
            Field::Count("cooldown", &mut s.cooldown),
            Field::F64("threshold", &mut s.threshold),
            Field::F64("eps", &mut s.eps),
            Field::F64s("min_lr", &mut s.min_lr),
            Field::F64("best", &mut self.best),
            Field::Count("num_bad_epochs", &mut self.num_bad_epochs),
            Field::Count("cooldown_counter", &mut self.cooldown_counter),
            Field::Int("last_epoch", &mut self.last_epoch),
        ]
    }
}

impl Checkpoint for PlateauScheduler {
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new("scheduler", "ReduceLROnPlateau");
        w.fields("plateau", self.clone().fields())?;
        w.finish()
    }

    fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let r = Reader::open(bytes, "scheduler", "ReduceLROnPlateau")?;
        let mut next = self.clone();
        r.fill("plateau", next.fields(), None)?;
        *self = next;
        Ok(())
    }
}
