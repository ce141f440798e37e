//! Elementwise unary ops: math functions and activations.
//!
//! Each op is one line of scalar math; the strided engine in `elementwise.rs` does the looping,
//! threading and layout handling. Float ops accept f32 and f64; `neg`, `abs`, `sign` and
//! `square` also accept integer dtypes.

use crate::dtype::{Element, Float, Numeric};
use crate::elementwise;
use crate::error::{Result, TensorError};
use crate::macros::{float_dispatch, numeric_dispatch, panicking};
use crate::Tensor;

impl Tensor {
    /// `out[i] = f(self[i])` with the output in the input's dtype.
    pub(crate) fn map_same<T: Element>(&self, f: impl Fn(T) -> T + Sync + Send) -> Tensor {
        Tensor::from_data(elementwise::map::<T, T>(self, f), self.shape())
    }
}

/// Rounds half to even, as `torch.round` does.
fn round_half_even<T: Float>(x: T) -> T {
    let r = x.round();
    if num_traits::Float::abs(x - x.trunc()) == T::lit(0.5) {
        T::lit(2.0) * (x / T::lit(2.0)).round()
    } else {
        r
    }
}

macro_rules! float_unary {
    ($($(#[$m:meta])* $name:ident / $try:ident = |$x:ident| $body:expr;)*) => {
        impl Tensor { $(
            $(#[$m])*
            pub fn $try(&self) -> Result<Tensor> {
                float_dispatch!(stringify!($name), self.dtype(), T => {
                    crate::pool::ensure_alloc(stringify!($name), self.numel(), T::DTYPE)?;
                    Ok(self.map_same::<T>(|$x: T| $body))
                })
            }
            panicking!($(#[$m])* $name => $try() -> Tensor);
        )* }
    };
}

macro_rules! numeric_unary {
    ($($(#[$m:meta])* $name:ident / $try:ident = |$x:ident| $body:expr;)*) => {
        impl Tensor { $(
            $(#[$m])*
            pub fn $try(&self) -> Result<Tensor> {
                numeric_dispatch!(stringify!($name), self.dtype(), T => {
                    crate::pool::ensure_alloc(stringify!($name), self.numel(), T::DTYPE)?;
                    Ok(self.map_same::<T>(|$x: T| $body))
                })
            }
            panicking!($(#[$m])* $name => $try() -> Tensor);
        )* }
    };
}

numeric_unary! {
    /// `-x`.
    neg / try_neg = |x| Numeric::num_neg(x);
    /// `|x|`.
    abs / try_abs = |x| Numeric::num_abs(x);
    /// `x * x`.
    square / try_square = |x| x * x;
    /// `-1`, `0` or `1` (NaN stays NaN).
    sign / try_sign = |x| x.num_signum();
}

float_unary! {
    /// `e^x`.
    exp / try_exp = |x| x.exp_k();
    /// Natural logarithm.
    log / try_log = |x| x.ln();
    /// `ln(1 + x)`, accurate near 0.
    log1p / try_log1p = |x| x.ln_1p();
    /// `e^x - 1`, accurate near 0.
    expm1 / try_expm1 = |x| x.exp_m1();
    /// Square root.
    sqrt / try_sqrt = |x| x.sqrt();
    /// `1 / sqrt(x)`.
    rsqrt / try_rsqrt = |x| T::ONE / x.sqrt();
    /// Sine.
    sin / try_sin = |x| x.sin();
    /// Cosine.
    cos / try_cos = |x| x.cos();
    /// Hyperbolic tangent.
    tanh / try_tanh = |x| x.tanh_k();
    /// Logistic function `1 / (1 + e^-x)`, stable for large `|x|`.
    sigmoid / try_sigmoid = |x| x.sigmoid_k();
    /// `max(x, 0)`; NaN propagates.
    relu / try_relu = |x| if x <= T::ZERO { T::ZERO } else { x };
    /// GELU, exact form: `x/2 * (1 + erf(x / sqrt(2)))`.
    gelu / try_gelu = |x| T::lit(0.5) * x * (T::ONE + Float::erf(x * T::lit(std::f64::consts::FRAC_1_SQRT_2)));
    /// GELU, tanh approximation: `x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`.
    gelu_tanh / try_gelu_tanh = |x| {
        let k = T::lit(0.797_884_560_802_865_4); // sqrt(2/pi)
        T::lit(0.5) * x * (T::ONE + (k * (x + T::lit(0.044715) * x * x * x)).tanh())
    };
    /// SiLU (swish): `x * sigmoid(x)`.
    silu / try_silu = |x| x * x.sigmoid_k();
    /// `ln(1 + e^x)`, linear above 20 as in torch (beta = 1, threshold = 20).
    softplus / try_softplus = |x| if x > T::lit(20.0) { x } else { x.exp().ln_1p() };
    /// Round down.
    floor / try_floor = |x| x.floor();
    /// Round up.
    ceil / try_ceil = |x| x.ceil();
    /// Round to nearest, ties to even (as torch).
    round / try_round = |x| round_half_even(x);
    /// `1 / x`.
    recip / try_recip = |x| x.recip();
}

impl Tensor {
    /// `x if x > 0 else negative_slope * x`.
    pub fn try_leaky_relu(&self, negative_slope: f64) -> Result<Tensor> {
        float_dispatch!("leaky_relu", self.dtype(), T => {
            let a = T::lit(negative_slope);
            Ok(self.map_same::<T>(|x| if x > T::ZERO { x } else { a * x }))
        })
    }

    panicking!(
        /// `x if x > 0 else negative_slope * x`.
        leaky_relu => try_leaky_relu(negative_slope: f64) -> Tensor
    );

    /// `x if x > 0 else alpha * (e^x - 1)`.
    pub fn try_elu(&self, alpha: f64) -> Result<Tensor> {
        float_dispatch!("elu", self.dtype(), T => {
            let a = T::lit(alpha);
            Ok(self.map_same::<T>(|x| if x > T::ZERO { x } else { a * x.exp_m1() }))
        })
    }

    panicking!(
        /// `x if x > 0 else alpha * (e^x - 1)`.
        elu => try_elu(alpha: f64) -> Tensor
    );

    /// `x ^ exponent` for a scalar exponent.
    pub fn try_powf(&self, exponent: f64) -> Result<Tensor> {
        float_dispatch!("powf", self.dtype(), T => {
            if exponent == 2.0 {
                return Ok(self.map_same::<T>(|x| x * x));
            }
            let e = T::lit(exponent);
            Ok(self.map_same::<T>(|x| x.powf(e)))
        })
    }

    panicking!(
        /// `x ^ exponent` for a scalar exponent.
        powf => try_powf(exponent: f64) -> Tensor
    );

    /// Limits values to `[min, max]`; pass `f64::NEG_INFINITY`/`f64::INFINITY` for one-sided
    /// clamping. NaN propagates.
    pub fn try_clamp(&self, min: f64, max: f64) -> Result<Tensor> {
        if min > max || min.is_nan() || max.is_nan() {
            return Err(TensorError::invalid("clamp", format!("min {min} is greater than max {max}")));
        }
        numeric_dispatch!("clamp", self.dtype(), T => {
            // An integer tensor takes integer bounds (or infinite ones, for one-sided clamping):
            // clamping [-1, 2] to min 0.5 must not silently become min 0.
            for bound in [min, max] {
                if !T::DTYPE.is_float() && bound.is_finite() && bound.fract() != 0.0 {
                    return Err(TensorError::ScalarNotRepresentable { op: "clamp", scalar: bound, dtype: T::DTYPE });
                }
            }
            let (lo, hi) = (T::from_f64(min.max(T::MIN_VALUE.to_f64())), T::from_f64(max.min(T::MAX_VALUE.to_f64())));
            Ok(self.map_same::<T>(|x| if x < lo { lo } else if x > hi { hi } else { x }))
        })
    }

    panicking!(
        /// Limits values to `[min, max]`. NaN propagates.
        clamp => try_clamp(min: f64, max: f64) -> Tensor
    );
}

/// Standard normal density `phi(x)` and distribution `Phi(x)`, the pieces of GELU's derivative.
fn normal_pdf_cdf<T: Float>(x: T) -> (T, T) {
    let pdf = (x * x * T::lit(-0.5)).exp() * T::lit(0.398_942_280_401_432_7); // 1/sqrt(2 pi)
    let cdf = T::lit(0.5) * (T::ONE + Float::erf(x * T::lit(std::f64::consts::FRAC_1_SQRT_2)));
    (pdf, cdf)
}

// Fused backward kernels: one pass instead of three or four, used by autograd's rules.
impl Tensor {
    /// `grad` where `x > 0`, zero elsewhere (`self = x`): the derivative of relu in one pass,
    /// with no mask buffer. At the kink (`x = 0`) the gradient is 0 and a NaN `x` passes `grad`
    /// through, as PyTorch's `threshold_backward`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3]);
    /// let g = Tensor::from_vec(vec![5.0f32, 5.0, 5.0], &[3]);
    /// assert_eq!(x.relu_backward(&g).to_vec::<f32>(), [0.0, 0.0, 5.0]);
    /// ```
    pub fn try_relu_backward(&self, grad: &Tensor) -> Result<Tensor> {
        float_dispatch!("relu_backward", self.dtype(), T => {
            self.zip_map::<T, T>(grad, "relu_backward", |x, g| if x <= T::ZERO { T::ZERO } else { g })
        })
    }

    panicking!(
        /// `grad` where `self = x > 0`, zero elsewhere.
        relu_backward => try_relu_backward(grad: &Tensor) -> Tensor
    );

    /// `grad` where `min < x < max`, zero elsewhere (`self = x`): the derivative of
    /// [`clamp`](Self::clamp) in one pass, with PyTorch 2.15's rule (0 at the bounds and for a
    /// NaN `x`).
    pub fn try_clamp_backward(&self, grad: &Tensor, min: f64, max: f64) -> Result<Tensor> {
        float_dispatch!("clamp_backward", self.dtype(), T => {
            let (lo, hi) = (T::lit(min), T::lit(max));
            self.zip_map::<T, T>(grad, "clamp_backward", |x, g| if x > lo && x < hi { g } else { T::ZERO })
        })
    }

    panicking!(
        /// `grad` where `min < self < max`, zero elsewhere.
        clamp_backward => try_clamp_backward(grad: &Tensor, min: f64, max: f64) -> Tensor
    );

    /// `grad * sign(x)` (`self = x`): the derivative of `abs` in one pass. The gradient is 0 at
    /// the kink and for a NaN `x`, as PyTorch 2.15's.
    pub fn try_abs_backward(&self, grad: &Tensor) -> Result<Tensor> {
        float_dispatch!("abs_backward", self.dtype(), T => {
            self.zip_map::<T, T>(grad, "abs_backward", |x, g| {
                if x > T::ZERO {
                    g
                } else if x < T::ZERO {
                    -g
                } else {
                    T::ZERO
                }
            })
        })
    }

    panicking!(
        /// `grad * sign(self)`.
        abs_backward => try_abs_backward(grad: &Tensor) -> Tensor
    );

    /// `grad * (1 - y^2)` where `y = tanh(x)`: the derivative of tanh from its output.
    pub fn try_tanh_backward(&self, grad: &Tensor) -> Result<Tensor> {
        float_dispatch!("tanh_backward", self.dtype(), T => {
            self.zip_map::<T, T>(grad, "tanh_backward", |y, g| g * (T::ONE - y * y))
        })
    }

    panicking!(
        /// `grad * (1 - y^2)` with `self = y = tanh(x)`.
        tanh_backward => try_tanh_backward(grad: &Tensor) -> Tensor
    );

    /// `grad * y * (1 - y)` where `y = sigmoid(x)`.
    pub fn try_sigmoid_backward(&self, grad: &Tensor) -> Result<Tensor> {
        float_dispatch!("sigmoid_backward", self.dtype(), T => {
            self.zip_map::<T, T>(grad, "sigmoid_backward", |y, g| g * y * (T::ONE - y))
        })
    }

    panicking!(
        /// `grad * y * (1 - y)` with `self = y = sigmoid(x)`.
        sigmoid_backward => try_sigmoid_backward(grad: &Tensor) -> Tensor
    );

    /// `grad * (Phi(x) + x * phi(x))`: the derivative of exact GELU at `self = x`.
    pub fn try_gelu_backward(&self, grad: &Tensor) -> Result<Tensor> {
        float_dispatch!("gelu_backward", self.dtype(), T => {
            self.zip_map::<T, T>(grad, "gelu_backward", |x, g| {
                let (pdf, cdf) = normal_pdf_cdf(x);
                g * (cdf + x * pdf)
            })
        })
    }

    panicking!(
        /// `grad * (Phi(x) + x * phi(x))` with `self = x`.
        gelu_backward => try_gelu_backward(grad: &Tensor) -> Tensor
    );
}
