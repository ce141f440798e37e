//! The tape: a Wengert list of nodes in recording (hence topological) order.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use smallvec::SmallVec;
use tensor::{DType, Shape, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::Op;
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

    fn saved_bytes(&self) -> usize {
        let bytes = |t: &Option<Tensor>| t.as_ref().map_or(0, |t| t.numel() * t.dtype().size_in_bytes());
        bytes(&self.value) + bytes(&self.extra)
    }
}

#[derive(Default)]
pub(crate) struct Graph {
    pub(crate) nodes: Vec<Node>,
    pub(crate) anomaly: bool,
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
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(false)));
    f()
}

impl Tape {
    pub fn new() -> Tape {
        Tape::default()
    }

    /// A leaf that requires grad (`torch.tensor(..., requires_grad=True)`); its gradient is
    /// reported in [`Gradients`](crate::Gradients) under this `Var`.
    pub fn var(&self, value: Tensor) -> Var {
        let id = self.push(Node::leaf(Op::Input, &value, true));
        Var::tracked(value, self.clone(), id)
    }

    /// A value that needs no gradient. It joins the graph only if a tracked op consumes it.
    pub fn constant(&self, value: Tensor) -> Var {
        Var::untracked(value, self.clone())
    }

    /// The current value of a parameter as a leaf. Frozen parameters come in as constants.
    pub fn param(&self, p: &Param) -> Var {
        let value = p.value();
        if !p.requires_grad() {
            return self.constant(value);
        }
        let id = self.push(Node::leaf(Op::Param(p.id()), &value, true));
        Var::tracked(value, self.clone(), id)
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.0.borrow().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of tensors the tape currently keeps alive for backward rules.
    pub fn saved_bytes(&self) -> usize {
        self.0.borrow().nodes.iter().map(Node::saved_bytes).sum()
    }

    /// Drops every node, so the tape can record the next step. Vars of the old recording must
    /// not be used with it afterwards.
    pub fn clear(&self) {
        self.0.borrow_mut().nodes.clear();
    }

    /// A copy of node `id` (op, inputs, shape, dtype).
    pub fn node(&self, id: NodeId) -> Option<Node> {
        self.0.borrow().nodes.get(id.index()).cloned()
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

    pub(crate) fn push(&self, node: Node) -> NodeId {
        let mut g = self.0.borrow_mut();
        let id = NodeId(g.nodes.len() as u32);
        g.nodes.push(node);
        id
    }

    /// Records `op(inputs) = value`. Untracked inputs become `Const` nodes; the values the op's
    /// rule reads are kept on the nodes, everything else is not.
    pub(crate) fn record(&self, op: Op, inputs: &[&Var], value: &Tensor, extra: Option<Tensor>) -> NodeId {
        let saves = op.saves();
        let mut g = self.0.borrow_mut();
        let mut ids: SmallVec<[NodeId; 3]> = SmallVec::with_capacity(inputs.len());
        for (k, v) in inputs.iter().enumerate() {
            let id = match v.node_id() {
                Some(id) => id,
                None => {
                    let id = NodeId(g.nodes.len() as u32);
                    g.nodes.push(Node::leaf(Op::Const, v.value(), false));
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
            requires_grad: true,
            value: saves.output.then(|| value.clone()),
            extra,
        });
        id
    }

    /// Checks a freshly computed value in anomaly mode.
    pub(crate) fn check_anomaly(&self, what: &'static str, id: NodeId, value: &Tensor) -> Result<()> {
        if !self.anomaly() || !value.dtype().is_float() {
            return Ok(());
        }
        let kind = if value.ne(value).sum_all().item() > 0.0 {
            "NaN"
        } else if value.abs().eq_scalar(f64::INFINITY).sum_all().item() > 0.0 {
            "infinity"
        } else {
            return Ok(());
        };
        let g = self.0.borrow();
        let op = g.nodes[id.index()].op.to_string();
        let (line, equation) = crate::print::equation_line(&g.nodes, id);
        Err(AutogradError::Anomaly { what, op, kind, line, equation })
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
        }
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
