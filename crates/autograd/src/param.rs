//! Parameters: long-lived leaves that live outside any tape.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use indexmap::IndexMap;
use tensor::Tensor;

use crate::error::{AutogradError, Result};

/// Hashes the small integer ids used as keys (parameter ids, tape keys) with one multiply per
/// word (Fibonacci hashing): they need no protection against adversarial keys, and SipHash
/// showed up in per-step profiles.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An insertion-ordered map keyed by parameter, hashed with [`IdHasher`]: what optimizers keep
/// their per-parameter state in.
pub type ParamMap<V> = IndexMap<ParamId, V, BuildHasherDefault<IdHasher>>;

/// A parameter's stable identity, unique in the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

struct Inner {
    id: ParamId,
    value: RwLock<Tensor>,
    requires_grad: AtomicBool,
}

/// A trainable tensor with a stable id, shared by the model that reads it and the optimizer
/// that updates it (cloning a `Param` clones the handle, not the data).
///
/// Each training step brings it onto a fresh tape with [`Tape::param`](crate::Tape::param);
/// `backward` reports its gradient under its id.
///
/// ```
/// use autograd::{Param, Tape};
/// use tensor::{DType, Tensor};
/// let w = Param::new(Tensor::ones(&[2], DType::F64));
/// let tape = Tape::new();
/// let loss = tape.param(&w).square().sum_all();
/// let grads = loss.backward().unwrap();
/// assert_eq!(grads.param(&w).unwrap().to_vec::<f64>(), vec![2.0, 2.0]);
/// w.set(w.value() - grads.param(&w).unwrap() * 0.5); // one SGD step
/// assert_eq!(w.value().to_vec::<f64>(), vec![0.0, 0.0]);
/// ```
#[derive(Clone)]
pub struct Param(Arc<Inner>);

impl Param {
    /// A new parameter that requires grad.
    pub fn new(value: Tensor) -> Param {
        let id = ParamId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        Param(Arc::new(Inner { id, value: RwLock::new(value), requires_grad: AtomicBool::new(true) }))
    }

    pub fn id(&self) -> ParamId {
        self.0.id
    }

    /// The current value (a cheap shared clone).
    pub fn value(&self) -> Tensor {
        self.0.value.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value with one of the same shape and dtype; anything else is
    /// [`AutogradError::ParamMismatch`] and the value is unchanged.
    pub fn try_set(&self, value: Tensor) -> Result<()> {
        let mut current = self.0.value.write().unwrap_or_else(|e| e.into_inner());
        if value.shape() != current.shape() || value.dtype() != current.dtype() {
            return Err(AutogradError::ParamMismatch {
                id: self.0.id.0,
                expected: current.shape().to_vec(),
                expected_dtype: current.dtype(),
                got: value.shape().to_vec(),
                got_dtype: value.dtype(),
            });
        }
        *current = value;
        Ok(())
    }

    /// Replaces the value with one of the same shape and dtype.
    ///
    /// # Panics
    /// As [`try_set`](Self::try_set) errors; [`replace`](Self::replace) changes the shape.
    #[track_caller]
    pub fn set(&self, value: Tensor) {
        crate::error::ok(self.try_set(value))
    }

    /// Replaces the value, whatever its shape or dtype (a recorded
    /// [`Function`](crate::Function) that reads the parameter then refuses to run).
    pub fn replace(&self, value: Tensor) {
        *self.0.value.write().unwrap_or_else(|e| e.into_inner()) = value;
    }

    /// Updates the value through `&mut Tensor`. Writing with [`Tensor::try_as_mut_slice`] is in
    /// place exactly when [`is_exclusive`](Self::is_exclusive) holds; otherwise the buffer is
    /// copied first (copy-on-write), so a `Var` or `Tensor` that still shares the old value
    /// (a tape's saved inputs before `backward` released them, a clone the caller kept) never
    /// sees the write.
    pub fn update<R>(&self, f: impl FnOnce(&mut Tensor) -> R) -> R {
        f(&mut self.0.value.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether an [`update`](Self::update) would write in place: no other handle shares the
    /// value's buffer. After `backward` has released the tape's saved tensors and the step's
    /// `Var`s are dropped, it holds.
    pub fn is_exclusive(&self) -> bool {
        self.0.value.read().unwrap_or_else(|e| e.into_inner()).is_exclusive()
    }

    /// Reads the value in place (no reference-count traffic), e.g. its shape or dtype.
    pub fn read<R>(&self, f: impl FnOnce(&Tensor) -> R) -> R {
        f(&self.0.value.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Freezes (`false`) or unfreezes the parameter: a frozen one enters tapes as a constant.
    pub fn set_requires_grad(&self, on: bool) {
        self.0.requires_grad.store(on, Ordering::Relaxed);
    }

    pub fn shape(&self) -> Vec<usize> {
        self.value().shape().to_vec()
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param(id {}, {:?})", self.0.id.0, self.value())
    }
}
