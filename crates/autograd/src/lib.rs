//! Reverse-mode automatic differentiation on a tape that is an explicit graph IR.
//!
//! - A [`Tape`] is a Wengert list of [`Node`]s in recording order, which is topological: the
//!   backward pass is one reverse loop, no graph search. Each node holds its primitive [`Op`]
//!   as data, its input ids, its output shape and dtype, and only the tensors its rule reads.
//! - The tape is a program, not a log: every op computes its value with [`Op::eval`], the one
//!   forward that eager `Var` ops and replay share. [`Tape::function`] cuts the program that
//!   computes some outputs from some placeholders ([`Tape::input`]) out of the tape, and
//!   [`Function::run`] runs it on new data without the model's Rust code: with
//!   `grad(.., create_graph = true)` that program is a whole training step, forward and
//!   backward.
//! - [`Var`] is the handle; every differentiable op of `tensor` has a `Var` counterpart.
//!   [`Param`]s live outside tapes with stable ids; `backward` returns [`Gradients`] keyed by
//!   them.
//! - Backward rules are written with `Var` ops, so with `create_graph` the backward pass records
//!   onto the tape and can be differentiated again ([`grad`], [`hvp`], [`hessian`]).
//!
//! Design notes:
//! - Recording is separate from requiring a gradient. Everything computed from a recorded value
//!   is recorded: comparisons, casts, `argmax`, one-hot, `stop_gradient` (what `detach` records),
//!   dropout's mask (its seed an input), and the masks that backward rules build; such nodes take
//!   no gradient. Values that depend on no recorded value (constants) are plain `Var`s with no
//!   node; they join the graph as `const` nodes, with their values, only where a recorded op
//!   consumes them, so `no_grad` code and the non-recorded backward pass touch the tape not at
//!   all.
//! - A `Var` remembers its tape's generation: after [`Tape::clear`] it is stale, and using it
//!   is [`AutogradError::StaleVar`], never an alias of a new node.
//! - Each node keeps only the values its rule reads (`Op::saves`); the sweep drops them as it
//!   passes, so memory after `backward` is back to the parameters.
//! - Without `create_graph`, rules run the same `Var` code on untracked values: one rule per op
//!   serves first order and higher order.
//! - Op families are declared by one table each ([`UnaryOp`], [`ScalarOp`], [`BinaryOp`],
//!   [`CompareOp`], [`ReduceOp`], in `ops/<family>.rs`): a line names the kernel, the printed
//!   name, the `Var` methods, the values the rule reads and the rule. A new elementwise op is
//!   its kernel in `tensor`, one table line, its rule beside the table, and one line in the
//!   gradcheck table.
//!
//! ```
//! use autograd::Tape;
//! use tensor::{DType, Tensor};
//! let tape = Tape::new();
//! let a = tape.var(Tensor::ones(&[4], DType::F32));
//! let b = tape.var(Tensor::full(&[4], 2.0, DType::F32));
//! let c = tape.var(Tensor::zeros(&[4], DType::F32));
//! let y = (&a * &b + &c).tanh().sum(&[0], false);
//! assert_eq!(tape.to_string(), "\
//! { lambda a:f32[4] b:f32[4] c:f32[4]. let
//!     d:f32[4] = mul a b
//!     e:f32[4] = add d c
//!     f:f32[4] = tanh e
//!     g:f32[] = sum[axes=(0,)] f
//!   in (g) }");
//! let grads = y.backward().unwrap();
//! assert_eq!(grads.get(&c).unwrap().shape(), &[4]);
//! ```

mod macros;

mod anomaly;
mod backward;
mod compile;
mod custom;
mod error;
mod eval;
mod function;
mod functional;
mod gradcheck;
mod gradients;
mod op;
mod ops;
mod param;
mod print;
mod tape;
mod var;

pub use backward::{grad, grad_with, BackwardOptions};
pub use compile::{compile, Compiled, Outputs, ParamUpdate, PassReport, Plan, Step};
pub use custom::CustomOp;
pub use error::{AutogradError, Result};
pub use function::Function;
pub use functional::{hessian, hessian_many, hvp, hvp_many, jacobian};
pub use gradcheck::{gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport, Mismatch};
pub use gradients::Gradients;
pub use op::{Axes, BinaryOp, CompareOp, Op, ReduceOp, ScalarOp, UnaryOp};
pub use param::{IdHasher, Param, ParamId, ParamMap};
pub use tape::{is_grad_enabled, no_grad, Node, NodeId, Tape};
pub use var::{AsVar, Var};
