//! `F.cross_entropy` with all of torch's options: class weights, `ignore_index`, label
//! smoothing, and class-probability targets.

use autograd::{Result, Var};
use tensor::{DType, Tensor, TensorError};

use super::Reduction;

/// torch's `F.cross_entropy` keyword arguments (besides `reduction`).
#[derive(Clone, Debug)]
pub struct CrossEntropyOptions {
    /// A weight per class `[C]` (`weight`).
    pub weight: Option<Tensor>,
    /// Rows whose class id is this contribute nothing, not even to the mean's denominator
    /// (`ignore_index`, torch's default -100). Class-id targets only.
    pub ignore_index: i64,
    /// Mixes the target with the uniform distribution: `(1 - ε) target + ε / C`
    /// (`label_smoothing`, in `[0, 1]`).
    pub label_smoothing: f64,
}

impl Default for CrossEntropyOptions {
    fn default() -> CrossEntropyOptions {
        CrossEntropyOptions { weight: None, ignore_index: -100, label_smoothing: 0.0 }
    }
}

const OP: &str = "cross_entropy";

fn invalid(msg: String) -> autograd::AutogradError {
    TensorError::invalid(OP, msg).into()
}

/// Cross-entropy of `logits [N, C]` against `target`, with torch's options: class ids (i64
/// `[N]`) or class probabilities (float `[N, C]`). With ids, row n's loss is
/// `(1 - ε) · w[yₙ] · (-log pₙ[yₙ]) + ε / C · Σ_c w[c] · (-log pₙ[c])`, zero where
/// `yₙ = ignore_index`, and the mean divides by `Σₙ w[yₙ]` over the rows kept; with
/// probabilities qₙ it is `-Σ_c w[c] · q'ₙ[c] · log pₙ[c]` with `q' = (1 - ε) q + ε / C`, and the
/// mean divides by N.
///
/// ```
/// use autograd::Tape;
/// use nn::loss::{cross_entropy_with, CrossEntropyOptions, Reduction};
/// use tensor::Tensor;
/// let tape = Tape::new();
/// let logits = tape.var(Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 2.0], &[2, 2]));
/// let target = Tensor::from_vec(vec![0i64, -100], &[2]); // the second row is ignored
/// let opts = CrossEntropyOptions { label_smoothing: 0.1, ..CrossEntropyOptions::default() };
/// let loss = cross_entropy_with(&logits, &target, &opts, Reduction::Mean).unwrap();
/// let lse = (2f64.exp() + 1.0).ln();
/// assert!((loss.item() - (0.95 * (lse - 2.0) + 0.05 * lse)).abs() < 1e-12);
/// ```
pub fn cross_entropy_with(
    logits: &Var,
    target: &Tensor,
    options: &CrossEntropyOptions,
    reduction: Reduction,
) -> Result<Var> {
    if logits.rank() != 2 {
        return Err(invalid(format!("expected logits [N, C], got {:?}", logits.shape())));
    }
    let (n, c) = (logits.shape()[0], logits.shape()[1]);
    let eps = options.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return Err(invalid(format!("label_smoothing must be in [0, 1], got {eps}")));
    }
    let class_weight = match &options.weight {
        Some(w) if w.shape() != [c] => {
            return Err(invalid(format!(
                "weight must be [C] = [{c}] for logits {:?}, got {:?}",
                logits.shape(),
                w.shape()
            )))
        }
        Some(w) => w.to_dtype(DType::F64).to_vec::<f64>(),
        None => vec![1.0; c],
    };
    let dtype = logits.dtype();
    let log_p = logits.try_log_softmax(-1)?;
    let row_weight = logits.constant(Tensor::from_vec(class_weight.clone(), &[1, c]).to_dtype(dtype));

    if target.dtype() != DType::I64 {
        // Class probabilities.
        if target.shape() != logits.shape() {
            return Err(invalid(format!(
                "probability targets must have the logits' shape {:?}, got {:?}",
                logits.shape(),
                target.shape()
            )));
        }
        let q = target.to_dtype(dtype).mul_scalar(1.0 - eps).add_scalar(eps / c as f64);
        let per_row = log_p.try_mul(&logits.constant(q))?.try_mul(&row_weight)?.try_sum(&[1], false)?.try_neg()?;
        return match reduction {
            Reduction::None => Ok(per_row),
            Reduction::Sum => per_row.try_sum(&[], false),
            Reduction::Mean => per_row.try_sum(&[], false)?.try_div_scalar(n as f64),
        };
    }

    // Class ids.
    if target.shape() != [n] {
        return Err(invalid(format!("class-id targets must be [N] = [{n}], got {:?}", target.shape())));
    }
    let ids = target.to_vec::<i64>();
    let mut kept = vec![0.0; n]; // 1 for rows that count
    let mut safe_ids = vec![0i64; n]; // ignored rows point at class 0, then weigh nothing
    for (row, &id) in ids.iter().enumerate() {
        if id == options.ignore_index {
            continue;
        }
        if id < 0 || id as usize >= c {
            return Err(invalid(format!("target {id} in row {row} is not a class id in 0..{c}")));
        }
        (kept[row], safe_ids[row]) = (1.0, id);
    }
    let picked_weight: Vec<f64> = (0..n).map(|r| kept[r] * class_weight[safe_ids[r] as usize]).collect();
    let denominator: f64 = picked_weight.iter().sum();
    let as_var = |v: Vec<f64>| logits.constant(Tensor::from_vec(v, &[n]).to_dtype(dtype));

    let index = logits.constant(Tensor::from_vec(safe_ids, &[n, 1]));
    let nll = log_p.try_gather(1, &index)?.try_squeeze(1)?.try_neg()?.try_mul(&as_var(picked_weight))?;
    let per_row = if eps > 0.0 {
        let smooth = log_p.try_mul(&row_weight)?.try_sum(&[1], false)?.try_neg()?.try_mul(&as_var(kept))?;
        nll.try_mul_scalar(1.0 - eps)?.try_add(&smooth.try_mul_scalar(eps / c as f64)?)?
    } else {
        nll
    };
    match reduction {
        Reduction::None => Ok(per_row),
        Reduction::Sum => per_row.try_sum(&[], false),
        // torch divides by the kept rows' total weight (NaN when every row is ignored, as torch).
        Reduction::Mean => per_row.try_sum(&[], false)?.try_div_scalar(denominator),
    }
}
