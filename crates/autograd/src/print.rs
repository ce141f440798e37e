//! Printing the tape: a jaxpr-like listing (`Display`) and Graphviz DOT (`Tape::to_dot`).
//!
//! ```text
//! { lambda c:f32[]=0.5 ; w:f32[2,3] input x:f32[4,2]. let
//!     d:f32[4,3] = matmul x w
//!     e:bool[4,3] = gt_scalar[scalar=0] d    # no grad
//!     ...
//!   in (h) }
//! ```
//! Constants come first (with their value when it is small), then the arguments in recording
//! order: leaves that take gradients (`Tape::var`, parameters) and placeholders for data, which
//! are marked `input`. An equation whose value takes no gradient is marked `# no grad`.

use std::fmt::{self, Write};

use tensor::DType;

use crate::op::Op;
use crate::tape::{Node, NodeId, Tape};

/// Variable names as in jaxprs: a..z, then ba, bb, ...
pub(crate) fn name(i: usize) -> String {
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

/// Constants of up to this many elements print their values.
const SHOWN_CONSTANT: usize = 6;

/// How a program names its nodes: the tape's letters, or a `Function`'s names from its tape.
type Names<'a> = &'a dyn Fn(usize) -> String;

fn binder(nodes: &[Node], i: usize, name: Names) -> String {
    let node = &nodes[i];
    let mut s = format!("{}:{}", name(i), ty(node));
    match (&node.op, &node.data) {
        (Op::Input, _) => s.insert_str(0, "input "),
        (Op::Const, Some(t)) if t.numel() <= SHOWN_CONSTANT => {
            let values = t.to_dtype(DType::F64).contiguous().to_vec::<f64>();
            let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            if t.rank() == 0 {
                let _ = write!(s, "={}", shown[0]);
            } else {
                let _ = write!(s, "=[{}]", shown.join(", "));
            }
        }
        _ => {}
    }
    s
}

fn equation(nodes: &[Node], i: usize, name: Names) -> String {
    let node = &nodes[i];
    let args: Vec<String> = node.inputs.iter().map(|id| name(id.index())).collect();
    let mut s = format!("{}:{} = {} {}", name(i), ty(node), node.op, args.join(" "));
    if !node.requires_grad {
        s.push_str("    # no grad");
    }
    s
}

/// The printed line number (1-based) and text of node `id`'s equation.
pub(crate) fn equation_line(nodes: &[Node], id: NodeId) -> (usize, String) {
    let before = nodes[..id.index()].iter().filter(|n| !n.op.is_leaf()).count();
    (2 + before, equation(nodes, id.index(), &name))
}

/// Writes `nodes` as a program returning `outputs` (by default: every computed value that no
/// other node consumes), naming node `i` `name(i)`.
pub(crate) fn write_program(
    f: &mut fmt::Formatter<'_>,
    nodes: &[Node],
    outputs: Option<&[usize]>,
    name: Names,
) -> fmt::Result {
    let binders = |keep: fn(&Op) -> bool| -> Vec<String> {
        (0..nodes.len()).filter(|&i| keep(&nodes[i].op)).map(|i| binder(nodes, i, name)).collect()
    };
    let consts = binders(|op| matches!(op, Op::Const));
    let args = binders(|op| matches!(op, Op::Leaf | Op::Param(_) | Op::Input));
    f.write_str("{ lambda ")?;
    if !consts.is_empty() {
        write!(f, "{} ; ", consts.join(" "))?;
    }
    writeln!(f, "{}. let", args.join(" "))?;
    for (i, n) in nodes.iter().enumerate() {
        if !n.op.is_leaf() {
            writeln!(f, "    {}", equation(nodes, i, name))?;
        }
    }
    let outputs: Vec<String> = match outputs {
        Some(outs) => outs.iter().map(|&i| name(i)).collect(),
        None => {
            let mut consumed = vec![false; nodes.len()];
            for n in nodes {
                for id in &n.inputs {
                    consumed[id.index()] = true;
                }
            }
            (0..nodes.len()).filter(|&i| !consumed[i] && !nodes[i].op.is_leaf()).map(name).collect()
        }
    };
    write!(f, "  in ({}) }}", outputs.join(", "))
}

impl fmt::Display for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_program(f, &self.0.borrow().nodes, None, &name)
    }
}

impl Tape {
    /// The graph in Graphviz DOT: leaves as ellipses (placeholders as inverted houses,
    /// constants as notes), ops as boxes, dashed where no gradient flows; edges from inputs.
    pub fn to_dot(&self) -> String {
        let g = self.0.borrow();
        let mut s = String::from("digraph tape {\n  node [fontname=\"monospace\"];\n");
        for (i, n) in g.nodes.iter().enumerate() {
            let shape = match n.op {
                Op::Input => "invhouse",
                Op::Const => "note",
                Op::Leaf | Op::Param(_) => "ellipse",
                _ => "box",
            };
            let style = if n.requires_grad || n.op.is_leaf() { "" } else { " style=dashed" };
            let label = format!("{} = {}\\n{}", name(i), n.op.to_string().replace('"', "'"), ty(n));
            let _ = writeln!(s, "  n{i} [label=\"{label}\" shape={shape}{style}];");
            for id in &n.inputs {
                let _ = writeln!(s, "  n{} -> n{i};", id.index());
            }
        }
        s.push_str("}\n");
        s
    }
}
