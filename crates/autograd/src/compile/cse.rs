//! Common-subexpression elimination: a node that applies the same op, with the same static
//! parameters, to the same inputs as an earlier node computes the same value (every op is a
//! pure function of its inputs), so its readers read the earlier node instead.
//!
//! Two ops are the same when they print the same: the listing shows every static parameter
//! (f64s in Rust's round-trip form), and a node's shape and dtype are part of the key too.
//! Leaves are never merged (each argument, parameter and constant is its own value), and a
//! custom op matches only itself (its name is not its identity).

use std::collections::HashMap;
use std::sync::Arc;

use tensor::DType;

use super::rewrite::{remove_dead, Redirect};
use crate::function::Function;
use crate::op::Op;

/// Merges repeated computations; returns how many nodes were merged away.
pub(crate) fn run(f: &mut Function) -> usize {
    let mut redirect = Redirect::new(f.nodes.len());
    let mut seen: HashMap<Key, usize> = HashMap::new();
    let mut merged = 0;
    for i in 0..f.nodes.len() {
        redirect.rewire(f, i);
        let node = &f.nodes[i];
        if node.op.is_leaf() {
            continue;
        }
        let custom = match &node.op {
            Op::Custom(c) => Arc::as_ptr(c) as *const () as usize,
            _ => 0,
        };
        let key = Key {
            op: node.op.to_string(),
            custom,
            inputs: node.inputs.iter().map(|id| id.index()).collect(),
            shape: node.shape.to_vec(),
            dtype: node.dtype,
        };
        match seen.get(&key) {
            Some(&j) => {
                redirect.replace(i, j);
                merged += 1;
            }
            None => {
                seen.insert(key, i);
            }
        }
    }
    redirect.apply(f);
    remove_dead(f);
    merged
}

#[derive(Hash, PartialEq, Eq)]
struct Key {
    op: String,
    custom: usize,
    inputs: Vec<usize>,
    shape: Vec<usize>,
    dtype: DType,
}
