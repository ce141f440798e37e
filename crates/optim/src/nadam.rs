//! NAdam (`torch.optim.NAdam`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::adam::lerp;
use crate::checkpoint::record;
use crate::error::{check, Result};
use crate::optimizer::{buffer_like, check_adam_like, elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// NAdam, Adam with Nesterov momentum (Dozat, 2016, "Incorporating Nesterov Momentum into
/// Adam"), with torch's momentum decay. Per element, scalars in f64:
///
/// ```text
/// t ← t + 1
/// g ← -∇ if maximize else ∇
/// θ ← θ·(1 - lr·weight_decay)  if decoupled_weight_decay, else  g ← g + weight_decay·θ
/// μ_t ← β1·(1 - ½·0.96^(t·ψ)),  μ_{t+1} likewise;  Π ← Π·μ_t
/// m ← lerp(m, g, 1 - β1);  v ← β2·v + (1 - β2)·g²
/// d ← √(v / (1 - β2^t)) + eps
/// θ ← θ - lr·(1 - μ_t)/(1 - Π) · g/d - lr·μ_{t+1}/(1 - Π·μ_{t+1}) · m/d
/// ```
///
/// As in torch (whose default scalar dtype is float32), the running product `Π` is kept in f32.
#[derive(Clone, Debug, PartialEq)]
pub struct NAdam {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    /// ψ.
    pub momentum_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl Default for NAdam {
    /// torch's defaults: `lr = 2e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`,
    /// `momentum_decay = 4e-3`.
    fn default() -> NAdam {
        NAdam {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

/// NAdam's per-parameter state.
#[derive(Clone, Debug)]
pub struct NAdamState {
    pub step: u64,
    /// The running product of the momentum coefficients, in f32 as torch keeps it.
    pub mu_product: f32,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
}

impl Algorithm for NAdam {
    type State = NAdamState;
    const NAME: &'static str = "NAdam";

    fn validate(&self) -> Result<()> {
        check_adam_like("NAdam", self.lr, self.eps, self.betas, self.weight_decay)?;
        check("NAdam", "momentum_decay", self.momentum_decay, self.momentum_decay >= 0.0, "must be >= 0")
    }

    lr_and_momentum!(momentum: betas.0);

    fn init_state(&self, param: &Tensor) -> Result<NAdamState> {
        Ok(NAdamState {
            step: 0,
            mu_product: 1.0,
            exp_avg: buffer_like(param, 0.0),
            exp_avg_sq: buffer_like(param, 0.0),
        })
    }

    fn update(&self, state: &mut NAdamState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl NAdam {
    fn update_typed<T: Float>(&self, st: &mut NAdamState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let t = st.step as f64;
        let (b1, b2) = self.betas;
        let bc2 = 1.0 - b2.powf(t);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        st.mu_product *= mu as f32;
        let product = st.mu_product as f64;
        let coef_g = T::lit(-self.lr * (1.0 - mu) / (1.0 - product));
        let coef_m = T::lit(-self.lr * mu_next / (1.0 - product * mu_next));
        let (w1, b2t, one_minus_b2, bc2, eps) =
            (T::lit(1.0 - b1), T::lit(b2), T::lit(1.0 - b2), T::lit(bc2), T::lit(self.eps));
        let (wd, decay_factor) = (T::lit(self.weight_decay), T::lit(1.0 - self.lr * self.weight_decay));
        let decays = self.weight_decay != 0.0;
        let (l2, decoupled, maximize) =
            (decays && !self.decoupled_weight_decay, decays && self.decoupled_weight_decay, self.maximize);
        let g = elements::<T>(grad, "NAdam")?;
        let m = st.exp_avg.try_as_mut_slice::<T>()?;
        let v = st.exp_avg_sq.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        zip_lanes((p, m, v, g), |(p, m, v, g)| {
            // Copied into locals: read through the closure's captures they are reloaded per element
            // and the loop does not vectorise (see Adam's update).
            let (maximize, decoupled, decay_factor, l2, wd, w1, one_minus_b2, b2t, bc2, eps, coef_g, coef_m) =
                (maximize, decoupled, decay_factor, l2, wd, w1, one_minus_b2, b2t, bc2, eps, coef_g, coef_m);
            for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                let g = if maximize { -g } else { g };
                let p0 = if decoupled { *p * decay_factor } else { *p };
                let g = if l2 { fma(wd, p0, g) } else { g };
                let m1 = lerp(*m, g, w1);
                let v1 = fma(one_minus_b2 * g, g, *v * b2t);
                let denom = (v1 / bc2).sqrt() + eps;
                let p1 = p0 + (coef_g * g) / denom;
                (*p, *m, *v) = (p1 + (coef_m * m1) / denom, m1, v1);
            }
        })?;
        Ok(())
    }
}

record!(NAdam {
    lr: F64,
    betas: Pair,
    eps: F64,
    weight_decay: F64,
    momentum_decay: F64,
    decoupled_weight_decay: Bool,
    maximize: Bool
});
record!(NAdamState { step: Count, mu_product: F32, exp_avg: Tensor, exp_avg_sq: Tensor });
