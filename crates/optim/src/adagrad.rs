//! Adagrad (`torch.optim.Adagrad`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::checkpoint::record;
use crate::error::{check, Result};
use crate::optimizer::{buffer_like, elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// Adagrad (Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online Learning
/// and Stochastic Optimization"). Per element, with `t` the parameter's step count:
///
/// ```text
/// g ← -∇ if maximize else ∇
/// g ← g + weight_decay·θ                     if weight_decay ≠ 0
/// clr ← lr / (1 + (t - 1)·lr_decay)
/// s ← s + g²                                 (s starts at initial_accumulator_value)
/// θ ← θ - clr·g / (√s + eps)
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adagrad {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub initial_accumulator_value: f64,
    pub eps: f64,
    pub maximize: bool,
}

impl Default for Adagrad {
    /// torch's defaults: `lr = 1e-2`, `eps = 1e-10`, everything else 0.
    fn default() -> Adagrad {
        Adagrad {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

/// Adagrad's per-parameter state.
#[derive(Clone, Debug)]
pub struct AdagradState {
    pub step: u64,
    pub sum: Tensor,
}

impl Algorithm for Adagrad {
    type State = AdagradState;
    const NAME: &'static str = "Adagrad";

    fn validate(&self) -> Result<()> {
        check("Adagrad", "lr", self.lr, self.lr >= 0.0, "must be >= 0")?;
        check("Adagrad", "lr_decay", self.lr_decay, self.lr_decay >= 0.0, "must be >= 0")?;
        check("Adagrad", "weight_decay", self.weight_decay, self.weight_decay >= 0.0, "must be >= 0")?;
        let init = self.initial_accumulator_value;
        check("Adagrad", "initial_accumulator_value", init, init >= 0.0, "must be >= 0")?;
        check("Adagrad", "eps", self.eps, self.eps >= 0.0, "must be >= 0")
    }

    lr_and_momentum!();

    fn init_state(&self, param: &Tensor) -> Result<AdagradState> {
        Ok(AdagradState { step: 0, sum: buffer_like(param, self.initial_accumulator_value) })
    }

    fn update(&self, state: &mut AdagradState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl Adagrad {
    fn update_typed<T: Float>(&self, st: &mut AdagradState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let clr = self.lr / (1.0 + (st.step as f64 - 1.0) * self.lr_decay);
        let (neg_clr, wd, eps) = (T::lit(-clr), T::lit(self.weight_decay), T::lit(self.eps));
        let (decay, maximize) = (self.weight_decay != 0.0, self.maximize);
        let g = elements::<T>(grad, "Adagrad")?;
        let s = st.sum.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        zip_lanes((p, s, g), |(p, s, g)| {
            // Copied into locals: read through the closure's captures they are reloaded per element
            // and the loop does not vectorise (see Adam's update).
            let (maximize, decay, wd, eps, neg_clr) = (maximize, decay, wd, eps, neg_clr);
            for ((p, s), &g) in p.iter_mut().zip(s.iter_mut()).zip(g) {
                let mut g = if maximize { -g } else { g };
                if decay {
                    g = fma(wd, *p, g);
                }
                *s = fma(g, g, *s);
                let std = s.sqrt() + eps;
                *p = *p + (neg_clr * g) / std;
            }
        })?;
        Ok(())
    }
}

record!(Adagrad {
    lr: F64,
    lr_decay: F64,
    weight_decay: F64,
    initial_accumulator_value: F64,
    eps: F64,
    maximize: Bool
});
record!(AdagradState { step: Count, sum: Tensor });
