//! Modules: names, default initialisation, train/eval, and error messages.

use autograd::{Param, Tape, Var};
use nn::{init, loss, Dropout, Linear, Module, Reduction, Relu, Sequential, Tanh};
use tensor::{DType, Rng, Tensor};

struct Block {
    encoder: Sequential,
    head: Linear,
}

impl Module for Block {
    fn forward(&self, x: &Var) -> autograd::Result<Var> {
        self.head.forward(&self.encoder.forward(x)?)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.encoder.visit(&nn::child(prefix, "encoder"), f);
        self.head.visit(&nn::child(prefix, "head"), f);
    }
}

#[test]
fn nested_modules_name_their_parameters_hierarchically() {
    let mut rng = Rng::seed(1);
    let block = Block {
        encoder: Sequential::new().add(Linear::new(3, 4, &mut rng)).add(Tanh).add(Linear::new(4, 4, &mut rng)),
        head: Linear::with_options(4, 2, false, DType::F32, &mut rng).unwrap(),
    };
    let names: Vec<String> = block.named_parameters().into_keys().collect();
    assert_eq!(names, ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias", "head.weight"]);
    assert_eq!(block.parameters().len(), 5);
}

#[test]
fn linear_defaults_to_torchs_init() {
    let mut rng = Rng::seed(2);
    let layer = Linear::new(400, 300, &mut rng);
    let bound = 1.0 / 400f64.sqrt();
    let w = layer.weight.value().to_dtype(DType::F64).to_vec::<f64>();
    let b = layer.bias.as_ref().unwrap().value().to_dtype(DType::F64).to_vec::<f64>();
    assert!(w.iter().chain(&b).all(|v| v.abs() <= bound));
    // U(-b, b) has standard deviation b/√3.
    let std = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
    assert!((std - bound / 3f64.sqrt()).abs() < 0.02 * bound, "std {std}");
    assert_eq!(layer.weight.shape(), vec![300, 400]);
}

#[test]
fn initialisers_have_their_documented_spread() {
    let mut rng = Rng::seed(3);
    let std = |t: &Tensor| {
        let v = t.to_vec::<f64>();
        (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt()
    };
    let shape = [256, 512];
    let k = init::kaiming_normal(&shape, init::FanMode::FanIn, init::Nonlinearity::Relu, DType::F64, &mut rng).unwrap();
    assert!((std(&k) - (2.0 / 512.0f64).sqrt()).abs() < 0.02 * (2.0 / 512.0f64).sqrt());
    let x = init::xavier_uniform(&shape, 1.0, DType::F64, &mut rng).unwrap();
    let a = (6.0 / 768.0f64).sqrt();
    assert!(x.to_vec::<f64>().iter().all(|v| v.abs() <= a));
    assert_eq!(init::fans(&[16, 8, 3, 3]), (72, 144));
    assert_eq!(init::Nonlinearity::Tanh.gain(), 5.0 / 3.0);
}

#[test]
fn dropout_is_seeded_recorded_and_off_in_eval_mode() {
    let x = Tensor::ones(&[1000], DType::F32);
    let run = |seed| {
        let tape = Tape::new();
        let d = Dropout::new(0.3, seed);
        let y = d.forward(&tape.var(x.clone())).unwrap();
        (y.value().to_vec::<f32>(), tape.to_string())
    };
    let (a, listing) = run(7);
    assert_eq!(a, run(7).0, "same seed, same mask");
    assert_ne!(a, run(8).0);
    let kept = a.iter().filter(|&&v| v > 0.0).count();
    assert!((600..800).contains(&kept), "{kept} kept");
    assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    assert!(listing.contains("mul"), "{listing}");
    let mut model = Sequential::new().add(Relu).add(Dropout::new(0.5, 0));
    model.set_training(false);
    let tape = Tape::new();
    assert_eq!(model.forward(&tape.var(x.clone())).unwrap().value().to_vec::<f32>(), x.to_vec::<f32>());
}

#[test]
fn losses_check_their_inputs() {
    let tape = Tape::new();
    let a = tape.var(Tensor::ones(&[3], DType::F64));
    let b = tape.constant(Tensor::ones(&[4], DType::F64));
    assert_eq!(loss::mse_loss(&a, &b, Reduction::Mean).unwrap_err().to_string(), "mse_loss: shapes [3] and [4] differ");
    let logits = tape.var(Tensor::zeros(&[2, 3], DType::F64));
    assert_eq!(
        loss::nll_loss(&logits, &Tensor::from_vec(vec![0i64, 1, 2], &[3]), Reduction::Mean).unwrap_err().to_string(),
        "nll_loss: expected log-probabilities [N, C] and target [N], got [2, 3] and [3]"
    );
    let bad = Tensor::from_vec(vec![0i64, 3], &[2]);
    assert!(loss::cross_entropy(&logits, &bad, Reduction::Mean)
        .unwrap_err()
        .to_string()
        .starts_with("softmax_cross_entropy"));
    let acc = loss::accuracy(
        &tape.constant(Tensor::from_vec(vec![0.1f64, 0.9, 0.8, 0.2], &[2, 2])),
        &Tensor::from_vec(vec![1i64, 1], &[2]),
    )
    .unwrap();
    assert_eq!(acc, 0.5);
}

#[test]
fn cross_entropy_options_are_checked() {
    use loss::{cross_entropy_with, CrossEntropyOptions};
    let tape = Tape::new();
    let logits = tape.var(Tensor::zeros(&[2, 3], DType::F64));
    let ids = Tensor::from_vec(vec![0i64, 2], &[2]);
    let err = |target: &Tensor, o: CrossEntropyOptions| {
        cross_entropy_with(&logits, target, &o, Reduction::Mean).unwrap_err().to_string()
    };
    let base = CrossEntropyOptions::default;
    assert_eq!(
        err(&ids, CrossEntropyOptions { weight: Some(Tensor::ones(&[2], DType::F64)), ..base() }),
        "cross_entropy: weight must be [C] = [3] for logits [2, 3], got [2]"
    );
    assert_eq!(
        err(&ids, CrossEntropyOptions { label_smoothing: 1.5, ..base() }),
        "cross_entropy: label_smoothing must be in [0, 1], got 1.5"
    );
    assert_eq!(
        err(&Tensor::from_vec(vec![0i64, 3], &[2]), base()),
        "cross_entropy: target 3 in row 1 is not a class id in 0..3"
    );
    assert_eq!(
        err(&Tensor::from_vec(vec![0i64, 1, 2], &[3]), base()),
        "cross_entropy: class-id targets must be [N] = [2], got [3]"
    );
    assert_eq!(
        err(&Tensor::ones(&[2, 2], DType::F64), base()),
        "cross_entropy: probability targets must have the logits' shape [2, 3], got [2, 2]"
    );
    let flat = tape.var(Tensor::zeros(&[3], DType::F64));
    assert_eq!(
        cross_entropy_with(&flat, &ids, &base(), Reduction::Mean).unwrap_err().to_string(),
        "cross_entropy: expected logits [N, C], got [3]"
    );
    // With no options it is plain cross_entropy.
    let x = tape.var(Tensor::randn(&[4, 3], DType::F64, &mut Rng::seed(2)));
    let t = Tensor::from_vec(vec![1i64, 0, 2, 2], &[4]);
    let plain = loss::cross_entropy(&x, &t, Reduction::Mean).unwrap().item();
    assert!((cross_entropy_with(&x, &t, &base(), Reduction::Mean).unwrap().item() - plain).abs() < 1e-12);
}

#[test]
fn bce_weights_must_not_grow_the_loss() {
    let tape = Tape::new();
    let x = tape.var(Tensor::zeros(&[2, 3], DType::F64));
    let t = tape.constant(Tensor::ones(&[2, 3], DType::F64));
    let w = tape.constant(Tensor::ones(&[2, 1, 3], DType::F64));
    let err = loss::binary_cross_entropy_with_logits_weighted(&x, &t, Some(&w), None, Reduction::Mean).unwrap_err();
    assert_eq!(
        err.to_string(),
        "binary_cross_entropy_with_logits: weight or pos_weight broadcast the loss from [2, 3] to [2, 2, 3]"
    );
    // pos_weight = 1 everywhere is the plain loss.
    let ones = tape.constant(Tensor::ones(&[3], DType::F64));
    let x = tape.var(Tensor::randn(&[2, 3], DType::F64, &mut Rng::seed(1)));
    let weighted = loss::binary_cross_entropy_with_logits_weighted(&x, &t, None, Some(&ones), Reduction::Sum).unwrap();
    let plain = loss::binary_cross_entropy_with_logits(&x, &t, Reduction::Sum).unwrap();
    assert!((weighted.item() - plain.item()).abs() < 1e-12);
}

#[test]
fn pair_losses_check_their_shapes() {
    let tape = Tape::new();
    let a = tape.var(Tensor::ones(&[2, 3], DType::F64));
    let b = tape.constant(Tensor::ones(&[2, 3], DType::F64));
    let y3 = tape.constant(Tensor::ones(&[3], DType::F64));
    assert_eq!(
        loss::margin_ranking_loss(&a, &b, &y3, 0.0, Reduction::Mean).unwrap_err().to_string(),
        "margin_ranking_loss: shapes [2, 3] and [3] differ"
    );
    assert_eq!(
        loss::cosine_embedding_loss(&a, &b, &Tensor::ones(&[3], DType::F64), 0.0, Reduction::Mean)
            .unwrap_err()
            .to_string(),
        "cosine_embedding_loss: expected inputs [N, D] or [D] and target [N] or [], got [2, 3] and [3]"
    );
    assert_eq!(
        loss::kl_div(&a, &y3, false, Reduction::Sum).unwrap_err().to_string(),
        "kl_div: shapes [2, 3] and [3] differ"
    );
    // Identical distributions diverge by nothing; identical vectors have cosine 1.
    let p = Tensor::from_vec(vec![0.25f64, 0.75], &[2]);
    let kl = loss::kl_div(&tape.var(p.log()), &tape.constant(p.clone()), false, Reduction::Sum).unwrap();
    assert!(kl.item().abs() < 1e-15);
    let same = loss::cosine_embedding_loss(&a, &b, &Tensor::ones(&[2], DType::F64), 0.0, Reduction::Sum).unwrap();
    assert!(same.item().abs() < 1e-12);
}

#[test]
fn orthogonal_init_has_orthonormal_rows_or_columns() {
    let mut rng = Rng::seed(9);
    for shape in [vec![3usize, 5], vec![5, 3], vec![4, 4], vec![2, 3, 2]] {
        let w = init::orthogonal(&shape, 1.5, DType::F64, &mut rng).unwrap();
        assert_eq!(w.shape(), &shape[..]);
        let m = w.reshape(&[shape[0] as isize, -1]);
        // W Wᵀ = gain² I for wide matrices, Wᵀ W = gain² I for tall ones.
        let gram = if m.shape()[0] <= m.shape()[1] { m.matmul(&m.t()) } else { m.t().matmul(&m) };
        let k = gram.shape()[0];
        let g = gram.to_vec::<f64>();
        for i in 0..k {
            for j in 0..k {
                let want = if i == j { 2.25 } else { 0.0 };
                assert!((g[i * k + j] - want).abs() < 1e-12, "{shape:?}: gram[{i}][{j}] = {}", g[i * k + j]);
            }
        }
    }
    assert_eq!(
        init::orthogonal(&[4], 1.0, DType::F32, &mut rng).unwrap_err().to_string(),
        "orthogonal: needs at least 2 dimensions, got shape [4]"
    );
}

#[test]
fn trunc_normal_stays_in_bounds_with_the_truncated_moments() {
    let mut rng = Rng::seed(10);
    let t = init::trunc_normal(&[20_000], 0.5, 2.0, -1.0, 1.5, DType::F64, &mut rng).unwrap().to_vec::<f64>();
    assert!(t.iter().all(|v| (-1.0..=1.5).contains(v)));
    // N(0.5, 4) truncated to [-1, 1.5]: standardised bounds α = -0.75, β = 0.5; its mean is
    // μ + σ (φ(α) - φ(β)) / (Φ(β) - Φ(α)) = 0.5 + 2 (0.301137 - 0.352065) / (0.691462 - 0.226627).
    let want = 0.5 + 2.0 * (0.301137 - 0.352065) / (0.691462 - 0.226627);
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    assert!((mean - want).abs() < 0.01, "mean {mean}, want {want}");
    assert_eq!(
        init::trunc_normal(&[2], 0.0, 1.0, 8.0, 9.0, DType::F32, &mut rng).unwrap_err().to_string(),
        "trunc_normal: [8, 9] holds only 6.66e-16 of N(0, 1²); move the bounds towards the mean"
    );
    assert_eq!(
        init::trunc_normal(&[2], 0.0, 1.0, 1.0, -1.0, DType::F32, &mut rng).unwrap_err().to_string(),
        "trunc_normal: needs std > 0 and a < b, got std 1, a 1, b -1"
    );
}
