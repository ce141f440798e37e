//! Reductions on `Var` and their backward rules.

use smallvec::smallvec;
use tensor::{normalize_axes, Tensor};

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::{Axes, Op, Saves};
use crate::var::Var;

/// Declares the reductions over axes from one table: variant, printed name and method names,
/// saved values, rule (which receives the axes and `keepdim`).
macro_rules! reduce_ops {
    ($($(#[$m:meta])* $variant:ident: $name:ident / $try:ident, saves $saves:ident, rule $rule:ident;)*) => {
        /// A reduction over axes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ReduceOp { $($(#[$m])* $variant,)* }

        impl ReduceOp {
            /// The printed name.
            pub fn name(self) -> &'static str {
                match self { $(ReduceOp::$variant => stringify!($name),)* }
            }
            pub(crate) fn saves(self) -> Saves {
                match self { $(ReduceOp::$variant => Saves::$saves,)* }
            }
            /// The forward kernel.
            #[inline]
            pub fn eval(self, x: &Tensor, axes: &[isize], keepdim: bool) -> tensor::Result<Tensor> {
                match self { $(ReduceOp::$variant => x.$try(axes, keepdim),)* }
            }
            pub(crate) fn rule(self, c: &Ctx, axes: &[isize], keepdim: bool) -> Result<Grads> {
                match self { $(ReduceOp::$variant => $rule(c, axes, keepdim),)* }
            }
        }

        impl Var { $(
            $(#[$m])*
            pub fn $try(&self, axes: &[isize], keepdim: bool) -> Result<Var> {
                Var::apply(&[self], Op::Reduce { op: ReduceOp::$variant, axes: Axes::from_slice(axes), keepdim })
            }
            panicking!($(#[$m])* $name => $try(axes: &[isize], keepdim: bool) -> Var);
        )* }
    };
}

reduce_ops! {
    /// Sum over `axes` (empty: all).
    Sum: sum / try_sum, saves NONE, rule d_sum;
    /// Mean over `axes` (empty: all).
    Mean: mean / try_mean, saves NONE, rule d_mean;
    /// Product over `axes` (empty: all).
    Prod: prod / try_prod, saves INPUT0, rule d_prod;
    /// Maximum over `axes`; ties share the gradient equally (as `torch.amax`).
    Max: max / try_max, saves INPUT0_OUTPUT, rule d_extremum;
    /// Minimum over `axes`; ties share the gradient equally (as `torch.amin`).
    Min: min / try_min, saves INPUT0_OUTPUT, rule d_extremum;
    /// `log(sum(exp(x)))` over `axes`, numerically stable.
    LogSumExp: logsumexp / try_logsumexp, saves INPUT0_OUTPUT, rule d_logsumexp;
}

impl Var {
    /// Sum of every element (0-d).
    #[track_caller]
    pub fn sum_all(&self) -> Var {
        self.sum(&[], false)
    }

    /// Mean of every element (0-d).
    #[track_caller]
    pub fn mean_all(&self) -> Var {
        self.mean(&[], false)
    }

    /// Cumulative sum along `axis`.
    pub fn try_cumsum(&self, axis: isize) -> Result<Var> {
        Var::apply(&[self], Op::Cumsum { axis })
    }
    panicking!(
        /// Cumulative sum along `axis`.
        cumsum => try_cumsum(axis: isize) -> Var
    );

    /// Variance with Bessel's `correction` (0 biased, 1 unbiased), built from primitives.
    pub fn try_var(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Var> {
        let n: usize = normalize_axes("var", axes, self.shape())?.iter().map(|&a| self.shape()[a]).product();
        let centered = self.try_sub(&self.try_mean(axes, true)?)?;
        centered.try_square()?.try_sum(axes, keepdim)?.try_div_scalar(n.saturating_sub(correction) as f64)
    }
    panicking!(
        /// Variance with Bessel's `correction`.
        var => try_var(axes: &[isize], correction: usize, keepdim: bool) -> Var
    );

    /// Standard deviation with Bessel's `correction`.
    pub fn try_std(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Var> {
        self.try_var(axes, correction, keepdim)?.try_sqrt()
    }
    panicking!(
        /// Standard deviation with Bessel's `correction`.
        std => try_std(axes: &[isize], correction: usize, keepdim: bool) -> Var
    );

    /// The p-norm over `axes` (`p = 1, 2, inf`, or any `p > 0`), built from primitives.
    pub fn try_norm(&self, p: f64, axes: &[isize], keepdim: bool) -> Result<Var> {
        // Validate as the tensor op does (same errors), without computing it twice.
        if p.is_nan() || p <= 0.0 {
            return Err(
                tensor::TensorError::invalid("norm", format!("order p must be positive or inf, got {p}")).into()
            );
        }
        if !self.dtype().is_float() {
            return Err(tensor::TensorError::UnsupportedDType {
                op: "norm",
                dtype: self.dtype(),
                expected: "f32 or f64",
            }
            .into());
        }
        let a = self.try_abs()?;
        let red = normalize_axes("norm", axes, self.shape())?;
        let reduced: usize = red.iter().map(|&d| self.shape()[d]).product();
        if p == f64::INFINITY && reduced == 0 {
            // The largest of no elements is 0 here, as in torch (max itself refuses them); the
            // empty sum is that 0, shaped and recorded like the reduction.
            a.try_sum(axes, keepdim)
        } else if p == f64::INFINITY {
            a.try_max(axes, keepdim)
        } else if p == 1.0 || reduced == 0 {
            a.try_sum(axes, keepdim)
        } else {
            // Scaled as the tensor op: m (sum (|x|/m)^p)^(1/p) equals the norm for any m > 0, so
            // m is recorded (replay recomputes it) but detached (it needs no gradient).
            let (lo, hi) = tensor::ops::reduce::norm_scale_bounds(self.dtype());
            let m = a.try_max(axes, true)?.try_detach()?.try_clamp(lo, hi)?;
            let scaled = a.try_div(&m)?;
            let powered = if p == 2.0 { scaled.try_square()? } else { scaled.try_powf(p)? };
            let sum = powered.try_sum(axes, true)?;
            let root = if p == 2.0 { sum.try_sqrt()? } else { sum.try_powf(1.0 / p)? };
            let norm = root.try_mul(&m)?;
            if keepdim {
                Ok(norm)
            } else {
                let kept: Vec<isize> =
                    (0..self.rank()).filter(|d| !red.contains(d)).map(|d| self.shape()[d] as isize).collect();
                norm.try_reshape(&kept)
            }
        }
    }
    panicking!(
        /// The p-norm over `axes`.
        norm => try_norm(p: f64, axes: &[isize], keepdim: bool) -> Var
    );

    /// Index of the first maximum along `axis` (i64, recorded without gradient).
    pub fn try_argmax(&self, axis: isize, keepdim: bool) -> Result<Var> {
        Var::apply(&[self], Op::Argmax { axis, keepdim })
    }
    panicking!(
        /// Index of the first maximum along `axis`.
        argmax => try_argmax(axis: isize, keepdim: bool) -> Var
    );

    /// Index of the first minimum along `axis` (i64, recorded without gradient).
    pub fn try_argmin(&self, axis: isize, keepdim: bool) -> Result<Var> {
        Var::apply(&[self], Op::Argmin { axis, keepdim })
    }
    panicking!(
        /// Index of the first minimum along `axis`.
        argmin => try_argmin(axis: isize, keepdim: bool) -> Var
    );

    /// For each element, the product of the other elements of its group over `axes` (empty:
    /// all), exact where the input holds zeros: `prod`'s gradient factor.
    pub fn try_prod_exclusive(&self, axes: &[isize]) -> Result<Var> {
        Var::apply(&[self], Op::ProdExclusive { axes: Axes::from_slice(axes) })
    }
    panicking!(
        /// For each element, the product of the other elements of its group over `axes`.
        prod_exclusive => try_prod_exclusive(axes: &[isize]) -> Var
    );

    /// The vector-Jacobian product of [`try_prod_exclusive`](Self::try_prod_exclusive) at
    /// `self` with cotangent `h` (it has no rule of its own: third derivatives of `prod` are
    /// not supported).
    pub fn try_prod_exclusive_backward(&self, h: &Var, axes: &[isize]) -> Result<Var> {
        Var::apply(&[self, h], Op::ProdExclusiveBackward { axes: Axes::from_slice(axes) })
    }
    panicking!(
        /// The vector-Jacobian product of `prod_exclusive` at `self` with cotangent `h`.
        prod_exclusive_backward => try_prod_exclusive_backward(h: &Var, axes: &[isize]) -> Var
    );

    /// The gradient of `max`/`min` over `axes` at `self`: `g` (the cotangent of the extremum `y`,
    /// both in the reduced shape) split equally between the elements equal to `y`.
    pub fn try_extremum_backward(&self, y: &Var, g: &Var, axes: &[isize], keepdim: bool) -> Result<Var> {
        Var::apply(&[self, y, g], Op::ExtremumBackward { axes: Axes::from_slice(axes), keepdim })
    }
    panicking!(
        /// The gradient of `max`/`min` over `axes` at `self` for cotangent `g`.
        extremum_backward => try_extremum_backward(y: &Var, g: &Var, axes: &[isize], keepdim: bool) -> Var
    );

    /// Sums broadcast dimensions away so the result has `shape` (the adjoint of
    /// `broadcast_to`).
    pub fn try_sum_to(&self, shape: &[usize]) -> Result<Var> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        // Validate as `Tensor::try_sum_to` does (same error), without computing it.
        let fits = shape.len() <= self.rank()
            && shape.iter().zip(&self.shape()[self.rank() - shape.len()..]).all(|(&d, &s)| d == s || d == 1);
        if !fits {
            return Err(tensor::TensorError::Broadcast {
                op: "sum_to",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            }
            .into());
        }
        let lead = self.rank() - shape.len();
        let axes: Axes = (0..self.rank())
            .filter(|&d| d < lead || (shape[d - lead] == 1 && self.shape()[d] != 1))
            .map(|d| d as isize)
            .collect();
        self.try_sum(&axes, true)?.try_reshape(&shape.iter().map(|&d| d as isize).collect::<Axes>())
    }

    panicking!(
        /// Sums broadcast dimensions away so the result has `shape`.
        sum_to => try_sum_to(shape: &[usize]) -> Var
    );
}

/// The gradient of a reduced value, reshaped with the reduced axes kept and broadcast back
/// over them to the input's shape.
fn broadcast_back(v: &Var, axes: &[isize], keepdim: bool, input_shape: &[usize]) -> Result<Var> {
    // A 0-d value (a full reduction) broadcasts as it is.
    let v = if keepdim || v.rank() == 0 {
        v.clone()
    } else {
        let axes = normalize_axes("backward", axes, input_shape)?;
        let kept: Axes =
            input_shape.iter().enumerate().map(|(d, &s)| if axes.contains(&d) { 1 } else { s as isize }).collect();
        v.try_reshape(&kept)?
    };
    v.try_broadcast_to(input_shape)
}

fn count(axes: &[isize], shape: &[usize]) -> Result<usize> {
    Ok(normalize_axes("backward", axes, shape)?.iter().map(|&a| shape[a]).product())
}

/// d/dx_i sum(x) = 1: the gradient broadcast back over the reduced axes.
pub(crate) fn d_sum(c: &Ctx, axes: &[isize], keepdim: bool) -> Result<Grads> {
    Ok(smallvec![Some(broadcast_back(c.g(), axes, keepdim, c.shape(0))?)])
}

/// d/dx_i mean(x) = 1/n
pub(crate) fn d_mean(c: &Ctx, axes: &[isize], keepdim: bool) -> Result<Grads> {
    let n = count(axes, c.shape(0))?;
    Ok(smallvec![Some(broadcast_back(&c.g().try_div_scalar(n as f64)?, axes, keepdim, c.shape(0))?)])
}

/// d/dx_i prod(x) = prod_{j != i} x_j, the exclusive product (exact with zeros, no `y / x`).
pub(crate) fn d_prod(c: &Ctx, axes: &[isize], keepdim: bool) -> Result<Grads> {
    let g = broadcast_back(c.g(), axes, keepdim, c.shape(0))?;
    Ok(smallvec![Some(g.try_mul(&c.input(0)?.try_prod_exclusive(axes)?)?)])
}

/// y_i = prod_{k != i} x_k: dx_j = sum_{i != j} g_i prod_{k != i, j} x_k (a fused kernel).
pub(crate) fn d_prod_exclusive(c: &Ctx, axes: &[isize]) -> Result<Grads> {
    Ok(smallvec![Some(c.input(0)?.try_prod_exclusive_backward(c.g(), axes)?)])
}

/// max/min: the gradient goes to the positions equal to the extremum, split equally on ties:
/// dx_i = g_b [x_i == y_b] / #{j in b: x_j == y_b} (one fused kernel).
pub(crate) fn d_extremum(c: &Ctx, axes: &[isize], keepdim: bool) -> Result<Grads> {
    let y = c.output()?.try_detach()?;
    Ok(smallvec![Some(c.input(0)?.try_extremum_backward(&y, c.g(), axes, keepdim)?)])
}

/// dx = g_b s_i is linear in g, with the tie shares s (piecewise constant in x and y, whose
/// gradients are zero): dg_b = sum_{i in b} h_i s_i, where s = extremum_backward(x, y, 1).
pub(crate) fn d_extremum_backward(c: &Ctx, axes: &[isize], keepdim: bool) -> Result<Grads> {
    let (x, y) = (c.input(0)?, c.input(1)?);
    let ones = y.tape().constant(tensor::Tensor::ones(c.shape(2), y.dtype()));
    let share = x.try_extremum_backward(y, &ones, axes, keepdim)?;
    Ok(smallvec![None, None, Some(c.g().try_mul(&share)?.try_sum(axes, keepdim)?)])
}

/// d/dx_i logsumexp(x) = exp(x_i - y): the softmax over the reduced axes.
pub(crate) fn d_logsumexp(c: &Ctx, axes: &[isize], keepdim: bool) -> Result<Grads> {
    let y = broadcast_back(c.output()?, axes, keepdim, c.shape(0))?;
    let g = broadcast_back(c.g(), axes, keepdim, c.shape(0))?;
    Ok(smallvec![Some(g.try_mul(&c.input(0)?.try_sub(&y)?.try_exp()?)?)])
}

/// d/dx_j cumsum(x)_i = [j <= i], so dx_j = sum_{i >= j} g_i = total - cumsum(g)_j + g_j.
pub(crate) fn d_cumsum(c: &Ctx, axis: isize) -> Result<Grads> {
    let g = c.g();
    let reversed = g.try_sum(&[axis], true)?.try_sub(&g.try_cumsum(axis)?)?.try_add(g)?;
    Ok(smallvec![Some(reversed)])
}
