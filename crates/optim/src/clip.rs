//! Gradient clipping, in place (`torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`).

use autograd::Gradients;
use tensor::Float;

use crate::error::{check, OptimError, Result};
use crate::optimizer::float_kernel;

/// Scales every parameter gradient in `grads` by `min(1, max_norm / (total + 1e-6))`, where
/// `total` is the `norm_type`-norm of all of them together (`f64::INFINITY` for the largest
/// magnitude), and returns `total`, as `torch.nn.utils.clip_grad_norm_`. With
/// `error_if_nonfinite`, a NaN or infinite total is [`OptimError::NonFiniteNorm`] and nothing
/// is scaled.
pub fn clip_grad_norm(grads: &mut Gradients, max_norm: f64, norm_type: f64, error_if_nonfinite: bool) -> Result<f64> {
    check("clip_grad_norm", "max_norm", max_norm, max_norm >= 0.0, "must be >= 0")?;
    let mut norms = Vec::new();
    for (_, g) in grads.params() {
        norms.push(g.try_norm(norm_type, &[], false)?.item());
    }
    let total = if norm_type == f64::INFINITY {
        norms.iter().fold(0.0f64, |m, &n| if n.is_nan() || m.is_nan() { f64::NAN } else { m.max(n) })
    } else {
        norms.iter().map(|n| n.powf(norm_type)).sum::<f64>().powf(1.0 / norm_type)
    };
    if error_if_nonfinite && !total.is_finite() {
        return Err(OptimError::NonFiniteNorm { norm: total, norm_type });
    }
    let coef = (max_norm / (total + 1e-6)).min(1.0);
    for (_, g) in grads.params_mut() {
        float_kernel!(g.dtype(), T => {
            let c = T::lit(coef);
            for x in g.try_as_mut_slice::<T>()? {
                *x = *x * c;
            }
            Ok(())
        })?;
    }
    Ok(total)
}

/// Clamps every parameter gradient in `grads` to `[-clip_value, clip_value]`, in place
/// (`torch.nn.utils.clip_grad_value_`).
pub fn clip_grad_value(grads: &mut Gradients, clip_value: f64) -> Result<()> {
    check("clip_grad_value", "clip_value", clip_value, clip_value >= 0.0, "must be >= 0")?;
    for (_, g) in grads.params_mut() {
        float_kernel!(g.dtype(), T => {
            let (lo, hi) = (T::lit(-clip_value), T::lit(clip_value));
            for x in g.try_as_mut_slice::<T>()? {
                *x = clamp(*x, lo, hi);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// `torch.clamp` on one element: NaN stays NaN.
fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}
