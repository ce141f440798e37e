//! Jacobians, Hessians and Hessian-vector products, built on `grad` with `create_graph`.
//! Meant for small inputs: they take one backward pass per output element.

use tensor::Tensor;

use crate::backward::{grad_with, BackwardOptions};
use crate::error::{AutogradError, Result};
use crate::tape::Tape;
use crate::var::Var;

type Func<'a> = &'a dyn Fn(&Var) -> Result<Var>;

fn or_zeros(g: Option<Var>, like: &Var) -> Tensor {
    g.map_or_else(|| like.value().zeros_like(), |g| g.tensor())
}

/// The Jacobian of `f` at `x`: shape `f(x).shape ++ x.shape`.
pub fn jacobian(f: Func, x: &Tensor) -> Result<Tensor> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(&xv)?;
    let retain = BackwardOptions { retain_graph: true, create_graph: false };
    let mut rows = Vec::with_capacity(y.numel());
    for i in 0..y.numel() {
        let mut seed = vec![0.0; y.numel()];
        seed[i] = 1.0;
        let seed = Tensor::from_vec(seed, &[y.numel()]).try_reshape(&shape_isize(y.shape()))?.to_dtype(y.dtype());
        let g = grad_with(std::slice::from_ref(&y), Some(&[seed]), std::slice::from_ref(&xv), retain)?;
        rows.push(or_zeros(g.into_iter().next().flatten(), &xv));
    }
    let mut shape = y.shape().to_vec();
    shape.extend_from_slice(x.shape());
    if rows.is_empty() {
        return Ok(Tensor::zeros(&shape, x.dtype()));
    }
    Ok(Tensor::try_stack(&rows, 0)?.try_reshape(&shape_isize(&shape))?)
}

/// The Hessian of a scalar `f` at `x`: shape `x.shape ++ x.shape`.
pub fn hessian(f: Func, x: &Tensor) -> Result<Tensor> {
    let mut blocks = hessian_of("hessian", &|xs| f(&xs[0]), std::slice::from_ref(x))?;
    Ok(blocks.remove(0).remove(0))
}

/// The Hessian of a scalar `f` at `x` times `v`, without forming the Hessian:
/// `grad(sum(grad(f)(x) * v))`.
pub fn hvp(f: Func, x: &Tensor, v: &Tensor) -> Result<Tensor> {
    if v.shape() != x.shape() {
        return Err(AutogradError::Invalid {
            op: "hvp",
            msg: format!("vector shape {:?} differs from input shape {:?}", v.shape(), x.shape()),
        });
    }
    let mut products = hvp_of("hvp", &|xs| f(&xs[0]), std::slice::from_ref(x), std::slice::from_ref(v))?;
    Ok(products.remove(0))
}

/// A scalar function of several inputs (a weight and a bias, say).
type FuncMany<'a> = &'a dyn Fn(&[Var]) -> Result<Var>;

/// [`hvp`] over several inputs jointly: `H v` with `H` the Hessian of the scalar `f` with
/// respect to all of `xs` together and `v = (vs[0], vs[1], ...)`, returned split per input
/// (`result[i]` has `xs[i]`'s shape). As `torch.autograd.functional.hvp` with a tuple of inputs.
pub fn hvp_many(f: FuncMany, xs: &[Tensor], vs: &[Tensor]) -> Result<Vec<Tensor>> {
    hvp_of("hvp_many", f, xs, vs)
}

/// [`hessian`] over several inputs: the blocks `result[i][j] = d²f / dxs[i] dxs[j]`, each of
/// shape `xs[i].shape ++ xs[j].shape`. As `torch.autograd.functional.hessian` with a tuple.
pub fn hessian_many(f: FuncMany, xs: &[Tensor]) -> Result<Vec<Vec<Tensor>>> {
    hessian_of("hessian_many", f, xs)
}

/// `H v` split per input; errors name `op`.
fn hvp_of(op: &'static str, f: FuncMany, xs: &[Tensor], vs: &[Tensor]) -> Result<Vec<Tensor>> {
    if xs.len() != vs.len() {
        let msg = format!("{} inputs but {} vectors", xs.len(), vs.len());
        return Err(AutogradError::Invalid { op, msg });
    }
    for (i, (x, v)) in xs.iter().zip(vs).enumerate() {
        if x.shape() != v.shape() {
            let msg = format!("vector {i} has shape {:?} but input {i} has shape {:?}", v.shape(), x.shape());
            return Err(AutogradError::Invalid { op, msg });
        }
    }
    let tape = Tape::new();
    let xv: Vec<Var> = xs.iter().map(|x| tape.var(x.clone())).collect();
    let y = scalar(f(&xv)?, op)?;
    let opts = BackwardOptions { retain_graph: true, create_graph: true };
    let mut terms = Vec::new();
    for (g, v) in grad_with(&[y], None, &xv, opts)?.into_iter().zip(vs) {
        if let Some(g) = g.filter(Var::requires_grad) {
            terms.push(g.try_mul(&tape.constant(v.clone()))?.try_sum(&[], false)?);
        }
    }
    let zeros = || Ok(xs.iter().map(Tensor::zeros_like).collect());
    let Some(first) = terms.first() else { return zeros() };
    let s = terms[1..].iter().try_fold(first.clone(), |acc, t| acc.try_add(t))?;
    let opts = BackwardOptions { retain_graph: false, create_graph: false };
    Ok(grad_with(&[s], None, &xv, opts)?.into_iter().zip(&xv).map(|(g, x)| or_zeros(g, x)).collect())
}

/// The Hessian blocks; errors name `op`.
fn hessian_of(op: &'static str, f: FuncMany, xs: &[Tensor]) -> Result<Vec<Vec<Tensor>>> {
    let tape = Tape::new();
    let xv: Vec<Var> = xs.iter().map(|x| tape.var(x.clone())).collect();
    let y = scalar(f(&xv)?, op)?;
    let first = grad_with(&[y], None, &xv, BackwardOptions { retain_graph: true, create_graph: true })?;
    let retain = BackwardOptions { retain_graph: true, create_graph: false };
    let mut blocks = Vec::with_capacity(xs.len());
    for (xi, gi) in xs.iter().zip(first) {
        // rows[j][e]: the gradient of element e of df/dxs[i] with respect to xs[j].
        let mut rows: Vec<Vec<Tensor>> = vec![Vec::with_capacity(xi.numel()); xs.len()];
        let gi = gi.map(|g| g.try_reshape(&[-1])).transpose()?;
        for e in 0..xi.numel() {
            let ge = gi.as_ref().map(|g| g.try_select(0, e)).transpose()?.filter(Var::requires_grad);
            let second = match ge {
                Some(ge) => grad_with(&[ge], None, &xv, retain)?,
                None => vec![None; xs.len()],
            };
            for ((row, g), x) in rows.iter_mut().zip(second).zip(&xv) {
                row.push(or_zeros(g, x));
            }
        }
        let block = rows
            .into_iter()
            .zip(xs)
            .map(|(row, xj)| {
                let shape: Vec<usize> = xi.shape().iter().chain(xj.shape()).copied().collect();
                if row.is_empty() {
                    return Ok(Tensor::zeros(&shape, xj.dtype()));
                }
                Ok(Tensor::try_stack(&row, 0)?.try_reshape(&shape_isize(&shape))?)
            })
            .collect::<Result<Vec<Tensor>>>()?;
        blocks.push(block);
    }
    Ok(blocks)
}

fn scalar(y: Var, op: &'static str) -> Result<Var> {
    if y.numel() != 1 {
        return Err(AutogradError::Invalid { op, msg: format!("f must return a scalar, got shape {:?}", y.shape()) });
    }
    Ok(y)
}

fn shape_isize(s: &[usize]) -> Vec<isize> {
    s.iter().map(|&d| d as isize).collect()
}
