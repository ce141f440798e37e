//! `nn::functional` is the layers' own computation: each function equals its layer, and its
//! own errors name the op.

use autograd::{Param, Tape, Var};
use nn::functional as F;
use nn::{AdaptiveAvgPool2d, BatchNorm, Embedding, GroupNorm, LayerNorm, Linear, Module};
use tensor::{DType, Rng, Tensor};

fn same(a: &Var, b: &Var) {
    assert_eq!(a.shape(), b.shape());
    assert_eq!(a.value().to_vec::<f64>(), b.value().to_vec::<f64>());
}

#[test]
fn functions_equal_their_layers() {
    let mut rng = Rng::seed(12);
    let tape = Tape::new();
    let x = tape.var(Tensor::randn(&[2, 4, 3, 5], DType::F64, &mut rng));
    let p = |t: &Param| tape.param(t);

    let linear = Linear::with_options(5, 3, true, DType::F64, &mut rng).unwrap();
    let bias = linear.bias.as_ref().map(p);
    same(&linear.forward(&x).unwrap(), &F::linear(&x, &p(&linear.weight), bias.as_ref()).unwrap());

    let ln = LayerNorm::new(&[3, 5], DType::F64);
    same(&ln.forward(&x).unwrap(), &F::layer_norm(&x, &[3, 5], None, None, 1e-5).unwrap());

    let gn = GroupNorm::new(2, 4, DType::F64);
    same(&gn.forward(&x).unwrap(), &F::group_norm(&x, 2, None, None, 1e-5).unwrap());

    let bn = BatchNorm::new_2d(4, DType::F64);
    let (mean, var) = (Param::new(Tensor::zeros(&[4], DType::F64)), Param::new(Tensor::ones(&[4], DType::F64)));
    let y = F::batch_norm(&x, Some(&mean), Some(&var), None, None, true, 0.1, 1e-5).unwrap();
    same(&bn.forward(&x).unwrap(), &y);
    assert_eq!(bn.running_mean.value().to_vec::<f64>(), mean.value().to_vec::<f64>());
    assert_eq!(bn.running_var.value().to_vec::<f64>(), var.value().to_vec::<f64>());

    let pool = AdaptiveAvgPool2d { output_size: [2, 3] };
    same(&pool.forward(&x).unwrap(), &F::adaptive_avg_pool2d(&x, [2, 3]).unwrap());

    let emb = Embedding::new(6, 3, &mut rng);
    let ids = Tensor::from_vec(vec![0i64, 5, 2, 2], &[2, 2]);
    let from_layer = emb.lookup(&x, &ids).unwrap();
    let from_fn = F::embedding(&ids, &p(&emb.weight)).unwrap();
    assert_eq!(from_layer.value().to_vec::<f32>(), from_fn.value().to_vec::<f32>());
    assert_eq!(from_fn.shape(), &[2, 2, 3]);

    // Dropout outside training is the identity; the losses are re-exported.
    same(&F::dropout(&x, 0.5, false, &Tensor::scalar(1i64)).unwrap(), &x);
    let logits = tape.var(Tensor::randn(&[3, 4], DType::F64, &mut rng));
    let t = Tensor::from_vec(vec![0i64, 3, 1], &[3]);
    same(
        &F::cross_entropy(&logits, &t, F::Reduction::Mean).unwrap(),
        &nn::loss::cross_entropy(&logits, &t, F::Reduction::Mean).unwrap(),
    );
}

#[test]
fn functional_errors_name_the_op() {
    let tape = Tape::new();
    let x = tape.var(Tensor::zeros(&[2, 6, 4], DType::F64));
    assert_eq!(
        F::group_norm(&x, 4, None, None, 1e-5).unwrap_err().to_string(),
        "group_norm: 4 groups do not divide the channels of an input of shape [2, 6, 4]"
    );
    assert_eq!(
        F::batch_norm(&x, None, None, None, None, false, 0.1, 1e-5).unwrap_err().to_string(),
        "batch_norm: evaluation mode needs the running mean and variance"
    );
    assert_eq!(
        F::layer_norm(&x, &[5], None, None, 1e-5).unwrap_err().to_string(),
        "layer_norm: input [2, 6, 4] does not end with the normalized shape [5]"
    );
    assert_eq!(
        F::embedding(&Tensor::zeros(&[2], DType::F32), &x).unwrap_err().to_string(),
        "embedding: dtype mismatch: expected i64, got f32"
    );
}
