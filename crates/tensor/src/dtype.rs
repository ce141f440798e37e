//! Runtime element types and the traits that let kernels be written once.

use std::fmt;

/// The element type of a [`Tensor`](crate::Tensor), known at run time.
///
/// Floats (`F32`, `F64`) support every op; `I64` holds indices and class targets; `U8` is a plain
/// byte type; `Bool` holds masks (the result of comparisons, the condition of `where_cond`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
    I64,
    U8,
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::U8 | DType::Bool => 1,
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// The short name used when printing (`f32`, `i64`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The flat buffer behind a tensor: one variant per dtype.
#[derive(Clone, Debug)]
pub enum Storage {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

impl Storage {
    #[inline]
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F64(_) => DType::F64,
            Storage::I64(_) => DType::I64,
            Storage::U8(_) => DType::U8,
            Storage::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
            Storage::I64(v) => v.len(),
            Storage::U8(v) => v.len(),
            Storage::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A type that can be stored in a tensor.
pub trait Element: Copy + Send + Sync + PartialOrd + fmt::Debug + Default + FromBuffer + 'static {
    const DTYPE: DType;
    const ZERO: Self;
    const ONE: Self;
    /// Borrow the storage's buffer if it holds `Self`.
    fn slice(storage: &Storage) -> Option<&[Self]>;
    /// Mutably borrow the storage's buffer if it holds `Self`.
    fn slice_mut(storage: &mut Storage) -> Option<&mut [Self]>;
    fn into_storage(data: Vec<Self>) -> Storage;
    /// Lossy conversion used by `to_dtype` and printing.
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

macro_rules! element {
    ($t:ty, $variant:ident, $zero:expr, $one:expr, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            const ZERO: Self = $zero;
            const ONE: Self = $one;
            fn slice(storage: &Storage) -> Option<&[Self]> {
                match storage {
                    Storage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(storage: &mut Storage) -> Option<&mut [Self]> {
                match storage {
                    Storage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn into_storage(data: Vec<Self>) -> Storage {
                Storage::$variant(data)
            }
            #[allow(clippy::redundant_closure_call)]
            fn to_f64(self) -> f64 {
                ($to)(self)
            }
            #[allow(clippy::redundant_closure_call)]
            fn from_f64(v: f64) -> Self {
                ($from)(v)
            }
        }
    };
}

element!(f32, F32, 0.0, 1.0, |x: f32| x as f64, |v: f64| v as f32);
element!(f64, F64, 0.0, 1.0, |x: f64| x, |v: f64| v);
element!(i64, I64, 0, 1, |x: i64| x as f64, |v: f64| v as i64);
element!(u8, U8, 0, 1, |x: u8| x as f64, |v: f64| v as u8);
element!(bool, Bool, false, true, |x: bool| if x { 1.0 } else { 0.0 }, |v: f64| v != 0.0);

/// Element types with arithmetic (`+ - * /`, min/max): the floats and the integers.
pub trait Numeric:
    Element
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::AddAssign
{
    /// The smallest value (`-inf` for floats), the identity of `max`.
    const MIN_VALUE: Self;
    /// The largest value (`+inf` for floats), the identity of `min`.
    const MAX_VALUE: Self;
    fn num_neg(self) -> Self;
    fn num_abs(self) -> Self;
    /// Maximum that propagates NaN, like `torch.maximum`.
    fn max_nan(self, other: Self) -> Self;
    /// Minimum that propagates NaN, like `torch.minimum`.
    fn min_nan(self, other: Self) -> Self;
    fn num_is_nan(self) -> bool;
    /// `-1`, `0` or `1` by sign (NaN stays NaN).
    fn num_signum(self) -> Self;
    /// `+`, wrapping on integer overflow (as torch does) instead of panicking.
    fn num_add(self, other: Self) -> Self;
    /// `-`, wrapping on integer overflow.
    fn num_sub(self, other: Self) -> Self;
    /// `*`, wrapping on integer overflow.
    fn num_mul(self, other: Self) -> Self;
}

macro_rules! numeric_int {
    ($t:ty) => {
        impl Numeric for $t {
            const MIN_VALUE: Self = <$t>::MIN;
            const MAX_VALUE: Self = <$t>::MAX;
            fn num_neg(self) -> Self {
                self.wrapping_neg()
            }
            fn num_abs(self) -> Self {
                #[allow(unused_comparisons)]
                if self < 0 {
                    self.wrapping_neg()
                } else {
                    self
                }
            }
            fn max_nan(self, other: Self) -> Self {
                if other > self {
                    other
                } else {
                    self
                }
            }
            fn min_nan(self, other: Self) -> Self {
                if other < self {
                    other
                } else {
                    self
                }
            }
            fn num_is_nan(self) -> bool {
                false
            }
            fn num_signum(self) -> Self {
                if self == 0 {
                    0
                } else if self > 0 {
                    1
                } else {
                    (1 as $t).wrapping_neg()
                }
            }
            fn num_add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            fn num_sub(self, other: Self) -> Self {
                self.wrapping_sub(other)
            }
            fn num_mul(self, other: Self) -> Self {
                self.wrapping_mul(other)
            }
        }
    };
}
numeric_int!(i64);
numeric_int!(u8);

macro_rules! numeric_float {
    ($t:ty) => {
        impl Numeric for $t {
            const MIN_VALUE: Self = <$t>::NEG_INFINITY;
            const MAX_VALUE: Self = <$t>::INFINITY;
            fn num_neg(self) -> Self {
                -self
            }
            fn num_abs(self) -> Self {
                <$t>::abs(self)
            }
            fn max_nan(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    <$t>::NAN
                } else if other > self {
                    other
                } else {
                    self
                }
            }
            fn min_nan(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    <$t>::NAN
                } else if other < self {
                    other
                } else {
                    self
                }
            }
            fn num_is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn num_signum(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    self
                }
            }
            fn num_add(self, other: Self) -> Self {
                self + other
            }
            fn num_sub(self, other: Self) -> Self {
                self - other
            }
            fn num_mul(self, other: Self) -> Self {
                self * other
            }
        }
    };
}
numeric_float!(f32);
numeric_float!(f64);

/// Floating-point element types: every math function kernels need.
pub trait Float: Numeric + num_traits::Float + num_traits::FloatConst + std::iter::Sum {
    /// The error function (libm's, accurate to the last bit or two).
    fn erf(self) -> Self;
    /// `e^x` as elementwise kernels compute it: vectorisable for f32 (see `fastmath`), std for f64.
    fn exp_k(self) -> Self;
    /// `tanh(x)` as elementwise kernels compute it.
    fn tanh_k(self) -> Self;
    /// The logistic function as elementwise kernels compute it (stable for large `|x|`).
    fn sigmoid_k(self) -> Self;
    /// Converts a literal; exact for the small constants kernels use.
    fn lit(v: f64) -> Self {
        <Self as Element>::from_f64(v)
    }
}

impl Float for f32 {
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline(always)]
    fn exp_k(self) -> Self {
        crate::fastmath::exp_f32(self)
    }
    #[inline(always)]
    fn tanh_k(self) -> Self {
        crate::fastmath::tanh_f32(self)
    }
    #[inline(always)]
    fn sigmoid_k(self) -> Self {
        crate::fastmath::sigmoid_f32(self)
    }
}

impl Float for f64 {
    fn erf(self) -> Self {
        libm::erf(self)
    }
    fn exp_k(self) -> Self {
        self.exp()
    }
    fn tanh_k(self) -> Self {
        self.tanh()
    }
    fn sigmoid_k(self) -> Self {
        if self >= 0.0 {
            1.0 / (1.0 + (-self).exp())
        } else {
            let e = self.exp();
            e / (1.0 + e)
        }
    }
}

/// A buffer at rest in the cache of `crate::pool` (a separate type from `Storage`, whose drop feeds the cache).
#[doc(hidden)]
pub enum Buffer {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

impl Storage {
    /// Moves the elements out as a cacheable buffer, leaving this storage empty (for a storage
    /// being dropped, whose buffer a cache keeps).
    pub(crate) fn take_buffer(&mut self) -> Buffer {
        match self {
            Storage::F32(v) => Buffer::F32(std::mem::take(v)),
            Storage::F64(v) => Buffer::F64(std::mem::take(v)),
            Storage::I64(v) => Buffer::I64(std::mem::take(v)),
            Storage::U8(v) => Buffer::U8(std::mem::take(v)),
            Storage::Bool(v) => Buffer::Bool(std::mem::take(v)),
        }
    }
}

/// Typed extraction from a cached buffer (a supertrait of `Element`; not for implementing).
#[doc(hidden)]
pub trait FromBuffer: Sized {
    fn from_buffer(buf: Buffer) -> Option<Vec<Self>>;
}

macro_rules! from_buffer {
    ($t:ty, $v:ident) => {
        impl FromBuffer for $t {
            fn from_buffer(buf: Buffer) -> Option<Vec<Self>> {
                match buf {
                    Buffer::$v(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
from_buffer!(f32, F32);
from_buffer!(f64, F64);
from_buffer!(i64, I64);
from_buffer!(u8, U8);
from_buffer!(bool, Bool);
