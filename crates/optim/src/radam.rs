//! RAdam (`torch.optim.RAdam`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::adam::lerp;
use crate::checkpoint::record;
use crate::error::Result;
use crate::optimizer::{buffer_like, check_adam_like, elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// RAdam, Adam with a rectified adaptive rate (Liu et al., 2020, "On the Variance of the
/// Adaptive Learning Rate and Beyond"). Per element, scalars in f64:
///
/// ```text
/// t ← t + 1
/// g ← -∇ if maximize else ∇
/// θ ← θ·(1 - lr·weight_decay)  if decoupled_weight_decay, else  g ← g + weight_decay·θ
/// m ← lerp(m, g, 1 - β1);  v ← β2·v + (1 - β2)·g²
/// ρ∞ ← 2/(1 - β2) - 1;  ρ_t ← ρ∞ - 2t·β2^t/(1 - β2^t)
/// if ρ_t > 5: θ ← θ - (m/(1 - β1^t))·lr·(√(1 - β2^t)/(√v + eps))·r_t,
///             r_t = √((ρ_t - 4)(ρ_t - 2)ρ∞ / ((ρ∞ - 4)(ρ∞ - 2)ρ_t))
/// else:       θ ← θ - (m/(1 - β1^t))·lr
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RAdam {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl Default for RAdam {
    /// torch's defaults: `lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`.
    fn default() -> RAdam {
        RAdam {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

/// RAdam's per-parameter state.
#[derive(Clone, Debug)]
pub struct RAdamState {
    pub step: u64,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
}

impl Algorithm for RAdam {
    type State = RAdamState;
    const NAME: &'static str = "RAdam";

    fn validate(&self) -> Result<()> {
        check_adam_like("RAdam", self.lr, self.eps, self.betas, self.weight_decay)
    }

    lr_and_momentum!(momentum: betas.0);

    fn init_state(&self, param: &Tensor) -> Result<RAdamState> {
        Ok(RAdamState { step: 0, exp_avg: buffer_like(param, 0.0), exp_avg_sq: buffer_like(param, 0.0) })
    }

    fn update(&self, state: &mut RAdamState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl RAdam {
    fn update_typed<T: Float>(&self, st: &mut RAdamState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let t = st.step as f64;
        let (b1, b2) = self.betas;
        let (bc1, bc2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        let rectified = rho_t > 5.0;
        let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt();
        let (w1, b2t, one_minus_b2, eps) = (T::lit(1.0 - b1), T::lit(b2), T::lit(1.0 - b2), T::lit(self.eps));
        let (bc1, lr, bc2_sqrt, rect) = (T::lit(bc1), T::lit(self.lr), T::lit(bc2.powf(0.5)), T::lit(rect));
        let (wd, decay_factor) = (T::lit(self.weight_decay), T::lit(1.0 - self.lr * self.weight_decay));
        let decays = self.weight_decay != 0.0;
        let (l2, decoupled, maximize) =
            (decays && !self.decoupled_weight_decay, decays && self.decoupled_weight_decay, self.maximize);
        let g = elements::<T>(grad, "RAdam")?;
        let m = st.exp_avg.try_as_mut_slice::<T>()?;
        let v = st.exp_avg_sq.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        zip_lanes((p, m, v, g), |(p, m, v, g)| {
            // Copied into locals: read through the closure's captures they are reloaded per element
            // and the loop does not vectorise (see Adam's update).
            let (maximize, decoupled, l2, rectified) = (maximize, decoupled, l2, rectified);
            let (decay_factor, wd, w1, one_minus_b2, b2t) = (decay_factor, wd, w1, one_minus_b2, b2t);
            let (bc1, lr, bc2_sqrt, eps, rect) = (bc1, lr, bc2_sqrt, eps, rect);
            for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                let g = if maximize { -g } else { g };
                let p0 = if decoupled { *p * decay_factor } else { *p };
                let g = if l2 { fma(wd, p0, g) } else { g };
                let m1 = lerp(*m, g, w1);
                let v1 = fma(one_minus_b2 * g, g, *v * b2t);
                let step = (m1 / bc1) * lr;
                let step = if rectified { step * (bc2_sqrt / (v1.sqrt() + eps)) * rect } else { step };
                (*p, *m, *v) = (p0 - step, m1, v1);
            }
        })?;
        Ok(())
    }
}

record!(RAdam { lr: F64, betas: Pair, eps: F64, weight_decay: F64, decoupled_weight_decay: Bool, maximize: Bool });
record!(RAdamState { step: Count, exp_avg: Tensor, exp_avg_sq: Tensor });
