//! Layers against PyTorch on fixed weights and inputs: outputs, the gradients of
//! `sum(output * r)` for the input and every parameter, and buffers, f64 to 1e-12. The
//! references are `tests/data/layers.txt`, made by `tests/data/gen_layers.py`.

use autograd::{Param, Tape};
use nn::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm, Conv1d, Conv2d, ConvTranspose2d, Embedding, GroupNorm, LayerNorm,
    MaxPool2d, Module,
};
use tensor::{Conv1dParams, Conv2dParams, ConvTranspose2dParams, DType, Tensor};

const FIXTURE: &str = include_str!("data/layers.txt");

fn grid(shape: &[usize], a: f64, b: f64) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| (a * i as f64 + b).sin() * 1.5).collect::<Vec<f64>>(), shape)
}

#[derive(Default)]
struct Case {
    value: Vec<f64>,
    grads: Vec<Vec<f64>>,
    buffers: Vec<Vec<f64>>,
}

fn case(name: &str) -> Case {
    let mut found: Option<Case> = None;
    for line in FIXTURE.lines() {
        let numbers = |s: &str| -> Vec<f64> { s.split_whitespace().map(|v| v.parse().unwrap()).collect() };
        if let Some(n) = line.strip_prefix("case ") {
            if found.is_some() {
                break;
            }
            if n == name {
                found = Some(Case::default());
            }
        } else if let Some(c) = found.as_mut() {
            if let Some(rest) = line.strip_prefix("value ") {
                c.value = numbers(rest);
            } else if let Some(rest) = line.strip_prefix("grad ") {
                c.grads.push(numbers(rest));
            } else if let Some(rest) = line.strip_prefix("buffer ") {
                c.buffers.push(numbers(rest));
            }
        }
    }
    found.unwrap_or_else(|| panic!("no case {name} in the fixture"))
}

fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: {} values, expected {}", got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{what}[{i}]: {g} vs {w}");
    }
}

/// Runs `layer` on `x`, compares the output and the gradients of the input (when it is a float)
/// and of `params`, in order, with the fixture's case `name`.
fn check(name: &str, layer: &dyn Module, x: Tensor, params: &[&Param]) -> Case {
    let expected = case(name);
    let tape = Tape::new();
    let input = if x.dtype().is_float() { tape.var(x) } else { tape.constant(x) };
    let y = layer.forward(&input).unwrap();
    close(&format!("{name} output"), &y.value().to_vec::<f64>(), &expected.value);
    let r = tape.constant(grid(y.shape(), 0.9, 0.3));
    let grads = (&y * &r).sum_all().backward().unwrap();
    let mut k = 0;
    if input.requires_grad() {
        close(&format!("{name} input grad"), &grads.get(&input).unwrap().to_vec::<f64>(), &expected.grads[0]);
        k = 1;
    }
    for (i, p) in params.iter().enumerate() {
        close(&format!("{name} param {i} grad"), &grads.param(p).unwrap().to_vec::<f64>(), &expected.grads[k + i]);
    }
    expected
}

#[test]
fn convolutions_match_torch() {
    let p = Conv2dParams { stride: [2, 1], padding: [1, 0], dilation: [1, 1], groups: 2 };
    let conv = Conv2d::from_tensors(grid(&[6, 2, 3, 2], 0.31, 0.2), Some(grid(&[6], 0.7, 0.1)), p);
    check("conv2d", &conv, grid(&[2, 4, 5, 5], 0.13, 0.4), &[&conv.weight, conv.bias.as_ref().unwrap()]);
    let p1 = Conv1dParams { stride: 2, padding: 1, dilation: 1, groups: 1 };
    let conv1 = Conv1d::from_tensors(grid(&[4, 3, 3], 0.41, 0.3), Some(grid(&[4], 0.5, 0.6)), p1);
    check("conv1d", &conv1, grid(&[2, 3, 7], 0.23, 0.1), &[&conv1.weight, conv1.bias.as_ref().unwrap()]);
    let pt =
        ConvTranspose2dParams { stride: [2, 2], padding: [1, 1], output_padding: [1, 1], dilation: [1, 1], groups: 1 };
    let convt = ConvTranspose2d::from_tensors(grid(&[2, 3, 3, 3], 0.37, 0.5), Some(grid(&[3], 0.9, 0.2)), pt);
    check("conv_transpose2d", &convt, grid(&[1, 2, 3, 4], 0.29, 0.7), &[&convt.weight, convt.bias.as_ref().unwrap()]);
}

#[test]
fn pooling_matches_torch() {
    check("max_pool2d", &MaxPool2d::new(2), grid(&[1, 2, 4, 6], 0.53, 0.2), &[]);
    let avg = AvgPool2d { kernel: [3, 3], stride: [2, 2], padding: [1, 1], count_include_pad: true };
    check("avg_pool2d", &avg, grid(&[1, 2, 5, 5], 0.47, 0.3), &[]);
    let even = AdaptiveAvgPool2d { output_size: [2, 3] };
    check("adaptive_avg_pool2d_even", &even, grid(&[1, 2, 4, 6], 0.43, 0.1), &[]);
    let uneven = AdaptiveAvgPool2d { output_size: [3, 2] };
    check("adaptive_avg_pool2d_uneven", &uneven, grid(&[1, 2, 5, 5], 0.61, 0.9), &[]);
}

#[test]
fn embedding_matches_torch() {
    let emb = Embedding { weight: Param::new(grid(&[5, 3], 0.33, 0.8)) };
    let ids = Tensor::from_vec(vec![1i64, 4, 4, 0, 2, 1], &[2, 3]);
    check("embedding", &emb, ids, &[&emb.weight]);
}

#[test]
fn normalisations_match_torch() {
    let ln = LayerNorm {
        weight: Some(Param::new(grid(&[3, 4], 0.21, 1.0))),
        bias: Some(Param::new(grid(&[3, 4], 0.19, 0.3))),
        ..LayerNorm::new(&[3, 4], DType::F64)
    };
    check("layer_norm", &ln, grid(&[2, 3, 4], 0.71, 0.2), &[ln.weight.as_ref().unwrap(), ln.bias.as_ref().unwrap()]);
    let gn = GroupNorm {
        weight: Some(Param::new(grid(&[4], 0.61, 1.1))),
        bias: Some(Param::new(grid(&[4], 0.17, 0.4))),
        ..GroupNorm::new(2, 4, DType::F64)
    };
    check("group_norm", &gn, grid(&[2, 4, 3, 2], 0.39, 0.5), &[gn.weight.as_ref().unwrap(), gn.bias.as_ref().unwrap()]);
}

#[test]
fn batch_norm_matches_torch_in_both_modes() {
    let mut bn = BatchNorm::new_2d(3, DType::F64);
    bn.weight = Some(Param::new(grid(&[3], 0.59, 1.2)));
    bn.bias = Some(Param::new(grid(&[3], 0.27, 0.3)));
    let (w, b) = (bn.weight.clone().unwrap(), bn.bias.clone().unwrap());
    let train = check("batch_norm2d_train", &bn, grid(&[2, 3, 2, 3], 0.83, 0.1), &[&w, &b]);
    close("running_mean", &bn.running_mean.value().to_vec::<f64>(), &train.buffers[0]);
    close("running_var", &bn.running_var.value().to_vec::<f64>(), &train.buffers[1]);
    assert_eq!(bn.num_batches_tracked(), 1);
    let names: Vec<String> = bn.named_buffers().into_keys().collect();
    assert_eq!(names, ["running_mean", "running_var", "num_batches_tracked"]);
    bn.set_training(false);
    check("batch_norm2d_eval", &bn, grid(&[2, 3, 2, 2], 0.57, 0.6), &[&w, &b]);

    let mut bn1 = BatchNorm::new_1d(4, DType::F64);
    bn1.weight = Some(Param::new(grid(&[4], 0.49, 0.2)));
    bn1.bias = Some(Param::new(grid(&[4], 0.77, 0.9)));
    let (w1, b1) = (bn1.weight.clone().unwrap(), bn1.bias.clone().unwrap());
    let c = check("batch_norm1d_train", &bn1, grid(&[5, 4], 0.91, 0.4), &[&w1, &b1]);
    close("running_mean", &bn1.running_mean.value().to_vec::<f64>(), &c.buffers[0]);
    close("running_var", &bn1.running_var.value().to_vec::<f64>(), &c.buffers[1]);
    assert!(bn1.forward(&Tape::new().var(Tensor::zeros(&[2, 3], DType::F64))).is_err());
}
