//! Finite-difference checks of gradients (first and second order), in f64.
//!
//! Both project a possibly non-scalar output onto a fixed random direction `r`
//! (`L = sum(f(x) * r)`) and compare the analytic gradient of `L` with central differences
//! `(L(x + eps e_i) - L(x - eps e_i)) / 2 eps`, element by element.

use std::fmt;

use tensor::{DType, Rng, Tensor};

use crate::backward::{grad_with, BackwardOptions};
use crate::error::{AutogradError, Result};
use crate::tape::{no_grad, Tape};
use crate::var::Var;

/// Step and tolerances: an element passes when `|analytic - numeric| <= atol + rtol * |numeric|`.
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    pub eps: f64,
    pub atol: f64,
    pub rtol: f64,
    /// Seed of the projection direction.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions { eps: 1e-6, atol: 1e-5, rtol: 1e-3, seed: 0 }
    }
}

/// One compared element.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// Which input.
    pub input: usize,
    /// Row-major position inside that input.
    pub position: Vec<usize>,
    pub analytic: f64,
    pub numeric: f64,
}

impl Mismatch {
    pub fn abs_err(&self) -> f64 {
        (self.analytic - self.numeric).abs()
    }
}

/// The outcome: whether every element passed, and the worst element seen.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    pub ok: bool,
    pub checked: usize,
    /// The element with the largest error relative to its tolerance.
    pub worst: Option<Mismatch>,
    pub order: usize,
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.order == 1 { "gradcheck" } else { "gradgradcheck" };
        let verdict = if self.ok { "passed" } else { "FAILED" };
        write!(f, "{what} {verdict} over {} elements", self.checked)?;
        if let Some(w) = &self.worst {
            write!(
                f,
                "; worst: input {} at {:?}: analytic {:.8e}, numeric {:.8e} (abs err {:.2e})",
                w.input,
                w.position,
                w.analytic,
                w.numeric,
                w.abs_err()
            )?;
        }
        Ok(())
    }
}

type Func<'a> = &'a dyn Fn(&[Var]) -> Result<Var>;

/// Leaves for `inputs` on a fresh tape: f64 inputs require grad, others are constants.
fn leaves(tape: &Tape, inputs: &[Tensor]) -> Vec<Var> {
    inputs
        .iter()
        .map(|t| if t.dtype() == DType::F64 { tape.var(t.clone()) } else { tape.constant(t.clone()) })
        .collect()
}

fn check_inputs(inputs: &[Tensor]) -> Result<()> {
    if !inputs.iter().any(|t| t.dtype() == DType::F64) {
        return Err(AutogradError::Invalid {
            op: "gradcheck",
            msg: "needs at least one f64 input to differentiate".into(),
        });
    }
    Ok(())
}

/// `sum(y * r)` as a Var.
fn project(y: &Var, r: &Tensor) -> Result<Var> {
    y.try_mul(&y.constant(r.clone()))?.try_sum(&[], false)
}

fn direction(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape, -1.0, 1.0, DType::F64, &mut Rng::seed(seed))
}

/// Analytic gradients of `L` with respect to the f64 inputs (zeros where none flows).
fn analytic(f: Func, inputs: &[Tensor], r: Option<&Tensor>, seed: u64) -> Result<Vec<Tensor>> {
    let tape = Tape::new();
    let xs = leaves(&tape, inputs);
    let y = f(&xs)?;
    let r = r.cloned().unwrap_or_else(|| direction(y.shape(), seed));
    let l = project(&y, &r)?;
    let tracked: Vec<Var> = xs.iter().filter(|v| v.requires_grad()).cloned().collect();
    let grads = grad_with(&[l], None, &tracked, BackwardOptions::default())?;
    Ok(grads.into_iter().zip(&tracked).map(|(g, x)| g.map_or_else(|| x.value().zeros_like(), |g| g.tensor())).collect())
}

/// Central differences of `value(inputs)` for every element of every f64 input.
fn numeric(value: &dyn Fn(&[Tensor]) -> Result<f64>, inputs: &[Tensor], eps: f64) -> Result<Vec<Tensor>> {
    let mut out = Vec::new();
    for (k, x) in inputs.iter().enumerate() {
        if x.dtype() != DType::F64 {
            continue;
        }
        let base = x.contiguous().to_vec::<f64>();
        let mut d = vec![0.0; base.len()];
        for (i, slot) in d.iter_mut().enumerate() {
            let at = |delta: f64| -> Result<f64> {
                let mut data = base.clone();
                data[i] += delta;
                let mut moved = inputs.to_vec();
                moved[k] = Tensor::from_vec(data, x.shape());
                value(&moved)
            };
            *slot = (at(eps)? - at(-eps)?) / (2.0 * eps);
        }
        out.push(Tensor::from_vec(d, x.shape()));
    }
    Ok(out)
}

fn compare(order: usize, a: &[Tensor], n: &[Tensor], inputs: &[Tensor], opts: &GradcheckOptions) -> GradcheckReport {
    let mut report = GradcheckReport { ok: true, checked: 0, worst: None, order };
    let mut worst_score = -1.0;
    let f64_inputs: Vec<usize> = (0..inputs.len()).filter(|&k| inputs[k].dtype() == DType::F64).collect();
    for ((ga, gn), &k) in a.iter().zip(n).zip(&f64_inputs) {
        let (va, vn) = (ga.contiguous().to_vec::<f64>(), gn.to_vec::<f64>());
        let shape = inputs[k].shape();
        for (i, (&x, &y)) in va.iter().zip(&vn).enumerate() {
            report.checked += 1;
            let tol = opts.atol + opts.rtol * y.abs();
            let score = if x.is_finite() && y.is_finite() { (x - y).abs() / tol } else { f64::INFINITY };
            if score > 1.0 || score.is_nan() {
                report.ok = false;
            }
            if score > worst_score {
                worst_score = score;
                let mut position = vec![0; shape.len()];
                let mut rem = i;
                for d in (0..shape.len()).rev() {
                    position[d] = rem % shape[d];
                    rem /= shape[d];
                }
                report.worst = Some(Mismatch { input: k, position, analytic: x, numeric: y });
            }
        }
    }
    report
}

/// Checks the gradient of `f` at `inputs` against central finite differences.
///
/// ```
/// use autograd::{gradcheck, GradcheckOptions};
/// use tensor::{DType, Rng, Tensor};
/// let x = Tensor::randn(&[3, 4], DType::F64, &mut Rng::seed(0));
/// let report = gradcheck(&|v| v[0].try_tanh()?.try_sum(&[1], false), &[x], GradcheckOptions::default()).unwrap();
/// assert!(report.ok, "{report}");
/// ```
pub fn gradcheck(f: Func, inputs: &[Tensor], opts: GradcheckOptions) -> Result<GradcheckReport> {
    check_inputs(inputs)?;
    let tape = Tape::new();
    let y = no_grad(|| f(&leaves(&tape, inputs)))?;
    let r = direction(y.shape(), opts.seed);
    let a = analytic(f, inputs, Some(&r), opts.seed)?;
    let value = |xs: &[Tensor]| -> Result<f64> {
        let tape = Tape::new();
        no_grad(|| Ok(project(&f(&leaves(&tape, xs))?, &r)?.item()))
    };
    let n = numeric(&value, inputs, opts.eps)?;
    Ok(compare(1, &a, &n, inputs, &opts))
}

/// Checks second derivatives: differentiates `L2 = sum_k sum(grad_k(L) * r2_k)` (built with
/// `create_graph`) and compares with central differences of the first-order gradients.
pub fn gradgradcheck(f: Func, inputs: &[Tensor], opts: GradcheckOptions) -> Result<GradcheckReport> {
    check_inputs(inputs)?;
    let tape = Tape::new();
    let y = no_grad(|| f(&leaves(&tape, inputs)))?;
    let r = direction(y.shape(), opts.seed);
    let r2: Vec<Tensor> = inputs
        .iter()
        .enumerate()
        .filter(|(_, t)| t.dtype() == DType::F64)
        .map(|(k, t)| direction(t.shape(), opts.seed + 1 + k as u64))
        .collect();
    // Analytic: grad of L2 through the recorded first backward.
    let tape = Tape::new();
    let xs = leaves(&tape, inputs);
    let l = project(&f(&xs)?, &r)?;
    let tracked: Vec<Var> = xs.iter().filter(|v| v.requires_grad()).cloned().collect();
    let first = grad_with(&[l], None, &tracked, BackwardOptions { retain_graph: true, create_graph: true })?;
    let mut l2: Option<Var> = None;
    for (g, r2k) in first.iter().zip(&r2) {
        if let Some(g) = g.as_ref().filter(|g| g.requires_grad()) {
            let term = project(g, r2k)?;
            l2 = Some(match l2 {
                Some(acc) => acc.try_add(&term)?,
                None => term,
            });
        }
    }
    let a: Vec<Tensor> = match &l2 {
        Some(l2) => grad_with(std::slice::from_ref(l2), None, &tracked, BackwardOptions::default())?
            .into_iter()
            .zip(&tracked)
            .map(|(g, x)| g.map_or_else(|| x.value().zeros_like(), |g| g.tensor()))
            .collect(),
        // The first derivative does not depend on the inputs: the second is zero.
        None => tracked.iter().map(|x| x.value().zeros_like()).collect(),
    };
    let value = |xs: &[Tensor]| -> Result<f64> {
        let grads = analytic(f, xs, Some(&r), opts.seed)?;
        let mut total = 0.0;
        for (g, r2k) in grads.iter().zip(&r2) {
            total += g.try_mul(r2k)?.sum_all().item();
        }
        Ok(total)
    };
    let n = numeric(&value, inputs, opts.eps)?;
    Ok(compare(2, &a, &n, inputs, &opts))
}
