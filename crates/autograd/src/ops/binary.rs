//! Broadcasting binary ops on `Var`, comparisons, operators, and their backward rules.
//!
//! Rules return gradients in the broadcast output shape; the engine sums them back to each
//! input's shape.

use std::ops;

use smallvec::smallvec;
use tensor::Tensor;

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::{Op, Saves};
use crate::var::Var;

/// Declares the family of elementwise binary ops (broadcasting) from one table: variant,
/// printed name and method names, saved values, rule.
macro_rules! binary_ops {
    ($($(#[$m:meta])* $variant:ident: $name:ident / $try:ident, saves $saves:ident, rule $rule:ident;)*) => {
        /// An elementwise binary op with broadcasting.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum BinaryOp { $($(#[$m])* $variant,)* }

        impl BinaryOp {
            /// The printed name.
            pub fn name(self) -> &'static str {
                match self { $(BinaryOp::$variant => stringify!($name),)* }
            }
            pub(crate) fn saves(self) -> Saves {
                match self { $(BinaryOp::$variant => Saves::$saves,)* }
            }
            /// The forward kernel.
            #[inline]
            pub fn eval(self, a: &Tensor, b: &Tensor) -> tensor::Result<Tensor> {
                match self { $(BinaryOp::$variant => a.$try(b),)* }
            }
            pub(crate) fn rule(self, c: &Ctx) -> Result<Grads> {
                match self { $(BinaryOp::$variant => $rule(c),)* }
            }
        }

        impl Var { $(
            $(#[$m])*
            pub fn $try(&self, rhs: &Var) -> Result<Var> {
                Var::apply(&[self, rhs], Op::Binary(BinaryOp::$variant))
            }
            panicking!($(#[$m])* $name => $try(rhs: &Var) -> Var);
        )* }
    };
}

binary_ops! {
    /// `a + b`, broadcasting.
    Add: add / try_add, saves NONE, rule d_add;
    /// `a - b`, broadcasting.
    Sub: sub / try_sub, saves NONE, rule d_sub;
    /// `a * b`, broadcasting.
    Mul: mul / try_mul, saves BOTH, rule d_mul;
    /// `a / b`, broadcasting.
    Div: div / try_div, saves BOTH, rule d_div;
    /// `a ^ b`, broadcasting.
    Pow: pow / try_pow, saves BOTH_OUTPUT, rule d_pow;
    /// Elementwise maximum (ties send the gradient to `a`).
    Maximum: maximum / try_maximum, saves BOTH, rule d_maximum;
    /// Elementwise minimum (ties send the gradient to `a`).
    Minimum: minimum / try_minimum, saves BOTH, rule d_minimum;
    /// `g` where `self = x > 0`, zero elsewhere (`rhs = g`): relu's fused backward kernel.
    ReluBackward: relu_backward / try_relu_backward, saves INPUT0, rule d_relu_backward;
    /// `g * sign(x)` with `self = x`, `rhs = g`: abs's fused backward kernel.
    AbsBackward: abs_backward / try_abs_backward, saves INPUT0, rule d_abs_backward;
    /// `g * (1 - y^2)` with `self = y = tanh(x)`, `rhs = g`: tanh's fused backward kernel.
    TanhBackward: tanh_backward / try_tanh_backward, saves BOTH, rule d_tanh_backward;
    /// `g * y * (1 - y)` with `self = y = sigmoid(x)`, `rhs = g`.
    SigmoidBackward: sigmoid_backward / try_sigmoid_backward, saves BOTH, rule d_sigmoid_backward;
    /// `g * (Phi(x) + x phi(x))` with `self = x`, `rhs = g`: exact GELU's derivative.
    GeluBackward: gelu_backward / try_gelu_backward, saves BOTH, rule d_gelu_backward;
}

/// Declares the comparisons: recorded like any op (so a replay recomputes the mask from new
/// data), never differentiated.
macro_rules! compare_ops {
    ($($(#[$m:meta])* $variant:ident: $name:ident / $try:ident, $scalar:ident / $try_scalar:ident;)*) => {
        /// An elementwise comparison giving a bool mask.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum CompareOp { $($(#[$m])* $variant,)* }

        impl CompareOp {
            /// The printed name of the tensor-tensor form.
            pub fn name(self) -> &'static str {
                match self { $(CompareOp::$variant => stringify!($name),)* }
            }
            /// The printed name of the tensor-scalar form.
            pub fn scalar_name(self) -> &'static str {
                match self { $(CompareOp::$variant => stringify!($scalar),)* }
            }
            /// `a <cmp> b`, broadcasting.
            pub fn eval(self, a: &Tensor, b: &Tensor) -> tensor::Result<Tensor> {
                match self { $(CompareOp::$variant => a.$try(b),)* }
            }
            /// `x <cmp> scalar`, comparing as `tensor`'s scalar comparisons do.
            pub fn eval_scalar(self, x: &Tensor, scalar: f64) -> tensor::Result<Tensor> {
                match self { $(CompareOp::$variant => x.$try_scalar(scalar),)* }
            }
        }

        impl Var { $(
            $(#[$m])*
            /// A bool mask, recorded without gradient.
            pub fn $try(&self, rhs: &Var) -> Result<Var> {
                Var::apply(&[self, rhs], Op::Compare(CompareOp::$variant))
            }
            panicking!($(#[$m])* $name => $try(rhs: &Var) -> Var);

            $(#[$m])*
            /// Against a scalar: a bool mask, recorded without gradient.
            pub fn $try_scalar(&self, scalar: f64) -> Result<Var> {
                Var::apply(&[self], Op::CompareScalar { cmp: CompareOp::$variant, scalar })
            }
            panicking!($(#[$m])* $scalar => $try_scalar(scalar: f64) -> Var);
        )* }
    };
}

compare_ops! {
    /// `a == b`.
    Eq: eq / try_eq, eq_scalar / try_eq_scalar;
    /// `a != b`.
    Ne: ne / try_ne, ne_scalar / try_ne_scalar;
    /// `a < b`.
    Lt: lt / try_lt, lt_scalar / try_lt_scalar;
    /// `a <= b`.
    Le: le / try_le, le_scalar / try_le_scalar;
    /// `a > b`.
    Gt: gt / try_gt, gt_scalar / try_gt_scalar;
    /// `a >= b`.
    Ge: ge / try_ge, ge_scalar / try_ge_scalar;
}

/// d/da (a + b) = 1, d/db (a + b) = 1
pub(crate) fn d_add(c: &Ctx) -> Result<Grads> {
    Ok(smallvec![Some(c.g().clone()), Some(c.g().clone())])
}

/// d/da (a - b) = 1, d/db (a - b) = -1
pub(crate) fn d_sub(c: &Ctx) -> Result<Grads> {
    let db = if c.needs(1) { Some(c.g().try_neg()?) } else { None };
    Ok(smallvec![Some(c.g().clone()), db])
}

/// d/da (a b) = b, d/db (a b) = a
pub(crate) fn d_mul(c: &Ctx) -> Result<Grads> {
    let da = if c.needs(0) { Some(c.g().try_mul(c.input(1)?)?) } else { None };
    let db = if c.needs(1) { Some(c.g().try_mul(c.input(0)?)?) } else { None };
    Ok(smallvec![da, db])
}

/// d/da (a / b) = 1/b, d/db (a / b) = -a / b^2
pub(crate) fn d_div(c: &Ctx) -> Result<Grads> {
    let (a, b) = (c.input(0)?, c.input(1)?);
    let g_over_b = c.g().try_div(b)?;
    let db = if c.needs(1) { Some(g_over_b.try_mul(a)?.try_div(b)?.try_neg()?) } else { None };
    Ok(smallvec![Some(g_over_b), db])
}

/// d/da a^b = b a^(b-1), d/db a^b = a^b ln a
pub(crate) fn d_pow(c: &Ctx) -> Result<Grads> {
    let (a, b) = (c.input(0)?, c.input(1)?);
    let da = if c.needs(0) { Some(c.g().try_mul(&b.try_mul(&a.try_pow(&b.try_sub_scalar(1.0)?)?)?)?) } else { None };
    let db = if c.needs(1) { Some(c.g().try_mul(&c.output()?.try_mul(&a.try_log()?)?)?) } else { None };
    Ok(smallvec![da, db])
}

/// d max(a, b) = da where a >= b, db where b > a.
pub(crate) fn d_maximum(c: &Ctx) -> Result<Grads> {
    let a_wins = c.input(0)?.try_ge(c.input(1)?)?;
    split_by_mask(c, &a_wins)
}

/// d min(a, b) = da where a <= b, db where b < a.
pub(crate) fn d_minimum(c: &Ctx) -> Result<Grads> {
    let a_wins = c.input(0)?.try_le(c.input(1)?)?;
    split_by_mask(c, &a_wins)
}

/// Routes the gradient to `a` where `a_wins`, to `b` elsewhere.
fn split_by_mask(c: &Ctx, a_wins: &Var) -> Result<Grads> {
    let zero = c.constant(Tensor::full(&[], 0.0, c.g().dtype()));
    let da = if c.needs(0) { Some(a_wins.try_where_cond(c.g(), &zero)?) } else { None };
    let db = if c.needs(1) { Some(a_wins.try_where_cond(&zero, c.g())?) } else { None };
    Ok(smallvec![da, db])
}

/// relu_backward(x, g) = g [x > 0]: d/dx = 0 (piecewise constant in x), d/dg = [x > 0]
pub(crate) fn d_relu_backward(c: &Ctx) -> Result<Grads> {
    // An explicit zero, not `None`: x is used, its derivative just vanishes (as torch's
    // `threshold_backward`), so `grad` must not call it an unused input.
    let dx = if c.needs(0) { Some(c.constant(Tensor::zeros(c.shape(0), c.g().dtype()))) } else { None };
    let dg = if c.needs(1) { Some(c.input(0)?.try_relu_backward(c.g())?) } else { None };
    Ok(smallvec![dx, dg])
}

/// abs_backward(x, g) = g sign(x): d/dx = 0 (piecewise constant in x), d/dg = sign(x)
pub(crate) fn d_abs_backward(c: &Ctx) -> Result<Grads> {
    // As relu_backward: an explicit zero for x, which is used.
    let dx = if c.needs(0) { Some(c.constant(Tensor::zeros(c.shape(0), c.g().dtype()))) } else { None };
    let dg = if c.needs(1) { Some(c.input(0)?.try_abs_backward(c.g())?) } else { None };
    Ok(smallvec![dx, dg])
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

// Operators, for every owned/borrowed combination and with f64 scalars on the right. They
// panic on bad input with the message of the `try_` method.
macro_rules! operator {
    ($trait:ident, $method:ident, $inherent:ident, $scalar:ident) => {
        impl ops::$trait<&Var> for &Var {
            type Output = Var;
            #[track_caller]
            fn $method(self, rhs: &Var) -> Var {
                Var::$inherent(self, rhs)
            }
        }
        impl ops::$trait<Var> for &Var {
            type Output = Var;
            #[track_caller]
            fn $method(self, rhs: Var) -> Var {
                Var::$inherent(self, &rhs)
            }
        }
        impl ops::$trait<&Var> for Var {
            type Output = Var;
            #[track_caller]
            fn $method(self, rhs: &Var) -> Var {
                Var::$inherent(&self, rhs)
            }
        }
        impl ops::$trait<Var> for Var {
            type Output = Var;
            #[track_caller]
            fn $method(self, rhs: Var) -> Var {
                Var::$inherent(&self, &rhs)
            }
        }
        impl ops::$trait<f64> for &Var {
            type Output = Var;
            #[track_caller]
            fn $method(self, rhs: f64) -> Var {
                Var::$scalar(self, rhs)
            }
        }
        impl ops::$trait<f64> for Var {
            type Output = Var;
            #[track_caller]
            fn $method(self, rhs: f64) -> Var {
                Var::$scalar(&self, rhs)
            }
        }
    };
}

operator!(Add, add, add, add_scalar);
operator!(Sub, sub, sub, sub_scalar);
operator!(Mul, mul, mul, mul_scalar);
operator!(Div, div, div, div_scalar);

/// f64 scalars on the left (`2.0 * &v`, `1.0 - &v`).
macro_rules! scalar_left {
    ($t:ty) => {
        impl ops::Add<&Var> for $t {
            type Output = Var;
            #[track_caller]
            fn add(self, rhs: &Var) -> Var {
                rhs.add_scalar(self as f64)
            }
        }
        impl ops::Sub<&Var> for $t {
            type Output = Var;
            #[track_caller]
            fn sub(self, rhs: &Var) -> Var {
                rhs.rsub_scalar(self as f64)
            }
        }
        impl ops::Mul<&Var> for $t {
            type Output = Var;
            #[track_caller]
            fn mul(self, rhs: &Var) -> Var {
                rhs.mul_scalar(self as f64)
            }
        }
        impl ops::Div<&Var> for $t {
            type Output = Var;
            #[track_caller]
            fn div(self, rhs: &Var) -> Var {
                rhs.recip().mul_scalar(self as f64)
            }
        }
    };
}

scalar_left!(f64);

impl ops::Neg for &Var {
    type Output = Var;
    #[track_caller]
    fn neg(self) -> Var {
        Var::neg(self)
    }
}

impl ops::Neg for Var {
    type Output = Var;
    #[track_caller]
    fn neg(self) -> Var {
        Var::neg(&self)
    }
}
