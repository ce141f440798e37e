//! The fused updates agree with readable reference versions built from tensor ops (the update
//! rules as their doc comments write them), on tensors small enough for one thread and large
//! enough to be split across the pool.

use autograd::{Gradients, Param};
use optim::{Adadelta, Adagrad, Adam, Adamax, Algorithm, Lion, NAdam, Optim, Optimizer, RAdam, RmsProp, Sgd};
use tensor::{DType, Rng, Tensor};

/// A reference optimizer: one step of the math on whole tensors.
trait Reference {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor;
}

struct RefSgd {
    cfg: Sgd,
    buf: Option<Tensor>,
}

impl Reference for RefSgd {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let mut d = if c.maximize { g.neg() } else { g.clone() };
        d = &d + &p.mul_scalar(c.weight_decay);
        if c.momentum != 0.0 {
            let b = match &self.buf {
                None => d.clone(),
                Some(b) => &b.mul_scalar(c.momentum) + &d.mul_scalar(1.0 - c.dampening),
            };
            d = if c.nesterov { &d + &b.mul_scalar(c.momentum) } else { b.clone() };
            self.buf = Some(b);
        }
        p - &d.mul_scalar(c.lr)
    }
}

struct RefAdam {
    cfg: Adam,
    t: i32,
    m: Option<Tensor>,
    v: Option<Tensor>,
    vmax: Option<Tensor>,
}

impl Reference for RefAdam {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        self.t += 1;
        let mut g = if c.maximize { g.neg() } else { g.clone() };
        let mut p = p.clone();
        if c.decoupled_weight_decay {
            p = p.mul_scalar(1.0 - c.lr * c.weight_decay);
        } else {
            g = &g + &p.mul_scalar(c.weight_decay);
        }
        let m = self.m.take().unwrap_or_else(|| g.zeros_like());
        let v = self.v.take().unwrap_or_else(|| g.zeros_like());
        let m = &m + &(&g - &m).mul_scalar(1.0 - b1);
        let v = &v.mul_scalar(b2) + &(&g * &g).mul_scalar(1.0 - b2);
        let second = if c.amsgrad {
            let vmax = self.vmax.take().unwrap_or_else(|| g.zeros_like()).maximum(&v);
            self.vmax = Some(vmax.clone());
            vmax
        } else {
            v.clone()
        };
        let (bc1, bc2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        let denom = second.sqrt().div_scalar(bc2.sqrt()).add_scalar(c.eps);
        let out = &p - &(&m / &denom).mul_scalar(c.lr / bc1);
        (self.m, self.v) = (Some(m), Some(v));
        out
    }
}

struct RefRmsProp {
    cfg: RmsProp,
    v: Option<Tensor>,
    gavg: Option<Tensor>,
    buf: Option<Tensor>,
}

impl Reference for RefRmsProp {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let g = if c.maximize { g.neg() } else { g.clone() };
        let g = &g + &p.mul_scalar(c.weight_decay);
        let v =
            &self.v.take().unwrap_or_else(|| g.zeros_like()).mul_scalar(c.alpha) + &(&g * &g).mul_scalar(1.0 - c.alpha);
        let avg = if c.centered {
            let ga = self.gavg.take().unwrap_or_else(|| g.zeros_like());
            let ga = &ga + &(&g - &ga).mul_scalar(1.0 - c.alpha);
            let a = (&v - &(&ga * &ga)).sqrt();
            self.gavg = Some(ga);
            a
        } else {
            v.sqrt()
        }
        .add_scalar(c.eps);
        self.v = Some(v);
        if c.momentum > 0.0 {
            let b = &self.buf.take().unwrap_or_else(|| g.zeros_like()).mul_scalar(c.momentum) + &(&g / &avg);
            let out = p - &b.mul_scalar(c.lr);
            self.buf = Some(b);
            out
        } else {
            p - &(&g / &avg).mul_scalar(c.lr)
        }
    }
}

struct RefAdagrad {
    cfg: Adagrad,
    t: i32,
    sum: Option<Tensor>,
}

impl Reference for RefAdagrad {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        self.t += 1;
        let g = if c.maximize { g.neg() } else { g.clone() };
        let g = &g + &p.mul_scalar(c.weight_decay);
        let sum = self.sum.take().unwrap_or_else(|| g.full_like(c.initial_accumulator_value));
        let sum = &sum + &(&g * &g);
        let clr = c.lr / (1.0 + (self.t - 1) as f64 * c.lr_decay);
        let out = p - &(&g / &sum.sqrt().add_scalar(c.eps)).mul_scalar(clr);
        self.sum = Some(sum);
        out
    }
}

struct RefAdadelta {
    cfg: Adadelta,
    v: Option<Tensor>,
    u: Option<Tensor>,
}

impl Reference for RefAdadelta {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let g = if c.maximize { g.neg() } else { g.clone() };
        let g = &g + &p.mul_scalar(c.weight_decay);
        let v = &self.v.take().unwrap_or_else(|| g.zeros_like()).mul_scalar(c.rho) + &(&g * &g).mul_scalar(1.0 - c.rho);
        let u = self.u.take().unwrap_or_else(|| g.zeros_like());
        let delta = &(&u.add_scalar(c.eps).sqrt() / &v.add_scalar(c.eps).sqrt()) * &g;
        let u = &u.mul_scalar(c.rho) + &(&delta * &delta).mul_scalar(1.0 - c.rho);
        (self.v, self.u) = (Some(v), Some(u));
        p - &delta.mul_scalar(c.lr)
    }
}

struct RefAdamax {
    cfg: Adamax,
    t: i32,
    m: Option<Tensor>,
    u: Option<Tensor>,
}

impl Reference for RefAdamax {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        self.t += 1;
        let g = if c.maximize { g.neg() } else { g.clone() };
        let g = &g + &p.mul_scalar(c.weight_decay);
        let m = self.m.take().unwrap_or_else(|| g.zeros_like());
        let m = &m + &(&g - &m).mul_scalar(1.0 - b1);
        let u = self.u.take().unwrap_or_else(|| g.zeros_like()).mul_scalar(b2).maximum(&g.abs().add_scalar(c.eps));
        let out = p - &(&m / &u).mul_scalar(c.lr / (1.0 - b1.powi(self.t)));
        (self.m, self.u) = (Some(m), Some(u));
        out
    }
}

struct RefNAdam {
    cfg: NAdam,
    t: i32,
    mu_product: f32,
    m: Option<Tensor>,
    v: Option<Tensor>,
}

impl Reference for RefNAdam {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        self.t += 1;
        let t = self.t as f64;
        let g = if c.maximize { g.neg() } else { g.clone() };
        let g = &g + &p.mul_scalar(c.weight_decay);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * c.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * c.momentum_decay));
        self.mu_product *= mu as f32;
        let product = self.mu_product as f64;
        let m = self.m.take().unwrap_or_else(|| g.zeros_like());
        let m = &m + &(&g - &m).mul_scalar(1.0 - b1);
        let v = &self.v.take().unwrap_or_else(|| g.zeros_like()).mul_scalar(b2) + &(&g * &g).mul_scalar(1.0 - b2);
        let denom = v.div_scalar(1.0 - b2.powi(self.t)).sqrt().add_scalar(c.eps);
        let out = &(p - &(&g / &denom).mul_scalar(c.lr * (1.0 - mu) / (1.0 - product)))
            - &(&m / &denom).mul_scalar(c.lr * mu_next / (1.0 - product * mu_next));
        (self.m, self.v) = (Some(m), Some(v));
        out
    }
}

struct RefRAdam {
    cfg: RAdam,
    t: i32,
    m: Option<Tensor>,
    v: Option<Tensor>,
}

impl Reference for RefRAdam {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        self.t += 1;
        let t = self.t as f64;
        let g = if c.maximize { g.neg() } else { g.clone() };
        let g = &g + &p.mul_scalar(c.weight_decay);
        let m = self.m.take().unwrap_or_else(|| g.zeros_like());
        let m = &m + &(&g - &m).mul_scalar(1.0 - b1);
        let v = &self.v.take().unwrap_or_else(|| g.zeros_like()).mul_scalar(b2) + &(&g * &g).mul_scalar(1.0 - b2);
        let (bc1, bc2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
        let (rho_inf, m_hat) = (2.0 / (1.0 - b2) - 1.0, m.div_scalar(bc1));
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        let step = if rho_t > 5.0 {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt();
            let adaptive = v.sqrt().add_scalar(c.eps).recip().mul_scalar(bc2.sqrt());
            (&m_hat * &adaptive).mul_scalar(c.lr * rect)
        } else {
            m_hat.mul_scalar(c.lr)
        };
        (self.m, self.v) = (Some(m), Some(v));
        p - &step
    }
}

/// Lion as the paper's Algorithm 2 writes it.
struct RefLion {
    cfg: Lion,
    m: Option<Tensor>,
}

impl Reference for RefLion {
    fn step(&mut self, p: &Tensor, g: &Tensor) -> Tensor {
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        let g = if c.maximize { g.neg() } else { g.clone() };
        let m = self.m.take().unwrap_or_else(|| g.zeros_like());
        let update = (&m.mul_scalar(b1) + &g.mul_scalar(1.0 - b1)).sign();
        let out = p - &(&update + &p.mul_scalar(c.weight_decay)).mul_scalar(c.lr);
        self.m = Some(&m.mul_scalar(b2) + &g.mul_scalar(1.0 - b2));
        out
    }
}

/// Five steps of the fused optimizer and the reference on the same random gradients.
fn agree<A: Algorithm>(config: A, mut reference: impl Reference, n: usize) {
    let mut rng = Rng::seed(n as u64);
    let start = Tensor::randn(&[n], DType::F64, &mut rng);
    let p = Param::new(start.clone());
    let mut opt = Optim::new([p.clone()], config.clone()).unwrap();
    let mut expected = start;
    for step in 0..5 {
        let g = Tensor::randn(&[n], DType::F64, &mut rng);
        let mut grads = Gradients::new();
        grads.set_param(p.id(), g.clone());
        opt.step(&grads).unwrap();
        expected = reference.step(&expected, &g);
        let (got, want) = (p.value().to_vec::<f64>(), expected.to_vec::<f64>());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs() / b.abs().max(1e-3)).fold(0.0, f64::max);
        assert!(worst < 1e-12, "{config:?}, n = {n}, step {step}: fused and reference differ by {worst:e}");
    }
}

const SIZES: [usize; 2] = [37, 100_003];

#[test]
fn fused_sgd_agrees_with_the_reference() {
    for n in SIZES {
        for cfg in [
            Sgd { lr: 0.1, ..Sgd::default() },
            Sgd { lr: 0.1, momentum: 0.9, dampening: 0.1, weight_decay: 0.01, ..Sgd::default() },
            Sgd { lr: 0.1, momentum: 0.9, nesterov: true, maximize: true, ..Sgd::default() },
        ] {
            agree(cfg.clone(), RefSgd { cfg, buf: None }, n);
        }
    }
}

#[test]
fn fused_adam_agrees_with_the_reference() {
    for n in SIZES {
        for cfg in [
            Adam::default(),
            Adam { amsgrad: true, weight_decay: 0.1, maximize: true, ..Adam::default() },
            Adam { amsgrad: true, ..Adam::adamw() },
        ] {
            agree(cfg.clone(), RefAdam { cfg, t: 0, m: None, v: None, vmax: None }, n);
        }
    }
}

#[test]
fn fused_rmsprop_agrees_with_the_reference() {
    for n in SIZES {
        for cfg in [
            RmsProp::default(),
            RmsProp { centered: true, momentum: 0.5, weight_decay: 0.01, ..RmsProp::default() },
            RmsProp { momentum: 0.9, maximize: true, ..RmsProp::default() },
        ] {
            agree(cfg.clone(), RefRmsProp { cfg, v: None, gavg: None, buf: None }, n);
        }
    }
}

#[test]
fn fused_adagrad_agrees_with_the_reference() {
    for n in SIZES {
        for cfg in [
            Adagrad::default(),
            Adagrad {
                lr_decay: 0.1,
                initial_accumulator_value: 0.5,
                weight_decay: 0.01,
                maximize: true,
                ..Adagrad::default()
            },
        ] {
            agree(cfg.clone(), RefAdagrad { cfg, t: 0, sum: None }, n);
        }
    }
}

#[test]
fn fused_adadelta_and_adamax_agree_with_the_reference() {
    for n in SIZES {
        for cfg in [
            Adadelta::default(),
            Adadelta { lr: 0.5, rho: 0.8, weight_decay: 0.1, maximize: true, ..Adadelta::default() },
        ] {
            agree(cfg.clone(), RefAdadelta { cfg, v: None, u: None }, n);
        }
        for cfg in [Adamax::default(), Adamax { weight_decay: 0.1, maximize: true, ..Adamax::default() }] {
            agree(cfg.clone(), RefAdamax { cfg, t: 0, m: None, u: None }, n);
        }
    }
}

#[test]
fn fused_nadam_and_radam_agree_with_the_reference() {
    for n in SIZES {
        for cfg in [NAdam::default(), NAdam { weight_decay: 0.1, momentum_decay: 0.01, ..NAdam::default() }] {
            agree(cfg.clone(), RefNAdam { cfg, t: 0, mu_product: 1.0, m: None, v: None }, n);
        }
        for cfg in
            [RAdam::default(), RAdam { betas: (0.9, 0.9), weight_decay: 0.1, maximize: true, ..RAdam::default() }]
        {
            agree(cfg.clone(), RefRAdam { cfg, t: 0, m: None, v: None }, n);
        }
    }
}

#[test]
fn fused_lion_agrees_with_the_papers_pseudo_code() {
    for n in SIZES {
        for cfg in [Lion::default(), Lion { lr: 1e-3, weight_decay: 0.5, maximize: true, ..Lion::default() }] {
            agree(cfg.clone(), RefLion { cfg, m: None }, n);
        }
    }
    // The first step moves every coordinate by lr against the gradient's sign (m starts at 0).
    let p = Param::new(Tensor::from_vec(vec![1.0f64, 1.0, 1.0], &[3]));
    let mut opt = Optim::new([p.clone()], Lion { lr: 0.1, ..Lion::default() }).unwrap();
    let mut g = Gradients::new();
    g.set_param(p.id(), Tensor::from_vec(vec![-3.0f64, 0.0, 2e-9], &[3]));
    opt.step(&g).unwrap();
    assert_eq!(p.value().to_vec::<f64>(), vec![1.1, 1.0, 0.9]);
}
