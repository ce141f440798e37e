//! The schedules torch computes recursively from the current rate (its "chainable" form),
//! each with its closed form where torch has one.

use std::f64::consts::PI;
use std::sync::Arc;

use super::Schedule;
use crate::checkpoint::{record, Field, Record};
use crate::error::{check, Result};

/// A rate factor as a function of the epoch, shared by every group.
pub type LrLambda = Arc<dyn Fn(i64) -> f64 + Send + Sync>;

/// `η0·λ(t)`, one function for every group (`LambdaLR`).
#[derive(Clone)]
pub struct LambdaLr {
    pub lr_lambda: LrLambda,
}

impl Schedule for LambdaLr {
    const NAME: &'static str = "LambdaLR";
    fn lr(&self, t: i64, base: f64, _current: f64) -> f64 {
        base * (self.lr_lambda)(t)
    }
}

/// `η_t = η_{t-1}·λ(t)` for `t > 0` (`MultiplicativeLR`).
#[derive(Clone)]
pub struct MultiplicativeLr {
    pub lr_lambda: LrLambda,
}

impl Schedule for MultiplicativeLr {
    const NAME: &'static str = "MultiplicativeLR";
    fn lr(&self, t: i64, _base: f64, current: f64) -> f64 {
        if t > 0 {
            current * (self.lr_lambda)(t)
        } else {
            current
        }
    }
}

/// Decays by `gamma` every `step_size` epochs: `η0·γ^⌊t/step_size⌋` (`StepLR`).
#[derive(Clone, Debug, PartialEq)]
pub struct StepLr {
    pub step_size: i64,
    pub gamma: f64,
}

impl Schedule for StepLr {
    const NAME: &'static str = "StepLR";
    fn validate(&self) -> Result<()> {
        check("StepLR", "step_size", self.step_size as f64, self.step_size >= 1, "must be >= 1")
    }
    fn lr(&self, t: i64, _base: f64, current: f64) -> f64 {
        if t == 0 || t % self.step_size != 0 {
            current
        } else {
            current * self.gamma
        }
    }
    fn closed_form(&self, t: i64, base: f64) -> Option<f64> {
        Some(base * self.gamma.powf((t / self.step_size) as f64))
    }
}

/// Decays by `gamma` at each milestone (repeated milestones decay repeatedly) (`MultiStepLR`).
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStepLr {
    pub milestones: Vec<i64>,
    pub gamma: f64,
}

impl Schedule for MultiStepLr {
    const NAME: &'static str = "MultiStepLR";
    fn lr(&self, t: i64, _base: f64, current: f64) -> f64 {
        let hits = self.milestones.iter().filter(|&&m| m == t).count();
        if hits == 0 {
            current
        } else {
            current * self.gamma.powf(hits as f64)
        }
    }
    fn closed_form(&self, t: i64, base: f64) -> Option<f64> {
        let passed = self.milestones.iter().filter(|&&m| m <= t).count();
        Some(base * self.gamma.powf(passed as f64))
    }
}

/// `η0·factor` until `total_iters`, then `η0` (`ConstantLR`; torch's defaults 1/3 and 5).
#[derive(Clone, Debug, PartialEq)]
pub struct ConstantLr {
    pub factor: f64,
    pub total_iters: i64,
}

impl Default for ConstantLr {
    fn default() -> ConstantLr {
        ConstantLr { factor: 1.0 / 3.0, total_iters: 5 }
    }
}

impl Schedule for ConstantLr {
    const NAME: &'static str = "ConstantLR";
    fn validate(&self) -> Result<()> {
        check("ConstantLR", "factor", self.factor, (0.0..=1.0).contains(&self.factor), "must be in [0, 1]")
    }
    fn lr(&self, t: i64, _base: f64, current: f64) -> f64 {
        if t == 0 {
            current * self.factor
        } else if t == self.total_iters {
            current * (1.0 / self.factor)
        } else {
            current
        }
    }
    fn closed_form(&self, t: i64, base: f64) -> Option<f64> {
        let reached = if t >= self.total_iters { 1.0 } else { 0.0 };
        Some(base * (self.factor + reached * (1.0 - self.factor)))
    }
}

/// From `η0·start_factor` to `η0·end_factor` linearly over `total_iters` (`LinearLR`; torch's
/// defaults 1/3, 1 and 5).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearLr {
    pub start_factor: f64,
    pub end_factor: f64,
    pub total_iters: i64,
}

impl Default for LinearLr {
    fn default() -> LinearLr {
        LinearLr { start_factor: 1.0 / 3.0, end_factor: 1.0, total_iters: 5 }
    }
}

impl Schedule for LinearLr {
    const NAME: &'static str = "LinearLR";
    fn validate(&self) -> Result<()> {
        let s = self.start_factor;
        check("LinearLR", "start_factor", s, s > 0.0 && s <= 1.0, "must be in (0, 1]")?;
        let e = self.end_factor;
        check("LinearLR", "end_factor", e, (0.0..=1.0).contains(&e), "must be in [0, 1]")
    }
    fn lr(&self, t: i64, _base: f64, current: f64) -> f64 {
        let (s, e, n) = (self.start_factor, self.end_factor, self.total_iters as f64);
        if t == 0 {
            current * s
        } else if t > self.total_iters {
            current
        } else {
            current * (1.0 + (e - s) / (n * s + (t as f64 - 1.0) * (e - s)))
        }
    }
    fn closed_form(&self, t: i64, base: f64) -> Option<f64> {
        let (s, e, n) = (self.start_factor, self.end_factor, self.total_iters);
        Some(base * (s + (e - s) * t.min(n) as f64 / n as f64))
    }
}

/// `η0·γ^t` (`ExponentialLR`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialLr {
    pub gamma: f64,
}

impl Schedule for ExponentialLr {
    const NAME: &'static str = "ExponentialLR";
    fn lr(&self, t: i64, _base: f64, current: f64) -> f64 {
        if t == 0 {
            current
        } else {
            current * self.gamma
        }
    }
    fn closed_form(&self, t: i64, base: f64) -> Option<f64> {
        Some(base * self.gamma.powf(t as f64))
    }
}

/// `η0·(1 - min(t, T)/T)^power` (`PolynomialLR`; torch's defaults 5 and 1).
#[derive(Clone, Debug, PartialEq)]
pub struct PolynomialLr {
    pub total_iters: i64,
    pub power: f64,
}

impl Default for PolynomialLr {
    fn default() -> PolynomialLr {
        PolynomialLr { total_iters: 5, power: 1.0 }
    }
}

impl Schedule for PolynomialLr {
    const NAME: &'static str = "PolynomialLR";
    fn lr(&self, t: i64, _base: f64, current: f64) -> f64 {
        if t == 0 || t > self.total_iters {
            return current;
        }
        let n = self.total_iters as f64;
        let factor = ((1.0 - t as f64 / n) / (1.0 - (t as f64 - 1.0) / n)).powf(self.power);
        current * factor
    }
    fn closed_form(&self, t: i64, base: f64) -> Option<f64> {
        let n = self.total_iters as f64;
        Some(base * (1.0 - t.min(self.total_iters) as f64 / n).powf(self.power))
    }
}

/// `η_min + (η0 - η_min)·(1 + cos(π t / T_max)) / 2`, computed recursively as torch does (and
/// not clamped: past `T_max` it follows the cosine back up) (`CosineAnnealingLR`).
#[derive(Clone, Debug, PartialEq)]
pub struct CosineAnnealingLr {
    pub t_max: i64,
    pub eta_min: f64,
}

impl Schedule for CosineAnnealingLr {
    const NAME: &'static str = "CosineAnnealingLR";
    fn validate(&self) -> Result<()> {
        check("CosineAnnealingLR", "T_max", self.t_max as f64, self.t_max >= 1, "must be >= 1")
    }
    fn lr(&self, t: i64, base: f64, current: f64) -> f64 {
        let (tm, eta_min) = (self.t_max as f64, self.eta_min);
        if t == 0 {
            current
        } else if (t - 1 - self.t_max).rem_euclid(2 * self.t_max) == 0 {
            current + (base - eta_min) * (1.0 - (PI / tm).cos()) / 2.0
        } else {
            (1.0 + (PI * t as f64 / tm).cos()) / (1.0 + (PI * (t as f64 - 1.0) / tm).cos()) * (current - eta_min)
                + eta_min
        }
    }
    fn closed_form(&self, t: i64, base: f64) -> Option<f64> {
        let eta_min = self.eta_min;
        Some(eta_min + (base - eta_min) * (1.0 + (PI * t as f64 / self.t_max as f64).cos()) / 2.0)
    }
}

// What a checkpoint keeps of each schedule: its settings (a function is not saved: it comes
// from the code that builds the schedule, as in torch).
impl Record for LambdaLr {
    fn fields(&mut self) -> Vec<Field<'_>> {
        Vec::new()
    }
}

impl Record for MultiplicativeLr {
    fn fields(&mut self) -> Vec<Field<'_>> {
        Vec::new()
    }
}

record!(StepLr { step_size: Int, gamma: F64 });
record!(MultiStepLr { gamma: F64 });
record!(ConstantLr { factor: F64, total_iters: Int });
record!(LinearLr { start_factor: F64, end_factor: F64, total_iters: Int });
record!(ExponentialLr { gamma: F64 });
record!(PolynomialLr { total_iters: Int, power: F64 });
record!(CosineAnnealingLr { t_max: Int, eta_min: F64 });
