//! Schedules torch computes in closed form from counters: warm restarts, cyclical rates and
//! the one-cycle policy.

use std::f64::consts::PI;

use super::Schedule;
use crate::checkpoint::record;
use crate::error::{check, OptimError, Result};

/// Cosine annealing restarted every `T_i` epochs, `T_i = T_0·T_mult^i` (`CosineAnnealingWarmRestarts`;
/// Loshchilov & Hutter, 2017, "SGDR").
#[derive(Clone, Debug, PartialEq)]
pub struct CosineAnnealingWarmRestarts {
    pub t_0: i64,
    pub t_mult: i64,
    pub eta_min: f64,
    t_i: i64,
    t_cur: i64,
}

impl CosineAnnealingWarmRestarts {
    /// torch's arguments (`T_mult = 1`, `eta_min = 0` are its defaults).
    pub fn new(t_0: i64, t_mult: i64, eta_min: f64) -> CosineAnnealingWarmRestarts {
        CosineAnnealingWarmRestarts { t_0, t_mult, eta_min, t_i: t_0, t_cur: -1 }
    }
}

impl Schedule for CosineAnnealingWarmRestarts {
    const NAME: &'static str = "CosineAnnealingWarmRestarts";
    fn validate(&self) -> Result<()> {
        check(Self::NAME, "T_0", self.t_0 as f64, self.t_0 >= 1, "must be >= 1")?;
        check(Self::NAME, "T_mult", self.t_mult as f64, self.t_mult >= 1, "must be >= 1")
    }
    fn advance(&mut self, t: i64, explicit: bool) -> Result<()> {
        if t == 0 || explicit {
            // torch's `step(epoch)` branch.
            if t >= self.t_0 {
                if self.t_mult == 1 {
                    self.t_cur = t % self.t_0;
                } else {
                    let (t0, m) = (self.t_0 as f64, self.t_mult as f64);
                    let n = ((t as f64 / t0 * (m - 1.0) + 1.0).ln() / m.ln()) as i32;
                    self.t_cur = t - (t0 * (m.powi(n) - 1.0) / (m - 1.0)) as i64;
                    self.t_i = self.t_0 * self.t_mult.pow(n as u32);
                }
            } else {
                self.t_i = self.t_0;
                self.t_cur = t;
            }
        } else {
            self.t_cur += 1;
            if self.t_cur >= self.t_i {
                self.t_cur -= self.t_i;
                self.t_i *= self.t_mult;
            }
        }
        Ok(())
    }
    fn lr(&self, _t: i64, base: f64, _current: f64) -> f64 {
        let eta_min = self.eta_min;
        eta_min + (base - eta_min) * (1.0 + (PI * self.t_cur as f64 / self.t_i as f64).cos()) / 2.0
    }
}

/// How a cyclical rate's amplitude changes from cycle to cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CyclicMode {
    /// Constant amplitude.
    Triangular,
    /// Halved every cycle.
    Triangular2,
    /// Scaled by `gamma^iteration`.
    ExpRange { gamma: f64 },
}

/// Cyclical learning rates between `base_lr` and `max_lr` (`CyclicLR`; Smith, 2017), and with
/// `cycle_momentum` the momentum (or `betas.0`) in the opposite direction, between
/// `max_momentum` and `base_momentum`.
#[derive(Clone, Debug, PartialEq)]
pub struct CyclicLr {
    pub base_lr: f64,
    pub max_lr: f64,
    pub step_size_up: i64,
    /// `None`: the same as `step_size_up`.
    pub step_size_down: Option<i64>,
    pub mode: CyclicMode,
    pub cycle_momentum: bool,
    pub base_momentum: f64,
    pub max_momentum: f64,
}

impl CyclicLr {
    /// torch's defaults for the rest: triangular, `step_size_down = step_size_up`, momentum
    /// cycled between 0.8 and 0.9.
    pub fn new(base_lr: f64, max_lr: f64, step_size_up: i64) -> CyclicLr {
        CyclicLr {
            base_lr,
            max_lr,
            step_size_up,
            step_size_down: None,
            mode: CyclicMode::Triangular,
            cycle_momentum: true,
            base_momentum: 0.8,
            max_momentum: 0.9,
        }
    }

    /// The position in the cycle and the amplitude factor at epoch `t`.
    fn position(&self, t: i64) -> (f64, f64) {
        let up = self.step_size_up as f64;
        let total = up + self.step_size_down.map_or(up, |d| d as f64);
        let ratio = up / total;
        let cycle = (1.0 + t as f64 / total).floor();
        let x = 1.0 + t as f64 / total - cycle;
        let scale = if x <= ratio { x / ratio } else { (x - 1.0) / (ratio - 1.0) };
        let amplitude = match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            CyclicMode::ExpRange { gamma } => gamma.powf(t as f64),
        };
        (scale, amplitude)
    }
}

impl Schedule for CyclicLr {
    const NAME: &'static str = "CyclicLR";
    fn validate(&self) -> Result<()> {
        check(Self::NAME, "step_size_up", self.step_size_up as f64, self.step_size_up >= 1, "must be >= 1")
    }
    fn base_lr(&self, _initial_lr: f64) -> f64 {
        self.base_lr
    }
    fn lr(&self, t: i64, base: f64, _current: f64) -> f64 {
        let (scale, amplitude) = self.position(t);
        base + (self.max_lr - base) * scale * amplitude
    }
    fn initial_momentum(&self) -> Option<f64> {
        self.cycle_momentum.then_some(self.max_momentum)
    }
    fn momentum(&self, t: i64) -> Option<f64> {
        let (scale, amplitude) = self.position(t);
        self.cycle_momentum.then_some(self.max_momentum - (self.max_momentum - self.base_momentum) * scale * amplitude)
    }
}

/// The one-cycle policy (`OneCycleLR`; Smith & Topin, 2018): from `max_lr / div_factor` up to
/// `max_lr` over the first `pct_start` of `total_steps`, then down to
/// `initial / final_div_factor`. Only the rate is scheduled: torch's `cycle_momentum` is not
/// supported (pass `cycle_momentum=False` there for the same numbers).
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycleLr {
    pub max_lr: f64,
    pub total_steps: i64,
    pub pct_start: f64,
    /// Cosine annealing (torch's default) or linear.
    pub anneal_cos: bool,
    pub div_factor: f64,
    pub final_div_factor: f64,
    pub three_phase: bool,
    pub cycle_momentum: bool,
    pub base_momentum: f64,
    pub max_momentum: f64,
}

impl OneCycleLr {
    /// torch's defaults for the other arguments: `pct_start = 0.3`, cosine, `div_factor = 25`,
    /// `final_div_factor = 1e4`, two phases, momentum cycled between 0.85 and 0.95.
    pub fn new(max_lr: f64, total_steps: i64) -> OneCycleLr {
        OneCycleLr {
            max_lr,
            total_steps,
            pct_start: 0.3,
            anneal_cos: true,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    /// The phase at step `t`: its index, the fraction of it done, and the phases as
    /// (end step, start rate, end rate, start momentum, end momentum).
    fn phase(&self, t: i64, initial: f64) -> (f64, f64, f64, f64, f64) {
        let (n, p) = (self.total_steps as f64, self.pct_start);
        let min_lr = initial / self.final_div_factor;
        let (lo_m, hi_m) = (self.base_momentum, self.max_momentum);
        let phases: Vec<(f64, f64, f64, f64, f64)> = if self.three_phase {
            vec![
                (p * n - 1.0, initial, self.max_lr, hi_m, lo_m),
                (2.0 * p * n - 2.0, self.max_lr, initial, lo_m, hi_m),
                (n - 1.0, initial, min_lr, hi_m, hi_m),
            ]
        } else {
            vec![(p * n - 1.0, initial, self.max_lr, hi_m, lo_m), (n - 1.0, self.max_lr, min_lr, lo_m, hi_m)]
        };
        let step = t as f64;
        // The first phase not yet over (the last one otherwise), and where it started.
        let k = phases.iter().position(|ph| step <= ph.0).unwrap_or(phases.len() - 1);
        let start_step = if k == 0 { 0.0 } else { phases[k - 1].0 };
        let (end_step, lr0, lr1, m0, m1) = phases[k];
        let pct = (step - start_step) / (end_step - start_step);
        (pct, lr0, lr1, m0, m1)
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        if self.anneal_cos {
            end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
        } else {
            (end - start) * pct + start
        }
    }
}

impl Schedule for OneCycleLr {
    const NAME: &'static str = "OneCycleLR";
    fn validate(&self) -> Result<()> {
        check(Self::NAME, "total_steps", self.total_steps as f64, self.total_steps >= 1, "must be >= 1")?;
        let p = self.pct_start;
        check(Self::NAME, "pct_start", p, (0.0..=1.0).contains(&p), "must be in [0, 1]")
    }
    fn base_lr(&self, _initial_lr: f64) -> f64 {
        self.max_lr / self.div_factor
    }
    fn advance(&mut self, t: i64, _explicit: bool) -> Result<()> {
        if t > self.total_steps {
            return Err(OptimError::Hyperparameter {
                optimizer: Self::NAME,
                name: "step",
                value: t.to_string(),
                expected: "at most total_steps: the schedule has ended",
            });
        }
        Ok(())
    }
    fn lr(&self, t: i64, initial: f64, _current: f64) -> f64 {
        let (pct, lr0, lr1, _, _) = self.phase(t, initial);
        self.anneal(lr0, lr1, pct)
    }
    fn initial_momentum(&self) -> Option<f64> {
        self.cycle_momentum.then_some(self.max_momentum)
    }
    fn momentum(&self, t: i64) -> Option<f64> {
        // The momentum phases do not depend on the rates.
        let (pct, _, _, m0, m1) = self.phase(t, 1.0);
        self.cycle_momentum.then(|| self.anneal(m0, m1, pct))
    }
}

record!(CosineAnnealingWarmRestarts { t_0: Int, t_mult: Int, eta_min: F64, t_i: Int, t_cur: Int });
record!(CyclicLr {
    base_lr: F64,
    max_lr: F64,
    step_size_up: Int,
    cycle_momentum: Bool,
    base_momentum: F64,
    max_momentum: F64
});
record!(OneCycleLr {
    max_lr: F64,
    total_steps: Int,
    pct_start: F64,
    anneal_cos: Bool,
    div_factor: F64,
    final_div_factor: F64,
    three_phase: Bool,
    cycle_momentum: Bool,
    base_momentum: F64,
    max_momentum: F64,
});
