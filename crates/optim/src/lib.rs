//! Optimizers with torch.optim's semantics, defaults and numbers, consuming the gradients
//! `autograd` computes.
//!
//! - [`Optimizer`] is what a training loop calls: `step(&grads)`, and each param group's `lr`.
//! - [`Optim<A>`] is the driver for an [`Algorithm`] `A`: param groups with their own
//!   hyperparameters, per-parameter state created at a parameter's first step, parameters
//!   without a gradient skipped (their state does not advance), and every check made before
//!   anything changes, so a failed step changes nothing.
//! - Algorithms: [`Sgd`] (plain, momentum, Nesterov), [`Adam`] (with AMSGrad; [`Adam::adamw`]
//!   for AdamW), [`RmsProp`], [`Adagrad`], [`Adadelta`], [`Adamax`], [`NAdam`], [`RAdam`],
//!   [`Lion`]; [`Lbfgs`] (with or without a strong-Wolfe line search) takes a closure that
//!   re-evaluates the loss. The hyperparameters are the value itself, with
//!   torch.optim's names and `Default` = torch's defaults, so a recipe ports by renaming:
//!   `torch.optim.Adam(params, lr=3e-4)` is `Optim::new(params, Adam { lr: 3e-4, ..Adam::default() })`.
//! - Each update is one fused pass per tensor ([`tensor::lanes::zip_lanes`]: read the
//!   parameter, its gradient and state once, write once), with scalars (bias corrections,
//!   step sizes) computed in f64 and rounded once, as torch does.
//! - [`clip_grad_norm`] and [`clip_grad_value`] transform gradients in place before a step.
//! - [`WithOptimizer::with_optimizer`] joins the update to a training step compiled by
//!   [`autograd::compile`]: each parameter is updated during the replay, as its gradient
//!   completes.
//!
//! ```
//! use autograd::{Param, Tape};
//! use optim::{clip_grad_norm, Adam, Optim, Optimizer, Sgd};
//! use tensor::{DType, Tensor};
//!
//! let w = Param::new(Tensor::ones(&[3, 2], DType::F32));
//! let b = Param::new(Tensor::zeros(&[2], DType::F32));
//! // No weight decay on the bias: two param groups.
//! let mut opt = Optim::new([w.clone()], Adam { lr: 1e-2, weight_decay: 1e-4, ..Adam::default() }).unwrap();
//! opt.add_param_group([b.clone()], Adam { lr: 1e-2, ..Adam::default() }).unwrap();
//! let tape = Tape::new();
//! let x = tape.constant(Tensor::ones(&[4, 3], DType::F32));
//! let loss = (x.matmul(&tape.param(&w)) + tape.param(&b)).square().mean_all();
//! let mut grads = loss.backward().unwrap();
//! let norm = clip_grad_norm(&mut grads, 1.0, 2.0, false).unwrap();
//! opt.step(&grads).unwrap();
//! assert!(norm > 1.0 && w.value().to_vec::<f32>()[0] < 1.0);
//! ```

// Update rules read as the papers write them, `θ ← θ - lr·g`, not `θ -= ...`.
#![allow(clippy::assign_op_pattern)]

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
pub mod checkpoint;
mod clip;
mod compiled;
mod error;
mod lbfgs;
mod lion;
mod nadam;
mod optimizer;
mod radam;
mod rmsprop;
mod scheduler;
mod sgd;

pub use adadelta::{Adadelta, AdadeltaState};
pub use adagrad::{Adagrad, AdagradState};
pub use adam::{Adam, AdamState};
pub use adamax::{Adamax, AdamaxState};
pub use checkpoint::Checkpoint;
pub use clip::{clip_grad_norm, clip_grad_value};
pub use compiled::{TrainStep, WithOptimizer};
pub use error::{OptimError, Result};
pub use lbfgs::{Closure, Lbfgs, LbfgsConfig};
pub use lion::{Lion, LionState};
pub use nadam::{NAdam, NAdamState};
pub use optimizer::{Algorithm, Optim, Optimizer, ParamGroup};
pub use radam::{RAdam, RAdamState};
pub use rmsprop::{RmsProp, RmsPropState};
pub use scheduler::{
    ChainedScheduler, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts, CyclicLr, CyclicMode, ExponentialLr,
    LambdaLr, LinearLr, LrLambda, LrScheduler, MultiStepLr, MultiplicativeLr, OneCycleLr, PlateauMode,
    PlateauScheduler, PolynomialLr, ReduceLrOnPlateau, Schedule, Scheduler, SequentialLr, StepLr, ThresholdMode,
};
pub use sgd::{Sgd, SgdState};
