//! The backward pass: one reverse sweep over the tape applying each node's rule.
//!
//! Rules return one gradient per input and never accumulate; the sweep adds fan-out
//! contributions and sums broadcast dimensions back to each input's shape, in one place.

use smallvec::SmallVec;
use tensor::Tensor;

use crate::error::{AutogradError, Result};
use crate::gradients::{Gradients, LeafKey};
use crate::op::Op;
use crate::ops;
use crate::param::ParamId;
use crate::tape::{NodeId, Tape};
use crate::var::Var;

/// One gradient per input of a node (`None`: no gradient flows to that input).
pub(crate) type Grads = SmallVec<[Option<Var>; 3]>;

/// What a rule sees of an input (its shape is `Ctx::shapes[shape.0..shape.1]`).
pub(crate) struct InputInfo {
    var: Option<Var>,
    shape: (u32, u32),
    pub dtype: tensor::DType,
    pub requires_grad: bool,
    id: NodeId,
}

/// Everything a backward rule may read, copied out of the tape so the rule can record on it.
pub(crate) struct Ctx {
    pub op: Op,
    pub grad: Var,
    inputs: SmallVec<[InputInfo; 3]>,
    /// The inputs' shapes end to end: one small copy instead of a `Shape` per input.
    shapes: SmallVec<[usize; 8]>,
    output: Option<Var>,
    pub extra: Option<Tensor>,
}

impl Ctx {
    /// The upstream gradient (of the node's output).
    pub fn g(&self) -> &Var {
        &self.grad
    }

    /// Input `k` as saved at record time (tracked when building a differentiable backward).
    pub fn input(&self, k: usize) -> Result<&Var> {
        self.inputs[k].var.as_ref().ok_or_else(|| AutogradError::GraphFreed { op: self.op.to_string() })
    }

    /// The node's own value as saved at record time.
    pub fn output(&self) -> Result<&Var> {
        self.output.as_ref().ok_or_else(|| AutogradError::GraphFreed { op: self.op.to_string() })
    }

    pub fn shape(&self, k: usize) -> &[usize] {
        let (start, end) = self.inputs[k].shape;
        &self.shapes[start as usize..end as usize]
    }

    /// Number of inputs.
    pub fn arity(&self) -> usize {
        self.inputs.len()
    }

    pub fn input_dtype(&self, k: usize) -> tensor::DType {
        self.inputs[k].dtype
    }

    /// Whether input `k` wants a gradient (constant branches cost nothing).
    pub fn needs(&self, k: usize) -> bool {
        self.inputs[k].requires_grad
    }

    /// A constant on the gradient's tape.
    pub fn constant(&self, t: Tensor) -> Var {
        self.grad.constant(t)
    }
}

/// Options of a backward pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct BackwardOptions {
    /// Keep saved tensors so the graph can be differentiated again.
    pub retain_graph: bool,
    /// Record the backward pass itself, so its results can be differentiated (implies
    /// `retain_graph`).
    pub create_graph: bool,
}

/// Result of a sweep: gradients of leaves, and of specifically requested nodes.
struct Swept {
    /// Each leaf reached, with its parameter when it is one.
    leaves: Vec<(NodeId, Option<ParamId>, Var)>,
    wanted: Vec<Option<Var>>,
}

fn sweep(tape: &Tape, seeds: Vec<(NodeId, Var)>, wanted: &[NodeId], opts: BackwardOptions) -> Result<Swept> {
    let retain = opts.retain_graph || opts.create_graph;
    let n = seeds.iter().map(|(id, _)| id.index() + 1).max().unwrap_or(0);
    let mut grads: Vec<Option<Var>> = vec![None; n];
    for (id, seed) in seeds {
        let slot = &mut grads[id.index()];
        *slot = Some(match slot.take() {
            Some(prev) => prev.try_add(&seed)?,
            None => seed,
        });
    }
    let mut out = Swept { leaves: Vec::new(), wanted: vec![None; wanted.len()] };
    // Read once per pass: a custom op's backward that turns anomaly mode on or off changes
    // the next pass, not this one.
    let anomaly = tape.anomaly();
    for i in (0..n).rev() {
        let Some(g) = grads[i].take() else {
            if !retain {
                release(tape, i);
            }
            continue;
        };
        for (k, w) in wanted.iter().enumerate() {
            if w.index() == i {
                out.wanted[k] = Some(g.clone());
            }
        }
        let ctx = {
            let mut graph = tape.0.borrow_mut();
            let generation = graph.generation;
            let node = &mut graph.nodes[i];
            if node.op.is_leaf() {
                if node.requires_grad {
                    let param = if let Op::Param(p) = &node.op { Some(p.id()) } else { None };
                    out.leaves.push((NodeId(i as u32), param, g));
                }
                if !retain {
                    (node.value, node.extra) = (None, None);
                }
                continue;
            }
            // The node's own saved tensors: this is their last use unless the graph is kept.
            let (value, extra) =
                if retain { (node.value.clone(), node.extra.clone()) } else { (node.value.take(), node.extra.take()) };
            let (op, requires_grad) = (node.op.clone(), node.requires_grad);
            let node = &graph.nodes[i];
            // A recorded backward pass refers to the forward's nodes (gradient or not: a mask
            // built from a placeholder must follow the placeholder in a replay); a plain one
            // works on the values alone.
            let as_var = |value: Option<Tensor>, id: NodeId, requires_grad: bool| {
                value.map(|v| {
                    if opts.create_graph {
                        Var::recorded(v, tape.clone(), id, generation, requires_grad)
                    } else {
                        Var::untracked(v, tape.clone())
                    }
                })
            };
            let mut shapes = SmallVec::new();
            let mut inputs = SmallVec::new();
            for &id in &node.inputs {
                let input = &graph.nodes[id.index()];
                let start = shapes.len() as u32;
                shapes.extend_from_slice(&input.shape);
                inputs.push(InputInfo {
                    var: as_var(input.value.clone(), id, input.requires_grad),
                    shape: (start, shapes.len() as u32),
                    dtype: input.dtype,
                    requires_grad: input.requires_grad,
                    id,
                });
            }
            Ctx { op, output: as_var(value, NodeId(i as u32), requires_grad), extra, inputs, shapes, grad: g }
        };
        let input_grads = rule(&ctx)?;
        for (k, gk) in input_grads.into_iter().enumerate() {
            let (Some(gk), Some(input)) = (gk, ctx.inputs.get(k)) else { continue };
            if !input.requires_grad {
                continue;
            }
            let gk = checked_gradient(&ctx, k, gk)?;
            if anomaly {
                tape.check_anomaly("gradient", NodeId(i as u32), gk.value())?;
            }
            let slot = &mut grads[input.id.index()];
            *slot = Some(match slot.take() {
                // A recorded sum, so the gradient stays differentiable.
                Some(prev) if opts.create_graph => prev.try_add(&gk)?,
                // In place when the sweep owns the buffer (copy-on-write otherwise).
                Some(prev) => {
                    let mut sum = prev.into_tensor();
                    sum.try_add_assign(gk.value())?;
                    Var::untracked(sum, tape.clone())
                }
                None => gk,
            });
        }
    }
    Ok(out)
}

/// A rule's gradient for input `k`, summed down to the input's shape where it broadcast; a
/// gradient of another dtype, or of a shape that does not sum to the input's, is an error
/// naming the op (a custom op's backward is user code, so this is where its mistakes surface).
fn checked_gradient(ctx: &Ctx, k: usize, gk: Var) -> Result<Var> {
    let (shape, dtype) = (ctx.shape(k), ctx.input_dtype(k));
    let bad = |gk: &Var| AutogradError::BadGradient {
        op: ctx.op.name().to_string(),
        index: k,
        expected: shape.to_vec(),
        expected_dtype: dtype,
        got: gk.shape().to_vec(),
        got_dtype: gk.dtype(),
    };
    if gk.dtype() != dtype {
        return Err(bad(&gk));
    }
    if tensor::same_shape(gk.shape(), shape) {
        return Ok(gk);
    }
    gk.try_sum_to(shape).map_err(|_| bad(&gk))
}

/// Drops a node's saved tensors once the sweep has passed it: every consumer (all later in
/// the tape) is done with it.
fn release(tape: &Tape, i: usize) {
    let mut graph = tape.0.borrow_mut();
    let node = &mut graph.nodes[i];
    node.value = None;
    node.extra = None;
}

/// The backward rule of every op: one arm each, so an op without a rule does not compile.
fn rule(ctx: &Ctx) -> Result<Grads> {
    use ops::*;
    match &ctx.op {
        // Leaves, and ops a gradient never passes (their outputs never require grad).
        Op::Leaf | Op::Param(_) | Op::Input | Op::Const => Ok(Grads::new()),
        Op::Compare(_)
        | Op::CompareScalar { .. }
        | Op::StopGradient
        | Op::Argmax { .. }
        | Op::Argmin { .. }
        | Op::OneHot { .. }
        | Op::MaxPool2dIndices { .. }
        | Op::DropoutMask { .. } => Ok(Grads::new()),
        Op::Unary(u) => u.rule(ctx),
        Op::Binary(b) => b.rule(ctx),
        Op::Scalar { op, scalar } => op.rule(ctx, *scalar),
        Op::Clamp { min, max } => unary::d_clamp(ctx, *min, *max),
        Op::ClampBackward { min, max } => unary::d_clamp_backward(ctx, *min, *max),
        Op::ToDType { .. } => unary::d_to_dtype(ctx),
        Op::Reduce { op, axes, keepdim } => op.rule(ctx, axes, *keepdim),
        Op::Cumsum { axis } => reduce::d_cumsum(ctx, *axis),
        Op::ProdExclusive { axes } => reduce::d_prod_exclusive(ctx, axes),
        Op::ProdExclusiveBackward { .. } => Err(AutogradError::NoRule { op: ctx.op.name().to_string() }),
        Op::ExtremumBackward { axes, keepdim } => reduce::d_extremum_backward(ctx, axes, *keepdim),
        Op::Softmax { axis } => softmax::d_softmax(ctx, *axis),
        Op::LogSoftmax { axis } => softmax::d_log_softmax(ctx, *axis),
        Op::SoftmaxCrossEntropy => softmax::d_softmax_cross_entropy(ctx),
        Op::SoftmaxCrossEntropyBackward => softmax::d_softmax_cross_entropy_backward(ctx),
        Op::Reshape { .. } => movement::d_reshape(ctx),
        Op::Permute { axes } => movement::d_permute(ctx, axes),
        Op::BroadcastTo { .. } => movement::d_broadcast_to(ctx),
        Op::Slice { axis, start, len, step } => movement::d_slice(ctx, *axis, *start, *len, *step),
        Op::Pad { pads, .. } => concat::d_pad(ctx, pads),
        Op::Repeat { reps } => concat::d_repeat(ctx, reps),
        Op::Cat { axis } => concat::d_cat(ctx, *axis),
        Op::IndexSelect { axis } => index::d_index_select(ctx, *axis),
        Op::Gather { axis } => index::d_gather(ctx, *axis),
        Op::ScatterAdd { axis } => index::d_scatter_add(ctx, *axis),
        Op::WhereCond => index::d_where_cond(ctx),
        Op::MaskedFill { .. } => index::d_masked_fill(ctx),
        Op::Matmul => matmul::d_matmul(ctx),
        Op::Linear => matmul::d_linear(ctx),
        Op::Conv2d { params } => conv::d_conv2d(ctx, *params),
        Op::ConvTranspose2d { params, .. } => conv::d_conv_transpose2d(ctx, **params),
        Op::Conv2dBackwardInput { params, .. } => conv::d_conv2d_backward_input(ctx, **params),
        Op::Conv2dBackwardWeight { params, .. } => conv::d_conv2d_backward_weight(ctx, **params),
        Op::MaxPool2d { kernel, stride, padding } => pool::d_max_pool2d(ctx, *kernel, *stride, *padding),
        Op::MaxPool2dBackward { .. } => pool::d_max_pool2d_backward(ctx),
        Op::AvgPool2d { kernel, stride, padding, count_include_pad } => {
            pool::d_avg_pool2d(ctx, *kernel, *stride, *padding, *count_include_pad)
        }
        Op::AvgPool2dBackward { kernel, stride, padding, count_include_pad, .. } => {
            pool::d_avg_pool2d_backward(ctx, *kernel, *stride, *padding, *count_include_pad)
        }
        Op::Fused { .. } => Err(AutogradError::Invalid {
            op: "fused",
            msg: "a fused node is made by the compiler after differentiation and has no backward rule".into(),
        }),
        Op::Custom(op) => {
            let inputs: Vec<Var> = (0..ctx.inputs.len()).map(|k| ctx.input(k).cloned()).collect::<Result<_>>()?;
            let grads = op.backward(&inputs, ctx.output()?, ctx.g())?;
            if grads.len() != inputs.len() {
                return Err(AutogradError::Invalid {
                    op: "custom backward",
                    msg: format!("`{}` returned {} gradients for {} inputs", op.name(), grads.len(), inputs.len()),
                });
            }
            Ok(grads.into_iter().collect())
        }
    }
}

impl Var {
    /// Gradients of this scalar output with respect to every leaf on its tape
    /// (`loss.backward()`), freeing the saved tensors of every node recorded up to this output
    /// as it goes: a second backward through any of them needs `retain_graph` on the first
    /// (see [`backward_with_into`](Self::backward_with_into)).
    pub fn backward(&self) -> Result<Gradients> {
        let mut grads = Gradients::new();
        self.backward_into(&mut grads)?;
        Ok(grads)
    }

    /// Like [`backward`](Self::backward), adding into existing gradients (accumulation).
    pub fn backward_into(&self, grads: &mut Gradients) -> Result<()> {
        if self.numel() != 1 {
            return Err(AutogradError::NonScalarOutput { shape: self.shape().to_vec() });
        }
        let seed = Tensor::ones(self.shape(), self.dtype());
        self.backward_with_into(&seed, BackwardOptions::default(), grads)
    }

    /// Backward from a non-scalar output with an explicit seed (the vector of a
    /// vector-Jacobian product), which must match the output's shape and dtype.
    pub fn backward_with(&self, seed: &Tensor) -> Result<Gradients> {
        let mut grads = Gradients::new();
        self.backward_with_into(seed, BackwardOptions::default(), &mut grads)?;
        Ok(grads)
    }

    /// The general form: explicit seed and options, accumulating into `grads`.
    pub fn backward_with_into(&self, seed: &Tensor, opts: BackwardOptions, grads: &mut Gradients) -> Result<()> {
        if seed.shape() != self.shape() || seed.dtype() != self.dtype() {
            return Err(AutogradError::SeedMismatch {
                seed: seed.shape().to_vec(),
                seed_dtype: seed.dtype(),
                output: self.shape().to_vec(),
                output_dtype: self.dtype(),
            });
        }
        let id = differentiable(self, "backward")?;
        let swept = sweep(self.tape(), vec![(id, self.constant(seed.clone()))], &[], opts)?;
        let (tape, generation) = (self.tape().id(), self.generation());
        for (node, param, g) in swept.leaves {
            let leaf = LeafKey { tape, generation, node };
            match param {
                // Contiguous, so optimizers walk a parameter and its gradient in one order
                // (`x @ w.t()` leaves a transposed view otherwise).
                Some(id) => grads.accumulate_param(id, leaf, g.into_tensor().contiguous())?,
                None => grads.accumulate_leaf(leaf, g.into_tensor())?,
            }
        }
        Ok(())
    }
}

/// Gradients of scalar `outputs` with respect to `inputs`, as `torch.autograd.grad`. Inputs
/// may be any tracked `Var`, not only leaves. With `create_graph` the results are themselves
/// tracked, so they can be differentiated again (Hessian-vector products, gradient penalties).
/// Returns one gradient per input, in order; an input that does not influence the outputs is
/// [`AutogradError::UnusedInput`] (torch's default; [`grad_with`] gives `None` for it instead).
///
/// ```
/// use autograd::{grad, Tape};
/// use tensor::Tensor;
/// let tape = Tape::new();
/// let x = tape.var(Tensor::scalar(3.0f64));
/// let y = x.powf(3.0);                                     // y = x^3
/// let dy = &grad(&[y], &[x.clone()], true).unwrap()[0];    // 3x^2 = 27
/// let d2y = &grad(&[dy.clone()], &[x], false).unwrap()[0]; // 6x = 18
/// assert_eq!((dy.item(), d2y.item()), (27.0, 18.0));
/// ```
pub fn grad(outputs: &[Var], inputs: &[Var], create_graph: bool) -> Result<Vec<Var>> {
    let grads = grad_with(outputs, None, inputs, BackwardOptions { retain_graph: create_graph, create_graph })?;
    grads.into_iter().enumerate().map(|(index, g)| g.ok_or(AutogradError::UnusedInput { index })).collect()
}

/// [`grad`] with explicit seeds (one per output, for non-scalar outputs) and options; an input
/// that does not influence the outputs gets `None`.
pub fn grad_with(
    outputs: &[Var],
    seeds: Option<&[Tensor]>,
    inputs: &[Var],
    opts: BackwardOptions,
) -> Result<Vec<Option<Var>>> {
    let first =
        outputs.first().ok_or(AutogradError::Invalid { op: "grad", msg: "needs at least one output".into() })?;
    let tape = first.tape().clone();
    let mut seeded = Vec::with_capacity(outputs.len());
    for (k, out) in outputs.iter().enumerate() {
        if !out.tape().same(&tape) || inputs.iter().any(|v| !v.tape().same(&tape)) {
            return Err(AutogradError::DifferentTapes { op: "grad".into() });
        }
        let id = differentiable(out, "grad output")?;
        let seed = match seeds {
            Some(s) => {
                let s = s.get(k).ok_or_else(|| AutogradError::Invalid {
                    op: "grad",
                    msg: format!("{} outputs but {} seeds", outputs.len(), s.len()),
                })?;
                if s.shape() != out.shape() || s.dtype() != out.dtype() {
                    return Err(AutogradError::SeedMismatch {
                        seed: s.shape().to_vec(),
                        seed_dtype: s.dtype(),
                        output: out.shape().to_vec(),
                        output_dtype: out.dtype(),
                    });
                }
                s.clone()
            }
            None => {
                if out.numel() != 1 {
                    return Err(AutogradError::NonScalarOutput { shape: out.shape().to_vec() });
                }
                Tensor::ones(out.shape(), out.dtype())
            }
        };
        seeded.push((id, out.constant(seed)));
    }
    let wanted: Vec<NodeId> = inputs.iter().map(|v| differentiable(v, "grad input")).collect::<Result<_>>()?;
    Ok(sweep(&tape, seeded, &wanted, opts)?.wanted)
}

/// The node of a `Var` that a backward pass can start from or differentiate with respect to:
/// recorded in the tape's current recording, and requiring grad.
fn differentiable(v: &Var, what: &'static str) -> Result<NodeId> {
    let id = v.node_id().ok_or(AutogradError::NotOnTape { what })?;
    if v.generation() != v.tape().generation() {
        return Err(AutogradError::StaleVar { op: what.to_string() });
    }
    if !v.requires_grad() {
        return Err(AutogradError::NoGrad { what });
    }
    Ok(id)
}
