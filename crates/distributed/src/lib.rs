//! Data-parallel training: every rank holds the model, trains on its own share of each batch,
//! and the gradients are averaged over the ranks before each optimizer step (PyTorch's
//! `DistributedDataParallel`, Horovod).
//!
//! The transport is MPI (feature `mpi`; Debian: `apt-get install openmpi-bin libopenmpi-dev
//! libclang-dev`), started by `mpirun`. Without the feature, [`init`] gives a world of one
//! process, and [`threads`] a world of threads in one process, so the same code runs and is
//! tested without MPI.
//!
//! A training step:
//!
//! ```
//! use autograd::Tape;
//! use nn::{Linear, Module};
//! use tensor::{DType, Rng, Tensor};
//!
//! let world = distributed::init().unwrap(); // under `mpirun -np N`: N ranks
//! let model = Linear::new(3, 1, &mut Rng::seed(world.rank() as u64));
//! world.broadcast_module(&model).unwrap(); // every rank starts from rank 0's weights
//! let mut averager = distributed::GradientAverager::new(model.named_parameters()).unwrap();
//!
//! let tape = Tape::new();
//! let x = Tensor::ones(&[4, 3], DType::F32); // this rank's share of the batch
//! let loss = model.forward(&tape.constant(x)).unwrap().sum_all();
//! let mut grads = loss.backward().unwrap();
//! averager.average(&world, &mut grads).unwrap(); // the mean over ranks, same bits on every rank
//! // optimizer.step(&grads) ...
//! world.check_same_parameters(model.named_parameters()).unwrap();
//! ```
//!
//! Exactness: sums over ranks are added in rank order, never in the order messages arrive, so
//! repeated runs are bit-identical and every rank holds the same parameters after every step.

mod average;
mod error;
#[cfg(feature = "mpi")]
mod mpi;
mod params;
mod threads;
mod transport;
mod world;

pub use average::{GradientAverager, DEFAULT_BUCKET_BYTES};
pub use error::{DistError, Result};
#[cfg(feature = "mpi")]
pub use mpi::PANIC_ABORT_CODE;
pub use params::module_tensors;
pub use threads::threads;
pub use transport::{bytes_of, bytes_of_mut, Alone, Plain, Transport};
pub use world::{init, init_with_timeout, World, DEFAULT_TIMEOUT};
