//! Constant folding: a node whose inputs are all constants has the same value at every run,
//! so it is computed once, at compile time, and becomes a constant itself. Parameters are not
//! constants (an optimizer changes them between runs), nor are arguments.

use super::rewrite::remove_dead;
use crate::error::Result;
use crate::function::Function;
use crate::op::Op;

/// Folds every node computable from constants alone; returns how many were folded.
pub(crate) fn run(f: &mut Function) -> Result<usize> {
    let mut folded = 0;
    for i in 0..f.nodes.len() {
        let node = &f.nodes[i];
        if node.op.is_leaf() {
            continue;
        }
        let inputs: Option<Vec<&tensor::Tensor>> = node
            .inputs
            .iter()
            .map(|id| {
                let input = &f.nodes[id.index()];
                match input.op {
                    Op::Const => input.data.as_ref(),
                    _ => None,
                }
            })
            .collect();
        let Some(inputs) = inputs else { continue };
        // The op's own forward, as eager execution and replay run it: the folded value is the
        // value every run would have computed.
        let value = node.op.eval(&inputs)?;
        let node = &mut f.nodes[i];
        node.op = Op::Const;
        node.inputs.clear();
        node.data = Some(value);
        folded += 1;
    }
    remove_dead(f);
    Ok(folded)
}

/// Constants up to this many elements are stored row-major even when recorded as a broadcast
/// view (a backward pass's seed, `ones` broadcast to the loss's shape), so that elementwise
/// kernels read them as they read any contiguous operand.
const MATERIALIZE_UP_TO: usize = 1 << 16;

/// Stores small constants row-major (see [`MATERIALIZE_UP_TO`]); returns how many were copied.
/// The values do not change, only their layout.
pub(crate) fn materialize(f: &mut Function) -> Result<usize> {
    let mut copied = 0;
    for node in &mut f.nodes {
        if let (Op::Const, Some(data)) = (&node.op, &mut node.data) {
            if !data.is_contiguous() && data.numel() <= MATERIALIZE_UP_TO {
                *data = data.try_contiguous()?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use tensor::{DType, Tensor};

    use crate::op::Op;
    use crate::tape::Tape;

    #[test]
    fn a_node_of_constants_becomes_a_constant() {
        let tape = Tape::new();
        let (x, y) = (tape.input(Tensor::zeros(&[2], DType::F64)), tape.input(Tensor::zeros(&[2], DType::F64)));
        let out = x.exp() * &y;
        let mut f = tape.function(&[x, y], &[out]).unwrap();
        // Turn the first argument into a constant, as a rewrite that proved it constant would.
        f.nodes[0].op = Op::Const;
        f.nodes[0].data = Some(Tensor::from_vec(vec![0.0f64, 1.0], &[2]));
        f.binding[0] = None;
        assert_eq!(super::run(&mut f).unwrap(), 1);
        assert_eq!(f.nodes.iter().filter(|n| n.op.name() == "exp").count(), 0, "{f}");
        let out = f.run(&[Tensor::zeros(&[2], DType::F64), Tensor::from_vec(vec![2.0f64, 3.0], &[2])]).unwrap();
        assert_eq!(out[0].to_vec::<f64>(), vec![2.0, 3.0 * 1f64.exp()]);
    }
}
