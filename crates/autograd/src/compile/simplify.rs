//! Algebraic simplification, only where it is exact bit for bit:
//!
//! - `x * 1`, `x ^ 1` (`mul_scalar`, `powf`) and `x + (-0.0)` are `x`. (`x + 0.0` is not:
//!   it turns `-0.0` into `+0.0`; on integers it is exact and is removed.) Only where `x` is
//!   the fresh, row-major result of a computing op: the arithmetic op's output is row-major,
//!   and a later reduction may take another (differently rounded) path over a strided `x`.
//! - `reshape`, `broadcast_to` and `to_dtype` to what `x` already is, the identity `permute`,
//!   a `slice` that keeps everything, and `stop_gradient` (a compiled program computes no
//!   gradients at run time) are `x`: each returns `x` itself or a view with its layout.
//! - `permute(permute(x))` is one `permute` (and nothing when the two cancel, as a transpose
//!   of a transpose does): the same view either way. (A reshape of a reshape is not merged:
//!   the inner one may copy, and the copy's layout can change how a later reduction rounds.)
//! - `reshape(reduce(x, axes, keepdim = true))` to the shape without the kept ones is
//!   `reduce(x, axes, keepdim = false)` (sum, mean, prod, max, min), when nothing else reads the
//!   keepdim result: the same values, in a fresh buffer either way. (Backward passes end a bias
//!   gradient this way: `sum_to` is a keepdim sum and a reshape.)
//!
//! Every rule gives the same values in the same layout, so nothing downstream rounds
//! differently; they save nodes, copies and dispatch.

use super::rewrite::{remove_dead, Redirect};
use crate::function::Function;
use crate::op::{Axes, Op, ReduceOp, ScalarOp};

/// Applies the rules until none fires; returns how many nodes were removed or merged.
pub(crate) fn run(f: &mut Function) -> usize {
    let mut redirect = Redirect::new(f.nodes.len());
    let mut changed = 0;
    for i in 0..f.nodes.len() {
        redirect.rewire(f, i);
        if f.nodes[i].op.is_leaf() || f.nodes[i].inputs.is_empty() {
            continue;
        }
        let x = f.nodes[i].inputs[0].index();
        if is_identity(f, i, x) {
            redirect.replace(i, x);
            changed += 1;
            continue;
        }
        if let Some(op) = merged_with_input(f, i, x) {
            let inner = f.nodes[x].inputs[0];
            let node = &mut f.nodes[i];
            node.op = op;
            node.inputs[0] = inner;
            changed += 1;
            // The merged node may now be the identity (a transpose of a transpose).
            if is_identity(f, i, inner.index()) {
                redirect.replace(i, inner.index());
            }
        }
    }
    redirect.apply(f);
    remove_dead(f);
    let squeezed = squeeze_reductions(f);
    if squeezed > 0 {
        remove_dead(f);
    }
    changed + squeezed
}

/// Rewrites each `reshape` of a keepdim reduction read by nothing else into the reduction
/// without keepdim (see the module documentation); returns how many.
fn squeeze_reductions(f: &mut Function) -> usize {
    let readers = f.readers();
    let mut changed = 0;
    for i in 0..f.nodes.len() {
        if !matches!(f.nodes[i].op, Op::Reshape { .. }) {
            continue;
        }
        let r = f.nodes[i].inputs[0].index();
        let Op::Reduce { op, axes, keepdim: true } = &f.nodes[r].op else { continue };
        let squeezable = matches!(op, ReduceOp::Sum | ReduceOp::Mean | ReduceOp::Prod | ReduceOp::Max | ReduceOp::Min);
        let x = f.nodes[r].inputs[0];
        if !squeezable
            || readers[r] != 1
            || without_axes(&f.nodes[x.index()].shape, axes).as_deref() != Some(&f.nodes[i].shape[..])
        {
            continue;
        }
        let op = Op::Reduce { op: *op, axes: axes.clone(), keepdim: false };
        let node = &mut f.nodes[i];
        node.op = op;
        node.inputs[0] = x;
        changed += 1;
    }
    changed
}

/// `shape` without `axes` (empty: all; negative ones count from the end): a reduction's shape
/// without keepdim (`None` for axes the shape does not have).
fn without_axes(shape: &[usize], axes: &[isize]) -> Option<Vec<usize>> {
    let axes = tensor::normalize_axes("simplify", axes, shape).ok()?;
    Some((0..shape.len()).filter(|d| !axes.contains(d)).map(|d| shape[d]).collect())
}

/// Whether node `i` returns its input `x` unchanged, bit for bit, with its shape and dtype.
fn is_identity(f: &Function, i: usize, x: usize) -> bool {
    let (node, input) = (&f.nodes[i], &f.nodes[x]);
    if node.shape != input.shape || node.dtype != input.dtype {
        return false;
    }
    // Views, and `to_dtype` (the input itself when the dtype is already right), may be strided.
    let fresh = !input.op.is_leaf()
        && !matches!(
            input.op,
            Op::Reshape { .. }
                | Op::Permute { .. }
                | Op::BroadcastTo { .. }
                | Op::Slice { .. }
                | Op::StopGradient
                | Op::ToDType { .. }
        );
    match &node.op {
        Op::Scalar { op: ScalarOp::MulScalar | ScalarOp::Powf, scalar } => fresh && *scalar == 1.0,
        Op::Scalar { op: ScalarOp::AddScalar, scalar } => {
            fresh && *scalar == 0.0 && (scalar.is_sign_negative() || !node.dtype.is_float())
        }
        Op::Reshape { .. } | Op::BroadcastTo { .. } | Op::ToDType { .. } | Op::StopGradient => true,
        Op::Permute { axes } => {
            let rank = axes.len() as isize;
            axes.iter().enumerate().all(|(k, &a)| (if a < 0 { a + rank } else { a }) == k as isize)
        }
        Op::Slice { start, step, .. } => *start == 0 && *step == 1,
        _ => false,
    }
}

/// The single op that does what node `i` does to the result of its input `x` applied to `x`'s
/// own input, where the two compose into the same view: a permute of a permute.
fn merged_with_input(f: &Function, i: usize, x: usize) -> Option<Op> {
    let (outer, inner) = (&f.nodes[i].op, &f.nodes[x].op);
    match (outer, inner) {
        (Op::Permute { axes: outer }, Op::Permute { axes: inner }) => {
            let rank = inner.len() as isize;
            let norm = |a: isize| if a < 0 { a + rank } else { a };
            // permute(permute(x, p), q)[k] reads axis p[q[k]] of x.
            let composed: Option<Axes> = outer.iter().map(|&q| inner.get(norm(q) as usize).map(|&p| norm(p))).collect();
            composed.map(|axes| Op::Permute { axes })
        }
        _ => None,
    }
}
