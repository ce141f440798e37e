//! Dtype dispatch, the `try_*` / panicking pairs and the SIMD-width dispatch: the only macros
//! of the crate.

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

/// Returns the AVX-512F build of a kernel (`$avx512`) when the CPU has AVX-512F, else its AVX2
/// build (`$avx2`) when it has AVX2, else evaluates to its baseline build (`$plain`), each called
/// with `$args`: the run-time pick of the crate's vectorised loops, whose builds do the same
/// arithmetic in the same order, so results do not depend on the CPU. The builds are `unsafe`
/// functions with the matching `#[target_feature]`.
macro_rules! widest_simd {
    ($avx512:path, $avx2:path, $plain:path, ($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                return unsafe { $avx512($($arg),*) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { $avx2($($arg),*) };
            }
        }
        $plain($($arg),*)
    }};
}

pub(crate) use {any_dispatch, float_dispatch, numeric_dispatch, panicking, widest_simd};
