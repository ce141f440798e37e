//! Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms").

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::adam::lerp;
use crate::checkpoint::record;
use crate::error::{check, Result};
use crate::optimizer::{buffer_like, elements, float_kernel, lr_and_momentum, Algorithm};

/// Lion: the sign of an interpolation between the momentum and the gradient, with decoupled
/// weight decay. Per element (Algorithm 2 of the paper):
///
/// ```text
/// g ← -∇ if maximize else ∇
/// c ← β1·m + (1 - β1)·g
/// θ ← θ - lr·(sign(c) + weight_decay·θ)
/// m ← β2·m + (1 - β2)·g
/// ```
///
/// The paper's defaults: `lr = 1e-4`, `betas = (0.9, 0.99)`, no weight decay (it suggests a
/// rate 3-10x smaller than AdamW's and a weight decay 3-10x larger). torch.optim has no Lion,
/// so the tests check it against the paper's pseudo-code.
#[derive(Clone, Debug, PartialEq)]
pub struct Lion {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Default for Lion {
    fn default() -> Lion {
        Lion { lr: 1e-4, betas: (0.9, 0.99), weight_decay: 0.0, maximize: false }
    }
}

/// Lion's per-parameter state.
#[derive(Clone, Debug)]
pub struct LionState {
    pub step: u64,
    pub exp_avg: Tensor,
}

impl Algorithm for Lion {
    type State = LionState;
    const NAME: &'static str = "Lion";

    fn validate(&self) -> Result<()> {
        let (b1, b2) = self.betas;
        check("Lion", "lr", self.lr, self.lr >= 0.0, "must be >= 0")?;
        check("Lion", "betas.0", b1, (0.0..=1.0).contains(&b1), "must be in [0, 1]")?;
        check("Lion", "betas.1", b2, (0.0..=1.0).contains(&b2), "must be in [0, 1]")?;
        check("Lion", "weight_decay", self.weight_decay, self.weight_decay >= 0.0, "must be >= 0")
    }

    lr_and_momentum!(momentum: betas.0);

    fn init_state(&self, param: &Tensor) -> Result<LionState> {
        Ok(LionState { step: 0, exp_avg: buffer_like(param, 0.0) })
    }

    fn update(&self, state: &mut LionState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl Lion {
    fn update_typed<T: Float>(&self, st: &mut LionState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let (b1, b2) = self.betas;
        let (w1, w2, lr, wd) = (T::lit(1.0 - b1), T::lit(1.0 - b2), T::lit(self.lr), T::lit(self.weight_decay));
        let maximize = self.maximize;
        let g = elements::<T>(grad, "Lion")?;
        let m = st.exp_avg.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        zip_lanes((p, m, g), |(p, m, g)| {
            // Copied into locals: read through the closure's captures they are reloaded per element
            // and the loop does not vectorise (see Adam's update).
            let (maximize, w1, lr, wd, w2) = (maximize, w1, lr, wd, w2);
            for ((p, m), &g) in p.iter_mut().zip(m.iter_mut()).zip(g) {
                let g = if maximize { -g } else { g };
                let c = lerp(*m, g, w1);
                let sign = if c > T::zero() {
                    T::one()
                } else if c < T::zero() {
                    -T::one()
                } else {
                    T::zero()
                };
                (*p, *m) = (*p - lr * (sign + wd * *p), lerp(*m, g, w2));
            }
        })?;
        Ok(())
    }
}

record!(Lion { lr: F64, betas: Pair, weight_decay: F64, maximize: Bool });
record!(LionState { step: Count, exp_avg: Tensor });
