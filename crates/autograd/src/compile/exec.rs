//! The executor of a compiled plan: a static memory plan, and the kernels that write into it.
//!
//! When a plan is built, every elementwise node of a float dtype (an unfused op, or a `fused`
//! group) and every product of two float matrices gets a buffer of its own: a *slot*. Slots
//! are assigned from the values' lifetimes, as a register allocator assigns registers: a node
//! takes the slot of an earlier value of the same shape and dtype that is dead by then (read
//! for the last time, by itself and by any view of it), or a new one. Slots live in the
//! executor from one run to the next, so after the first run those nodes neither allocate nor
//! build tensor headers: their kernels ([`Tensor::try_fused_into`],
//! [`Tensor::try_matmul_t_into`]) write straight into last run's buffer.
//!
//! A product reads a transposed operand in place, with swapped strides, instead of the
//! transpose's view; a transpose only products read is not computed at all.
//!
//! The other nodes (batched products, reductions, views...) are evaluated by [`Op::eval`] as
//! in eager mode, their buffers recycled by the plan's arena; their values, and those of
//! arguments, parameters and constants, are let go of where they are read for the last time,
//! so that a parameter's buffer is the parameter's alone again once a run is over.
//!
//! A training step compiled with its optimizer updates each parameter during the run, at the
//! first point where its gradient is complete and its old value has been read for the last time
//! (directly or through a view): the gradient is still in cache, and the parameter's buffer is
//! its own again, so the update writes in place. The values are those of an update after the
//! run, bit for bit, since nothing reads the parameter after that point.
//!
//! Correctness never rests on the plan: a kernel writes into a slot only when the slot's
//! tensor is [exclusive](Tensor::is_exclusive) at that moment. A value the caller still holds
//! (an output of the last run), or one a view still reads, is left alone and the node gets a
//! fresh buffer instead, which then becomes the slot's.

use std::sync::Arc;

use smallvec::SmallVec;
use tensor::ops::fused::{DirectKernel, ElementwiseProgram, Instr, ProgramKernel, MAX_INPUTS};
use tensor::ops::reduce::{ReduceKernel, Reduction};
use tensor::{DType, Shape, Tensor};

use super::fuse::{kind, Kind};
use crate::error::{AutogradError, Result};
use crate::function::Function;
use crate::op::{Op, ReduceOp};
use crate::param::ParamId;
use crate::tape::NodeId;

/// How one node's value is produced.
enum Produce {
    /// The run's argument of this index.
    Arg(usize),
    /// The parameter's current value.
    Param,
    /// The recorded constant.
    Const,
    /// An elementwise program, written into the node's slot.
    Elementwise(Arc<ElementwiseProgram>),
    /// A one-instruction program prepared for the node's shapes, written into the node's slot
    /// (the program: for a run where the kernel does not apply, see [`DirectKernel::run`]).
    Direct(Box<DirectKernel>, Arc<ElementwiseProgram>),
    /// A program of several instructions prepared for the node's shapes, written into the
    /// node's slot (the program: for a run where the kernel does not apply, see
    /// [`ProgramKernel::run`]).
    Program(Box<ProgramKernel>, Arc<ElementwiseProgram>),
    /// A product of two matrices, written into the node's slot: `op(a) @ op(b)` for the values
    /// of these nodes, `op` transposing where the flag is set (a transpose folded into the
    /// product).
    Matmul { operands: [NodeId; 2], transposed: [bool; 2] },
    /// A reduction prepared for the node's shapes, written into the node's slot (by `Op::eval`
    /// into a new buffer for a run where the kernel does not apply, see [`ReduceKernel::run`]).
    Reduce(Box<ReduceKernel>),
    /// `Op::eval`, into a new buffer.
    Eval,
    /// Not computed: a transpose every reader of which reads it folded into a product.
    Folded,
}

/// A plan's executor: how each node is produced, where its value lives, and the slots.
pub(crate) struct Executor {
    produce: Vec<Produce>,
    /// The slot holding each node's value.
    slot_of: Vec<usize>,
    /// After each node runs, the slots to empty: values that are not planned buffers, read for
    /// the last time there.
    release: Vec<SmallVec<[usize; 2]>>,
    /// Slots below this index are planned buffers, kept between runs; the others hold a value
    /// only during a run.
    planned: usize,
    slots: Vec<Option<Tensor>>,
    /// After each node runs, the parameters to update: indices into the plan's parameters,
    /// whose gradient is output `first_grad + k`.
    update_after: Vec<SmallVec<[usize; 1]>>,
    first_grad: usize,
}

/// What a run calls to update parameter `k` of the plan from its complete gradient.
pub(crate) type Update<'a, E> = &'a mut dyn FnMut(usize, &Tensor) -> std::result::Result<(), E>;

/// The one-instruction program of an elementwise node (`None` for other nodes).
fn single_program(f: &Function, j: usize) -> Option<ElementwiseProgram> {
    let node = &f.nodes[j];
    let (inputs, instr) = match (kind(node)?, node.inputs.len()) {
        (Kind::Unary(u), 1) => (1, Instr::Unary(u, 0)),
        (Kind::Scalar(s, v), 1) => (1, Instr::Scalar(s, v, 0)),
        (Kind::Binary(b), 2) => (2, Instr::Binary(b, 0, 1)),
        _ => return None,
    };
    Some(ElementwiseProgram { inputs, instrs: vec![instr] })
}

impl Executor {
    /// The memory plan of `f` (see the module documentation), whose outputs from `first_grad`
    /// on are the gradients of `params`, in order.
    pub(crate) fn new(f: &Function, first_grad: usize, params: &[ParamId]) -> Executor {
        let n = f.nodes.len();
        let produce: Vec<Produce> = (0..n)
            .map(|j| {
                let node = &f.nodes[j];
                match (&node.op, f.binding[j]) {
                    (_, Some(k)) => Produce::Arg(k),
                    (Op::Param(_), None) => Produce::Param,
                    (op, None) if op.is_leaf() => Produce::Const,
                    (Op::Fused { program }, None) if node.dtype.is_float() => Produce::Elementwise(program.clone()),
                    (Op::Matmul, None)
                        if node.dtype.is_float() && node.inputs.iter().all(|i| f.nodes[i.index()].shape.len() == 2) =>
                    {
                        Produce::Matmul { operands: [node.inputs[0], node.inputs[1]], transposed: [false; 2] }
                    }
                    _ => match single_program(f, j) {
                        Some(p) => Produce::Elementwise(Arc::new(p)),
                        None => Produce::Eval,
                    },
                }
            })
            .collect();
        let produce: Vec<Produce> =
            fold_transposes(f, produce).into_iter().enumerate().map(|(j, p)| prepare(f, j, p)).collect();

        // Where each value is last read, directly or through a view of it (an output: never).
        let mut last = f.last_use.clone();
        for j in (0..n).rev() {
            let aliases = matches!(produce[j], Produce::Eval | Produce::Folded) && f.nodes[j].op.may_alias_input();
            if aliases {
                for id in &f.nodes[j].inputs {
                    last[id.index()] = last[id.index()].max(last[j]);
                }
            }
        }

        // Planned buffers: a node takes the slot of a value of its shape and dtype that died
        // before it, or a new one. A value's slot is free once the node of its last read has
        // run, so a node never writes over its own inputs.
        let mut slot_of = vec![usize::MAX; n];
        let mut free: Vec<((DType, Shape), Vec<usize>)> = Vec::new();
        let mut dies_at: Vec<SmallVec<[usize; 2]>> = vec![SmallVec::new(); n];
        let mut planned = 0;
        for j in 0..n {
            if produce[j].is_planned() {
                let key = (f.nodes[j].dtype, f.nodes[j].shape.clone());
                slot_of[j] = match free.iter_mut().find(|(k, _)| *k == key).and_then(|(_, s)| s.pop()) {
                    Some(s) => s,
                    None => {
                        planned += 1;
                        planned - 1
                    }
                };
                if last[j] != usize::MAX {
                    dies_at[last[j].max(j)].push(j);
                }
            }
            for d in std::mem::take(&mut dies_at[j]) {
                let key = (f.nodes[d].dtype, f.nodes[d].shape.clone());
                match free.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, slots)) => slots.push(slot_of[d]),
                    None => free.push((key, vec![slot_of[d]])),
                }
            }
        }

        // Transient values: a slot each, emptied after their last read (a folded transpose's
        // input is read by the products instead).
        let mut read_last: Vec<usize> = (0..n).collect();
        for (j, p) in produce.iter().enumerate() {
            for id in p.reads(&f.nodes[j]) {
                read_last[id.index()] = j;
            }
        }
        for &o in &f.outputs {
            read_last[o] = usize::MAX;
        }
        let mut release: Vec<SmallVec<[usize; 2]>> = vec![SmallVec::new(); n];
        let mut next = planned;
        for j in 0..n {
            if produce[j].is_planned() {
                continue;
            }
            slot_of[j] = next;
            next += 1;
            if read_last[j] != usize::MAX {
                release[read_last[j].max(j)].push(slot_of[j]);
            }
        }
        let update_after = update_points(f, &last, first_grad, params);
        Executor { produce, slot_of, release, planned, slots: vec![None; next], update_after, first_grad }
    }

    /// Runs `f` (the program this executor was planned for) on `inputs`, whose shapes and
    /// dtypes the caller has checked, and appends its outputs to `outputs`. With `update`, each
    /// parameter is updated from its gradient at its update point.
    pub(crate) fn run<E: From<AutogradError>>(
        &mut self,
        f: &Function,
        inputs: &[Tensor],
        outputs: &mut Vec<Tensor>,
        update: Option<Update<'_, E>>,
    ) -> std::result::Result<(), E> {
        let result = self.compute(f, inputs, update);
        if result.is_ok() {
            outputs.extend(
                f.outputs
                    .iter()
                    .map(|&o| self.slots[self.slot_of[o]].clone().expect("outputs are kept until the run ends")),
            );
        }
        // Arguments, parameters and transient values are not kept between runs (also after an
        // error): only the planned buffers are.
        for s in &mut self.slots[self.planned..] {
            *s = None;
        }
        result
    }

    fn compute<E: From<AutogradError>>(
        &mut self,
        f: &Function,
        inputs: &[Tensor],
        mut update: Option<Update<'_, E>>,
    ) -> std::result::Result<(), E> {
        for j in 0..f.nodes.len() {
            self.produce(f, j, inputs)?;
            for &r in &self.release[j] {
                self.slots[r] = None;
            }
            if let Some(update) = update.as_mut() {
                for &k in &self.update_after[j] {
                    let grad = self.slots[self.slot_of[f.outputs[self.first_grad + k]]].as_ref();
                    update(k, grad.expect("outputs are kept until the run ends"))?;
                }
            }
        }
        Ok(())
    }

    /// Computes node `j`'s value into its slot.
    fn produce(&mut self, f: &Function, j: usize, inputs: &[Tensor]) -> Result<()> {
        let node = &f.nodes[j];
        let s = self.slot_of[j];
        match &mut self.produce[j] {
            Produce::Arg(k) => self.slots[s] = Some(inputs[*k].clone()),
            Produce::Param => self.slots[s] = Some(crate::function::param_value(node)?),
            Produce::Const => self.slots[s] = Some(crate::function::const_value(node)?),
            Produce::Direct(kernel, program) => {
                write_prepared::<2>((&mut self.slots, &self.slot_of), j, &node.inputs, program, |args, out| {
                    kernel.run(args, out)
                })?
            }
            Produce::Program(kernel, program) => write_prepared::<MAX_INPUTS>(
                (&mut self.slots, &self.slot_of),
                j,
                &node.inputs,
                program,
                |args, out| kernel.run(args, out),
            )?,
            Produce::Elementwise(program) => write_planned(
                (&mut self.slots, &self.slot_of),
                j,
                &node.inputs,
                |args, out| Ok(Tensor::try_fused_into(args, program, out)?),
                |args| Ok(Tensor::try_fused(args, program)?),
            )?,
            &mut Produce::Matmul { operands, transposed: [ta, tb] } => write_planned(
                (&mut self.slots, &self.slot_of),
                j,
                &operands,
                |args, out| Ok(args[0].try_matmul_t_into(ta, args[1], tb, out)?),
                |args| {
                    let view =
                        |t: &Tensor, transposed: bool| if transposed { t.try_permute(&[1, 0]) } else { Ok(t.clone()) };
                    Ok(view(args[0], ta)?.try_matmul(&view(args[1], tb)?)?)
                },
            )?,
            Produce::Reduce(kernel) => {
                let mut out = self.slots[s].take();
                let x = node.inputs.first().and_then(|id| self.slots[self.slot_of[id.index()]].as_ref());
                let Some(x) = x else { unreachable!("inputs are computed before their consumers") };
                if !out.as_mut().is_some_and(|t| kernel.run(x, t)) {
                    out = Some(node.op.eval(&[x])?);
                }
                self.slots[s] = out;
            }
            Produce::Eval => {
                let value = node.op.eval(&gather(&self.slots, &self.slot_of, node.inputs.as_slice()))?;
                self.slots[s] = Some(value);
            }
            Produce::Folded => {}
        }
        Ok(())
    }

    /// Bytes held in planned buffers between runs.
    pub(crate) fn planned_bytes(&self) -> usize {
        self.slots[..self.planned].iter().flatten().map(|t| t.numel() * t.dtype().size_in_bytes()).sum()
    }

    /// How many operands of products are transposes read in place, and how many transposes are
    /// not computed.
    pub(crate) fn folded_transposes(&self) -> (usize, usize) {
        let reads = self.produce.iter().map(|p| match p {
            Produce::Matmul { transposed, .. } => transposed.iter().filter(|&&t| t).count(),
            _ => 0,
        });
        (reads.sum(), self.produce.iter().filter(|p| matches!(p, Produce::Folded)).count())
    }

    /// How many planned buffers the plan has, and how many nodes (elementwise, products) share
    /// them.
    pub(crate) fn planned_buffers(&self) -> (usize, usize) {
        let nodes = self.produce.iter().filter(|p| p.is_planned()).count();
        (self.planned, nodes)
    }
}

/// Where each parameter's update runs: after the later of the node computing its gradient and
/// the last read of its value, directly or through a view (`last`). A parameter whose value is
/// an output (or a view of one) is updated at the end, and copied first (copy-on-write), so the
/// output keeps the old value.
fn update_points(f: &Function, last: &[usize], first_grad: usize, params: &[ParamId]) -> Vec<SmallVec<[usize; 1]>> {
    let n = f.nodes.len();
    let mut after: Vec<SmallVec<[usize; 1]>> = vec![SmallVec::new(); n];
    if n == 0 {
        return after;
    }
    for (k, id) in params.iter().enumerate() {
        let mut point = f.outputs[first_grad + k];
        for (j, node) in f.nodes.iter().enumerate() {
            if matches!(&node.op, Op::Param(p) if p.id() == *id) {
                point = point.max(last[j].min(n - 1));
            }
        }
        after[point].push(k);
    }
    after
}

impl Produce {
    /// Whether the node writes into a planned buffer.
    fn is_planned(&self) -> bool {
        matches!(
            self,
            Produce::Elementwise(_)
                | Produce::Direct(..)
                | Produce::Program(..)
                | Produce::Reduce(_)
                | Produce::Matmul { .. }
        )
    }

    /// The nodes whose values producing `node` this way reads.
    fn reads<'a>(&'a self, node: &'a crate::tape::Node) -> &'a [NodeId] {
        match self {
            Produce::Matmul { operands, .. } => operands,
            Produce::Arg(_) | Produce::Param | Produce::Const | Produce::Folded => &[],
            Produce::Elementwise(_)
            | Produce::Direct(..)
            | Produce::Program(..)
            | Produce::Reduce(_)
            | Produce::Eval => &node.inputs,
        }
    }
}

/// A node's kernel prepared for its shapes: an elementwise node's where the direct loop
/// applies, a reduction's where [`ReduceKernel`] takes it.
fn prepare(f: &Function, j: usize, p: Produce) -> Produce {
    let node = &f.nodes[j];
    if let (Produce::Eval, Op::Reduce { op, axes, keepdim }) = (&p, &node.op) {
        let reduction = match op {
            ReduceOp::Sum => Reduction::Sum,
            ReduceOp::Mean => Reduction::Mean,
            ReduceOp::Prod => Reduction::Prod,
            ReduceOp::Max => Reduction::Max,
            ReduceOp::Min => Reduction::Min,
            _ => return p,
        };
        let input = &f.nodes[node.inputs[0].index()];
        return match ReduceKernel::new(reduction, input.dtype, &input.shape, axes, *keepdim) {
            Some(kernel) => Produce::Reduce(Box::new(kernel)),
            None => p,
        };
    }
    let Produce::Elementwise(program) = p else { return p };
    let shapes: SmallVec<[&[usize]; 2]> = node.inputs.iter().map(|i| f.nodes[i.index()].shape.as_slice()).collect();
    if let Some(kernel) = DirectKernel::new(&program, node.dtype, &shapes, &node.shape) {
        return Produce::Direct(Box::new(kernel), program);
    }
    match ProgramKernel::new(&program, node.dtype, &shapes, &node.shape) {
        Some(kernel) => Produce::Program(Box::new(kernel), program),
        None => Produce::Elementwise(program),
    }
}

/// Folds each transpose of a matrix (a `permute` of a 2-D value, computed by `Op::eval` as a
/// view) into the products that read it: they read the transpose's input with swapped strides,
/// which is what the view would have handed them, so the values are the same bit for bit. A
/// transpose nothing else reads (and that is no output) is then not computed at all.
fn fold_transposes(f: &Function, mut produce: Vec<Produce>) -> Vec<Produce> {
    let transpose: Vec<bool> = (f.nodes.iter().zip(&produce))
        .map(|(node, p)| {
            let swaps = matches!(&node.op, Op::Permute { axes } if axes.len() == 2 && (axes[0] == 1 || axes[0] == -1));
            swaps && matches!(p, Produce::Eval)
        })
        .collect();
    let readers = f.readers();
    let mut folded = vec![0usize; f.nodes.len()];
    for p in produce.iter_mut() {
        let Produce::Matmul { operands, transposed } = p else { continue };
        for k in 0..2 {
            if transpose[operands[k].index()] {
                folded[operands[k].index()] += 1;
                operands[k] = f.nodes[operands[k].index()].inputs[0];
                transposed[k] = true;
            }
        }
    }
    for (j, p) in produce.iter_mut().enumerate() {
        if folded[j] > 0 && folded[j] == readers[j] {
            *p = Produce::Folded;
        }
    }
    produce
}

/// Computes a planned node `j` from the values of `inputs` into its slot: into last run's
/// buffer when nothing else holds it now (`into`), else into a fresh buffer (`fresh`), which
/// becomes the slot's.
fn write_planned(
    (slots, slot_of): (&mut [Option<Tensor>], &[usize]),
    j: usize,
    inputs: &[NodeId],
    into: impl FnOnce(&[&Tensor], &mut Tensor) -> Result<()>,
    fresh: impl FnOnce(&[&Tensor]) -> Result<Tensor>,
) -> Result<()> {
    let s = slot_of[j];
    let mut out = slots[s].take();
    let args = gather(slots, slot_of, inputs);
    match out.as_mut() {
        // The slot's tensor has the node's shape and dtype (slots are shared by values of one
        // shape and dtype); the kernel checks them again.
        Some(t) if t.is_exclusive() => into(&args, t)?,
        _ => out = Some(fresh(&args)?),
    }
    drop(args);
    slots[s] = out;
    Ok(())
}

/// Computes elementwise node `j` from the values of `inputs` into its slot with a kernel
/// prepared for its shapes: `run` writes into last run's buffer and says whether it could (the
/// operands are as planned and nothing else holds the buffer); if not, the general path
/// computes `program` into a fresh buffer, which becomes the slot's. The operands go in an
/// array of `N`, at least the kernel's most operands: a collected vector cost more than the
/// kernel at a compiled program's sizes.
#[inline(always)]
fn write_prepared<const N: usize>(
    (slots, slot_of): (&mut [Option<Tensor>], &[usize]),
    j: usize,
    inputs: &[NodeId],
    program: &ElementwiseProgram,
    run: impl FnOnce(&[&Tensor], &mut Tensor) -> bool,
) -> Result<()> {
    let s = slot_of[j];
    let mut out = slots[s].take();
    let value = |id: &NodeId| slots[slot_of[id.index()]].as_ref().expect("inputs are computed before their consumers");
    let Some(first) = inputs.first().map(value) else { unreachable!("an elementwise node has inputs") };
    let args: [&Tensor; N] = std::array::from_fn(|k| inputs.get(k).map_or(first, value));
    let args = &args[..inputs.len()];
    if !out.as_mut().is_some_and(|t| run(args, t)) {
        out = Some(Tensor::try_fused(args, program)?);
    }
    slots[s] = out;
    Ok(())
}

/// The values of a node's inputs (inlined, as `tensor`'s `operands` is, for the same reason).
#[inline(always)]
fn gather<'a>(slots: &'a [Option<Tensor>], slot_of: &[usize], inputs: &[NodeId]) -> SmallVec<[&'a Tensor; 4]> {
    inputs
        .iter()
        .map(|id| slots[slot_of[id.index()]].as_ref().expect("inputs are computed before their consumers"))
        .collect()
}
