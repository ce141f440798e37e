//! Printing the tape: a jaxpr-like listing (`Display`) and Graphviz DOT (`Tape::to_dot`).

use std::fmt::{self, Write};

use crate::op::Op;
use crate::tape::{Node, NodeId, Tape};

/// Variable names as in jaxprs: a..z, then ba, bb, ...
fn name(i: usize) -> String {
    let letter = |k: usize| (b'a' + k as u8) as char;
    if i < 26 {
        letter(i).to_string()
    } else {
        format!("{}{}", name(i / 26), letter(i % 26))
    }
}

/// `f32[2,3]`
fn ty(node: &Node) -> String {
    let dims: Vec<String> = node.shape.iter().map(|d| d.to_string()).collect();
    format!("{}[{}]", node.dtype, dims.join(","))
}

fn equation(nodes: &[Node], i: usize) -> String {
    let node = &nodes[i];
    let args: Vec<String> = node.inputs.iter().map(|id| name(id.index())).collect();
    format!("{}:{} = {} {}", name(i), ty(node), node.op, args.join(" "))
}

/// The printed line number (1-based) and text of node `id`'s equation.
pub(crate) fn equation_line(nodes: &[Node], id: NodeId) -> (usize, String) {
    let before = nodes[..id.index()].iter().filter(|n| !n.op.is_leaf()).count();
    (2 + before, equation(nodes, id.index()))
}

impl fmt::Display for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.0.borrow();
        let nodes = &g.nodes;
        let binder = |keep: fn(&Op) -> bool| -> Vec<String> {
            nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| keep(&n.op))
                .map(|(i, n)| format!("{}:{}", name(i), ty(n)))
                .collect()
        };
        let consts = binder(|op| matches!(op, Op::Const));
        let inputs = binder(|op| matches!(op, Op::Input | Op::Param(_)));
        f.write_str("{ lambda ")?;
        if !consts.is_empty() {
            write!(f, "{} ; ", consts.join(" "))?;
        }
        writeln!(f, "{}. let", inputs.join(" "))?;
        let mut consumed = vec![false; nodes.len()];
        for n in nodes {
            for id in &n.inputs {
                consumed[id.index()] = true;
            }
        }
        for (i, n) in nodes.iter().enumerate() {
            if !n.op.is_leaf() {
                writeln!(f, "    {}", equation(nodes, i))?;
            }
        }
        let outputs: Vec<String> =
            (0..nodes.len()).filter(|&i| !consumed[i] && !nodes[i].op.is_leaf()).map(name).collect();
        write!(f, "  in ({}) }}", outputs.join(", "))
    }
}

impl Tape {
    /// The graph in Graphviz DOT: leaves as ellipses, ops as boxes, edges from inputs.
    pub fn to_dot(&self) -> String {
        let g = self.0.borrow();
        let mut s = String::from("digraph tape {\n  node [fontname=\"monospace\"];\n");
        for (i, n) in g.nodes.iter().enumerate() {
            let shape = if n.op.is_leaf() { "ellipse" } else { "box" };
            let label = format!("{} = {}\\n{}", name(i), n.op.to_string().replace('"', "'"), ty(n));
            let _ = writeln!(s, "  n{i} [label=\"{label}\" shape={shape}];");
            for id in &n.inputs {
                let _ = writeln!(s, "  n{} -> n{i};", id.index());
            }
        }
        s.push_str("}\n");
        s
    }
}
