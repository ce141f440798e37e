//! Elementwise unary ops on `Var` and their backward rules.
//!
//! Each rule's doc comment states the derivative it implements.

use smallvec::smallvec;
use tensor::{DType, Tensor};

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::{Op, Saves};
use crate::var::Var;

/// Declares the family of parameterless elementwise unary ops from one table: each line gives
/// the variant, its printed name and `Tensor`/`Var` method names, the values its rule reads and
/// the rule itself. Adding such an op is its kernel, one line here, its rule below, and one line
/// of the gradcheck table.
macro_rules! unary_ops {
    ($($(#[$m:meta])* $variant:ident: $name:ident / $try:ident, saves $saves:ident, rule $rule:ident;)*) => {
        /// A parameterless elementwise unary op.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum UnaryOp { $($(#[$m])* $variant,)* }

        impl UnaryOp {
            /// The printed name.
            pub fn name(self) -> &'static str {
                match self { $(UnaryOp::$variant => stringify!($name),)* }
            }
            pub(crate) fn saves(self) -> Saves {
                match self { $(UnaryOp::$variant => Saves::$saves,)* }
            }
            /// The forward kernel.
            #[inline]
            pub fn eval(self, x: &Tensor) -> tensor::Result<Tensor> {
                match self { $(UnaryOp::$variant => x.$try(),)* }
            }
            pub(crate) fn rule(self, c: &Ctx) -> Result<Grads> {
                match self { $(UnaryOp::$variant => $rule(c),)* }
            }
        }

        impl Var { $(
            $(#[$m])*
            pub fn $try(&self) -> Result<Var> {
                Var::apply(&[self], Op::Unary(UnaryOp::$variant))
            }
            panicking!($(#[$m])* $name => $try() -> Var);
        )* }
    };
}

unary_ops! {
    /// `-x`.
    Neg: neg / try_neg, saves NONE, rule d_neg;
    /// `|x|`.
    Abs: abs / try_abs, saves INPUT0, rule d_abs;
    /// `e^x`.
    Exp: exp / try_exp, saves OUTPUT, rule d_exp;
    /// Natural logarithm.
    Log: log / try_log, saves INPUT0, rule d_log;
    /// `ln(1 + x)`.
    Log1p: log1p / try_log1p, saves INPUT0, rule d_log1p;
    /// `e^x - 1`.
    Expm1: expm1 / try_expm1, saves OUTPUT, rule d_expm1;
    /// Square root.
    Sqrt: sqrt / try_sqrt, saves OUTPUT, rule d_sqrt;
    /// `1 / sqrt(x)`.
    Rsqrt: rsqrt / try_rsqrt, saves OUTPUT, rule d_rsqrt;
    /// Sine.
    Sin: sin / try_sin, saves INPUT0, rule d_sin;
    /// Cosine.
    Cos: cos / try_cos, saves INPUT0, rule d_cos;
    /// Hyperbolic tangent.
    Tanh: tanh / try_tanh, saves OUTPUT, rule d_tanh;
    /// Logistic sigmoid.
    Sigmoid: sigmoid / try_sigmoid, saves OUTPUT, rule d_sigmoid;
    /// `max(x, 0)`.
    Relu: relu / try_relu, saves INPUT0, rule d_relu;
    /// GELU, exact (erf) form.
    Gelu: gelu / try_gelu, saves INPUT0, rule d_gelu;
    /// GELU, tanh approximation.
    GeluTanh: gelu_tanh / try_gelu_tanh, saves INPUT0, rule d_gelu_tanh;
    /// `x * sigmoid(x)`.
    Silu: silu / try_silu, saves INPUT0, rule d_silu;
    /// `ln(1 + e^x)` (linear above 20).
    Softplus: softplus / try_softplus, saves INPUT0, rule d_softplus;
    /// Sign (zero gradient).
    Sign: sign / try_sign, saves NONE, rule d_piecewise_constant;
    /// Round down (zero gradient).
    Floor: floor / try_floor, saves NONE, rule d_piecewise_constant;
    /// Round up (zero gradient).
    Ceil: ceil / try_ceil, saves NONE, rule d_piecewise_constant;
    /// Round half to even (zero gradient).
    Round: round / try_round, saves NONE, rule d_piecewise_constant;
    /// `1 / x`.
    Recip: recip / try_recip, saves OUTPUT, rule d_recip;
    /// `x^2`.
    Square: square / try_square, saves INPUT0, rule d_square;
}

/// Declares the elementwise ops with one scalar parameter from one table: variant, printed
/// name, method names and the parameter's name (as printed: `leaky_relu[negative_slope=0.1]`),
/// saved values, rule (which receives the parameter).
macro_rules! scalar_ops {
    ($($(#[$m:meta])* $variant:ident: $name:ident / $try:ident ($param:ident), saves $saves:ident, rule $rule:ident;)*) => {
        /// An elementwise op with one scalar parameter.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ScalarOp { $($(#[$m])* $variant,)* }

        impl ScalarOp {
            /// The printed name.
            pub fn name(self) -> &'static str {
                match self { $(ScalarOp::$variant => stringify!($name),)* }
            }
            /// The parameter's printed name.
            pub fn param_name(self) -> &'static str {
                match self { $(ScalarOp::$variant => stringify!($param),)* }
            }
            pub(crate) fn saves(self) -> Saves {
                match self { $(ScalarOp::$variant => Saves::$saves,)* }
            }
            /// The forward kernel.
            #[inline]
            pub fn eval(self, x: &Tensor, scalar: f64) -> tensor::Result<Tensor> {
                match self { $(ScalarOp::$variant => x.$try(scalar),)* }
            }
            pub(crate) fn rule(self, c: &Ctx, scalar: f64) -> Result<Grads> {
                match self { $(ScalarOp::$variant => $rule(c, scalar),)* }
            }
        }

        impl Var { $(
            $(#[$m])*
            pub fn $try(&self, $param: f64) -> Result<Var> {
                Var::apply(&[self], Op::Scalar { op: ScalarOp::$variant, scalar: $param })
            }
            panicking!($(#[$m])* $name => $try($param: f64) -> Var);
        )* }
    };
}

scalar_ops! {
    /// `x if x > 0 else negative_slope * x`.
    LeakyRelu: leaky_relu / try_leaky_relu (negative_slope), saves INPUT0, rule d_leaky_relu;
    /// `x if x > 0 else alpha * (e^x - 1)`.
    Elu: elu / try_elu (alpha), saves INPUT0_OUTPUT, rule d_elu;
    /// `x^exponent` for a scalar exponent.
    Powf: powf / try_powf (exponent), saves INPUT0, rule d_powf;
    /// `x + scalar`.
    AddScalar: add_scalar / try_add_scalar (scalar), saves NONE, rule d_add_scalar;
    /// `x * scalar`.
    MulScalar: mul_scalar / try_mul_scalar (scalar), saves NONE, rule d_mul_scalar;
}

impl Var {
    /// Limits values to `[min, max]`.
    pub fn try_clamp(&self, min: f64, max: f64) -> Result<Var> {
        Var::apply(&[self], Op::Clamp { min, max })
    }
    panicking!(
        /// Limits values to `[min, max]`.
        clamp => try_clamp(min: f64, max: f64) -> Var
    );

    /// `grad` where `min < self < max`, zero elsewhere: clamp's backward as one node.
    pub fn try_clamp_backward(&self, grad: &Var, min: f64, max: f64) -> Result<Var> {
        Var::apply(&[self, grad], Op::ClampBackward { min, max })
    }

    panicking!(
        /// `grad` where `min < self < max`, zero elsewhere.
        clamp_backward => try_clamp_backward(grad: &Var, min: f64, max: f64) -> Var
    );

    /// `x - scalar`.
    pub fn try_sub_scalar(&self, scalar: f64) -> Result<Var> {
        self.try_add_scalar(-scalar)
    }
    panicking!(
        /// `x - scalar`.
        sub_scalar => try_sub_scalar(scalar: f64) -> Var
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
        Var::apply(&[self], Op::ToDType { dtype })
    }
    panicking!(
        /// Converts to another dtype; gradients convert back.
        to_dtype => try_to_dtype(dtype: DType) -> Var
    );
}

fn one(g: Var) -> Result<Grads> {
    Ok(smallvec![Some(g)])
}

/// d/dx (-x) = -1
pub(crate) fn d_neg(c: &Ctx) -> Result<Grads> {
    one(c.g().try_neg()?)
}

/// d/dx |x| = sign(x) (0 at 0 and for NaN, as PyTorch), fused as `abs_backward(x, g)`
pub(crate) fn d_abs(c: &Ctx) -> Result<Grads> {
    one(c.input(0)?.try_abs_backward(c.g())?)
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

/// d/dx relu(x) = 1 if x > 0 else 0 (0 at the kink, as torch), fused as `relu_backward(x, g)`.
pub(crate) fn d_relu(c: &Ctx) -> Result<Grads> {
    one(c.input(0)?.try_relu_backward(c.g())?)
}

/// d/dx leaky_relu(x) = 1 if x > 0 else negative_slope
pub(crate) fn d_leaky_relu(c: &Ctx, negative_slope: f64) -> Result<Grads> {
    let dt = c.g().dtype();
    let (one_, slope) = (c.constant(Tensor::full(&[], 1.0, dt)), c.constant(Tensor::full(&[], negative_slope, dt)));
    let factor = c.input(0)?.try_gt_scalar(0.0)?.try_where_cond(&one_, &slope)?;
    one(c.g().try_mul(&factor)?)
}

/// d/dx elu(x) = 1 if x > 0 else alpha e^x = y + alpha
pub(crate) fn d_elu(c: &Ctx, alpha: f64) -> Result<Grads> {
    let pos = c.input(0)?.try_gt_scalar(0.0)?;
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
    let linear = x.try_gt_scalar(20.0)?;
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

/// d/dx clamp(x, min, max) = 1 if min < x < max else 0 (PyTorch 2.15's rule: 0 at the bounds
/// and for NaN), fused as `clamp_backward(x, g)`.
pub(crate) fn d_clamp(c: &Ctx, min: f64, max: f64) -> Result<Grads> {
    one(c.input(0)?.try_clamp_backward(c.g(), min, max)?)
}

/// clamp_backward(x, g) = g [min < x < max]: d/dx = 0 (piecewise constant in x),
/// d/dg = [min < x < max]
pub(crate) fn d_clamp_backward(c: &Ctx, min: f64, max: f64) -> Result<Grads> {
    // As relu_backward: an explicit zero for x, which is used.
    let dx = if c.needs(0) { Some(c.constant(Tensor::zeros(c.shape(0), c.g().dtype()))) } else { None };
    let dg = if c.needs(1) { Some(c.input(0)?.try_clamp_backward(c.g(), min, max)?) } else { None };
    Ok(smallvec::smallvec![dx, dg])
}

/// d/dx (x + s) = 1
pub(crate) fn d_add_scalar(c: &Ctx, _s: f64) -> Result<Grads> {
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
