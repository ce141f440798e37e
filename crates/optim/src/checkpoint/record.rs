//! `Record`: the named fields a checkpoint saves and restores, visited mutably so one method
//! serves both directions.

use tensor::Tensor;

/// One named field of a hyperparameter set, a per-parameter state or a scheduler.
pub enum Field<'a> {
    /// A buffer shaped like its parameter (moments, accumulators).
    Tensor(&'static str, &'a mut Tensor),
    /// A buffer that exists for some settings only (AMSGrad's maximum, a momentum buffer).
    OptionalTensor(&'static str, &'a mut Option<Tensor>),
    /// A step counter.
    Count(&'static str, &'a mut u64),
    Int(&'static str, &'a mut i64),
    F32(&'static str, &'a mut f32),
    F64(&'static str, &'a mut f64),
    Pair(&'static str, &'a mut (f64, f64)),
    F64s(&'static str, &'a mut Vec<f64>),
    Bool(&'static str, &'a mut bool),
}

impl Field<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Field::Tensor(n, _)
            | Field::OptionalTensor(n, _)
            | Field::Count(n, _)
            | Field::Int(n, _)
            | Field::F32(n, _)
            | Field::F64(n, _)
            | Field::Pair(n, _)
            | Field::F64s(n, _)
            | Field::Bool(n, _) => n,
        }
    }
}

/// What a checkpoint saves of a value: its named fields.
pub trait Record {
    /// Every field, mutably (saving reads them, loading writes them).
    fn fields(&mut self) -> Vec<Field<'_>>;
}

/// Implements `Record` by listing fields: `record!(Adam { lr: F64, betas: Pair, ... })`.
macro_rules! record {
    ($ty:ty { $($field:ident: $kind:ident),* $(,)? }) => {
        impl $crate::checkpoint::Record for $ty {
            fn fields(&mut self) -> Vec<$crate::checkpoint::Field<'_>> {
                vec![$($crate::checkpoint::Field::$kind(stringify!($field), &mut self.$field)),*]
            }
        }
    };
}

pub(crate) use record;
