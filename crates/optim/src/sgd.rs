//! Stochastic gradient descent, with momentum and Nesterov momentum (`torch.optim.SGD`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::checkpoint::record;
use crate::error::{check, Result};
use crate::optimizer::{elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// Mini-batch SGD; with `momentum` it is the heavy-ball method, with `nesterov` Nesterov's
/// accelerated gradient (Sutskever et al., 2013, in PyTorch's formulation). Per element:
///
/// ```text
/// g ← -∇ if maximize else ∇
/// g ← g + weight_decay·θ                      if weight_decay ≠ 0
/// if momentum ≠ 0:
///     b ← g                                    at the first step
///     b ← momentum·b + (1 - dampening)·g       afterwards
///     g ← g + momentum·b if nesterov else b
/// θ ← θ - lr·g
/// ```
///
/// Each `x + c·y` is one fused multiply-add, as in ATen's `add(alpha=c)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

impl Default for Sgd {
    /// torch's defaults: `lr = 1e-3`, no momentum, no weight decay.
    fn default() -> Sgd {
        Sgd { lr: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false }
    }
}

/// SGD's per-parameter state: the momentum buffer, from the first step on (when momentum ≠ 0).
#[derive(Clone, Debug, Default)]
pub struct SgdState {
    pub momentum_buffer: Option<Tensor>,
}

impl Algorithm for Sgd {
    type State = SgdState;
    const NAME: &'static str = "SGD";

    fn validate(&self) -> Result<()> {
        check("SGD", "lr", self.lr, self.lr >= 0.0, "must be >= 0")?;
        check("SGD", "momentum", self.momentum, self.momentum >= 0.0, "must be >= 0")?;
        check("SGD", "weight_decay", self.weight_decay, self.weight_decay >= 0.0, "must be >= 0")?;
        check("SGD", "dampening", self.dampening, self.dampening.is_finite(), "must be finite")?;
        let nesterov_ok = !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0);
        check("SGD", "nesterov", self.momentum, nesterov_ok, "Nesterov momentum needs momentum > 0 and dampening = 0")
    }

    lr_and_momentum!(momentum: momentum);

    fn init_state(&self, _param: &Tensor) -> Result<SgdState> {
        Ok(SgdState::default())
    }

    fn update(&self, state: &mut SgdState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl Sgd {
    fn update_typed<T: Float>(&self, state: &mut SgdState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        let (neg_lr, wd, mu, keep) =
            (T::lit(-self.lr), T::lit(self.weight_decay), T::lit(self.momentum), T::lit(1.0 - self.dampening));
        let (decay, maximize, nesterov) = (self.weight_decay != 0.0, self.maximize, self.nesterov);
        let g = elements::<T>(grad, "SGD")?;
        // The direction before momentum: -∇ when maximizing, plus weight decay.
        let direction = move |g: T, p: T| {
            let g = if maximize { -g } else { g };
            if decay {
                fma(wd, p, g)
            } else {
                g
            }
        };
        if self.momentum == 0.0 {
            let p = param.try_as_mut_slice::<T>()?;
            zip_lanes((p, g), |(p, g)| {
                // Copied into locals, as below: read through the closure's captures, the
                // hyperparameters were reloaded per element (the stores to `p` might alias
                // them) and the loop ran scalar.
                let (neg_lr, direction) = (neg_lr, direction);
                for (p, &g) in p.iter_mut().zip(g) {
                    *p = fma(neg_lr, direction(g, *p), *p);
                }
            })?;
            return Ok(());
        }
        let first = state.momentum_buffer.is_none();
        let buf = state.momentum_buffer.get_or_insert_with(|| Tensor::zeros(param.shape(), param.dtype()));
        let b = buf.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        zip_lanes((p, b, g), |(p, b, g)| {
            // Copied into locals, as in Adam's update, so the loop vectorises.
            let (first, keep, mu, nesterov, neg_lr) = (first, keep, mu, nesterov, neg_lr);
            for ((p, b), &g) in p.iter_mut().zip(b.iter_mut()).zip(g) {
                let d = direction(g, *p);
                *b = if first { d } else { fma(keep, d, *b * mu) };
                let step = if nesterov { fma(mu, *b, d) } else { *b };
                *p = fma(neg_lr, step, *p);
            }
        })?;
        Ok(())
    }
}

record!(Sgd { lr: F64, momentum: F64, dampening: F64, weight_decay: F64, nesterov: Bool, maximize: Bool });
record!(SgdState { momentum_buffer: OptionalTensor });
