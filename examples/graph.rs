//! The tape is a graph IR: a small network's forward pass and its recorded backward pass,
//! printed as a program, cut into a replayable function, and written as Graphviz DOT.
//!
//! `cargo run --release --example graph -- [--dot FILE]`

use backprop::prelude::*;

const HELP: &str = "graph: prints a small network's forward and backward IR

USAGE: cargo run --release --example graph -- [--dot FILE]

  --dot FILE   also write the graph as Graphviz DOT (render with `dot -Tsvg FILE`)";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut dot_path = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dot" => dot_path = Some(args.next().ok_or("--dot needs a file name")?),
            "--help" | "-h" => {
                println!("{HELP}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (try --help)").into()),
        }
    }
    run(dot_path)
}

fn run(dot_path: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng::seed(0);
    let layer1 = Linear::new(2, 3, &mut rng);
    let layer2 = Linear::new(3, 2, &mut rng);

    let tape = Tape::new();
    let x = tape.input(Tensor::randn(&[4, 2], DType::F32, &mut rng));
    let y = tape.input(Tensor::from(vec![0i64, 1, 1, 0]));
    // The layers' parameters as leaves we can differentiate with respect to.
    let w1 = tape.param(&layer1.weight);
    let b1 = tape.param(layer1.bias.as_ref().ok_or("layer 1 has a bias")?);
    let w2 = tape.param(&layer2.weight);
    let b2 = tape.param(layer2.bias.as_ref().ok_or("layer 2 has a bias")?);
    let h = (x.matmul(&w1.t()) + &b1).tanh();
    let loss = cross_entropy(&(h.matmul(&w2.t()) + &b2), &y, Reduction::Mean)?;
    println!("The forward pass:\n{tape}\n");

    // The backward pass recorded too: the program now computes the loss and its gradients.
    let grads = grad(std::slice::from_ref(&loss), &[w1, b1, w2, b2], true)?;
    let outputs: Vec<Var> = std::iter::once(loss).chain(grads).collect();
    let step = tape.function(&[x, y], &outputs)?;
    println!("Forward and backward as one program ({} nodes), ready to replay on new batches:\n{step}", step.len());

    if let Some(path) = dot_path {
        std::fs::write(&path, tape.to_dot())?;
        println!("\nwrote {path} (render with `dot -Tsvg {path}`)");
    }
    Ok(())
}

#[test]
fn runs_on_tiny_settings() {
    run(None).unwrap();
}
