//! RMSprop (`torch.optim.RMSprop`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::adam::lerp;
use crate::checkpoint::record;
use crate::error::{check, Result};
use crate::optimizer::{buffer_like, elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// RMSprop (Hinton, Lecture 6e of "Neural Networks for Machine Learning", 2012), optionally
/// centered (Graves, 2013) and with momentum. Per element:
///
/// ```text
/// g ← -∇ if maximize else ∇
/// g ← g + weight_decay·θ                   if weight_decay ≠ 0
/// v ← α·v + (1 - α)·g²
/// if centered: ḡ ← lerp(ḡ, g, 1 - α); a ← √(v - ḡ²) + eps
/// else:        a ← √v + eps
/// if momentum > 0: b ← momentum·b + g / a; θ ← θ - lr·b
/// else:            θ ← θ - lr·g / a
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

impl Default for RmsProp {
    /// torch's defaults: `lr = 1e-2`, `alpha = 0.99`, `eps = 1e-8`.
    fn default() -> RmsProp {
        RmsProp { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0.0, momentum: 0.0, centered: false, maximize: false }
    }
}

/// RMSprop's per-parameter state.
#[derive(Clone, Debug)]
pub struct RmsPropState {
    pub step: u64,
    pub square_avg: Tensor,
    /// With `momentum > 0`.
    pub momentum_buffer: Option<Tensor>,
    /// With `centered`.
    pub grad_avg: Option<Tensor>,
}

impl Algorithm for RmsProp {
    type State = RmsPropState;
    const NAME: &'static str = "RMSprop";

    fn validate(&self) -> Result<()> {
        check("RMSprop", "lr", self.lr, self.lr >= 0.0, "must be >= 0")?;
        check("RMSprop", "eps", self.eps, self.eps >= 0.0, "must be >= 0")?;
        check("RMSprop", "alpha", self.alpha, self.alpha >= 0.0, "must be >= 0")?;
        check("RMSprop", "momentum", self.momentum, self.momentum >= 0.0, "must be >= 0")?;
        check("RMSprop", "weight_decay", self.weight_decay, self.weight_decay >= 0.0, "must be >= 0")
    }

    lr_and_momentum!(momentum: momentum);

    fn init_state(&self, param: &Tensor) -> Result<RmsPropState> {
        Ok(RmsPropState {
            step: 0,
            square_avg: buffer_like(param, 0.0),
            momentum_buffer: (self.momentum > 0.0).then(|| buffer_like(param, 0.0)),
            grad_avg: self.centered.then(|| buffer_like(param, 0.0)),
        })
    }

    fn update(&self, state: &mut RmsPropState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

impl RmsProp {
    fn update_typed<T: Float>(&self, st: &mut RmsPropState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let (alpha, one_minus_alpha, eps) = (T::lit(self.alpha), T::lit(1.0 - self.alpha), T::lit(self.eps));
        let (neg_lr, mu, wd) = (T::lit(-self.lr), T::lit(self.momentum), T::lit(self.weight_decay));
        let (decay, maximize) = (self.weight_decay != 0.0, self.maximize);
        let g = elements::<T>(grad, "RMSprop")?;
        let v = st.square_avg.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        let k = Coefficients { alpha, one_minus_alpha, eps, neg_lr, mu, wd, decay, maximize };
        // Per element: branch-free, one store per value, so each loop vectorizes.
        match (&mut st.grad_avg, &mut st.momentum_buffer) {
            (None, None) => zip_lanes((p, v, g), |(p, v, g)| {
                // Copied into a local, as in Adam's update (the flags must not be reloaded per element).
                #[allow(clippy::redundant_locals)]
                let k = k;
                for ((p, v), &g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
                    let (g, v1) = k.square_avg(*p, *v, g);
                    *p = k.without_momentum(*p, g, v1.sqrt() + k.eps);
                    *v = v1;
                }
            })?,
            (Some(ga), None) => zip_lanes((p, v, ga.try_as_mut_slice::<T>()?, g), |(p, v, ga, g)| {
                // Copied into a local, as in Adam's update (the flags must not be reloaded per element).
                #[allow(clippy::redundant_locals)]
                let k = k;
                for (((p, v), ga), &g) in p.iter_mut().zip(v.iter_mut()).zip(ga.iter_mut()).zip(g) {
                    let (g, v1) = k.square_avg(*p, *v, g);
                    let (ga1, avg) = k.centered(*ga, v1, g);
                    *p = k.without_momentum(*p, g, avg);
                    (*v, *ga) = (v1, ga1);
                }
            })?,
            (None, Some(b)) => zip_lanes((p, v, b.try_as_mut_slice::<T>()?, g), |(p, v, b, g)| {
                // Copied into a local, as in Adam's update (the flags must not be reloaded per element).
                #[allow(clippy::redundant_locals)]
                let k = k;
                for (((p, v), b), &g) in p.iter_mut().zip(v.iter_mut()).zip(b.iter_mut()).zip(g) {
                    let (g, v1) = k.square_avg(*p, *v, g);
                    let (p1, b1) = k.with_momentum(*p, *b, g, v1.sqrt() + k.eps);
                    (*p, *v, *b) = (p1, v1, b1);
                }
            })?,
            (Some(ga), Some(b)) => {
                let lanes = (p, v, ga.try_as_mut_slice::<T>()?, b.try_as_mut_slice::<T>()?, g);
                zip_lanes(lanes, |(p, v, ga, b, g)| {
                    // Copied into a local, as in Adam's update (the flags must not be reloaded per element).
                    #[allow(clippy::redundant_locals)]
                    let k = k;
                    for ((((p, v), ga), b), &g) in
                        p.iter_mut().zip(v.iter_mut()).zip(ga.iter_mut()).zip(b.iter_mut()).zip(g)
                    {
                        let (g, v1) = k.square_avg(*p, *v, g);
                        let (ga1, avg) = k.centered(*ga, v1, g);
                        let (p1, b1) = k.with_momentum(*p, *b, g, avg);
                        (*p, *v, *ga, *b) = (p1, v1, ga1, b1);
                    }
                })?
            }
        }
        Ok(())
    }
}

/// The per-step constants of an RMSprop update, rounded to the element type once.
#[derive(Clone, Copy)]
struct Coefficients<T> {
    alpha: T,
    one_minus_alpha: T,
    eps: T,
    neg_lr: T,
    mu: T,
    wd: T,
    decay: bool,
    maximize: bool,
}

impl<T: Float> Coefficients<T> {
    /// The direction (maximize, weight decay) and the new running square `v`.
    #[inline(always)]
    fn square_avg(&self, p: T, v: T, g: T) -> (T, T) {
        let g = if self.maximize { -g } else { g };
        let g = if self.decay { fma(self.wd, p, g) } else { g };
        (g, fma(self.one_minus_alpha * g, g, v * self.alpha))
    }

    /// Centered: the new running mean `ḡ` and the denominator `√(v - ḡ²) + eps`.
    #[inline(always)]
    fn centered(&self, gavg: T, v: T, g: T) -> (T, T) {
        let gavg = lerp(gavg, g, self.one_minus_alpha);
        (gavg, fma(-gavg, gavg, v).sqrt() + self.eps)
    }

    #[inline(always)]
    fn without_momentum(&self, p: T, g: T, avg: T) -> T {
        p + (self.neg_lr * g) / avg
    }

    /// The new `(θ, b)`.
    #[inline(always)]
    fn with_momentum(&self, p: T, b: T, g: T, avg: T) -> (T, T) {
        let b = b * self.mu + g / avg;
        (fma(self.neg_lr, b, p), b)
    }
}

record!(RmsProp { lr: F64, alpha: F64, eps: F64, weight_decay: F64, momentum: F64, centered: Bool, maximize: Bool });
record!(RmsPropState { step: Count, square_avg: Tensor, momentum_buffer: OptionalTensor, grad_avg: OptionalTensor });
