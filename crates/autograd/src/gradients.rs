//! `Gradients`: what a backward pass hands to optimizers.

use std::hash::{BuildHasherDefault, Hasher};

use indexmap::IndexMap;
use smallvec::SmallVec;
use tensor::Tensor;

use crate::op::Op;
use crate::param::{IdHasher, Param, ParamId};
use crate::tape::NodeId;
use crate::var::Var;

type IdMap<K, V> = IndexMap<K, V, BuildHasherDefault<IdHasher>>;

/// Where a non-parameter leaf lives: its tape, the recording (generation) and its node. Two
/// tapes, or two recordings of one tape, never share a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LeafKey {
    pub tape: u64,
    pub generation: u32,
    pub node: NodeId,
}

impl std::hash::Hash for LeafKey {
    /// One word for the hasher (equality still compares all three fields).
    fn hash<H: Hasher>(&self, state: &mut H) {
        let recording = (self.generation as u64) << 32 | self.node.0 as u64;
        state.write_u64(self.tape.rotate_left(47) ^ recording);
    }
}

/// Gradients of the leaves of a tape: parameters keyed by [`ParamId`], other leaves
/// ([`Tape::var`](crate::Tape::var)) by their tape, recording and node. Several backward passes
/// into the same `Gradients` accumulate, as `.grad` does in PyTorch, until
/// [`clear`](Self::clear).
#[derive(Clone, Debug, Default)]
pub struct Gradients {
    params: IdMap<ParamId, Tensor>,
    leaves: LeafGrads,
    /// The parameter behind each parameter leaf a backward pass reached, so `get` answers for
    /// a parameter's `Var` after its tape moved on.
    param_leaves: IdMap<LeafKey, ParamId>,
}

impl Gradients {
    pub fn new() -> Gradients {
        Gradients::default()
    }

    /// The gradient of a leaf `Var` (made by `Tape::var` or `Tape::param`; for a parameter,
    /// its gradient summed over every place it was used, as [`param`](Self::param)). A `Var`
    /// from an earlier recording (before `Tape::clear`) still finds the gradients of its own
    /// recording, never those of a new node with the same index.
    pub fn get(&self, v: &Var) -> Option<&Tensor> {
        let node = v.node_id()?;
        let graph = v.tape().0.borrow();
        let key = LeafKey { tape: graph.id, generation: v.generation(), node };
        if let Some(g) = self.leaves.get(&key) {
            return Some(g);
        }
        let param = self.param_leaves.get(&key).copied().or_else(|| {
            // A parameter leaf of the current recording that no backward pass reached.
            match graph.nodes.get(node.index()).map(|n| &n.op) {
                Some(Op::Param(p)) if graph.generation == v.generation() => Some(p.id()),
                _ => None,
            }
        })?;
        self.params.get(&param)
    }

    /// The gradient of a parameter, summed over every place it was used.
    pub fn param(&self, p: &Param) -> Option<&Tensor> {
        self.params.get(&p.id())
    }

    /// The gradient for a parameter id.
    pub fn by_id(&self, id: ParamId) -> Option<&Tensor> {
        self.params.get(&id)
    }

    /// Parameter gradients in the order the parameters were first seen.
    pub fn params(&self) -> impl Iterator<Item = (ParamId, &Tensor)> {
        self.params.iter().map(|(k, v)| (*k, v))
    }

    /// Replaces a parameter's gradient (for clipping or custom transforms before a step).
    pub fn set_param(&mut self, id: ParamId, grad: Tensor) {
        self.params.insert(id, grad);
    }

    /// A parameter's gradient, to transform in place (clipping, scaling, noise): write through
    /// [`Tensor::try_as_mut_slice`], which does not copy a gradient that `backward` produced
    /// (it owns its buffer).
    pub fn param_mut(&mut self, p: &Param) -> Option<&mut Tensor> {
        self.params.get_mut(&p.id())
    }

    /// The gradient for a parameter id, mutably.
    pub fn by_id_mut(&mut self, id: ParamId) -> Option<&mut Tensor> {
        self.params.get_mut(&id)
    }

    /// Parameter gradients in the order the parameters were first seen, mutably.
    pub fn params_mut(&mut self) -> impl Iterator<Item = (ParamId, &mut Tensor)> {
        self.params.iter_mut().map(|(k, v)| (*k, v))
    }

    /// Removes and returns a parameter's gradient (an optimizer that consumes it can then
    /// update state in its buffer).
    pub fn take(&mut self, p: &Param) -> Option<Tensor> {
        self.remove(p.id())
    }

    /// Removes and returns the gradient for a parameter id, keeping the others' order.
    pub fn remove(&mut self, id: ParamId) -> Option<Tensor> {
        self.param_leaves.retain(|_, &mut pid| pid != id);
        self.params.shift_remove(&id)
    }

    /// Forgets every gradient (`zero_grad`).
    pub fn clear(&mut self) {
        self.params.clear();
        self.leaves.clear();
        self.param_leaves.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.leaves.is_empty()
    }

    pub(crate) fn accumulate_param(&mut self, id: ParamId, leaf: LeafKey, g: Tensor) -> tensor::Result<()> {
        self.param_leaves.insert(leaf, id);
        accumulate(self.params.entry(id), g)
    }

    pub(crate) fn accumulate_leaf(&mut self, id: LeafKey, g: Tensor) -> tensor::Result<()> {
        self.leaves.accumulate(id, g)
    }
}

/// Gradients of non-parameter leaves. A backward pass usually reaches a few `Tape::var` leaves:
/// they sit in a short inline list searched in order (a hashed map cost two allocations and a
/// hash per pass, 5% of a micrograd-sized step), and move to a hashed map once there are more
/// than `FEW`.
#[derive(Clone, Debug, Default)]
struct LeafGrads {
    few: SmallVec<[(LeafKey, Tensor); FEW]>,
    /// Every entry once non-empty (`few` is empty then).
    many: IdMap<LeafKey, Tensor>,
}

const FEW: usize = 4;

impl LeafGrads {
    fn get(&self, key: &LeafKey) -> Option<&Tensor> {
        if self.many.is_empty() {
            self.few.iter().find(|(k, _)| k == key).map(|(_, g)| g)
        } else {
            self.many.get(key)
        }
    }

    fn accumulate(&mut self, key: LeafKey, g: Tensor) -> tensor::Result<()> {
        if self.many.is_empty() {
            if let Some((_, sum)) = self.few.iter_mut().find(|(k, _)| *k == key) {
                return sum.try_add_assign(&g);
            }
            if self.few.len() < FEW {
                self.few.push((key, g));
                return Ok(());
            }
            self.many.extend(self.few.drain(..));
        }
        accumulate(self.many.entry(key), g)
    }

    fn clear(&mut self) {
        self.few.clear();
        self.many.clear();
    }

    fn is_empty(&self) -> bool {
        self.few.is_empty() && self.many.is_empty()
    }
}

/// Adds `g` into an entry: in place when the stored gradient owns its buffer.
fn accumulate<K: std::hash::Hash + Eq>(entry: indexmap::map::Entry<'_, K, Tensor>, g: Tensor) -> tensor::Result<()> {
    match entry {
        indexmap::map::Entry::Occupied(mut e) => e.get_mut().try_add_assign(&g)?,
        indexmap::map::Entry::Vacant(e) => {
            e.insert(g);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackwardOptions, Tape};

    #[test]
    fn leaf_gradients_accumulate_in_the_short_list_and_in_the_map() {
        for n in [1, FEW, FEW + 1, 3 * FEW] {
            let tape = Tape::new();
            let xs: Vec<Var> = (0..n).map(|i| tape.var(Tensor::scalar(i as f64))).collect();
            // y = sum_i (i + 1) x_i, differentiated twice into the same gradients.
            let terms = xs.iter().enumerate().map(|(i, x)| x.mul_scalar((i + 1) as f64));
            let y = terms.reduce(|a, b| a + b).expect("at least one leaf");
            let mut grads = Gradients::new();
            let keep = BackwardOptions { retain_graph: true, create_graph: false };
            for _ in 0..2 {
                y.backward_with_into(&Tensor::scalar(1.0f64), keep, &mut grads).unwrap();
            }
            for (i, x) in xs.iter().enumerate() {
                assert_eq!(grads.get(x).map(Tensor::item), Some(2.0 * (i + 1) as f64), "leaf {i} of {n}");
            }
            assert_eq!(grads.leaves.many.is_empty(), n <= FEW, "{n} leaves");
            grads.clear();
            assert!(grads.is_empty() && grads.get(&xs[0]).is_none());
        }
    }
}
