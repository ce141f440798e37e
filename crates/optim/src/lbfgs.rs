//! L-BFGS (`torch.optim.LBFGS`), with or without a strong-Wolfe line search.

use autograd::{Gradients, Param};
use tensor::{DType, Tensor};

use crate::error::{check, OptimError, Result};

/// L-BFGS (Liu & Nocedal, 1989, "On the limited memory BFGS method for large scale
/// optimization"), as torch implements it: each [`step`](Lbfgs::step) runs up to `max_iter`
/// iterations on the flattened parameters, re-evaluating the loss and gradients through a
/// closure. Per iteration:
///
/// ```text
/// d ← -H·∇f       two-loop recursion over the last `history_size` pairs (s, y), H₀ = (y·s)/(y·y)
/// t ← lr          (the first iteration ever: min(1, 1/‖∇f‖₁)·lr)
/// θ ← θ + t·d     with t from a strong-Wolfe line search if `strong_wolfe`
/// stop when ‖∇f‖∞ ≤ tolerance_grad, ‖t·d‖∞ ≤ tolerance_change, |Δf| < tolerance_change,
///      or after max_iter iterations / max_eval evaluations
/// ```
///
/// Like torch's, it has one parameter group and keeps its vectors in the parameters' dtype;
/// scalars (step lengths, curvature products) are in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsConfig {
    pub lr: f64,
    pub max_iter: usize,
    /// `None`: `max_iter * 5 / 4`.
    pub max_eval: Option<usize>,
    pub tolerance_grad: f64,
    pub tolerance_change: f64,
    pub history_size: usize,
    /// torch's `line_search_fn = "strong_wolfe"`.
    pub strong_wolfe: bool,
    pub maximize: bool,
}

impl Default for LbfgsConfig {
    /// torch's defaults: `lr = 1`, `max_iter = 20`, `tolerance_grad = 1e-7`,
    /// `tolerance_change = 1e-9`, `history_size = 100`, no line search.
    fn default() -> LbfgsConfig {
        LbfgsConfig {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            strong_wolfe: false,
            maximize: false,
        }
    }
}

/// The optimizer: parameters, settings, and the curvature history carried across steps.
pub struct Lbfgs {
    params: Vec<Param>,
    pub config: LbfgsConfig,
    dtype: DType,
    func_evals: usize,
    n_iter: usize,
    d: Vec<f64>,
    t: f64,
    old_dirs: Vec<Vec<f64>>,
    old_stps: Vec<Vec<f64>>,
    ro: Vec<f64>,
    h_diag: f64,
    prev_flat_grad: Option<Vec<f64>>,
    prev_loss: f64,
}

/// The loss and the parameters' gradients at the current parameter values.
pub type Closure<'a> = dyn FnMut() -> Result<(f64, Gradients)> + 'a;

impl Lbfgs {
    /// L-BFGS over `params` (one group, one float dtype).
    pub fn new(params: impl IntoIterator<Item = Param>, config: LbfgsConfig) -> Result<Lbfgs> {
        check("LBFGS", "lr", config.lr, config.lr >= 0.0, "must be >= 0")?;
        let h = config.history_size as f64;
        check("LBFGS", "history_size", h, config.history_size >= 1, "must be >= 1")?;
        let params: Vec<Param> = params.into_iter().collect();
        let dtype = params.first().map_or(DType::F64, |p| p.read(|v| v.dtype()));
        for p in &params {
            let d = p.read(|v| v.dtype());
            if !d.is_float() || d != dtype {
                return Err(OptimError::UnsupportedDType { optimizer: "LBFGS", param: p.id().0, dtype: d });
            }
        }
        Ok(Lbfgs {
            params,
            config,
            dtype,
            func_evals: 0,
            n_iter: 0,
            d: Vec::new(),
            t: 0.0,
            old_dirs: Vec::new(),
            old_stps: Vec::new(),
            ro: Vec::new(),
            h_diag: 1.0,
            prev_flat_grad: None,
            prev_loss: 0.0,
        })
    }

    /// Total loss evaluations so far.
    pub fn func_evals(&self) -> usize {
        self.func_evals
    }

    /// Total iterations so far.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Rounds a vector to the parameters' dtype, as torch's tensors of that dtype hold it.
    fn round(&self, v: &mut [f64]) {
        if self.dtype == DType::F32 {
            for x in v {
                *x = *x as f32 as f64;
            }
        }
    }

    fn scalar(&self, x: f64) -> f64 {
        if self.dtype == DType::F32 {
            x as f32 as f64
        } else {
            x
        }
    }

    fn dot(&self, a: &[f64], b: &[f64]) -> f64 {
        self.scalar(a.iter().zip(b).map(|(x, y)| x * y).sum())
    }

    /// The gradients of every parameter, flattened (zeros where there is none).
    fn flat_grad(&self, grads: &Gradients) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        for p in &self.params {
            let (shape, n) = p.read(|v| (v.shape().to_vec(), v.numel()));
            match grads.param(p) {
                Some(g) if g.shape() == shape.as_slice() && g.dtype() == self.dtype => {
                    out.extend(g.to_dtype(DType::F64).contiguous().to_vec::<f64>())
                }
                Some(g) => {
                    return Err(OptimError::GradientMismatch {
                        optimizer: "LBFGS",
                        param: p.id().0,
                        shape,
                        param_dtype: self.dtype,
                        grad: g.shape().to_vec(),
                        grad_dtype: g.dtype(),
                    })
                }
                None => out.extend(std::iter::repeat_n(0.0, n)),
            }
        }
        if self.config.maximize {
            out.iter_mut().for_each(|x| *x = -*x);
        }
        Ok(out)
    }

    /// `θ ← θ + t·d`, one fused multiply-add per element in the parameters' dtype.
    fn add_grad(&self, t: f64, d: &[f64]) -> Result<()> {
        let mut offset = 0;
        for p in &self.params {
            let n = p.read(|v| v.numel());
            let part = &d[offset..offset + n];
            p.update(|v| -> Result<()> {
                match self.dtype {
                    DType::F32 => {
                        let t = t as f32;
                        for (x, &u) in v.try_as_mut_slice::<f32>()?.iter_mut().zip(part) {
                            *x = t.mul_add(u as f32, *x);
                        }
                    }
                    _ => {
                        for (x, &u) in v.try_as_mut_slice::<f64>()?.iter_mut().zip(part) {
                            *x = t.mul_add(u, *x);
                        }
                    }
                }
                Ok(())
            })?;
            offset += n;
        }
        Ok(())
    }

    fn values(&self) -> Vec<Tensor> {
        self.params.iter().map(|p| p.value().contiguous()).collect()
    }

    fn restore(&self, values: &[Tensor]) -> Result<()> {
        for (p, v) in self.params.iter().zip(values) {
            p.try_set(v.clone())?;
        }
        Ok(())
    }

    /// Loss and flat gradient at `θ + t·d`, then back to `θ` (`x`).
    fn directional(&self, closure: &mut Closure, x: &[Tensor], t: f64, d: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.add_grad(t, d)?;
        let (loss, grads) = closure()?;
        let loss = if self.config.maximize { -loss } else { loss };
        let g = self.flat_grad(&grads)?;
        self.restore(x)?;
        Ok((loss, g))
    }

    /// One optimization step: up to `max_iter` iterations, each re-evaluating the loss and
    /// gradients with `closure` at the current parameter values. Returns the loss at the start.
    pub fn step(&mut self, closure: &mut Closure) -> Result<f64> {
        let c = self.config.clone();
        let max_eval = c.max_eval.unwrap_or(c.max_iter * 5 / 4);
        let (orig_loss, grads) = closure()?;
        let mut loss = if c.maximize { -orig_loss } else { orig_loss };
        let mut current_evals = 1;
        self.func_evals += 1;
        let mut flat_grad = self.flat_grad(&grads)?;
        let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        if max_abs(&flat_grad) <= c.tolerance_grad {
            return Ok(orig_loss);
        }
        let mut n_iter = 0;
        while n_iter < c.max_iter {
            n_iter += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                self.d = flat_grad.iter().map(|g| -g).collect();
                (self.old_dirs, self.old_stps, self.ro, self.h_diag) = (Vec::new(), Vec::new(), Vec::new(), 1.0);
            } else {
                self.update_direction(&flat_grad);
            }
            self.prev_flat_grad = Some(flat_grad.clone());
            self.prev_loss = loss;
            self.t = if self.n_iter == 1 {
                let l1 = self.scalar(flat_grad.iter().map(|g| g.abs()).sum());
                self.scalar(1.0f64.min(self.scalar(1.0 / l1)) * c.lr)
            } else {
                c.lr
            };
            let gtd = self.dot(&flat_grad, &self.d);
            if gtd > -c.tolerance_change {
                break;
            }
            let mut ls_func_evals = 0;
            let opt_cond;
            let d = self.d.clone();
            if c.strong_wolfe {
                let x = self.values();
                let (f, g, t, evals) = self.strong_wolfe(closure, &x, self.t, &d, loss, &flat_grad, gtd)?;
                (loss, flat_grad, self.t, ls_func_evals) = (f, g, t, evals);
                self.add_grad(self.t, &d)?;
                opt_cond = max_abs(&flat_grad) <= c.tolerance_grad;
            } else {
                self.add_grad(self.t, &d)?;
                if n_iter != c.max_iter {
                    let (l, grads) = closure()?;
                    loss = if c.maximize { -l } else { l };
                    flat_grad = self.flat_grad(&grads)?;
                    ls_func_evals = 1;
                    opt_cond = max_abs(&flat_grad) <= c.tolerance_grad;
                } else {
                    opt_cond = false;
                }
            }
            current_evals += ls_func_evals;
            self.func_evals += ls_func_evals;
            let step_norm = d.iter().fold(0.0f64, |m, &x| m.max(self.scalar(x * self.t).abs()));
            if n_iter == c.max_iter
                || current_evals >= max_eval
                || opt_cond
                || step_norm <= c.tolerance_change
                || (loss - self.prev_loss).abs() < c.tolerance_change
            {
                break;
            }
        }
        Ok(orig_loss)
    }

    /// The two-loop recursion: the new direction from the gradient and the curvature history.
    fn update_direction(&mut self, flat_grad: &[f64]) {
        let prev = self.prev_flat_grad.as_deref().unwrap_or(flat_grad);
        let mut y: Vec<f64> = flat_grad.iter().zip(prev).map(|(a, b)| a - b).collect();
        let mut s: Vec<f64> = self.d.iter().map(|x| x * self.t).collect();
        self.round(&mut y);
        self.round(&mut s);
        let ys = self.dot(&y, &s);
        if ys > 1e-10 {
            if self.old_dirs.len() == self.config.history_size {
                self.old_dirs.remove(0);
                self.old_stps.remove(0);
                self.ro.remove(0);
            }
            self.h_diag = self.scalar(ys / self.dot(&y, &y));
            self.old_dirs.push(y);
            self.old_stps.push(s);
            self.ro.push(self.scalar(1.0 / ys));
        }
        let num_old = self.old_dirs.len();
        let mut al = vec![0.0; num_old];
        let mut q: Vec<f64> = flat_grad.iter().map(|g| -g).collect();
        for i in (0..num_old).rev() {
            al[i] = self.scalar(self.dot(&self.old_stps[i], &q) * self.ro[i]);
            for (qj, &yj) in q.iter_mut().zip(&self.old_dirs[i]) {
                *qj = self.fma(-al[i], yj, *qj);
            }
        }
        let mut r: Vec<f64> = q.iter().map(|x| x * self.h_diag).collect();
        self.round(&mut r);
        for ((y, s), (&ro, &a)) in self.old_dirs.iter().zip(&self.old_stps).zip(self.ro.iter().zip(&al)) {
            let be = self.scalar(self.dot(y, &r) * ro);
            let alpha = self.scalar(a - be);
            for (rj, &sj) in r.iter_mut().zip(s) {
                *rj = self.fma(alpha, sj, *rj);
            }
        }
        self.d = r;
    }

    /// `a·b + c` with one rounding in the parameters' dtype.
    fn fma(&self, a: f64, b: f64, c: f64) -> f64 {
        if self.dtype == DType::F32 {
            (a as f32).mul_add(b as f32, c as f32) as f64
        } else {
            a.mul_add(b, c)
        }
    }
}

mod line_search;
