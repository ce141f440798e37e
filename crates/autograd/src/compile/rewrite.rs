//! The edits every pass makes: send a node's readers to another node, and drop what no output
//! needs. Passes decide; these two keep the program well formed (inputs before their readers,
//! the per-node tables in step).

use crate::function::Function;
use crate::tape::NodeId;

/// A pending redirection: `to[i]` is the node that stands for node `i` (itself unless a pass
/// replaced it by an earlier, equal value).
pub(crate) struct Redirect {
    to: Vec<usize>,
}

impl Redirect {
    pub(crate) fn new(len: usize) -> Redirect {
        Redirect { to: (0..len).collect() }
    }

    /// Node `i`'s readers will read `j` instead (`j` is computed before `i`, so readers stay
    /// after what they read).
    pub(crate) fn replace(&mut self, i: usize, j: usize) {
        debug_assert!(j < i, "a node is replaced by an earlier one");
        self.to[i] = self.resolve(j);
    }

    /// What stands for `i` after every replacement so far.
    pub(crate) fn resolve(&self, mut i: usize) -> usize {
        while self.to[i] != i {
            i = self.to[i];
        }
        i
    }

    /// Rewrites node `i`'s inputs through the replacements made so far; passes that walk the
    /// program in order call it before looking at a node.
    pub(crate) fn rewire(&self, f: &mut Function, i: usize) {
        for k in 0..f.nodes[i].inputs.len() {
            let from = f.nodes[i].inputs[k].index();
            f.nodes[i].inputs[k] = NodeId(self.resolve(from) as u32);
        }
    }

    /// Applies the replacements to every reader and output; the replaced nodes are left dead
    /// for [`remove_dead`].
    pub(crate) fn apply(&self, f: &mut Function) {
        for i in 0..f.nodes.len() {
            self.rewire(f, i);
        }
        for o in f.outputs.iter_mut() {
            *o = self.resolve(*o);
        }
    }
}

/// Dead-node elimination: drops every node no output reads (directly or through others),
/// renumbering the rest in order. Arguments stay arguments even when unread (their values are
/// still checked at each run). Returns how many nodes were dropped.
pub(crate) fn remove_dead(f: &mut Function) -> usize {
    let n = f.nodes.len();
    let mut live = vec![false; n];
    for &o in &f.outputs {
        live[o] = true;
    }
    for i in (0..n).rev() {
        if live[i] {
            for id in &f.nodes[i].inputs {
                live[id.index()] = true;
            }
        }
    }
    let mut new_index = vec![usize::MAX; n];
    let mut kept = 0;
    for i in 0..n {
        if live[i] {
            new_index[i] = kept;
            f.nodes.swap(kept, i);
            f.binding.swap(kept, i);
            f.names.swap(kept, i);
            kept += 1;
        }
    }
    f.nodes.truncate(kept);
    f.binding.truncate(kept);
    f.names.truncate(kept);
    for node in f.nodes.iter_mut() {
        for id in node.inputs.iter_mut() {
            *id = NodeId(new_index[id.index()] as u32);
        }
    }
    for o in f.outputs.iter_mut() {
        *o = new_index[*o];
    }
    f.find_last_uses();
    n - kept
}
