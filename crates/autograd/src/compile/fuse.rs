//! Elementwise fusion: a chain or tree of elementwise nodes becomes one `fused` node that reads
//! each outside input once and writes its result once ([`tensor::ops::fused`]).
//!
//! Walking the program in order, each elementwise node of a float dtype starts a group; an
//! input that is itself a group, read by this node alone (not an output, not read elsewhere)
//! and of the same dtype, is absorbed into it. A value read twice stays a node of its own, so
//! nothing is computed twice. Groups of two or more ops become `fused` nodes. Each element goes
//! through the same scalar expressions in the same order as before, so the program's results
//! do not change by a bit.

use std::sync::Arc;

use smallvec::SmallVec;
use tensor::ops::fused::{BinaryFn, ElementwiseProgram, Instr, ScalarFn, UnaryFn};

use super::rewrite::remove_dead;
use crate::function::Function;
use crate::op::{Op, ScalarOp};
use crate::tape::{Node, NodeId};

/// An operand while a group is built: an outside node, or an earlier instruction of the group.
#[derive(Clone, Copy, PartialEq)]
enum Operand {
    Node(usize),
    Step(usize),
}

/// One instruction before registers are numbered.
#[derive(Clone, Copy)]
enum Step {
    Unary(UnaryFn, Operand),
    Scalar(ScalarFn, f64, Operand),
    Binary(BinaryFn, Operand, Operand),
}

#[derive(Clone, Default)]
struct Group {
    /// Outside nodes read, in first-read order.
    leaves: Vec<usize>,
    steps: Vec<Step>,
}

impl Group {
    /// Appends `other`'s steps (its operands shifted) and returns the operand of its result.
    fn absorb(&mut self, other: Group) -> Operand {
        let offset = self.steps.len();
        let shift = |o: Operand| match o {
            Operand::Step(k) => Operand::Step(k + offset),
            leaf => leaf,
        };
        for step in other.steps {
            self.steps.push(match step {
                Step::Unary(u, a) => Step::Unary(u, shift(a)),
                Step::Scalar(s, v, a) => Step::Scalar(s, v, shift(a)),
                Step::Binary(b, x, y) => Step::Binary(b, shift(x), shift(y)),
            });
        }
        for leaf in other.leaves {
            if !self.leaves.contains(&leaf) {
                self.leaves.push(leaf);
            }
        }
        Operand::Step(self.steps.len() - 1)
    }

    fn leaf(&mut self, node: usize) -> Operand {
        if !self.leaves.contains(&node) {
            self.leaves.push(node);
        }
        Operand::Node(node)
    }

    /// The program, registers numbered: the leaves first, then one per step.
    fn program(&self) -> ElementwiseProgram {
        let reg = |o: Operand| match o {
            Operand::Node(n) => self.leaves.iter().position(|&l| l == n).expect("every leaf is listed"),
            Operand::Step(k) => self.leaves.len() + k,
        };
        let instrs = self
            .steps
            .iter()
            .map(|s| match *s {
                Step::Unary(u, a) => Instr::Unary(u, reg(a)),
                Step::Scalar(f, v, a) => Instr::Scalar(f, v, reg(a)),
                Step::Binary(b, x, y) => Instr::Binary(b, reg(x), reg(y)),
            })
            .collect();
        ElementwiseProgram { inputs: self.leaves.len(), instrs }
    }
}

/// The instruction a node's op is, for the ops a fused program has.
pub(crate) enum Kind {
    Unary(UnaryFn),
    Scalar(ScalarFn, f64),
    Binary(BinaryFn),
}

pub(crate) fn kind(node: &Node) -> Option<Kind> {
    if !node.dtype.is_float() {
        return None;
    }
    Some(match &node.op {
        Op::Unary(u) => Kind::Unary(match u.name() {
            "neg" => UnaryFn::Neg,
            "abs" => UnaryFn::Abs,
            "square" => UnaryFn::Square,
            "exp" => UnaryFn::Exp,
            "log" => UnaryFn::Log,
            "sqrt" => UnaryFn::Sqrt,
            "tanh" => UnaryFn::Tanh,
            "sigmoid" => UnaryFn::Sigmoid,
            "relu" => UnaryFn::Relu,
            "sin" => UnaryFn::Sin,
            "cos" => UnaryFn::Cos,
            _ => return None,
        }),
        Op::Scalar { op: ScalarOp::AddScalar, scalar } => Kind::Scalar(ScalarFn::Add, *scalar),
        Op::Scalar { op: ScalarOp::MulScalar, scalar } => Kind::Scalar(ScalarFn::Mul, *scalar),
        Op::Binary(b) => Kind::Binary(match b.name() {
            "add" => BinaryFn::Add,
            "sub" => BinaryFn::Sub,
            "mul" => BinaryFn::Mul,
            "div" => BinaryFn::Div,
            "maximum" => BinaryFn::Maximum,
            "minimum" => BinaryFn::Minimum,
            "tanh_backward" => BinaryFn::TanhBackward,
            _ => return None,
        }),
        _ => return None,
    })
}

/// Fuses elementwise groups; returns how many nodes were absorbed into others.
pub(crate) fn run(f: &mut Function) -> usize {
    let n = f.nodes.len();
    let readers = f.readers();
    let mut groups: Vec<Option<Group>> = vec![None; n];
    let mut absorbed = 0;
    for i in 0..n {
        let Some(k) = kind(&f.nodes[i]) else { continue };
        let dtype = f.nodes[i].dtype;
        let mut group = Group::default();
        let mut operands: SmallVec<[Operand; 2]> = SmallVec::new();
        for id in f.nodes[i].inputs.clone() {
            let j = id.index();
            let inline = readers[j] == 1 && groups[j].is_some() && f.nodes[j].dtype == dtype;
            operands.push(match if inline { groups[j].take() } else { None } {
                Some(inner) => {
                    absorbed += 1;
                    group.absorb(inner)
                }
                None => group.leaf(j),
            });
        }
        group.steps.push(match (k, operands.as_slice()) {
            (Kind::Unary(u), [a]) => Step::Unary(u, *a),
            (Kind::Scalar(s, v), [a]) => Step::Scalar(s, v, *a),
            (Kind::Binary(b), [x, y]) => Step::Binary(b, *x, *y),
            _ => continue, // an arity the op does not have: leave the node alone
        });
        groups[i] = Some(group);
    }
    for (i, group) in groups.into_iter().enumerate() {
        let Some(group) = group.filter(|g| g.steps.len() > 1) else { continue };
        let node = &mut f.nodes[i];
        node.inputs = group.leaves.iter().map(|&l| NodeId(l as u32)).collect();
        node.op = Op::Fused { program: Arc::new(group.program()) };
    }
    remove_dead(f);
    absorbed
}
