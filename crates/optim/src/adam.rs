//! Adam and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`).

use tensor::lanes::zip_lanes;
use tensor::{Float, Tensor};

use crate::checkpoint::record;
use crate::error::Result;
use crate::optimizer::{buffer_like, check_adam_like, elements, float_kernel, fma, lr_and_momentum, Algorithm};

/// Adam (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization"), with AMSGrad
/// (Reddi et al., 2018) and decoupled weight decay, AdamW (Loshchilov & Hutter, 2019). Per
/// element, with scalars in f64 as torch computes them:
///
/// ```text
/// t ← t + 1
/// g ← -∇ if maximize else ∇
/// if weight_decay ≠ 0:
///     θ ← θ·(1 - lr·weight_decay)        if decoupled_weight_decay (AdamW)
///     g ← g + weight_decay·θ              otherwise (L2)
/// m ← lerp(m, g, 1 - β1)
/// v ← β2·v + (1 - β2)·g²
/// v_max ← max(v_max, v)                   if amsgrad (denominator from v_max)
/// denom ← √v / √(1 - β2^t) + eps
/// θ ← θ - (lr / (1 - β1^t))·m / denom
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: decay the parameter directly instead of adding `weight_decay·θ` to the gradient.
    pub decoupled_weight_decay: bool,
}

impl Default for Adam {
    /// torch's defaults: `lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`, no weight decay.
    fn default() -> Adam {
        Adam {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled_weight_decay: false,
        }
    }
}

impl Adam {
    /// AdamW with torch's defaults (`torch.optim.AdamW`): Adam's, with decoupled weight decay
    /// `1e-2`.
    pub fn adamw() -> Adam {
        Adam { weight_decay: 1e-2, decoupled_weight_decay: true, ..Adam::default() }
    }
}

/// Adam's per-parameter state.
#[derive(Clone, Debug)]
pub struct AdamState {
    pub step: u64,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
    /// With `amsgrad`: the running maximum of `exp_avg_sq`.
    pub max_exp_avg_sq: Option<Tensor>,
}

impl Algorithm for Adam {
    type State = AdamState;
    const NAME: &'static str = "Adam";

    fn validate(&self) -> Result<()> {
        check_adam_like("Adam", self.lr, self.eps, self.betas, self.weight_decay)
    }

    lr_and_momentum!(momentum: betas.0);

    fn init_state(&self, param: &Tensor) -> Result<AdamState> {
        Ok(AdamState {
            step: 0,
            exp_avg: buffer_like(param, 0.0),
            exp_avg_sq: buffer_like(param, 0.0),
            max_exp_avg_sq: self.amsgrad.then(|| buffer_like(param, 0.0)),
        })
    }

    fn update(&self, state: &mut AdamState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        float_kernel!(param.dtype(), T => self.update_typed::<T>(state, param, grad))
    }
}

/// `torch.lerp(a, b, w)` as its CPU kernel computes it (two formulas, for accuracy near w = 1).
#[inline(always)]
pub(crate) fn lerp<T: Float>(a: T, b: T, w: T) -> T {
    if w.abs() < T::lit(0.5) {
        fma(w, b - a, a)
    } else {
        fma(w - T::one(), b - a, b)
    }
}

impl Adam {
    fn update_typed<T: Float>(&self, st: &mut AdamState, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        st.step += 1;
        let t = st.step as f64;
        let (b1, b2) = self.betas;
        // Scalars in f64, rounded once where the element-wise code uses them.
        let bc1 = 1.0 - b1.powf(t);
        let bc2_sqrt = (1.0 - b2.powf(t)).sqrt();
        let neg_step_size = T::lit(-(self.lr / bc1));
        let (w1, b2t, one_minus_b2) = (T::lit(1.0 - b1), T::lit(b2), T::lit(1.0 - b2));
        let (bc2_sqrt, eps) = (T::lit(bc2_sqrt), T::lit(self.eps));
        let (wd, decay_factor) = (T::lit(self.weight_decay), T::lit(1.0 - self.lr * self.weight_decay));
        let decays = self.weight_decay != 0.0;
        let (l2, decoupled, maximize) =
            (decays && !self.decoupled_weight_decay, decays && self.decoupled_weight_decay, self.maximize);
        let g = elements::<T>(grad, "Adam")?;
        let m = st.exp_avg.try_as_mut_slice::<T>()?;
        let v = st.exp_avg_sq.try_as_mut_slice::<T>()?;
        let p = param.try_as_mut_slice::<T>()?;
        // Branch-free per element (the flags are loop-invariant selects) and one store per
        // value, so the loop vectorizes.
        let k = Coefficients {
            w1,
            b2: b2t,
            one_minus_b2,
            bc2_sqrt,
            eps,
            neg_step_size,
            wd,
            decay_factor,
            l2,
            decoupled,
            maximize,
        };
        match &mut st.max_exp_avg_sq {
            None => zip_lanes((p, m, v, g), |(p, m, v, g)| {
                // A copy in locals: read through the closure's reference, the flags were loaded
                // on every element and the loop stayed scalar on AVX2 (3.3x slower than torch).
                #[allow(clippy::redundant_locals)]
                let k = k;
                for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                    let (p1, m1, v1) = k.moments(*p, *m, *v, g);
                    *p = k.apply(p1, m1, v1);
                    (*m, *v) = (m1, v1);
                }
            })?,
            Some(vmax) => {
                let vmax = vmax.try_as_mut_slice::<T>()?;
                zip_lanes((p, m, v, vmax, g), |(p, m, v, vmax, g)| {
                    #[allow(clippy::redundant_locals)]
                    let k = k;
                    for ((((p, m), v), vmax), &g) in
                        p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(vmax.iter_mut()).zip(g)
                    {
                        let (p1, m1, v1) = k.moments(*p, *m, *v, g);
                        let vmax1 = vmax.max(v1);
                        *p = k.apply(p1, m1, vmax1);
                        (*m, *v, *vmax) = (m1, v1, vmax1);
                    }
                })?
            }
        }
        Ok(())
    }
}

/// The per-step constants of an Adam update, rounded to the element type once.
#[derive(Clone, Copy)]
struct Coefficients<T> {
    w1: T,
    b2: T,
    one_minus_b2: T,
    bc2_sqrt: T,
    eps: T,
    neg_step_size: T,
    wd: T,
    decay_factor: T,
    l2: bool,
    decoupled: bool,
    maximize: bool,
}

impl<T: Float> Coefficients<T> {
    /// Weight decay and the moments: the new `(θ, m, v)`.
    #[inline(always)]
    fn moments(&self, p: T, m: T, v: T, g: T) -> (T, T, T) {
        let g = if self.maximize { -g } else { g };
        let p = if self.decoupled { p * self.decay_factor } else { p };
        let g = if self.l2 { fma(self.wd, p, g) } else { g };
        let m = lerp(m, g, self.w1);
        let v = fma(self.one_minus_b2 * g, g, v * self.b2);
        (p, m, v)
    }

    /// `θ - step_size·m / (√v / √bc2 + eps)`, with `v` the second moment used (or its maximum).
    #[inline(always)]
    fn apply(&self, p: T, m: T, v: T) -> T {
        let denom = v.sqrt() / self.bc2_sqrt + self.eps;
        p + (self.neg_step_size * m) / denom
    }
}

record!(Adam {
    lr: F64,
    betas: Pair,
    eps: F64,
    weight_decay: F64,
    amsgrad: Bool,
    maximize: Bool,
    decoupled_weight_decay: Bool
});
record!(AdamState { step: Count, exp_avg: Tensor, exp_avg_sq: Tensor, max_exp_avg_sq: OptionalTensor });
