//! Dtype dispatch and the `try_*` / panicking pairs: the only macros of the crate.

/// Runs `$body` with `$T` bound to the float type behind `$dtype`; other dtypes return an error
/// naming `$op`. Must be used inside a function returning `Result<_, TensorError>`.
macro_rules! float_dispatch {
    ($op:expr, $dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            other => {
                return Err($crate::TensorError::UnsupportedDType { op: $op, dtype: other, expected: "f32 or f64" })
            }
        }
    };
}

/// Like [`float_dispatch`] for every dtype with arithmetic (f32, f64, i64, u8).
macro_rules! numeric_dispatch {
    ($op:expr, $dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            other => {
                return Err($crate::TensorError::UnsupportedDType {
                    op: $op,
                    dtype: other,
                    expected: "a numeric dtype (f32, f64, i64, u8)",
                })
            }
        }
    };
}

/// Runs `$body` with `$T` bound to the element type behind `$dtype`, for every dtype.
macro_rules! any_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// Declares the panicking form of a `try_*` method: same arguments, same message on error.
macro_rules! panicking {
    ($(#[$m:meta])* $name:ident => $try:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty) => {
        $(#[$m])*
        ///
        /// # Panics
        /// On the errors of the `try_` form, with the same message.
        #[track_caller]
        pub fn $name(&self, $($arg: $ty),*) -> $ret {
            $crate::error::ok(self.$try($($arg),*))
        }
    };
}

pub(crate) use {any_dispatch, float_dispatch, numeric_dispatch, panicking};
