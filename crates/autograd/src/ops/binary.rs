//! Broadcasting binary ops on `Var`, comparisons, operators, and their backward rules.
//!
//! Rules return gradients in the broadcast output shape; the engine sums them back to each
//! input's shape.

use std::ops;

use smallvec::smallvec;

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::macros::panicking;
use crate::op::Op;
use crate::var::Var;

macro_rules! binary {
    ($($(#[$m:meta])* $name:ident / $try:ident => $op:expr;)*) => {
        impl Var { $(
            $(#[$m])*
            pub fn $try(&self, rhs: &Var) -> Result<Var> {
                Var::apply(&[self, rhs], || $op, || self.value().$try(rhs.value()))
            }
            panicking!($(#[$m])* $name => $try(rhs: &Var) -> Var);
        )* }
    };
}

binary! {
    /// `a + b`, broadcasting.
    add / try_add => Op::Add;
    /// `a - b`, broadcasting.
    sub / try_sub => Op::Sub;
    /// `a * b`, broadcasting.
    mul / try_mul => Op::Mul;
    /// `a / b`, broadcasting.
    div / try_div => Op::Div;
    /// `a ^ b`, broadcasting.
    pow / try_pow => Op::Pow;
    /// Elementwise maximum (ties send the gradient to `a`).
    maximum / try_maximum => Op::Maximum;
    /// Elementwise minimum (ties send the gradient to `a`).
    minimum / try_minimum => Op::Minimum;
}

macro_rules! comparison {
    ($($(#[$m:meta])* $name:ident / $try:ident;)*) => {
        impl Var { $(
            $(#[$m])*
            /// The result is a constant bool mask (comparisons have no gradient).
            pub fn $try(&self, rhs: &Var) -> Result<Var> {
                Ok(self.constant(self.value().$try(rhs.value())?))
            }
            panicking!($(#[$m])* $name => $try(rhs: &Var) -> Var);
        )* }
    };
}

comparison! {
    /// `a == b`.
    eq / try_eq;
    /// `a != b`.
    ne / try_ne;
    /// `a < b`.
    lt / try_lt;
    /// `a <= b`.
    le / try_le;
    /// `a > b`.
    gt / try_gt;
    /// `a >= b`.
    ge / try_ge;
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
    let zero = c.constant(tensor::Tensor::full(&[], 0.0, c.g().dtype()));
    let da = if c.needs(0) { Some(a_wins.try_where_cond(c.g(), &zero)?) } else { None };
    let db = if c.needs(1) { Some(a_wins.try_where_cond(&zero, c.g())?) } else { None };
    Ok(smallvec![da, db])
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
