//! Elementwise binary ops with NumPy broadcasting, comparisons, and the `std::ops` operators.

use std::cmp::Ordering;

use crate::dtype::{Element, Float, Numeric};
use crate::elementwise;
use crate::error::{Result, TensorError};
use crate::layout::broadcast_shapes;
use crate::macros::{any_dispatch, float_dispatch, numeric_dispatch, panicking};
use crate::Tensor;

impl Tensor {
    /// Broadcasts `self` and `rhs` together and applies `f` elementwise.
    pub(crate) fn zip_map<T: Element, U: Element>(
        &self,
        rhs: &Tensor,
        op: &'static str,
        f: impl Fn(T, T) -> U + Sync + Send,
    ) -> Result<Tensor> {
        self.same_dtype(op, rhs)?;
        if self.has_shape(rhs.shape()) {
            if let (Some(a), Some(b)) = (self.as_slice::<T>(), rhs.as_slice::<T>()) {
                // Same shape, both contiguous: no broadcasting to plan.
                let mut out = crate::pool::for_overwrite::<U>(a.len());
                crate::parallel::fill_chunks(&mut out, |start, chunk| {
                    let (xa, xb) = (&a[start..start + chunk.len()], &b[start..start + chunk.len()]);
                    elementwise::zip_slices(xa, xb, chunk, &f);
                });
                return Ok(Tensor::from_data(out, self.shape()));
            }
        }
        let shape = broadcast_shapes(op, self.shape(), rhs.shape())?;
        crate::pool::ensure_alloc(op, shape.iter().product(), U::DTYPE)?;
        let sa = self.layout.broadcast_strides(op, &shape)?;
        let sb = rhs.layout.broadcast_strides(op, &shape)?;
        Ok(Tensor::from_data(elementwise::zip(self, &sa, rhs, &sb, &shape, f), &shape))
    }
}

macro_rules! numeric_binary {
    ($($(#[$m:meta])* $name:ident / $try:ident = |$a:ident, $b:ident| $body:expr;)*) => {
        impl Tensor { $(
            $(#[$m])*
            pub fn $try(&self, rhs: &Tensor) -> Result<Tensor> {
                self.same_dtype(stringify!($name), rhs)?;
                numeric_dispatch!(stringify!($name), self.dtype(), T => {
                    self.zip_map::<T, T>(rhs, stringify!($name), |$a: T, $b: T| $body)
                })
            }
            panicking!($(#[$m])* $name => $try(rhs: &Tensor) -> Tensor);
        )* }
    };
}

macro_rules! float_binary {
    ($($(#[$m:meta])* $name:ident / $try:ident = |$a:ident, $b:ident| $body:expr;)*) => {
        impl Tensor { $(
            $(#[$m])*
            pub fn $try(&self, rhs: &Tensor) -> Result<Tensor> {
                self.same_dtype(stringify!($name), rhs)?;
                float_dispatch!(stringify!($name), self.dtype(), T => {
                    self.zip_map::<T, T>(rhs, stringify!($name), |$a: T, $b: T| $body)
                })
            }
            panicking!($(#[$m])* $name => $try(rhs: &Tensor) -> Tensor);
        )* }
    };
}

macro_rules! comparison {
    ($($(#[$m:meta])* $name:ident / $try:ident = $cmp:tt;)*) => {
        impl Tensor { $(
            $(#[$m])*
            pub fn $try(&self, rhs: &Tensor) -> Result<Tensor> {
                self.same_dtype(stringify!($name), rhs)?;
                any_dispatch!(self.dtype(), T => {
                    self.zip_map::<T, bool>(rhs, stringify!($name), |a: T, b: T| a $cmp b)
                })
            }
            panicking!($(#[$m])* $name => $try(rhs: &Tensor) -> Tensor);
        )* }
    };
}

numeric_binary! {
    /// `a + b`, broadcasting.
    add / try_add = |a, b| Numeric::num_add(a, b);
    /// `a - b`, broadcasting.
    sub / try_sub = |a, b| Numeric::num_sub(a, b);
    /// `a * b`, broadcasting.
    mul / try_mul = |a, b| Numeric::num_mul(a, b);
    /// Elementwise maximum, broadcasting; NaN propagates.
    maximum / try_maximum = |a, b| a.max_nan(b);
    /// Elementwise minimum, broadcasting; NaN propagates.
    minimum / try_minimum = |a, b| a.min_nan(b);
}

float_binary! {
    /// `a / b`, broadcasting (floats only: integer division would need a rounding mode).
    div / try_div = |a, b| a / b;
    /// `a ^ b`, broadcasting.
    pow / try_pow = |a, b| a.powf(b);
}

comparison! {
    /// `a == b` as a bool mask, broadcasting.
    eq / try_eq = ==;
    /// `a != b` as a bool mask, broadcasting.
    ne / try_ne = !=;
    /// `a < b` as a bool mask, broadcasting.
    lt / try_lt = <;
    /// `a <= b` as a bool mask, broadcasting.
    le / try_le = <=;
    /// `a > b` as a bool mask, broadcasting.
    gt / try_gt = >;
    /// `a >= b` as a bool mask, broadcasting.
    ge / try_ge = >=;
}

/// `scalar` as a `T`: rounded for floats (as torch), but an integer tensor takes only a scalar
/// it holds exactly. `[1, 2] * 2.5` is an error naming the op, never a silent `[2, 4]`.
pub(crate) fn exact_scalar<T: Element>(op: &'static str, scalar: f64) -> Result<T> {
    let s = T::from_f64(scalar);
    // i64::MAX rounds up to 2^63 in f64, so 2^63 would pass the round trip while saturating.
    let in_range = T::DTYPE != crate::DType::I64 || scalar < 9_223_372_036_854_775_808.0;
    if T::DTYPE.is_float() || (s.to_f64() == scalar && in_range) {
        Ok(s)
    } else {
        Err(TensorError::ScalarNotRepresentable { op, scalar, dtype: T::DTYPE })
    }
}

macro_rules! scalar_op {
    ($($(#[$m:meta])* $name:ident / $try:ident = |$x:ident, $s:ident| $body:expr;)*) => {
        impl Tensor { $(
            $(#[$m])*
            pub fn $try(&self, scalar: f64) -> Result<Tensor> {
                numeric_dispatch!(stringify!($name), self.dtype(), T => {
                    let $s = exact_scalar::<T>(stringify!($name), scalar)?;
                    crate::pool::ensure_alloc(stringify!($name), self.numel(), T::DTYPE)?;
                    Ok(self.map_same::<T>(|$x: T| $body))
                })
            }
            panicking!($(#[$m])* $name => $try(scalar: f64) -> Tensor);
        )* }
    };
}

scalar_op! {
    /// `x + scalar` (the scalar is converted to the tensor's dtype).
    add_scalar / try_add_scalar = |x, s| Numeric::num_add(x, s);
    /// `x - scalar`.
    sub_scalar / try_sub_scalar = |x, s| Numeric::num_sub(x, s);
    /// `x * scalar`.
    mul_scalar / try_mul_scalar = |x, s| Numeric::num_mul(x, s);
    /// `scalar - x`.
    rsub_scalar / try_rsub_scalar = |x, s| Numeric::num_sub(s, x);
    /// `max(x, scalar)`.
    maximum_scalar / try_maximum_scalar = |x, s| x.max_nan(s);
    /// `min(x, scalar)`.
    minimum_scalar / try_minimum_scalar = |x, s| x.min_nan(s);
}

impl Tensor {
    /// `x / scalar` (floats only).
    pub fn try_div_scalar(&self, scalar: f64) -> Result<Tensor> {
        float_dispatch!("div_scalar", self.dtype(), T => {
            let s = T::lit(scalar);
            Ok(self.map_same::<T>(|x| x / s))
        })
    }

    panicking!(
        /// `x / scalar` (floats only).
        div_scalar => try_div_scalar(scalar: f64) -> Tensor
    );

    /// Compares every element with a scalar: `x <op> scalar` as a bool mask. Floats compare in
    /// the tensor's own type (an f32 tensor against 0.1 compares with 0.1f32, as torch does);
    /// integers compare exactly when the scalar is a representable integer, else in f64.
    /// Generic over the predicate (not a `fn` pointer) so that it inlines into the vectorised map.
    fn compare_scalar<F>(&self, op: &'static str, scalar: f64, f: F) -> Result<Tensor>
    where
        F: Fn(Option<Ordering>) -> bool + Copy + Sync + Send,
    {
        numeric_dispatch!(op, self.dtype(), T => {
            let s = T::from_f64(scalar);
            let in_type = T::DTYPE.is_float() || s.to_f64() == scalar;
            let out = if in_type {
                elementwise::map::<T, bool>(self, |x| f(x.partial_cmp(&s)))
            } else {
                elementwise::map::<T, bool>(self, |x| f(x.to_f64().partial_cmp(&scalar)))
            };
            Ok(Tensor::from_data(out, self.shape()))
        })
    }

    /// `x == scalar` as a bool mask.
    pub fn try_eq_scalar(&self, scalar: f64) -> Result<Tensor> {
        self.compare_scalar("eq_scalar", scalar, |o| o == Some(Ordering::Equal))
    }
    /// `x > scalar` as a bool mask.
    pub fn try_gt_scalar(&self, scalar: f64) -> Result<Tensor> {
        self.compare_scalar("gt_scalar", scalar, |o| o == Some(Ordering::Greater))
    }
    /// `x < scalar` as a bool mask.
    pub fn try_lt_scalar(&self, scalar: f64) -> Result<Tensor> {
        self.compare_scalar("lt_scalar", scalar, |o| o == Some(Ordering::Less))
    }
    /// `x >= scalar` as a bool mask.
    pub fn try_ge_scalar(&self, scalar: f64) -> Result<Tensor> {
        self.compare_scalar("ge_scalar", scalar, |o| matches!(o, Some(Ordering::Greater | Ordering::Equal)))
    }
    /// `x <= scalar` as a bool mask.
    pub fn try_le_scalar(&self, scalar: f64) -> Result<Tensor> {
        self.compare_scalar("le_scalar", scalar, |o| matches!(o, Some(Ordering::Less | Ordering::Equal)))
    }
    /// `x != scalar` as a bool mask (true against NaN, as IEEE `!=`).
    pub fn try_ne_scalar(&self, scalar: f64) -> Result<Tensor> {
        self.compare_scalar("ne_scalar", scalar, |o| o != Some(Ordering::Equal))
    }
    panicking!(
        /// `x == scalar` as a bool mask.
        eq_scalar => try_eq_scalar(scalar: f64) -> Tensor
    );
    panicking!(
        /// `x > scalar` as a bool mask.
        gt_scalar => try_gt_scalar(scalar: f64) -> Tensor
    );
    panicking!(
        /// `x < scalar` as a bool mask.
        lt_scalar => try_lt_scalar(scalar: f64) -> Tensor
    );
    panicking!(
        /// `x >= scalar` as a bool mask.
        ge_scalar => try_ge_scalar(scalar: f64) -> Tensor
    );
    panicking!(
        /// `x <= scalar` as a bool mask.
        le_scalar => try_le_scalar(scalar: f64) -> Tensor
    );
    panicking!(
        /// `x != scalar` as a bool mask.
        ne_scalar => try_ne_scalar(scalar: f64) -> Tensor
    );
}
