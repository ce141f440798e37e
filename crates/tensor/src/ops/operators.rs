//! `std::ops` on tensors: `+ - * /` for every owned/borrowed combination, with f64 scalars on
//! either side, `-t`, and compound assignment. They panic on bad input with the message
//! of the `try_` method (use `try_add` and friends to get a `Result`).

use std::ops;

use crate::Tensor;

macro_rules! operator {
    ($trait:ident, $method:ident, $inherent:ident, $scalar:ident, $assign:ident, $assign_method:ident) => {
        impl ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$inherent(self, rhs)
            }
        }
        impl ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$inherent(self, &rhs)
            }
        }
        impl ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$inherent(&self, rhs)
            }
        }
        impl ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$inherent(&self, &rhs)
            }
        }
        // f64 only: with a second scalar impl, a method call on the result of an unsuffixed
        // literal operation, `(&t - 1.0).square()`, stops compiling (E0282: the output type is
        // needed before the literal falls back to f64). Tried and reverted.
        scalar_operator!($trait, $method, $scalar, f64);
        impl ops::$assign<&Tensor> for Tensor {
            /// Broadcasts `rhs` to `self`'s shape (`+=` writes in place when `self` owns its buffer).
            #[track_caller]
            fn $assign_method(&mut self, rhs: &Tensor) {
                compound!($inherent, self, rhs);
            }
        }
        impl ops::$assign<f64> for Tensor {
            #[track_caller]
            fn $assign_method(&mut self, rhs: f64) {
                *self = Tensor::$scalar(self, rhs);
            }
        }
    };
}

/// `self <op>= rhs`: `+=` adds in place (copy-on-write), the others compute and replace; all
/// keep `self`'s shape, as torch's in-place ops do.
macro_rules! compound {
    (add, $lhs:expr, $rhs:expr) => {
        crate::error::ok($lhs.try_add_assign($rhs))
    };
    ($inherent:ident, $lhs:expr, $rhs:expr) => {{
        let out = Tensor::$inherent($lhs, $rhs);
        if out.shape() != $lhs.shape() {
            panic!(
                "{}_assign: cannot broadcast shapes {:?} and {:?} into the left operand's shape",
                stringify!($inherent),
                $lhs.shape(),
                $rhs.shape()
            );
        }
        *$lhs = out;
    }};
}

macro_rules! scalar_operator {
    ($trait:ident, $method:ident, $scalar:ident, $t:ty) => {
        impl ops::$trait<$t> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor {
                Tensor::$scalar(self, rhs as f64)
            }
        }
        impl ops::$trait<$t> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor {
                Tensor::$scalar(&self, rhs as f64)
            }
        }
    };
}

operator!(Add, add, add, add_scalar, AddAssign, add_assign);
operator!(Sub, sub, sub, sub_scalar, SubAssign, sub_assign);
operator!(Mul, mul, mul, mul_scalar, MulAssign, mul_assign);
operator!(Div, div, div, div_scalar, DivAssign, div_assign);

/// A scalar on the left: `2.0 * &t`, `1.0 - &t`, `1.0 / &t`.
macro_rules! scalar_left {
    ($t:ty) => {
        impl ops::Add<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn add(self, rhs: &Tensor) -> Tensor {
                rhs.add_scalar(self as f64)
            }
        }
        impl ops::Sub<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn sub(self, rhs: &Tensor) -> Tensor {
                rhs.rsub_scalar(self as f64)
            }
        }
        impl ops::Mul<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn mul(self, rhs: &Tensor) -> Tensor {
                rhs.mul_scalar(self as f64)
            }
        }
        impl ops::Div<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn div(self, rhs: &Tensor) -> Tensor {
                rhs.recip().mul_scalar(self as f64)
            }
        }
        impl ops::Add<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn add(self, rhs: Tensor) -> Tensor {
                self + &rhs
            }
        }
        impl ops::Sub<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn sub(self, rhs: Tensor) -> Tensor {
                self - &rhs
            }
        }
        impl ops::Mul<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn mul(self, rhs: Tensor) -> Tensor {
                self * &rhs
            }
        }
        impl ops::Div<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn div(self, rhs: Tensor) -> Tensor {
                self / &rhs
            }
        }
    };
}

scalar_left!(f64);

impl ops::Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl ops::Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}

impl<T: crate::Element> From<Vec<T>> for Tensor {
    /// A 1-D tensor of the elements.
    fn from(v: Vec<T>) -> Tensor {
        let n = v.len();
        Tensor::from_vec(v, &[n])
    }
}

impl<T: crate::Element, const N: usize> From<[T; N]> for Tensor {
    /// A 1-D tensor of the elements.
    fn from(v: [T; N]) -> Tensor {
        Tensor::from_vec(v.to_vec(), &[N])
    }
}

impl<T: crate::Element, const R: usize, const C: usize> From<[[T; C]; R]> for Tensor {
    /// A 2-D tensor `[R, C]` of the rows.
    fn from(rows: [[T; C]; R]) -> Tensor {
        Tensor::from_vec(rows.iter().flatten().copied().collect::<Vec<T>>(), &[R, C])
    }
}
