//! A user-defined layer and a user-defined differentiable op, trained, with the op's gradient
//! checked by finite differences.
//!
//! The op is a "soft sign" `x / (1 + |x|)` written as a custom op with its own backward rule;
//! the layer is a gated linear unit (`(x W1) * sigmoid(x W2)`) built from `Var` ops. Together
//! they fit a noisy sine.
//!
//! `cargo run --release --example custom_layer -- [--steps N]`

use std::sync::Arc;

use backprop::autograd::{gradcheck, CustomOp, GradcheckOptions};
use backprop::prelude::*;

/// `y = x / (1 + |x|)`; `dy/dx = 1 / (1 + |x|)^2`.
struct SoftSign;

impl CustomOp for SoftSign {
    fn name(&self) -> &str {
        "soft_sign"
    }
    fn forward(&self, inputs: &[&Tensor]) -> backprop::tensor::Result<Tensor> {
        let x = inputs[0];
        x.try_div(&x.abs().add_scalar(1.0))
    }
    fn backward(&self, inputs: &[Var], _output: &Var, grad: &Var) -> autograd::Result<Vec<Option<Var>>> {
        let denom = inputs[0].try_abs()?.try_add_scalar(1.0)?.try_square()?;
        Ok(vec![Some(grad.try_div(&denom)?)])
    }
}

/// A gated linear unit: `(x Wa + ba) * sigmoid(x Wb + bb)`.
struct Glu {
    value: Linear,
    gate: Linear,
}

impl Module for Glu {
    fn forward(&self, x: &Var) -> autograd::Result<Var> {
        self.value.forward(x)?.try_mul(&self.gate.forward(x)?.try_sigmoid()?)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.value.visit(&nn::child(prefix, "value"), f);
        self.gate.visit(&nn::child(prefix, "gate"), f);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut steps = 2000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--steps" => steps = args.next().ok_or("--steps needs a value")?.parse()?,
            "--help" | "-h" => {
                println!("custom_layer: a custom op and a custom layer, trained\n\nUSAGE: cargo run --release --example custom_layer -- [--steps N]");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (try --help)").into()),
        }
    }
    run(steps)
}

fn run(steps: usize) -> Result<(), Box<dyn std::error::Error>> {
    // The custom op's rule against finite differences, in f64.
    let x = Tensor::linspace(-2.0, 2.0, 7, DType::F64).add_scalar(0.05);
    let report =
        gradcheck(&|v: &[Var]| Var::try_custom(Arc::new(SoftSign), &[&v[0]]), &[x], GradcheckOptions::default())?;
    println!("soft_sign {report}");

    let mut rng = Rng::seed(4);
    let glu = Glu { value: Linear::new(1, 16, &mut rng), gate: Linear::new(1, 16, &mut rng) };
    let head = Linear::new(16, 1, &mut rng);
    let xs = Tensor::linspace(-3.0, 3.0, 64, DType::F32).reshape(&[64, 1]);
    let ys = &xs.sin() + &Tensor::normal(&[64, 1], 0.0, 0.05, DType::F32, &mut rng);
    let mut params = glu.parameters();
    params.extend(head.parameters());
    let mut opt = Optim::new(params, Adam { lr: 0.01, ..Adam::default() })?;
    let tape = Tape::new();
    for step in 0..steps {
        tape.clear();
        let h = Var::try_custom(Arc::new(SoftSign), &[&glu.forward(&tape.constant(xs.clone()))?])?;
        let loss = mse_loss(&head.forward(&h)?, &tape.constant(ys.clone()), Reduction::Mean)?;
        if step % (steps / 4).max(1) == 0 || step + 1 == steps {
            println!("step {step:5}: loss {:.5}", loss.item());
        }
        opt.step(&loss.backward()?)?;
    }
    Ok(())
}

#[test]
fn runs_on_tiny_settings() {
    run(30).unwrap();
}
