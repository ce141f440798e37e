//! Adadelta (`torch.optim.Adadelta`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::checkpoint::record;
use crate::error::{check, Result};
use crate::optimizer::{buffer_like, elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// Adadelta (Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method"). Per element:
///
/// ```text
/// g ← -∇ if maximize else ∇
/// g ← g + weight_decay·θ                  if weight_decay ≠ 0
/// v ← ρ·v + (1 - ρ)·g²
/// Δ ← √(u + eps) / √(v + eps) · g
/// u ← ρ·u + (1 - ρ)·Δ²
/// θ ← θ - lr·Δ
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adadelta {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Default for Adadelta {
    /// torch's defaults: `lr = 1`, `rho = 0.9`, `eps = 1e-6`.
    fn default() -> Adadelta {
        Adadelta { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0.0, maximize: false }
    }
}

/// Adadelta's per-parameter state.
#[derive(Clone, Debug)]
pub struct AdadeltaState {
    pub step: u64,
    pub square_avg: Tensor,
    pub acc_delta: Tensor,
}

impl Algorithm for Adadelta {
    type State = AdadeltaState;
    const NAME: &'static str = "Adadelta";

    fn validate(&self) -> Result<()> {
        check("Adadelta", "lr", self.lr, self.lr >= 0.0, "must be >= 0")?;
        check("Adadelta", "rho", self.rho, (0.0..=1.0).contains(&self.rho), "must be in [0, 1]")?;
        check("Adadelta", "eps", self.eps, self.eps >= 0.0, "must be >= 0")?;
        check("Adadelta", "weight_decay", self.weight_decay, self.weight_decay >= 0.0, "must be >= 0")
    }

    lr_and_momentum!();

    fn init_state(&self, param: &Tensor) -> Result<AdadeltaState> {
        Ok(AdadeltaState { step: 0, square_avg: buffer_like(param, 0.0), acc_delta: buffer_like(param, 0.0) })
    }

    fn update(&self, state: &mut AdadeltaState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl Adadelta {
    fn update_typed<T: Float>(&self, st: &mut AdadeltaState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let (rho, one_minus_rho, eps) = (T::lit(self.rho), T::lit(1.0 - self.rho), T::lit(self.eps));
        let (neg_lr, wd) = (T::lit(-self.lr), T::lit(self.weight_decay));
        let (decay, maximize) = (self.weight_decay != 0.0, self.maximize);
        let g = elements::<T>(grad, "Adadelta")?;
        let v = st.square_avg.try_as_mut_slice::<T>()?;
        let u = st.acc_delta.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        zip_lanes((p, v, u, g), |(p, v, u, g)| {
            // Copied into locals: read through the closure's captures they are reloaded per element
            // and the loop does not vectorise (see Adam's update).
            let (maximize, decay, wd, one_minus_rho, rho, eps, neg_lr) =
                (maximize, decay, wd, one_minus_rho, rho, eps, neg_lr);
            for (((p, v), u), &g) in p.iter_mut().zip(v.iter_mut()).zip(u.iter_mut()).zip(g) {
                let g = if maximize { -g } else { g };
                let g = if decay { fma(wd, *p, g) } else { g };
                let v1 = fma(one_minus_rho * g, g, *v * rho);
                let std = (v1 + eps).sqrt();
                let delta = (*u + eps).sqrt() / std * g;
                let u1 = fma(one_minus_rho * delta, delta, *u * rho);
                (*p, *v, *u) = (fma(neg_lr, delta, *p), v1, u1);
            }
        })?;
        Ok(())
    }
}

record!(Adadelta { lr: F64, rho: F64, eps: F64, weight_decay: F64, maximize: Bool });
record!(AdadeltaState { step: Count, square_avg: Tensor, acc_delta: Tensor });
