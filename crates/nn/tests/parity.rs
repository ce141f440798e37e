//! Losses and `Linear` against PyTorch on fixed inputs, values and gradients, f64 to 1e-12.
//! The references are `tests/data/losses.txt`, made by `tests/data/gen_losses.py`.

use autograd::Param;
use autograd::{grad, Tape, Var};
use nn::{loss, Gru, GruCell, Linear, Lstm, LstmCell, Module, MultiheadAttention, RecurrentWeights, Reduction};
use tensor::{DType, Tensor};

const FIXTURE: &str = include_str!("data/losses.txt");

/// `sin(a·i + b)·1.5` laid out in `shape`, as the generator's `grid`.
fn grid(shape: &[usize], a: f64, b: f64) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| (a * i as f64 + b).sin() * 1.5).collect::<Vec<f64>>(), shape)
}

struct Case {
    name: String,
    value: Vec<f64>,
    grads: Vec<Vec<f64>>,
}

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for line in FIXTURE.lines() {
        let numbers =
            |s: &str| -> Vec<f64> { s.split_whitespace().filter(|v| *v != "-").map(|v| v.parse().unwrap()).collect() };
        if let Some(name) = line.strip_prefix("case ") {
            out.push(Case { name: name.to_string(), value: Vec::new(), grads: Vec::new() });
        } else if let Some(rest) = line.strip_prefix("value ") {
            out.last_mut().unwrap().value = numbers(rest.split(" : ").nth(1).unwrap());
        } else if let Some(rest) = line.strip_prefix("grad ") {
            out.last_mut().unwrap().grads.push(numbers(rest));
        }
    }
    out
}

fn close(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 1e-12 * w.abs().max(1.0))
}

/// The loss named by `name`, and the gradient of `sum(loss * r)` with respect to its input.
fn evaluate(name: &str, reduction: Reduction) -> (Vec<f64>, Vec<f64>) {
    let tape = Tape::new();
    let sig = |t: Tensor| t.sigmoid();
    let x = grid(&[4, 3], 0.7, 0.1);
    let t = tape.constant(grid(&[4, 3], 0.3, 1.2));
    let t01 = tape.constant(sig(grid(&[4, 3], 1.1, 0.2)));
    let cls = Tensor::from_vec(vec![2i64, 0, 1, 2], &[4]);
    let input = tape.var(if name == "bce" { sig(grid(&[4, 3], 0.5, 0.4)) } else { x });
    let v: Var = match name {
        "mse" => loss::mse_loss(&input, &t, reduction),
        "l1" => loss::l1_loss(&input, &t, reduction),
        "huber" => loss::huber_loss(&input, &t, 0.8, reduction),
        "smooth_l1" => loss::smooth_l1_loss(&input, &t, 0.6, reduction),
        "bce_logits" => loss::binary_cross_entropy_with_logits(&input, &t01, reduction),
        "bce" => loss::binary_cross_entropy(&input, &t01, reduction),
        "cross_entropy" => loss::cross_entropy(&input, &cls, reduction),
        "nll" => loss::nll_loss(&input.log_softmax(-1), &cls, reduction),
        "kl_div" | "kl_div_log_target" => {
            let q = grid(&[4, 3], 0.8, 0.6).softmax(-1);
            if name == "kl_div" {
                let mut q0 = q.to_vec::<f64>();
                q0[1] = 0.0;
                loss::kl_div(&input, &tape.constant(Tensor::from_vec(q0, &[4, 3])), false, reduction)
            } else {
                loss::kl_div(&input, &tape.constant(q.log()), true, reduction)
            }
        }
        "margin_ranking" => {
            let sign = tape.constant(grid(&[4, 3], 1.3, 0.4).sign());
            loss::margin_ranking_loss(&input, &t, &sign, 0.3, reduction)
        }
        "cosine_embedding" => {
            let labels = Tensor::from_vec(vec![1.0, -1.0, 1.0, -1.0], &[4]);
            loss::cosine_embedding_loss(&input, &t, &labels, 0.2, reduction)
        }
        "bce_logits_pos_weight" | "bce_logits_both_weights" => {
            let pw = tape.constant(Tensor::from_vec(vec![3.0, 0.5, 1.5], &[3]));
            let ew = tape.constant(grid(&[4, 1], 0.6, 0.2).abs());
            let ew = (name == "bce_logits_both_weights").then_some(&ew);
            loss::binary_cross_entropy_with_logits_weighted(&input, &t01, ew, Some(&pw), reduction)
        }
        _ if name.starts_with("ce_") => {
            let cw = Some(Tensor::from_vec(vec![0.5, 2.0, 1.25], &[3]));
            let q = grid(&[4, 3], 0.8, 0.6).softmax(-1);
            let ignored = Tensor::from_vec(vec![2i64, -100, 1, 0], &[4]);
            let base = loss::CrossEntropyOptions::default();
            let (target, options) = match name {
                "ce_weight" => (cls, loss::CrossEntropyOptions { weight: cw, ..base }),
                "ce_ignore" => (cls, loss::CrossEntropyOptions { ignore_index: 2, ..base }),
                "ce_smooth" => (cls, loss::CrossEntropyOptions { label_smoothing: 0.2, ..base }),
                "ce_all" => (ignored, loss::CrossEntropyOptions { weight: cw, label_smoothing: 0.3, ..base }),
                "ce_probs" => (q, base),
                "ce_probs_all" => (q, loss::CrossEntropyOptions { weight: cw, label_smoothing: 0.25, ..base }),
                other => panic!("unknown loss {other}"),
            };
            loss::cross_entropy_with(&input, &target, &options, reduction)
        }
        other => panic!("unknown loss {other}"),
    }
    .unwrap();
    let r = if v.rank() > 0 { grid(v.shape(), 0.9, 0.3) } else { Tensor::scalar(1.0f64) };
    let total = (&v * &tape.constant(r)).sum_all();
    let g = grad(&[total], &[input], false).unwrap()[0].clone();
    (v.value().to_vec::<f64>(), g.value().to_vec::<f64>())
}

#[test]
fn losses_match_torch() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases().iter().filter(|c| !["linear", "lstm", "gru", "mha", "mha_weights"].contains(&c.name.as_str())) {
        let (name, reduction) = case.name.split_once(' ').unwrap();
        let reduction = match reduction {
            "none" => Reduction::None,
            "mean" => Reduction::Mean,
            _ => Reduction::Sum,
        };
        let (value, g) = evaluate(name, reduction);
        if !close(&value, &case.value) || !close(&g, &case.grads[0]) {
            failures.push(case.name.clone());
        }
        checked += 1;
    }
    assert_eq!(checked, 60);
    assert!(failures.is_empty(), "off torch: {failures:?}");
}

#[test]
fn linear_matches_torch() {
    let case = cases().into_iter().find(|c| c.name == "linear").unwrap();
    let layer = Linear::from_tensors(grid(&[5, 3], 0.4, 0.5), Some(grid(&[5], 0.2, 0.9)));
    let tape = Tape::new();
    let x = tape.var(grid(&[4, 3], 0.7, 0.1));
    let y = layer.forward(&x).unwrap();
    assert!(close(&y.value().to_vec::<f64>(), &case.value));
    let total = (&y * &tape.constant(grid(&[4, 5], 0.9, 0.3))).sum_all();
    let grads = total.backward().unwrap();
    assert!(close(&grads.get(&x).unwrap().to_vec::<f64>(), &case.grads[0]));
    assert!(close(&grads.param(&layer.weight).unwrap().to_vec::<f64>(), &case.grads[1]));
    assert!(close(&grads.param(layer.bias.as_ref().unwrap()).unwrap().to_vec::<f64>(), &case.grads[2]));
    assert_eq!(y.dtype(), DType::F64);
}

/// The generator's fixed recurrent weights for `gates` gates of hidden size 3 over inputs of 4.
fn fixed_weights(gates: usize) -> RecurrentWeights {
    let h = 3;
    let half = |t: Tensor| Param::new(t.mul_scalar(0.5));
    RecurrentWeights {
        weight_ih: half(grid(&[gates * h, 4], 0.37, 0.1)),
        weight_hh: half(grid(&[gates * h, h], 0.29, 0.7)),
        bias_ih: Some(half(grid(&[gates * h], 0.53, 0.2))),
        bias_hh: Some(half(grid(&[gates * h], 0.61, 0.9))),
        hidden_size: h,
    }
}

#[test]
fn lstm_and_gru_match_torch() {
    let all = cases();
    let lstm = Lstm { cell: LstmCell { weights: fixed_weights(4) }, batch_first: false };
    let gru = Gru { cell: GruCell { weights: fixed_weights(3) }, batch_first: false };
    for (name, model) in [("lstm", &lstm as &dyn Module), ("gru", &gru as &dyn Module)] {
        let case = all.iter().find(|c| c.name == name).unwrap();
        let tape = Tape::new();
        let x = tape.var(grid(&[3, 2, 4], 0.45, 0.3));
        let y = model.forward(&x).unwrap();
        assert_eq!(y.shape(), &[3, 2, 3]);
        assert!(close(&y.value().to_vec::<f64>(), &case.value), "{name} output");
        let grads = (&y * &tape.constant(grid(&[3, 2, 3], 0.9, 0.3))).sum_all().backward().unwrap();
        assert!(close(&grads.get(&x).unwrap().to_vec::<f64>(), &case.grads[0]), "{name} dx");
        // torch's names, in torch's order, with torch's gradients.
        let named = model.named_parameters();
        let names: Vec<&str> = named.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
        for (i, p) in named.values().enumerate() {
            assert!(close(&grads.param(p).unwrap().to_vec::<f64>(), &case.grads[i + 1]), "{name} {}", names[i]);
        }
    }
}

#[test]
fn batch_first_is_the_transposed_sequence() {
    let lstm = Lstm { cell: LstmCell { weights: fixed_weights(4) }, batch_first: true };
    let tape = Tape::new();
    let x = grid(&[3, 2, 4], 0.45, 0.3);
    let (seq_first, (h, c)) = Lstm { cell: LstmCell { weights: fixed_weights(4) }, batch_first: false }
        .run(&tape.var(x.clone()), None)
        .unwrap();
    let (batch_first, (h2, c2)) = lstm.run(&tape.var(x.transpose(0, 1).contiguous()), None).unwrap();
    assert_eq!(batch_first.value().transpose(0, 1).contiguous().to_vec::<f64>(), seq_first.value().to_vec::<f64>());
    assert_eq!(
        (h.value().to_vec::<f64>(), c.value().to_vec::<f64>()),
        (h2.value().to_vec::<f64>(), c2.value().to_vec::<f64>())
    );
    assert_eq!(
        lstm.run(&tape.var(Tensor::zeros(&[2, 4], DType::F64)), None).unwrap_err().to_string(),
        "lstm: expected a sequence of rank 3, got [2, 4]"
    );
    let cell = GruCell { weights: fixed_weights(3) };
    let bad = cell.step(&tape.var(Tensor::zeros(&[2, 5], DType::F64)), None).unwrap_err();
    assert_eq!(bad.to_string(), "gru_cell: expected input [N, 4] and hidden state [N, 3], got [2, 5] and [2, 3]");
}

#[test]
fn multihead_attention_matches_torch() {
    let all = cases();
    let find = |name: &str| all.iter().find(|c| c.name == name).unwrap();
    let p = |t: Tensor, scale: f64| Param::new(t.mul_scalar(scale));
    let mha = MultiheadAttention {
        num_heads: 2,
        batch_first: false,
        in_proj_weight: p(grid(&[12, 4], 0.41, 0.3), 0.5),
        in_proj_bias: p(grid(&[12], 0.23, 0.5), 0.3),
        out_proj_weight: p(grid(&[4, 4], 0.67, 0.1), 0.5),
        out_proj_bias: p(grid(&[4], 0.31, 0.8), 0.3),
    };
    let tape = Tape::new();
    let q = tape.var(grid(&[3, 2, 4], 0.35, 0.2));
    let k = tape.var(grid(&[5, 2, 4], 0.55, 0.4));
    let v = tape.var(grid(&[5, 2, 4], 0.75, 0.6));
    let mut mask = grid(&[3, 5], 1.7, 0.3).to_vec::<f64>();
    mask[5 + 2] = f64::NEG_INFINITY;
    let mask = tape.constant(Tensor::from_vec(mask, &[3, 5]));
    let (out, weights) = mha.attend(&q, &k, &v, Some(&mask)).unwrap();
    assert!(close(&out.value().to_vec::<f64>(), &find("mha").value), "output");
    assert_eq!(weights.shape(), &[2, 3, 5]);
    assert!(close(&weights.value().to_vec::<f64>(), &find("mha_weights").value), "weights");
    let total = (&out * &tape.constant(grid(&[3, 2, 4], 0.9, 0.3))).sum_all()
        + (&weights * &tape.constant(grid(&[2, 3, 5], 0.8, 0.1))).sum_all();
    let grads = total.backward().unwrap();
    let want = &find("mha").grads;
    for (i, x) in [&q, &k, &v].into_iter().enumerate() {
        assert!(close(&grads.get(x).unwrap().to_vec::<f64>(), &want[i]), "input {i}");
    }
    let named = mha.named_parameters();
    let names: Vec<&str> = named.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
    for (i, param) in named.values().enumerate() {
        assert!(close(&grads.param(param).unwrap().to_vec::<f64>(), &want[3 + i]), "{}", names[i]);
    }
    // batch_first: the same attention on [N, T, E] sequences.
    let bf = MultiheadAttention { batch_first: true, ..mha };
    let t = |x: &autograd::Var| x.transpose(0, 1);
    let (out_bf, weights_bf) = bf.attend(&t(&q), &t(&k), &t(&v), Some(&mask)).unwrap();
    assert!(close(&out_bf.value().transpose(0, 1).contiguous().to_vec::<f64>(), &find("mha").value));
    assert!(close(&weights_bf.value().to_vec::<f64>(), &find("mha_weights").value));
    let mha = bf;
    assert_eq!(
        mha.attend(&t(&q), &t(&k), &t(&q), None).unwrap_err().to_string(),
        "multihead_attention: expected query [L, N, 4] and key, value [S, N, 4] of one shape, got [2, 3, 4], [2, 5, 4], [2, 3, 4]"
    );
    assert_eq!(
        MultiheadAttention::new(6, 4, &mut tensor::Rng::seed(0)).err().unwrap().to_string(),
        "multihead_attention: embed_dim 6 must be divisible by num_heads 4"
    );
}
