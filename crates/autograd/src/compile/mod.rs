//! Compilation: trace a function of `Var`s once per input signature, optimise the recorded
//! program, and replay it on every later call without running the user's Rust code again.
//!
//! [`compile`] wraps a closure. Its first [`run`](Compiled::run) on inputs of some shapes and
//! dtypes traces the closure on a fresh tape (inputs become placeholders), optionally adds the
//! gradients of the first output with respect to every parameter the trace read
//! ([`with_grads`](Compiled::with_grads), recorded with `create_graph` so the backward pass is
//! part of the program), cuts the program out with [`Tape::function`], and runs the passes:
//!
//! 1. [`fold`]: constant folding of everything computable from constants alone;
//! 2. [`simplify`]: algebraic identities that are exact bit for bit;
//! 3. [`cse`]: common-subexpression elimination;
//! 4. [`fuse`]: elementwise fusion (chains and trees of elementwise ops become one pass; off
//!    with [`without_fusion`](Compiled::without_fusion));
//! 5. dead-node elimination after each of them ([`rewrite::remove_dead`]).
//!
//! The plan is cached under the input signature (the guard): a call with other shapes (the
//! last, shorter batch) traces and caches a second plan; [`plans`](Compiled::plans) says how
//! many there are. With gradients, freezing or unfreezing a parameter the program reads traces
//! its plan again. No pass reorders floating-point operations, so a compiled run gives the
//! eager results bit for bit.
//!
//! Each plan has a static memory plan ([`exec`]): its elementwise nodes and matrix products
//! write into buffers kept between runs, shared by values that are never alive at once. The
//! other nodes take their buffers and tensor headers from the plan's [`Arena`], into which the
//! previous run released them. With [`run_into`](Compiled::run_into), which refills the caller's [`Step`], a replayed
//! step of the built-in ops allocates nothing (tested where the CPU has AVX2 and FMA).
//!
//! ```
//! use autograd::{compile, Param, Var};
//! use tensor::{DType, Tensor};
//! let w = Param::new(Tensor::from_vec(vec![0.5f64, -0.5], &[2, 1]));
//! let mut step = compile(|xs: &[Var]| {
//!     let pred = xs[0].matmul(&xs[0].tape().param(&w));
//!     Ok((pred - &xs[1]).square().mean_all())
//! })
//! .with_grads();
//! for _ in 0..3 {
//!     let (x, y) = (Tensor::ones(&[4, 2], DType::F64), Tensor::zeros(&[4, 1], DType::F64));
//!     let out = step.run(&[x, y]).unwrap();
//!     let g = out.grads.param(&w).unwrap();
//!     w.set(w.value() - g * 0.1); // SGD
//! }
//! assert_eq!(step.plans(), 1);
//! ```

pub(crate) mod cse;
pub(crate) mod exec;
pub(crate) mod fold;
pub(crate) mod fuse;
pub(crate) mod rewrite;
pub(crate) mod simplify;

use std::fmt;

use indexmap::IndexMap;
use tensor::arena::Arena;
use tensor::{DType, Shape, Tensor};

use self::exec::Executor;
use crate::backward::{grad_with, BackwardOptions};
use crate::error::{AutogradError, Result};
use crate::function::Function;
use crate::gradients::Gradients;
use crate::param::{Param, ParamId};
use crate::tape::{NodeId, Tape};
use crate::var::Var;

/// What a compiled closure returns: one output or several.
pub trait Outputs {
    fn into_vars(self) -> Vec<Var>;
}

impl Outputs for Var {
    fn into_vars(self) -> Vec<Var> {
        vec![self]
    }
}

impl Outputs for Vec<Var> {
    fn into_vars(self) -> Vec<Var> {
        self
    }
}

impl Outputs for (Var, Var) {
    fn into_vars(self) -> Vec<Var> {
        vec![self.0, self.1]
    }
}

/// Compiles `f`: traced once per input signature, optimised, and replayed on later calls (see
/// [`Compiled::run`], [`Compiled::with_grads`] and [`Plan`]).
pub fn compile<F, O>(f: F) -> Compiled<F>
where
    F: Fn(&[Var]) -> Result<O>,
    O: Outputs,
{
    Compiled { f, grads: false, input_grads: false, fusion: true, plans: Vec::new() }
}

/// A compiled function: the closure, and one optimised plan per input signature seen.
pub struct Compiled<F> {
    f: F,
    grads: bool,
    input_grads: bool,
    fusion: bool,
    /// Plans by input signature; a program sees a few (the full batch, the last one), so a
    /// list compared against the inputs beats building and hashing a key on every run.
    plans: Vec<(Signature, Plan)>,
}

/// What [`Compiled::run_updating`] calls to update one parameter from its complete gradient.
pub type ParamUpdate<'a, E> = dyn FnMut(ParamId, &Tensor) -> std::result::Result<(), E> + 'a;

/// The shapes and dtypes of a call's inputs: what a plan was traced for.
type Signature = Vec<(Shape, DType)>;

/// One traced, optimised program, and what its outputs are.
pub struct Plan {
    program: Function,
    /// How many of the program's outputs are the closure's (the rest are gradients).
    outputs: usize,
    /// The parameter behind each gradient output, in order.
    params: Vec<ParamId>,
    /// Which inputs have a gradient output (after the parameters'), in order.
    input_grads: Vec<bool>,
    /// With gradients: every parameter the program reads, and whether it required grad when
    /// traced. Freezing or unfreezing one changes which gradients the program must compute, so
    /// the plan is traced again (a guard, as the input signature is).
    grad_flags: Vec<(Param, bool)>,
    report: Vec<PassReport>,
    /// The memory plan and the planned buffers, kept between runs.
    exec: Executor,
    /// The buffers of the values outside the memory plan, recycled between runs.
    arena: Arena,
}

/// What one pass did: its name, how many nodes it changed, and the program's size after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassReport {
    pub pass: &'static str,
    pub changed: usize,
    pub nodes_after: usize,
}

/// A run's results: the closure's outputs, the parameters' gradients when the function was
/// compiled [`with_grads`](Compiled::with_grads) (empty otherwise), and the inputs' gradients
/// when it was compiled [`with_input_grads`](Compiled::with_input_grads) (one per input: `None`
/// for an integer input, one the loss does not depend on, or without that option).
#[derive(Debug, Default)]
pub struct Step {
    pub outputs: Vec<Tensor>,
    pub grads: Gradients,
    pub input_grads: Vec<Option<Tensor>>,
}

impl<F, O> Compiled<F>
where
    F: Fn(&[Var]) -> Result<O>,
    O: Outputs,
{
    /// Adds to each run the gradients of the first output (a scalar loss) with respect to
    /// every parameter the closure reads, as one program with the forward pass.
    pub fn with_grads(mut self) -> Self {
        self.grads = true;
        self.plans.clear();
        self
    }

    /// Adds to each run the gradients of the first output with respect to the (float) inputs,
    /// as `jax.grad` with respect to its arguments: the inputs are traced as leaves that
    /// require grad instead of placeholders.
    pub fn with_input_grads(mut self) -> Self {
        self.input_grads = true;
        self.plans.clear();
        self
    }

    /// Leaves out elementwise fusion (on by default), so that each elementwise op stays a node
    /// of its own: to compare, or to read a plan op by op. Results are the same bit for bit
    /// either way.
    pub fn without_fusion(mut self) -> Self {
        self.fusion = false;
        self.plans.clear();
        self
    }

    /// Runs the plan for these inputs' shapes and dtypes, tracing and optimising one first if
    /// this signature is new.
    pub fn run(&mut self, inputs: &[Tensor]) -> Result<Step> {
        let mut step = Step::default();
        self.run_into(inputs, &mut step)?;
        Ok(step)
    }

    /// [`run`](Self::run), into the [`Step`] of an earlier run. That step's tensors are let go
    /// of first, so the plan writes this run's values into the same buffers, and its vectors
    /// and gradient map are refilled in place: after the first run, a replayed step allocates
    /// nothing as long as its kernels take their buffers from the plan (matrixmultiply, the
    /// fallback GEMM off AVX2 and FMA, allocates its packing buffers; so may custom ops).
    ///
    /// ```
    /// use autograd::{compile, Step, Var};
    /// use tensor::{DType, Tensor};
    /// let mut f = compile(|xs: &[Var]| Ok((&xs[0] * &xs[0]).tanh()));
    /// let mut out = Step::default();
    /// for k in 0..3 {
    ///     f.run_into(&[Tensor::full(&[4], k as f64, DType::F32)], &mut out).unwrap();
    ///     assert_eq!(out.outputs[0].to_vec::<f32>(), vec![((k * k) as f32).tanh(); 4]);
    /// }
    /// ```
    pub fn run_into(&mut self, inputs: &[Tensor], step: &mut Step) -> Result<()> {
        self.run_plan::<AutogradError>(inputs, step, None)
    }

    /// [`run_into`](Self::run_into), updating each parameter during the run: `update(param,
    /// grad)` is called once per parameter with a gradient, as soon as the gradient is complete
    /// and the program has read the parameter's value for the last time, so the update reads a
    /// gradient still in cache and writes in place. The parameters end as after
    /// [`run_into`](Self::run_into) and then the same update, bit for bit. An optimizer's
    /// `with_optimizer` (in `optim`) is built on it.
    ///
    /// Needs [`with_grads`](Self::with_grads). An error from `update` stops the run; parameters
    /// updated before it stay updated, so an optimizer checks its hyperparameters before the run.
    ///
    /// ```
    /// use autograd::{compile, AutogradError, Param, Step, Var};
    /// use tensor::{DType, Tensor};
    /// let w = Param::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    /// let mut f = compile(|xs: &[Var]| Ok((&xs[0] * &xs[0].tape().param(&w)).square().sum_all())).with_grads();
    /// let mut step = Step::default();
    /// let mut sgd = |_, g: &Tensor| -> Result<(), AutogradError> {
    ///     w.try_set(w.value().try_sub(&(g * 0.25))?)
    /// };
    /// f.run_updating(&[Tensor::ones(&[2], DType::F64)], &mut step, &mut sgd).unwrap();
    /// assert_eq!(w.value().to_vec::<f64>(), vec![0.5, 1.0]); // w - 0.25 * 2w
    /// ```
    pub fn run_updating<E: From<AutogradError>>(
        &mut self,
        inputs: &[Tensor],
        step: &mut Step,
        update: &mut ParamUpdate<'_, E>,
    ) -> std::result::Result<(), E> {
        if !self.grads {
            return Err(E::from(AutogradError::Invalid {
                op: "compile",
                msg: "run_updating needs the parameters' gradients: compile with with_grads()".into(),
            }));
        }
        self.run_plan(inputs, step, Some(update))
    }

    fn run_plan<E: From<AutogradError>>(
        &mut self,
        inputs: &[Tensor],
        step: &mut Step,
        update: Option<&mut ParamUpdate<'_, E>>,
    ) -> std::result::Result<(), E> {
        let index = match self.find(inputs) {
            Some(i) if self.plans[i].1.grad_flags.iter().any(|(p, traced)| p.requires_grad() != *traced) => {
                self.plans[i].1 = self.trace(inputs)?;
                i
            }
            Some(i) => i,
            None => {
                let plan = self.trace(inputs)?;
                let signature = inputs.iter().map(|t| (Shape::from_slice(t.shape()), t.dtype())).collect();
                self.plans.push((signature, plan));
                self.plans.len() - 1
            }
        };
        let plan = &mut self.plans[index].1;
        let (exec, program, arena) = (&mut plan.exec, &plan.program, &mut plan.arena);
        let (outputs, params, input_grads) = (plan.outputs, &plan.params, &plan.input_grads);
        let mut by_index = update.map(|update| move |k: usize, g: &Tensor| update(params[k], g));
        // Inside the arena: the last step's buffers go back to it, and the copies made below
        // come out of it.
        arena.enter(|| {
            step.clear();
            exec.run(program, inputs, &mut step.outputs, by_index.as_mut().map(|u| u as exec::Update<'_, E>))?;
            let mut rest = step.outputs.drain(outputs..);
            for (id, g) in params.iter().zip(rest.by_ref()) {
                // Row-major, as eager backward hands them out (a weight's gradient may be a
                // transposed view in the program).
                step.grads.set_param(*id, g.try_contiguous().map_err(AutogradError::from)?);
            }
            step.input_grads.resize(inputs.len(), None);
            for (slot, &has) in step.input_grads.iter_mut().zip(input_grads) {
                if has {
                    *slot = rest.next().map(|g| g.try_contiguous()).transpose().map_err(AutogradError::from)?;
                }
            }
            Ok(())
        })
    }

    /// Number of plans traced so far (one per input signature).
    pub fn plans(&self) -> usize {
        self.plans.len()
    }

    /// The plan for inputs of these shapes and dtypes, if one was traced.
    pub fn plan(&self, inputs: &[Tensor]) -> Option<&Plan> {
        self.find(inputs).map(|i| &self.plans[i].1)
    }

    /// The plan traced for inputs of these shapes and dtypes.
    fn find(&self, inputs: &[Tensor]) -> Option<usize> {
        self.plans.iter().position(|(signature, _)| {
            signature.len() == inputs.len()
                && signature
                    .iter()
                    .zip(inputs)
                    .all(|((shape, dtype), t)| t.shape() == shape.as_slice() && t.dtype() == *dtype)
        })
    }

    fn trace(&self, inputs: &[Tensor]) -> Result<Plan> {
        // Recording is on while tracing, also when the first run happens under `no_grad`
        // (an evaluation loop): otherwise the outputs would be constants of the first batch.
        crate::tape::with_recording(|| {
            let tape = Tape::new();
            let differentiable = |t: &Tensor| self.input_grads && t.dtype().is_float();
            let args: Vec<Var> = inputs
                .iter()
                .map(|t| if differentiable(t) { tape.var(t.clone()) } else { tape.input(t.clone()) })
                .collect();
            let mut outputs = (self.f)(&args)?.into_vars();
            let returned = outputs.len();
            let mut params = Vec::new();
            let mut grad_flags = Vec::new();
            if self.grads {
                grad_flags = tape.params_read().into_iter().map(|(_, p)| (p.clone(), p.requires_grad())).collect();
                let (ids, grads) = param_grads(&tape, outputs.first())?;
                params = ids;
                outputs.extend(grads);
            }
            let mut input_grads = vec![false; args.len()];
            if self.input_grads {
                let leaves: Vec<(usize, Var)> =
                    args.iter().cloned().enumerate().filter(|(k, _)| differentiable(&inputs[*k])).collect();
                let loss = first_output(outputs.first())?;
                if loss.requires_grad() && !leaves.is_empty() {
                    let vars: Vec<Var> = leaves.iter().map(|(_, v)| v.clone()).collect();
                    let opts = BackwardOptions { retain_graph: true, create_graph: true };
                    let grads = grad_with(std::slice::from_ref(loss), None, &vars, opts)?;
                    for ((k, _), g) in leaves.iter().zip(grads) {
                        if let Some(g) = g {
                            input_grads[*k] = true;
                            outputs.push(g);
                        }
                    }
                }
            }
            let program = tape.function(&args, &outputs)?;
            let (program, report) = optimize(program, self.fusion)?;
            let exec = Executor::new(&program, returned, &params);
            Ok(Plan { program, outputs: returned, params, input_grads, grad_flags, report, exec, arena: Arena::new() })
        })
    }
}

/// The gradient of `loss` with respect to every parameter read on `tape` that requires grad
/// (summed over the places it was read), recorded as part of the graph.
fn param_grads(tape: &Tape, loss: Option<&Var>) -> Result<(Vec<ParamId>, Vec<Var>)> {
    let loss = first_output(loss)?;
    let mut leaves: IndexMap<ParamId, Vec<Var>> = IndexMap::new();
    let reads: Vec<(usize, Param)> = tape.params_read();
    for (node, p) in reads {
        if p.requires_grad() && p.value().dtype().is_float() {
            leaves.entry(p.id()).or_default().push(tape.var_of(NodeId(node as u32), p.value()));
        }
    }
    let flat: Vec<Var> = leaves.values().flatten().cloned().collect();
    if flat.is_empty() || !loss.requires_grad() {
        return Ok((Vec::new(), Vec::new())); // nothing trainable reaches the loss
    }
    let opts = BackwardOptions { retain_graph: true, create_graph: true };
    let grads = grad_with(std::slice::from_ref(loss), None, &flat, opts)?;
    let mut grads = grads.into_iter();
    let (mut ids, mut sums) = (Vec::new(), Vec::new());
    for (id, reads) in &leaves {
        // Summed last read first, as the eager backward pass accumulates them (it visits
        // nodes in reverse), so a parameter read several times rounds the same way.
        let of_this: Vec<Var> = grads.by_ref().take(reads.len()).flatten().collect();
        let mut total: Option<Var> = None;
        for g in of_this.into_iter().rev() {
            total = Some(match total {
                Some(t) => t.try_add(&g)?,
                None => g,
            });
        }
        if let Some(t) = total {
            ids.push(*id);
            sums.push(t);
        }
    }
    Ok((ids, sums))
}

/// The loss gradients are taken of: the closure's first output.
fn first_output(loss: Option<&Var>) -> Result<&Var> {
    loss.ok_or_else(|| AutogradError::Invalid {
        op: "compile",
        msg: "gradients need the closure to return a loss as its first output".into(),
    })
}

/// Runs the passes in order, each followed by dead-node elimination.
pub(crate) fn optimize(mut program: Function, fusion: bool) -> Result<(Function, Vec<PassReport>)> {
    let mut report = Vec::new();
    let changed = rewrite::remove_dead(&mut program);
    report.push(PassReport { pass: "dead-node elimination", changed, nodes_after: program.len() });
    let changed = fold::run(&mut program)?;
    report.push(PassReport { pass: "constant folding", changed, nodes_after: program.len() });
    let changed = simplify::run(&mut program);
    report.push(PassReport { pass: "algebraic simplification", changed, nodes_after: program.len() });
    let changed = cse::run(&mut program);
    report.push(PassReport { pass: "common subexpressions", changed, nodes_after: program.len() });
    if fusion {
        let changed = fuse::run(&mut program);
        report.push(PassReport { pass: "elementwise fusion", changed, nodes_after: program.len() });
    }
    let changed = fold::materialize(&mut program)?;
    report.push(PassReport { pass: "constants stored row-major", changed, nodes_after: program.len() });
    Ok((program, report))
}

impl Step {
    /// Lets go of the tensors, keeping the capacity of the vectors and of the map.
    pub fn clear(&mut self) {
        self.outputs.clear();
        self.grads.clear();
        self.input_grads.clear();
    }
}

impl Plan {
    /// Bytes held between runs by the buffers of the memory plan.
    pub fn planned_bytes(&self) -> usize {
        self.exec.planned_bytes()
    }

    /// How many buffers the memory plan has, and how many nodes write into them (several
    /// nodes share a buffer when their values are never alive at once).
    pub fn planned_buffers(&self) -> (usize, usize) {
        self.exec.planned_buffers()
    }

    /// How many transposes the executor reads in place inside the products that take them,
    /// and how many of those it then never computes (nothing else reads them).
    pub fn folded_transposes(&self) -> (usize, usize) {
        self.exec.folded_transposes()
    }

    /// The optimised program (it prints like a tape's listing).
    pub fn program(&self) -> &Function {
        &self.program
    }

    /// What each pass did.
    pub fn report(&self) -> &[PassReport] {
        &self.report
    }

    /// How many nodes of the program are of each op (by printed name), for tests and tuning.
    pub fn count(&self, name: &str) -> usize {
        self.program.nodes.iter().filter(|n| n.op.name() == name).count()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.report {
            writeln!(f, "# {}: {} changed, {} nodes", r.pass, r.changed, r.nodes_after)?;
        }
        fmt::Display::fmt(&self.program, f)
    }
}
