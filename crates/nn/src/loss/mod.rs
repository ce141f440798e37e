//! Losses (`torch.nn.functional`), with torch's reductions.

use autograd::{AsVar, Result, Var};
use tensor::{DType, TensorError};

mod cross_entropy;
mod pairs;
pub use cross_entropy::{cross_entropy_with, CrossEntropyOptions};
pub use pairs::{cosine_embedding_loss, kl_div, margin_ranking_loss};

/// How a loss reduces its per-element values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// Per element.
    None,
    /// The mean (torch's default).
    #[default]
    Mean,
    Sum,
}

fn reduce(v: Var, reduction: Reduction) -> Result<Var> {
    match reduction {
        Reduction::None => Ok(v),
        Reduction::Mean => v.try_mean(&[], false),
        Reduction::Sum => v.try_sum(&[], false),
    }
}

fn same_shape(op: &'static str, input: &Var, target: &Var) -> Result<()> {
    if input.shape() == target.shape() {
        return Ok(());
    }
    Err(TensorError::ShapeMismatch { op, lhs: input.shape().to_vec(), rhs: target.shape().to_vec() }.into())
}

/// `(input - target)²`, reduced (`F.mse_loss`).
pub fn mse_loss(input: &Var, target: &Var, reduction: Reduction) -> Result<Var> {
    same_shape("mse_loss", input, target)?;
    reduce(input.try_sub(target)?.try_square()?, reduction)
}

/// `|input - target|`, reduced (`F.l1_loss`).
pub fn l1_loss(input: &Var, target: &Var, reduction: Reduction) -> Result<Var> {
    same_shape("l1_loss", input, target)?;
    reduce(input.try_sub(target)?.try_abs()?, reduction)
}

/// Huber's loss with threshold `delta`: `½d²` where `|d| < delta`, `delta·(|d| - ½delta)`
/// elsewhere (`F.huber_loss`).
pub fn huber_loss(input: &Var, target: &Var, delta: f64, reduction: Reduction) -> Result<Var> {
    same_shape("huber_loss", input, target)?;
    let d = input.try_sub(target)?;
    let a = d.try_abs()?;
    let quadratic = d.try_square()?.try_mul_scalar(0.5)?;
    let linear = a.try_sub_scalar(0.5 * delta)?.try_mul_scalar(delta)?;
    reduce(a.try_lt_scalar(delta)?.try_where_cond(&quadratic, &linear)?, reduction)
}

/// Huber's loss divided by `beta` (`F.smooth_l1_loss`; `beta = 1` is torch's default).
pub fn smooth_l1_loss(input: &Var, target: &Var, beta: f64, reduction: Reduction) -> Result<Var> {
    if beta == 0.0 {
        return l1_loss(input, target, reduction);
    }
    huber_loss(input, target, beta, reduction)?.try_div_scalar(beta)
}

/// The negative log-likelihood of class ids `target` (i64 `[N]`) under log-probabilities
/// `[N, C]` (`F.nll_loss`).
pub fn nll_loss(log_probs: &Var, target: &impl AsVar, reduction: Reduction) -> Result<Var> {
    let t = target.as_var(log_probs);
    if log_probs.rank() != 2 || t.rank() != 1 || t.shape()[0] != log_probs.shape()[0] {
        return Err(TensorError::invalid(
            "nll_loss",
            format!(
                "expected log-probabilities [N, C] and target [N], got {:?} and {:?}",
                log_probs.shape(),
                t.shape()
            ),
        )
        .into());
    }
    let picked = log_probs.try_gather(1, &t.try_unsqueeze(1)?)?.try_squeeze(1)?;
    reduce(picked.try_neg()?, reduction)
}

/// Cross-entropy of logits `[N, C]` against class ids `target` (i64 `[N]`) (`F.cross_entropy`).
/// The mean is one fused op (`softmax_cross_entropy`, gradient `(softmax - one_hot) / N`).
/// Class weights, `ignore_index`, label smoothing and probability targets:
/// [`cross_entropy_with`].
pub fn cross_entropy(logits: &Var, target: &impl AsVar, reduction: Reduction) -> Result<Var> {
    let t = target.as_var(logits);
    match reduction {
        Reduction::Mean => logits.try_softmax_cross_entropy(&t),
        Reduction::Sum => logits.try_softmax_cross_entropy(&t)?.try_mul_scalar(logits.shape()[0] as f64),
        Reduction::None => nll_loss(&logits.try_log_softmax(-1)?, &t, Reduction::None),
    }
}

/// Binary cross-entropy of logits against targets in `[0, 1]`, computed stably as
/// `max(x, 0) - x·t + ln(1 + e^{-|x|})` (`F.binary_cross_entropy_with_logits`).
pub fn binary_cross_entropy_with_logits(logits: &Var, target: &Var, reduction: Reduction) -> Result<Var> {
    same_shape("binary_cross_entropy_with_logits", logits, target)?;
    let softplus_neg_abs = logits.try_abs()?.try_neg()?.try_exp()?.try_log1p()?;
    let v = logits.try_relu()?.try_sub(&logits.try_mul(target)?)?.try_add(&softplus_neg_abs)?;
    reduce(v, reduction)
}

/// [`binary_cross_entropy_with_logits`] with torch's `weight` (per element, broadcast to the
/// logits) and `pos_weight` (per class, broadcast along the last dimension, scaling the loss of
/// positive targets): `w · [(1 - t) x + (1 + (p - 1) t) · softplus(-x)]`, with
/// `softplus(-x) = ln(1 + e^{-|x|}) + max(-x, 0)`.
pub fn binary_cross_entropy_with_logits_weighted(
    logits: &Var,
    target: &Var,
    weight: Option<&Var>,
    pos_weight: Option<&Var>,
    reduction: Reduction,
) -> Result<Var> {
    let op = "binary_cross_entropy_with_logits";
    same_shape(op, logits, target)?;
    let softplus_neg = logits.try_abs()?.try_neg()?.try_exp()?.try_log1p()?.try_add(&logits.try_neg()?.try_relu()?)?;
    let scaled = match pos_weight {
        // (1 + (p - 1) t) · softplus(-x)
        Some(p) => p.try_sub_scalar(1.0)?.try_mul(target)?.try_add_scalar(1.0)?.try_mul(&softplus_neg)?,
        None => softplus_neg,
    };
    let mut v = target.try_rsub_scalar(1.0)?.try_mul(logits)?.try_add(&scaled)?;
    if let Some(w) = weight {
        v = v.try_mul(w)?;
    }
    if v.shape() != logits.shape() {
        return Err(TensorError::invalid(
            op,
            format!("weight or pos_weight broadcast the loss from {:?} to {:?}", logits.shape(), v.shape()),
        )
        .into());
    }
    reduce(v, reduction)
}

/// Binary cross-entropy of probabilities in `(0, 1)` (`F.binary_cross_entropy`; logs are
/// clamped at -100 as torch does).
pub fn binary_cross_entropy(probs: &Var, target: &Var, reduction: Reduction) -> Result<Var> {
    same_shape("binary_cross_entropy", probs, target)?;
    let log_p = probs.try_log()?.try_clamp(-100.0, f64::INFINITY)?;
    let log_1mp = probs.try_rsub_scalar(1.0)?.try_log()?.try_clamp(-100.0, f64::INFINITY)?;
    let v = target.try_mul(&log_p)?.try_add(&target.try_rsub_scalar(1.0)?.try_mul(&log_1mp)?)?.try_neg()?;
    reduce(v, reduction)
}

/// The fraction of rows of `logits` whose largest entry is at `target` (i64 `[N]`).
pub fn accuracy(logits: &Var, target: &tensor::Tensor) -> Result<f64> {
    let predicted = logits.value().try_argmax(-1, false)?;
    let hits = predicted.try_eq(target)?.to_dtype(DType::F64).sum_all().item();
    Ok(hits / target.numel().max(1) as f64)
}
