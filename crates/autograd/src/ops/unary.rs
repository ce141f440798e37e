//! Elementwise unary ops on `Var` and their backward rules.
//!
//! Each rule's doc comment states the derivative it implements.

use smallvec::smallvec;
use tensor::{DType, Tensor};

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::Op;
use crate::var::Var;

macro_rules! unary {
    ($($(#[$m:meta])* $name:ident / $try:ident => $op:expr;)*) => {
        impl Var { $(
            $(#[$m])*
            pub fn $try(&self) -> Result<Var> {
                Var::apply(&[self], || $op, || self.value().$try())
            }
            panicking!($(#[$m])* $name => $try() -> Var);
        )* }
    };
}

unary! {
    /// `-x`.
    neg / try_neg => Op::Neg;
    /// `|x|`.
    abs / try_abs => Op::Abs;
    /// `e^x`.
    exp / try_exp => Op::Exp;
    /// Natural logarithm.
    log / try_log => Op::Log;
    /// `ln(1 + x)`.
    log1p / try_log1p => Op::Log1p;
    /// `e^x - 1`.
    expm1 / try_expm1 => Op::Expm1;
    /// Square root.
    sqrt / try_sqrt => Op::Sqrt;
    /// `1 / sqrt(x)`.
    rsqrt / try_rsqrt => Op::Rsqrt;
    /// Sine.
    sin / try_sin => Op::Sin;
    /// Cosine.
    cos / try_cos => Op::Cos;
    /// Hyperbolic tangent.
    tanh / try_tanh => Op::Tanh;
    /// Logistic sigmoid.
    sigmoid / try_sigmoid => Op::Sigmoid;
    /// `max(x, 0)`.
    relu / try_relu => Op::Relu;
    /// GELU, exact (erf) form.
    gelu / try_gelu => Op::Gelu;
    /// GELU, tanh approximation.
    gelu_tanh / try_gelu_tanh => Op::GeluTanh;
    /// `x * sigmoid(x)`.
    silu / try_silu => Op::Silu;
    /// `ln(1 + e^x)` (linear above 20).
    softplus / try_softplus => Op::Softplus;
    /// Sign (zero gradient).
    sign / try_sign => Op::Sign;
    /// Round down (zero gradient).
    floor / try_floor => Op::Floor;
    /// Round up (zero gradient).
    ceil / try_ceil => Op::Ceil;
    /// Round half to even (zero gradient).
    round / try_round => Op::Round;
    /// `1 / x`.
    recip / try_recip => Op::Recip;
    /// `x^2`.
    square / try_square => Op::Square;
}

impl Var {
    /// `x if x > 0 else negative_slope * x`.
    pub fn try_leaky_relu(&self, negative_slope: f64) -> Result<Var> {
        Var::apply(&[self], || Op::LeakyRelu { negative_slope }, || self.value().try_leaky_relu(negative_slope))
    }
    panicking!(
        /// `x if x > 0 else negative_slope * x`.
        leaky_relu => try_leaky_relu(negative_slope: f64) -> Var
    );

    /// `x if x > 0 else alpha * (e^x - 1)`.
    pub fn try_elu(&self, alpha: f64) -> Result<Var> {
        Var::apply(&[self], || Op::Elu { alpha }, || self.value().try_elu(alpha))
    }
    panicking!(
        /// `x if x > 0 else alpha * (e^x - 1)`.
        elu => try_elu(alpha: f64) -> Var
    );

    /// `x^exponent` for a scalar exponent.
    pub fn try_powf(&self, exponent: f64) -> Result<Var> {
        Var::apply(&[self], || Op::Powf { exponent }, || self.value().try_powf(exponent))
    }
    panicking!(
        /// `x^exponent` for a scalar exponent.
        powf => try_powf(exponent: f64) -> Var
    );

    /// Limits values to `[min, max]`.
    pub fn try_clamp(&self, min: f64, max: f64) -> Result<Var> {
        Var::apply(&[self], || Op::Clamp { min, max }, || self.value().try_clamp(min, max))
    }
    panicking!(
        /// Limits values to `[min, max]`.
        clamp => try_clamp(min: f64, max: f64) -> Var
    );

    /// `x + scalar`.
    pub fn try_add_scalar(&self, scalar: f64) -> Result<Var> {
        Var::apply(&[self], || Op::AddScalar { scalar }, || self.value().try_add_scalar(scalar))
    }
    panicking!(
        /// `x + scalar`.
        add_scalar => try_add_scalar(scalar: f64) -> Var
    );

    /// `x - scalar`.
    pub fn try_sub_scalar(&self, scalar: f64) -> Result<Var> {
        self.try_add_scalar(-scalar)
    }
    panicking!(
        /// `x - scalar`.
        sub_scalar => try_sub_scalar(scalar: f64) -> Var
    );

    /// `x * scalar`.
    pub fn try_mul_scalar(&self, scalar: f64) -> Result<Var> {
        Var::apply(&[self], || Op::MulScalar { scalar }, || self.value().try_mul_scalar(scalar))
    }
    panicking!(
        /// `x * scalar`.
        mul_scalar => try_mul_scalar(scalar: f64) -> Var
    );

    /// `x / scalar`.
    pub fn try_div_scalar(&self, scalar: f64) -> Result<Var> {
        self.try_mul_scalar(1.0 / scalar)
    }
    panicking!(
        /// `x / scalar`.
        div_scalar => try_div_scalar(scalar: f64) -> Var
    );

    /// `max(x, scalar)`, as a one-sided clamp (the gradient passes where `x >= scalar`).
    pub fn try_maximum_scalar(&self, scalar: f64) -> Result<Var> {
        self.try_clamp(scalar, f64::INFINITY)
    }
    panicking!(
        /// `max(x, scalar)`.
        maximum_scalar => try_maximum_scalar(scalar: f64) -> Var
    );

    /// `min(x, scalar)`, as a one-sided clamp (the gradient passes where `x <= scalar`).
    pub fn try_minimum_scalar(&self, scalar: f64) -> Result<Var> {
        self.try_clamp(f64::NEG_INFINITY, scalar)
    }
    panicking!(
        /// `min(x, scalar)`.
        minimum_scalar => try_minimum_scalar(scalar: f64) -> Var
    );

    /// `scalar - x`.
    pub fn try_rsub_scalar(&self, scalar: f64) -> Result<Var> {
        self.try_neg()?.try_add_scalar(scalar)
    }
    panicking!(
        /// `scalar - x`.
        rsub_scalar => try_rsub_scalar(scalar: f64) -> Var
    );

    /// Converts to another dtype; gradients convert back.
    pub fn try_to_dtype(&self, dtype: DType) -> Result<Var> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        Var::apply(&[self], || Op::ToDType { dtype }, || Ok(self.value().to_dtype(dtype)))
    }
    panicking!(
        /// Converts to another dtype; gradients convert back.
        to_dtype => try_to_dtype(dtype: DType) -> Var
    );

    /// `grad * (1 - y^2)` with `self = y = tanh(x)`: tanh's fused backward kernel as an op.
    pub fn try_tanh_backward(&self, grad: &Var) -> Result<Var> {
        Var::apply(&[self, grad], || Op::TanhBackward, || self.value().try_tanh_backward(grad.value()))
    }

    /// `grad * y * (1 - y)` with `self = y = sigmoid(x)`.
    pub fn try_sigmoid_backward(&self, grad: &Var) -> Result<Var> {
        Var::apply(&[self, grad], || Op::SigmoidBackward, || self.value().try_sigmoid_backward(grad.value()))
    }

    /// `grad * (Phi(x) + x phi(x))` with `self = x`: exact GELU's derivative.
    pub fn try_gelu_backward(&self, grad: &Var) -> Result<Var> {
        Var::apply(&[self, grad], || Op::GeluBackward, || self.value().try_gelu_backward(grad.value()))
    }

    /// A constant mask-like factor built from this Var's value.
    fn const_from(&self, f: impl FnOnce(&Tensor) -> tensor::Result<Tensor>) -> Result<Var> {
        Ok(self.constant(f(self.value())?))
    }
}

fn one(g: Var) -> Result<Grads> {
    Ok(smallvec![Some(g)])
}

/// d/dx (-x) = -1
pub(crate) fn d_neg(c: &Ctx) -> Result<Grads> {
    one(c.g().try_neg()?)
}

/// d/dx |x| = sign(x)
pub(crate) fn d_abs(c: &Ctx) -> Result<Grads> {
    let sign = c.input(0)?.const_from(|x| x.try_sign())?;
    one(c.g().try_mul(&sign)?)
}

/// d/dx e^x = e^x (the output)
pub(crate) fn d_exp(c: &Ctx) -> Result<Grads> {
    one(c.g().try_mul(c.output()?)?)
}

/// d/dx ln x = 1/x
pub(crate) fn d_log(c: &Ctx) -> Result<Grads> {
    one(c.g().try_div(c.input(0)?)?)
}

/// d/dx ln(1 + x) = 1 / (1 + x)
pub(crate) fn d_log1p(c: &Ctx) -> Result<Grads> {
    one(c.g().try_div(&c.input(0)?.try_add_scalar(1.0)?)?)
}

/// d/dx (e^x - 1) = e^x = y + 1
pub(crate) fn d_expm1(c: &Ctx) -> Result<Grads> {
    one(c.g().try_mul(&c.output()?.try_add_scalar(1.0)?)?)
}

/// d/dx sqrt(x) = 1 / (2 sqrt(x)) = 1 / (2y)
pub(crate) fn d_sqrt(c: &Ctx) -> Result<Grads> {
    one(c.g().try_div(&c.output()?.try_mul_scalar(2.0)?)?)
}

/// d/dx x^(-1/2) = -1/2 x^(-3/2) = -y^3 / 2
pub(crate) fn d_rsqrt(c: &Ctx) -> Result<Grads> {
    one(c.g().try_mul(&c.output()?.try_powf(3.0)?.try_mul_scalar(-0.5)?)?)
}

/// d/dx sin x = cos x
pub(crate) fn d_sin(c: &Ctx) -> Result<Grads> {
    one(c.g().try_mul(&c.input(0)?.try_cos()?)?)
}

/// d/dx cos x = -sin x
pub(crate) fn d_cos(c: &Ctx) -> Result<Grads> {
    one(c.g().try_mul(&c.input(0)?.try_sin()?.try_neg()?)?)
}

/// d/dx tanh(x) = 1 - tanh(x)^2, fused as `tanh_backward(y, g)`.
pub(crate) fn d_tanh(c: &Ctx) -> Result<Grads> {
    one(c.output()?.try_tanh_backward(c.g())?)
}

/// d/dx sigmoid(x) = y (1 - y), fused as `sigmoid_backward(y, g)`.
pub(crate) fn d_sigmoid(c: &Ctx) -> Result<Grads> {
    one(c.output()?.try_sigmoid_backward(c.g())?)
}

/// d/dx relu(x) = 1 if x > 0 else 0 (0 at the kink, as torch).
pub(crate) fn d_relu(c: &Ctx) -> Result<Grads> {
    let off = c.input(0)?.const_from(|x| x.try_le_scalar(0.0))?;
    one(c.g().try_masked_fill(&off, 0.0)?)
}

/// d/dx leaky_relu(x) = 1 if x > 0 else negative_slope
pub(crate) fn d_leaky_relu(c: &Ctx, negative_slope: f64) -> Result<Grads> {
    let factor = c.input(0)?.const_from(|x| {
        let dt = x.dtype();
        x.try_gt_scalar(0.0)?.try_where_cond(&Tensor::full(&[], 1.0, dt), &Tensor::full(&[], negative_slope, dt))
    })?;
    one(c.g().try_mul(&factor)?)
}

/// d/dx elu(x) = 1 if x > 0 else alpha e^x = y + alpha
pub(crate) fn d_elu(c: &Ctx, alpha: f64) -> Result<Grads> {
    let pos = c.input(0)?.const_from(|x| x.try_gt_scalar(0.0))?;
    let one_ = c.constant(Tensor::full(&[], 1.0, c.g().dtype()));
    let factor = pos.try_where_cond(&one_, &c.output()?.try_add_scalar(alpha)?)?;
    one(c.g().try_mul(&factor)?)
}

/// d/dx gelu(x) = Phi(x) + x phi(x), fused as `gelu_backward(x, g)`.
pub(crate) fn d_gelu(c: &Ctx) -> Result<Grads> {
    one(c.input(0)?.try_gelu_backward(c.g())?)
}

/// gelu_tanh(x) = x/2 (1 + t), t = tanh(k (x + a x^3)):
/// d/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 a x^2)
pub(crate) fn d_gelu_tanh(c: &Ctx) -> Result<Grads> {
    const K: f64 = 0.797_884_560_802_865_4;
    const A: f64 = 0.044715;
    let x = c.input(0)?;
    let x2 = x.try_square()?;
    let t = x.try_mul(&x2.try_mul_scalar(A)?.try_add_scalar(1.0)?)?.try_mul_scalar(K)?.try_tanh()?;
    let left = t.try_add_scalar(1.0)?.try_mul_scalar(0.5)?;
    let dt = t.try_square()?.try_rsub_scalar(1.0)?.try_mul(&x2.try_mul_scalar(3.0 * A * K)?.try_add_scalar(K)?)?;
    let right = x.try_mul_scalar(0.5)?.try_mul(&dt)?;
    one(c.g().try_mul(&left.try_add(&right)?)?)
}

/// d/dx x s(x) = s (1 + x (1 - s)), s = sigmoid(x)
pub(crate) fn d_silu(c: &Ctx) -> Result<Grads> {
    let x = c.input(0)?;
    let s = x.try_sigmoid()?;
    let factor = s.try_mul(&x.try_mul(&s.try_rsub_scalar(1.0)?)?.try_add_scalar(1.0)?)?;
    one(c.g().try_mul(&factor)?)
}

/// d/dx ln(1 + e^x) = sigmoid(x) (1 above the linear threshold 20)
pub(crate) fn d_softplus(c: &Ctx) -> Result<Grads> {
    let x = c.input(0)?;
    let linear = x.const_from(|x| x.try_gt_scalar(20.0))?;
    let one_ = c.constant(Tensor::full(&[], 1.0, x.dtype()));
    one(c.g().try_mul(&linear.try_where_cond(&one_, &x.try_sigmoid()?)?)?)
}

/// sign, floor, ceil, round: derivative 0 almost everywhere (as torch, zeros rather than none).
pub(crate) fn d_piecewise_constant(c: &Ctx) -> Result<Grads> {
    one(c.constant(c.g().value().zeros_like()))
}

/// d/dx 1/x = -1/x^2 = -y^2
pub(crate) fn d_recip(c: &Ctx) -> Result<Grads> {
    one(c.g().try_mul(&c.output()?.try_square()?.try_neg()?)?)
}

/// d/dx x^2 = 2x
pub(crate) fn d_square(c: &Ctx) -> Result<Grads> {
    one(c.g().try_mul(&c.input(0)?.try_mul_scalar(2.0)?)?)
}

/// d/dx x^p = p x^(p-1)
pub(crate) fn d_powf(c: &Ctx, p: f64) -> Result<Grads> {
    let x = c.input(0)?;
    let d = if p == 2.0 { x.try_mul_scalar(2.0)? } else { x.try_powf(p - 1.0)?.try_mul_scalar(p)? };
    one(c.g().try_mul(&d)?)
}

/// d/dx clamp(x, lo, hi) = 1 inside [lo, hi], 0 outside
pub(crate) fn d_clamp(c: &Ctx, min: f64, max: f64) -> Result<Grads> {
    let outside = c.input(0)?.const_from(|x| {
        let below = x.try_lt_scalar(min)?.to_dtype(DType::U8);
        let above = x.try_gt_scalar(max)?.to_dtype(DType::U8);
        below.try_maximum(&above).map(|m| m.to_dtype(DType::Bool))
    })?;
    one(c.g().try_masked_fill(&outside, 0.0)?)
}

/// d/dx (x + s) = 1
pub(crate) fn d_add_scalar(c: &Ctx) -> Result<Grads> {
    one(c.g().clone())
}

/// d/dx (s x) = s
pub(crate) fn d_mul_scalar(c: &Ctx, s: f64) -> Result<Grads> {
    one(c.g().try_mul_scalar(s)?)
}

/// A dtype conversion passes the gradient through, converted back to the input's dtype.
pub(crate) fn d_to_dtype(c: &Ctx) -> Result<Grads> {
    let dtype = c.input_dtype(0);
    one(c.g().try_to_dtype(dtype)?)
}

/// tanh_backward(y, g) = g (1 - y^2): d/dy = -2 y g, d/dg = 1 - y^2
pub(crate) fn d_tanh_backward(c: &Ctx) -> Result<Grads> {
    let (y, g) = (c.input(0)?, c.input(1)?);
    let dy = if c.needs(0) { Some(c.g().try_mul(&y.try_mul(g)?.try_mul_scalar(-2.0)?)?) } else { None };
    let dg = if c.needs(1) { Some(y.try_tanh_backward(c.g())?) } else { None };
    Ok(smallvec![dy, dg])
}

/// sigmoid_backward(y, g) = g y (1 - y): d/dy = g (1 - 2y), d/dg = y (1 - y)
pub(crate) fn d_sigmoid_backward(c: &Ctx) -> Result<Grads> {
    let (y, g) = (c.input(0)?, c.input(1)?);
    let dy = if c.needs(0) {
        Some(c.g().try_mul(&g.try_mul(&y.try_mul_scalar(-2.0)?.try_add_scalar(1.0)?)?)?)
    } else {
        None
    };
    let dg = if c.needs(1) { Some(y.try_sigmoid_backward(c.g())?) } else { None };
    Ok(smallvec![dy, dg])
}

/// gelu_backward(x, g) = g (Phi + x phi): d/dx = g phi (2 - x^2), d/dg = Phi + x phi
pub(crate) fn d_gelu_backward(c: &Ctx) -> Result<Grads> {
    let (x, g) = (c.input(0)?, c.input(1)?);
    let dx = if c.needs(0) {
        // phi(x) = exp(-x^2/2) / sqrt(2 pi)
        let x2 = x.try_square()?;
        let phi = x2.try_mul_scalar(-0.5)?.try_exp()?.try_mul_scalar(0.398_942_280_401_432_7)?;
        Some(c.g().try_mul(&g.try_mul(&phi.try_mul(&x2.try_rsub_scalar(2.0)?)?)?)?)
    } else {
        None
    };
    let dg = if c.needs(1) { Some(x.try_gelu_backward(c.g())?) } else { None };
    Ok(smallvec![dx, dg])
}
