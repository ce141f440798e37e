//! Errors of the data-parallel helpers.

use thiserror::Error;

/// What went wrong across processes. When one rank's part of a collective call fails, every rank
/// returns an error (the failing rank its own, the others [`DistError::RankFailed`] naming it),
/// so that all of them stop together instead of some waiting for the others forever.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DistError {
    /// `init` was called twice in one process (MPI can be started once).
    #[error("distributed::init: MPI is already initialised in this process")]
    AlreadyInitialised,

    /// The ranks hold different parameter lists: the first difference, as rank 0 and the
    /// differing rank see it.
    #[error("{op}: rank {rank} differs from rank 0 at parameter {index}: rank 0 has {root}, rank {rank} has {theirs}")]
    ParameterMismatch { op: &'static str, rank: usize, index: usize, root: String, theirs: String },

    /// Parameters that should be identical on every rank are not.
    #[error("{op}: rank {rank}'s parameters differ from rank 0's (hash {theirs:016x}, rank 0 {root:016x})")]
    Diverged { op: &'static str, rank: usize, root: u64, theirs: u64 },

    /// Only floating-point gradients can be averaged.
    #[error("{op}: parameter {index} ({name}) has a {dtype} gradient; only f32 and f64 gradients can be averaged")]
    UnsupportedDType { op: &'static str, index: usize, name: String, dtype: String },

    /// A gradient whose shape is not its parameter's.
    #[error("{op}: parameter {index} has shape {param:?} but its gradient has shape {grad:?}")]
    GradientShape { op: &'static str, index: usize, param: Vec<usize>, grad: Vec<usize> },

    /// A parameter whose size or dtype changed since the averager was made.
    #[error("{op}: parameter {index} was {was} when the averager was made and is {now} now")]
    ParameterChanged { op: &'static str, index: usize, was: String, now: String },

    /// A gradient whose dtype is not its parameter's.
    #[error("{op}: parameter {index} is {param} but its gradient is {grad}")]
    GradientDType { op: &'static str, index: usize, param: String, grad: String },

    /// A weight for a weighted average that is negative, infinite, NaN, or outside the range of
    /// the gradients' dtype.
    #[error("{op}: the weight must be finite, at least 0 and representable in f32, not {weight}")]
    BadWeight { op: &'static str, weight: f64 },

    /// The ranks' weights add up to 0, so there is nothing to average.
    #[error("{op}: the weights of all ranks add up to 0")]
    ZeroTotalWeight { op: &'static str },

    /// Another rank stopped (it panicked or returned) while this one waited for it in a
    /// collective call.
    #[error("{op}: rank {rank} stopped while the others waited for it")]
    PeerStopped { op: &'static str, rank: usize },

    /// A collective call did not finish in time: a rank is stuck or gone.
    #[error("{op}: rank {rank} waited more than {seconds} s for the other ranks")]
    Timeout { op: &'static str, rank: usize, seconds: f64 },

    /// The root's part of [`World::on_root`](crate::World::on_root) failed; every rank gets
    /// its message.
    #[error("{op}: rank 0 failed: {msg}")]
    RootFailed { op: &'static str, msg: String },

    /// Another rank's part of the call failed (its own error says why).
    #[error("{op}: rank {rank} failed: {msg}")]
    RankFailed { op: &'static str, rank: usize, msg: String },

    /// A message too large for the transport (MPI counts are 32-bit).
    #[error("{op}: {bytes} bytes in one message; the limit is {limit}")]
    TooLarge { op: &'static str, bytes: usize, limit: usize },

    /// A message did not have the expected size (ranks called different collectives).
    #[error("{op}: expected {expected} bytes from rank {rank}, got {got} (do all ranks make the same calls?)")]
    Protocol { op: &'static str, rank: usize, expected: usize, got: usize },
}

pub type Result<T> = std::result::Result<T, DistError>;
