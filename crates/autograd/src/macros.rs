//! The `try_*` / panicking pairs of `Var` methods.

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

pub(crate) use panicking;
