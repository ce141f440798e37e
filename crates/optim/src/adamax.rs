//! Adamax (`torch.optim.Adamax`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::adam::lerp;
use crate::checkpoint::record;
use crate::error::Result;
use crate::optimizer::{buffer_like, check_adam_like, elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// Adamax, Adam with the infinity norm (Kingma & Ba, 2015, section 7.1). Per element:
///
/// ```text
/// t ← t + 1
/// g ← -∇ if maximize else ∇
/// g ← g + weight_decay·θ                  if weight_decay ≠ 0
/// m ← lerp(m, g, 1 - β1)
/// u ← max(β2·u, |g| + eps)
/// θ ← θ - lr / (1 - β1^t) · m / u
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adamax {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Default for Adamax {
    /// torch's defaults: `lr = 2e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`.
    fn default() -> Adamax {
        Adamax { lr: 2e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, maximize: false }
    }
}

/// Adamax's per-parameter state.
#[derive(Clone, Debug)]
pub struct AdamaxState {
    pub step: u64,
    pub exp_avg: Tensor,
    pub exp_inf: Tensor,
}

impl Algorithm for Adamax {
    type State = AdamaxState;
    const NAME: &'static str = "Adamax";

    fn validate(&self) -> Result<()> {
        check_adam_like("Adamax", self.lr, self.eps, self.betas, self.weight_decay)
    }

    lr_and_momentum!(momentum: betas.0);

    fn init_state(&self, param: &Tensor) -> Result<AdamaxState> {
        Ok(AdamaxState { step: 0, exp_avg: buffer_like(param, 0.0), exp_inf: buffer_like(param, 0.0) })
    }

    fn update(&self, state: &mut AdamaxState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl Adamax {
    fn update_typed<T: Float>(&self, st: &mut AdamaxState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let (b1, b2) = self.betas;
        let neg_clr = T::lit(-(self.lr / (1.0 - b1.powf(st.step as f64))));
        let (w1, b2, eps, wd) = (T::lit(1.0 - b1), T::lit(b2), T::lit(self.eps), T::lit(self.weight_decay));
        let (decay, maximize) = (self.weight_decay != 0.0, self.maximize);
        let g = elements::<T>(grad, "Adamax")?;
        let m = st.exp_avg.try_as_mut_slice::<T>()?;
        let u = st.exp_inf.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        zip_lanes((p, m, u, g), |(p, m, u, g)| {
            // Copied into locals: read through the closure's captures they are reloaded per element
            // and the loop does not vectorise (see Adam's update).
            let (maximize, decay, wd, w1, b2, eps, neg_clr) = (maximize, decay, wd, w1, b2, eps, neg_clr);
            for (((p, m), u), &g) in p.iter_mut().zip(m.iter_mut()).zip(u.iter_mut()).zip(g) {
                let g = if maximize { -g } else { g };
                let g = if decay { fma(wd, *p, g) } else { g };
                let m1 = lerp(*m, g, w1);
                // torch.amax: NaN propagates.
                let (a, b) = (*u * b2, g.abs() + eps);
                let u1 = if a.is_nan() || a > b { a } else { b };
                (*p, *m, *u) = (*p + (neg_clr * m1) / u1, m1, u1);
            }
        })?;
        Ok(())
    }
}

record!(Adamax { lr: F64, betas: Pair, eps: F64, weight_decay: F64, maximize: Bool });
record!(AdamaxState { step: Count, exp_avg: Tensor, exp_inf: Tensor });
