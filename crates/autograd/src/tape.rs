//! The tape: a Wengert list of nodes in recording (hence topological) order.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use smallvec::SmallVec;
use tensor::{DType, Shape, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::{Op, Saves};
use crate::param::Param;
use crate::var::Var;

/// Index of a node on its tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One equation of the IR: `op(inputs) -> value of shape/dtype`, plus what its rule needs.
#[derive(Clone)]
pub struct Node {
    pub(crate) op: Op,
    pub(crate) inputs: SmallVec<[NodeId; 3]>,
    pub(crate) shape: Shape,
    pub(crate) dtype: DType,
    /// Whether a gradient can flow to this node (a tracked input feeds it).
    pub(crate) requires_grad: bool,
    /// The node's value, kept only while some backward rule needs it.
    pub(crate) value: Option<Tensor>,
    /// A second saved tensor some ops need (max pooling's argmax indices).
    pub(crate) extra: Option<Tensor>,
    /// A constant's value, part of the program (kept for printing and replay; never
    /// released by backward).
    pub(crate) data: Option<Tensor>,
}

impl Node {
    pub fn op(&self) -> &Op {
        &self.op
    }
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn requires_grad(&self) -> bool {
        self.requires_grad
    }
    /// The value of a constant as recorded (`None` for every other node).
    pub fn data(&self) -> Option<&Tensor> {
        self.data.as_ref()
    }

    fn saved_bytes(&self) -> usize {
        let bytes = |t: &Option<Tensor>| t.as_ref().map_or(0, |t| t.numel() * t.dtype().size_in_bytes());
        bytes(&self.value) + bytes(&self.extra)
    }
}

pub(crate) struct Graph {
    pub(crate) nodes: Vec<Node>,
    pub(crate) anomaly: bool,
    /// Counts `clear()`s: a `Var` carries the generation it was recorded in, so a stale one
    /// is told apart from a new node with the same index.
    pub(crate) generation: u32,
    /// Unique in the process, so gradients of leaves of different tapes never share a key.
    pub(crate) id: u64,
}

static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(0);

impl Default for Graph {
    fn default() -> Graph {
        Graph { nodes: Vec::new(), anomaly: false, generation: 0, id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed) }
    }
}

/// A recording of differentiable computation: the graph IR.
///
/// Cloning a `Tape` is cheap and gives another handle to the same recording. A tape is
/// single-threaded (like PyTorch's autograd graph, it lives on the thread that records it).
///
/// ```
/// use autograd::Tape;
/// use tensor::{DType, Tensor};
/// let tape = Tape::new();
/// let x = tape.var(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
/// let y = (&x * &x).sum_all();          // y = sum(x^2)
/// let grads = y.backward().unwrap();
/// assert_eq!(grads.get(&x).unwrap().to_vec::<f64>(), vec![2.0, 4.0]);
/// ```
#[derive(Clone, Default)]
pub struct Tape(pub(crate) Rc<RefCell<Graph>>);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops record onto tapes on this thread (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` without recording: every op inside returns an untracked value, as in
/// `torch.no_grad()`. Nests; the previous mode is restored even if `f` panics.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
}

/// Runs `f` with recording `on` or off, restoring the previous mode even if `f` panics.
fn with_grad_mode<R>(on: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(on)));
    f()
}

/// Runs `f` with recording on, whatever the caller's mode (a trace made inside `no_grad`
/// must still record its program). The previous mode is restored even if `f` panics.
pub(crate) fn with_recording<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(true, f)
}

impl Tape {
    pub fn new() -> Tape {
        Tape::default()
    }

    /// A leaf that requires grad (`torch.tensor(..., requires_grad=True)`); its gradient is
    /// reported in [`Gradients`](crate::Gradients) under this `Var`. Only float values take
    /// gradients: an integer or bool tensor is [`AutogradError::IntegerLeaf`], as in torch
    /// (record such data with [`input`](Self::input) or [`constant`](Self::constant)).
    pub fn try_var(&self, value: Tensor) -> Result<Var> {
        if !value.dtype().is_float() {
            return Err(AutogradError::IntegerLeaf { dtype: value.dtype() });
        }
        Ok(self.leaf(Op::Leaf, value, true))
    }

    /// A leaf that requires grad.
    ///
    /// # Panics
    /// On an integer or bool tensor, as [`try_var`](Self::try_var) errors.
    #[track_caller]
    pub fn var(&self, value: Tensor) -> Var {
        crate::error::ok(self.try_var(value))
    }

    /// A placeholder for data (inputs, targets, seeds): recorded, never differentiated. `value`
    /// is what this eager run computes with; its shape and dtype are the placeholder's, and a
    /// [`Function`](crate::Function) made from the tape takes a new value for it on every run.
    ///
    /// ```
    /// use autograd::Tape;
    /// use tensor::{DType, Tensor};
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::ones(&[2], DType::F64));
    /// let y = (&x * 3.0).sum_all();
    /// let f = tape.function(&[x], &[y]).unwrap();
    /// let out = f.run(&[Tensor::from_vec(vec![1.0f64, 2.0], &[2])]).unwrap();
    /// assert_eq!(out[0].item(), 9.0);
    /// ```
    pub fn input(&self, value: Tensor) -> Var {
        self.leaf(Op::Input, value, false)
    }

    /// A value that needs no gradient. It joins the graph (with its value) only if a recorded
    /// op consumes it.
    pub fn constant(&self, value: Tensor) -> Var {
        Var::untracked(value, self.clone())
    }

    /// The current value of a parameter as a leaf; a replay reads the parameter's value at the
    /// time it runs. A frozen parameter is recorded the same way, without gradient.
    pub fn param(&self, p: &Param) -> Var {
        let value = p.value();
        let requires_grad = p.requires_grad() && value.dtype().is_float();
        let mut g = self.0.borrow_mut();
        let id = NodeId(g.nodes.len() as u32);
        g.nodes.push(Node::leaf(Op::Param(p.clone()), &value, requires_grad));
        let generation = g.generation;
        drop(g);
        Var::recorded(value, self.clone(), id, generation, requires_grad)
    }

    /// Records an argument of the program (its value is bound by whoever runs it, so the node
    /// keeps only its shape and dtype).
    fn leaf(&self, op: Op, value: Tensor, requires_grad: bool) -> Var {
        let mut g = self.0.borrow_mut();
        let id = NodeId(g.nodes.len() as u32);
        g.nodes.push(Node::leaf(op, &value, requires_grad));
        let generation = g.generation;
        drop(g);
        Var::recorded(value, self.clone(), id, generation, requires_grad)
    }

    /// Every parameter leaf of the current recording: its node and its parameter.
    pub(crate) fn params_read(&self) -> Vec<(usize, Param)> {
        let g = self.0.borrow();
        g.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match &n.op {
                Op::Param(p) => Some((i, p.clone())),
                _ => None,
            })
            .collect()
    }

    /// A handle to node `id` of the current recording, holding `value`.
    pub(crate) fn var_of(&self, id: NodeId, value: Tensor) -> Var {
        let g = self.0.borrow();
        let requires_grad = g.nodes[id.index()].requires_grad;
        let generation = g.generation;
        drop(g);
        Var::recorded(value, self.clone(), id, generation, requires_grad)
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.0.borrow().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of tensors the tape currently keeps alive for backward rules (leaf and constant
    /// values, which the graph holds until `clear`, are not counted).
    pub fn saved_bytes(&self) -> usize {
        self.0.borrow().nodes.iter().map(Node::saved_bytes).sum()
    }

    /// Drops every node, so the tape can record the next step. Vars of the old recording become
    /// stale: using one in an op, `backward` or `grad` is an [`AutogradError::StaleVar`].
    pub fn clear(&self) {
        let mut g = self.0.borrow_mut();
        g.nodes.clear();
        // 31 bits, as a `Var` stores it: a stale Var is recognised unless exactly 2^31 clears
        // happened in between.
        g.generation = g.generation.wrapping_add(1) & (u32::MAX >> 1);
    }

    /// This tape's identity, unique in the process.
    pub fn id(&self) -> u64 {
        self.0.borrow().id
    }

    pub(crate) fn generation(&self) -> u32 {
        self.0.borrow().generation
    }

    /// Turns anomaly detection on or off: when on, recording or differentiating a value that
    /// contains NaN or infinity is an error naming the op and its line in the printed graph.
    pub fn set_detect_anomaly(&self, on: bool) {
        self.0.borrow_mut().anomaly = on;
    }

    pub(crate) fn anomaly(&self) -> bool {
        self.0.borrow().anomaly
    }

    pub(crate) fn same(&self, other: &Tape) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// Records `op(inputs) = value`. Unrecorded inputs become `Const` nodes holding their
    /// values; the values the op's rule reads are kept on the nodes when the output requires
    /// grad, everything else is not. Returns the node and the recording's generation, or
    /// [`AutogradError::StaleVar`] (recording nothing) if an input is from an earlier recording.
    pub(crate) fn record(
        &self,
        op: Op,
        inputs: &[&Var],
        value: &Tensor,
        extra: Option<Tensor>,
        requires_grad: bool,
    ) -> Result<(NodeId, u32)> {
        let saves = if requires_grad { op.saves() } else { Saves::default() };
        let mut g = self.0.borrow_mut();
        if inputs.iter().any(|v| v.is_recorded() && v.generation() != g.generation) {
            return Err(AutogradError::StaleVar { op: op.name().to_string() });
        }
        let mut ids: SmallVec<[NodeId; 3]> = SmallVec::with_capacity(inputs.len());
        for (k, v) in inputs.iter().enumerate() {
            let id = match v.node_id() {
                Some(id) => id,
                None => {
                    let id = NodeId(g.nodes.len() as u32);
                    let mut node = Node::leaf(Op::Const, v.value(), false);
                    node.data = Some(v.value().clone());
                    g.nodes.push(node);
                    id
                }
            };
            if saves.input(k) {
                let node = &mut g.nodes[id.index()];
                if node.value.is_none() {
                    node.value = Some(v.value().clone());
                }
            }
            ids.push(id);
        }
        let id = NodeId(g.nodes.len() as u32);
        g.nodes.push(Node {
            op,
            inputs: ids,
            shape: Shape::from_slice(value.shape()),
            dtype: value.dtype(),
            requires_grad,
            value: saves.output.then(|| value.clone()),
            extra: if requires_grad { extra } else { None },
            data: None,
        });
        Ok((id, g.generation))
    }
}

impl Node {
    pub(crate) fn leaf(op: Op, value: &Tensor, requires_grad: bool) -> Node {
        Node {
            op,
            inputs: SmallVec::new(),
            shape: Shape::from_slice(value.shape()),
            dtype: value.dtype(),
            requires_grad,
            value: None,
            extra: None,
            data: None,
        }
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
