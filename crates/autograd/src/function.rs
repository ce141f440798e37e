//! Replay: a recorded graph run on new inputs without running the user's model code again.
//!
//! [`Tape::function`] cuts the program that computes some outputs from some placeholders out
//! of the tape (only the nodes the outputs need), and [`Function::run`] evaluates it node by
//! node with [`Op::eval`](crate::Op::eval), the same forward the eager ops call: a replay on
//! the values of the eager run gives the eager results bit for bit. Parameters are read when
//! the function runs, so an optimizer's updates between runs are seen.
//!
//! What is not recorded is a constant of the program: a value computed under
//! [`no_grad`](crate::no_grad), or read out of a `Var` (`.value()`, `.tensor()`) and brought back
//! with `Tape::constant`, keeps the value it had when recorded. Control flow in the model's Rust
//! code is fixed at recording too (as in a JAX trace): record again when it would go another way.
//!
//! Record a training step once, with `grad(.., create_graph = true)` so the backward pass is in
//! the graph too, then run it on every batch:
//!
//! ```
//! use autograd::{grad, Param, Tape};
//! use tensor::{DType, Tensor};
//! let w = Param::new(Tensor::from_vec(vec![0.5f64, -0.5], &[2, 1]));
//! let tape = Tape::new();
//! let x = tape.input(Tensor::zeros(&[3, 2], DType::F64));
//! let y = tape.input(Tensor::zeros(&[3, 1], DType::F64));
//! let wv = tape.param(&w);
//! let loss = (x.matmul(&wv) - &y).square().mean_all();
//! let dw = grad(&[loss.clone()], &[wv], true).unwrap()[0].clone();
//! let step = tape.function(&[x, y], &[loss, dw]).unwrap();
//! for _ in 0..3 {
//!     let out = step.run(&[Tensor::ones(&[3, 2], DType::F64), Tensor::ones(&[3, 1], DType::F64)]).unwrap();
//!     w.set(w.value() - &out[1] * 0.1); // SGD on the replayed gradient
//! }
//! ```

use std::fmt;

use smallvec::SmallVec;
use tensor::{DType, Shape, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::print;
use crate::tape::{Node, NodeId, Tape};
use crate::var::Var;

/// A runnable program cut from a tape: its placeholders in argument order, the nodes the
/// outputs need (in recording order, renumbered), and its outputs. It owns its nodes, so it
/// outlives the tape's next `clear`, and it is `Send + Sync`.
#[derive(Clone)]
pub struct Function {
    pub(crate) nodes: Vec<Node>,
    /// For each node, the argument that binds it (placeholders and bound leaves).
    pub(crate) binding: Vec<Option<usize>>,
    args: Vec<Arg>,
    pub(crate) outputs: Vec<usize>,
    /// For each node, the last node that reads it (its value is dropped after that).
    pub(crate) last_use: Vec<usize>,
    /// Each node's name on the tape it was cut from: printing and errors name nodes as the
    /// tape's listing does.
    pub(crate) names: Vec<String>,
}

/// An argument: what its values must be.
#[derive(Clone)]
struct Arg {
    /// Its name on the tape, for error messages.
    name: String,
    shape: Shape,
    dtype: DType,
}

fn invalid(msg: String) -> AutogradError {
    AutogradError::Invalid { op: "function", msg }
}

impl Tape {
    /// The program computing `outputs` from `inputs`, ready to [`run`](Function::run) on new
    /// values. `inputs` are placeholders ([`Tape::input`]) or `Tape::var` leaves of the current
    /// recording; every one the outputs depend on must be among them (they are the program's
    /// arguments). Constants keep their recorded values; parameters are read at each run.
    pub fn function(&self, inputs: &[Var], outputs: &[Var]) -> Result<Function> {
        let g = self.0.borrow();
        let current = |v: &Var, what: &str, k: usize| -> Result<usize> {
            if !v.tape().same(self) {
                return Err(AutogradError::DifferentTapes { op: "function".into() });
            }
            let id = v.node_id().ok_or_else(|| invalid(format!("{what} {k} is not recorded on the tape")))?;
            if v.generation() != g.generation {
                return Err(AutogradError::StaleVar { op: "function".into() });
            }
            Ok(id.index())
        };
        let mut args = Vec::with_capacity(inputs.len());
        for (k, v) in inputs.iter().enumerate() {
            let i = current(v, "input", k)?;
            if !matches!(g.nodes[i].op, Op::Input | Op::Leaf) {
                return Err(invalid(format!(
                    "input {k} ({}) is a `{}` node; inputs are placeholders (Tape::input) or Tape::var leaves",
                    print::name(i),
                    g.nodes[i].op
                )));
            }
            if let Some(j) = args.iter().position(|&a| a == i) {
                return Err(invalid(format!("input {k} ({}) is input {j} again", print::name(i))));
            }
            args.push(i);
        }
        let constant_count = outputs.iter().filter(|v| !v.is_recorded() && v.tape().same(self)).count();
        // An output may be a constant (a rule's zeros): it becomes a `const` node of the program.
        let mut outs = Vec::with_capacity(outputs.len());
        let mut constant_outs = Vec::new();
        for (k, v) in outputs.iter().enumerate() {
            if v.is_recorded() || !v.tape().same(self) {
                outs.push(Some(current(v, "output", k)?));
            } else {
                outs.push(None);
                constant_outs.push(v.tensor());
            }
        }

        // The nodes the outputs need, found by one reverse pass (recording order is topological).
        let end = outs.iter().flatten().map(|&i| i + 1).max().unwrap_or(0);
        let mut needed = vec![false; end];
        for &i in outs.iter().flatten() {
            needed[i] = true;
        }
        for i in (0..end).rev() {
            if needed[i] {
                for id in &g.nodes[i].inputs {
                    needed[id.index()] = true;
                }
            }
        }
        let mut new_index = vec![usize::MAX; end];
        let mut nodes = Vec::new();
        let mut names = Vec::new();
        for (i, node) in g.nodes[..end].iter().enumerate() {
            if !needed[i] {
                continue;
            }
            let mut copy = node.clone();
            copy.value = None;
            copy.extra = None;
            for id in copy.inputs.iter_mut() {
                *id = NodeId(new_index[id.index()] as u32);
            }
            new_index[i] = nodes.len();
            nodes.push(copy);
            names.push(print::name(i));
        }
        let mut binding = vec![None; nodes.len() + constant_count];
        let mut bound = Vec::with_capacity(args.len());
        for (k, &i) in args.iter().enumerate() {
            // An input the outputs do not depend on is still an argument: checked, then unused.
            if let Some(j) = new_index.get(i).copied().filter(|&j| j != usize::MAX) {
                binding[j] = Some(k);
            }
            let n = &g.nodes[i];
            bound.push(Arg { name: print::name(i), shape: n.shape.clone(), dtype: n.dtype });
        }
        if let Some(j) = (0..nodes.len()).find(|&j| matches!(nodes[j].op, Op::Input | Op::Leaf) && binding[j].is_none())
        {
            let what = if matches!(nodes[j].op, Op::Input) { "placeholder" } else { "leaf" };
            return Err(invalid(format!("{what} `{}` feeds the outputs but is not among the inputs", names[j])));
        }
        let mut constants = constant_outs.into_iter();
        let mut outputs = Vec::with_capacity(outs.len());
        for out in &outs {
            outputs.push(match out {
                Some(i) => new_index[*i],
                None => {
                    let value = constants.next().expect("one constant per unrecorded output");
                    let mut node = Node::leaf(Op::Const, &value, false);
                    node.data = Some(value);
                    nodes.push(node);
                    names.push(format!("const{}", nodes.len() - 1));
                    nodes.len() - 1
                }
            });
        }
        let mut f = Function { nodes, binding, args: bound, outputs, last_use: Vec::new(), names };
        f.find_last_uses();
        Ok(f)
    }
}

impl Function {
    /// Where each value is read for the last time (outputs: never dropped). Called again after
    /// a compiler pass rewrites the program.
    pub(crate) fn find_last_uses(&mut self) {
        let mut last_use: Vec<usize> = (0..self.nodes.len()).collect();
        for (j, node) in self.nodes.iter().enumerate() {
            for id in &node.inputs {
                last_use[id.index()] = j;
            }
        }
        for &o in &self.outputs {
            last_use[o] = usize::MAX;
        }
        self.last_use = last_use;
    }

    /// How many times each value is read: by nodes (once per input slot) and as an output.
    pub(crate) fn readers(&self) -> Vec<usize> {
        let mut readers = vec![0usize; self.nodes.len()];
        for id in self.nodes.iter().flat_map(|node| node.inputs.iter()) {
            readers[id.index()] += 1;
        }
        for &o in &self.outputs {
            readers[o] += 1;
        }
        readers
    }

    /// Runs the program on `inputs` (one per argument, in order), returning the outputs.
    /// Shapes and dtypes must be the recorded ones: a mismatch is an
    /// [`AutogradError::InputMismatch`] naming the argument (record again for new shapes).
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.check_inputs(inputs)?;
        let mut values: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        for (j, node) in self.nodes.iter().enumerate() {
            let value = match (&node.op, self.binding[j]) {
                (_, Some(k)) => inputs[k].clone(),
                (Op::Param(_), None) => param_value(node)?,
                // Only constants are left unbound (`function` checked the arguments).
                (op, None) if op.is_leaf() => const_value(node)?,
                (op, None) => {
                    let args: SmallVec<[&Tensor; 4]> = node
                        .inputs
                        .iter()
                        .map(|id| values[id.index()].as_ref().expect("inputs are computed before their consumers"))
                        .collect();
                    op.eval(&args)?
                }
            };
            values[j] = Some(value);
            for id in &node.inputs {
                if self.last_use[id.index()] == j {
                    values[id.index()] = None;
                }
            }
        }
        Ok(self.outputs.iter().map(|&o| values[o].clone().expect("outputs are kept")).collect())
    }

    /// Checks that `inputs` are one per argument, of the recorded shapes and dtypes.
    pub(crate) fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        if inputs.len() != self.args.len() {
            return Err(AutogradError::Invalid {
                op: "run",
                msg: format!("the function takes {} inputs, got {}", self.args.len(), inputs.len()),
            });
        }
        for (index, (arg, t)) in self.args.iter().zip(inputs).enumerate() {
            if t.shape() != arg.shape.as_slice() || t.dtype() != arg.dtype {
                return Err(AutogradError::InputMismatch {
                    index,
                    name: arg.name.clone(),
                    expected: arg.shape.to_vec(),
                    expected_dtype: arg.dtype,
                    got: t.shape().to_vec(),
                    got_dtype: t.dtype(),
                });
            }
        }
        Ok(())
    }

    /// Number of nodes in the program (after dropping what the outputs do not need).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// A parameter node's current value, which must have the recorded shape and dtype.
pub(crate) fn param_value(node: &Node) -> Result<Tensor> {
    let Op::Param(p) = &node.op else {
        return Err(AutogradError::Invalid { op: "run", msg: format!("`{}` is not a parameter", node.op) });
    };
    let v = p.value();
    if !v.has_shape(&node.shape) || v.dtype() != node.dtype {
        return Err(AutogradError::Invalid {
            op: "run",
            msg: format!(
                "parameter {} was recorded as {}{:?} but is now {}{:?}; record the graph again",
                p.id().0,
                node.dtype,
                node.shape.as_slice(),
                v.dtype(),
                v.shape()
            ),
        });
    }
    Ok(v)
}

/// A constant node's recorded value.
pub(crate) fn const_value(node: &Node) -> Result<Tensor> {
    node.data
        .clone()
        .ok_or_else(|| AutogradError::Invalid { op: "run", msg: format!("leaf `{}` has no recorded value", node.op) })
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print::write_program(f, &self.nodes, Some(&self.outputs), &|i| self.names[i].clone())
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
