//! Gradients of gradients: a physics-informed network solving an ODE whose loss contains the
//! network's second derivative, and a Newton step with Hessian-vector products (conjugate
//! gradient).
//!
//! `cargo run --release --example higher_order -- [--steps N]`

use backprop::autograd::hvp;
use backprop::prelude::*;

/// u'' + u = 0 on [0, π] with u(0) = 0, u'(0) = 1: the solution is sin(x).
fn pinn(steps: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng::seed(1);
    let net = Sequential::new()
        .add(Linear::with_options(1, 24, true, DType::F64, &mut rng)?)
        .add(Tanh)
        .add(Linear::with_options(24, 1, true, DType::F64, &mut rng)?);
    let mut opt = Optim::new(net.parameters(), Adam { lr: 0.01, ..Adam::default() })?;
    // Anneal the rate so Adam settles instead of bouncing at the end.
    let mut sched = Scheduler::new(&mut opt, optim::CosineAnnealingLr { t_max: steps as i64, eta_min: 1e-4 })?;
    let xs = Tensor::linspace(0.0, std::f64::consts::PI, 32, DType::F64).reshape(&[32, 1]);
    let tape = Tape::new();
    for step in 0..steps {
        tape.clear();
        let x = tape.var(xs.clone());
        let u = net.forward(&x)?;
        // du/dx and d2u/dx2 per point: each u_i depends only on x_i, so the gradient of sum(u)
        // is the pointwise derivative; recorded (create_graph) so it can be differentiated again.
        let du = grad(&[u.sum_all()], std::slice::from_ref(&x), true)?[0].clone();
        let d2u = grad(&[du.sum_all()], std::slice::from_ref(&x), true)?[0].clone();
        let residual = (&d2u + &u).square().mean_all();
        let x0 = tape.var(Tensor::zeros(&[1, 1], DType::F64));
        let u0 = net.forward(&x0)?;
        let du0 = grad(&[u0.sum_all()], std::slice::from_ref(&x0), true)?[0].clone();
        let loss = residual + u0.square().sum_all() + (du0 - 1.0).square().sum_all();
        if step % (steps / 4).max(1) == 0 || step + 1 == steps {
            println!("step {step:5}: physics loss {:.3e}", loss.item());
        }
        opt.step(&loss.backward()?)?;
        sched.step(&mut opt)?;
    }
    no_grad(|| -> Result<(), Box<dyn std::error::Error>> {
        let probe = Tensor::from(vec![0.5f64, 1.5, 2.5]).reshape(&[3, 1]);
        let u = net.forward(&Tape::new().constant(probe.clone()))?;
        for (x, u) in probe.to_vec::<f64>().iter().zip(u.value().to_vec::<f64>()) {
            println!("  u({x}) = {u:.4}   sin({x}) = {:.4}", x.sin());
        }
        Ok(())
    })
}

/// One Newton step on f(w) = sum(exp(a·w) + w²): solve H d = -g by conjugate gradients using
/// only Hessian-vector products, then take w + d.
fn newton() -> Result<(), Box<dyn std::error::Error>> {
    let a = Tensor::from(vec![0.5f64, -1.0, 0.25]);
    let f = |w: &Var| -> autograd::Result<Var> {
        w.try_mul(&w.constant(a.clone()))?.try_exp()?.try_add(&w.try_square()?)?.try_sum(&[], false)
    };
    let mut w = Tensor::from(vec![1.0f64, 1.0, 1.0]);
    for iteration in 0..4 {
        let tape = Tape::new();
        let wv = tape.var(w.clone());
        let fw = f(&wv)?;
        let g = grad(std::slice::from_ref(&fw), &[wv], false)?[0].tensor();
        println!("newton {iteration}: f = {:.10}, |g| = {:.3e}", fw.item(), g.norm(2.0, &[], false).item());
        // Conjugate gradients on H d = -g.
        let mut d = g.zeros_like();
        let mut r = g.neg();
        let mut p = r.clone();
        for _ in 0..10 {
            let hp = hvp(&f, &w, &p)?;
            let rr = r.square().sum_all().item();
            if rr < 1e-30 {
                break;
            }
            let alpha = rr / (&p * &hp).sum_all().item();
            d = &d + &(&p * alpha);
            r = &r - &(&hp * alpha);
            p = &r + &(&p * (r.square().sum_all().item() / rr));
        }
        w = &w + &d;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut steps = 1500;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--steps" => steps = args.next().ok_or("--steps needs a value")?.parse()?,
            "--help" | "-h" => {
                println!("higher_order: a physics-informed network and a Newton step with Hessian-vector products\n\nUSAGE: cargo run --release --example higher_order -- [--steps N]");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (try --help)").into()),
        }
    }
    run(steps)
}

fn run(steps: usize) -> Result<(), Box<dyn std::error::Error>> {
    println!("Physics-informed network for u'' + u = 0, u(0) = 0, u'(0) = 1 (the solution is sin):");
    pinn(steps)?;
    println!("\nNewton's method with conjugate gradients on Hessian-vector products:");
    newton()
}

#[test]
fn runs_on_tiny_settings() {
    run(20).unwrap();
}
