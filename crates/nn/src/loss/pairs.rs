//! Losses between distributions and between pairs: `F.kl_div`, `F.margin_ranking_loss` and
//! `F.cosine_embedding_loss`.

use autograd::{Result, Var};
use tensor::{DType, TensorError};

use super::{reduce, same_shape, Reduction};

/// The Kullback-Leibler divergence of `target` from the distribution whose log-probabilities
/// are `input` (`F.kl_div`): `t · (ln t - input)` per element, 0 where `t = 0`; with
/// `log_target`, the target is given as log-probabilities: `e^t · (t - input)`. As in torch,
/// `Mean` averages over every element; torch's `batchmean` (the mathematically right one) is
/// `Sum` divided by the batch size.
pub fn kl_div(input: &Var, target: &Var, log_target: bool, reduction: Reduction) -> Result<Var> {
    same_shape("kl_div", input, target)?;
    let v = if log_target {
        target.try_exp()?.try_mul(&target.try_sub(input)?)?
    } else {
        // t ln t with 0 ln 0 = 0: clamping inside the log keeps 0 · ln(tiny) finite.
        let t_log_t = target.try_mul(&target.try_clamp(f64::MIN_POSITIVE, f64::INFINITY)?.try_log()?)?;
        t_log_t.try_sub(&target.try_mul(input)?)?
    };
    reduce(v, reduction)
}

/// `max(0, -y (x1 - x2) + margin)` with `y = ±1` saying which of `x1`, `x2` should rank higher
/// (`F.margin_ranking_loss`).
pub fn margin_ranking_loss(x1: &Var, x2: &Var, y: &Var, margin: f64, reduction: Reduction) -> Result<Var> {
    same_shape("margin_ranking_loss", x1, x2)?;
    same_shape("margin_ranking_loss", x1, y)?;
    let v = y.try_neg()?.try_mul(&x1.try_sub(x2)?)?.try_add_scalar(margin)?.try_relu()?;
    reduce(v, reduction)
}

/// `1 - cos(x1, x2)` for pairs labelled `y = 1` and `max(0, cos(x1, x2) - margin)` for `y = -1`,
/// row by row along the last dimension (`F.cosine_embedding_loss`; `x1`, `x2` `[N, D]` or `[D]`,
/// `y` `[N]` or `[]`). The squared norms get torch's `1e-12` before the square root.
pub fn cosine_embedding_loss(x1: &Var, x2: &Var, y: &tensor::Tensor, margin: f64, reduction: Reduction) -> Result<Var> {
    let op = "cosine_embedding_loss";
    same_shape(op, x1, x2)?;
    if x1.rank() == 0 || x1.rank() > 2 || y.shape() != &x1.shape()[..x1.rank() - 1] {
        return Err(TensorError::invalid(
            op,
            format!("expected inputs [N, D] or [D] and target [N] or [], got {:?} and {:?}", x1.shape(), y.shape()),
        )
        .into());
    }
    let dtype = x1.dtype();
    let square_norm = |x: &Var| x.try_square()?.try_sum(&[-1], false)?.try_add_scalar(1e-12);
    let denominator = square_norm(x1)?.try_mul(&square_norm(x2)?)?.try_sqrt()?;
    let cos = x1.try_mul(x2)?.try_sum(&[-1], false)?.try_div(&denominator)?;
    let y = y.to_dtype(DType::F64);
    let is = |label: f64| x1.constant(y.eq_scalar(label).to_dtype(dtype));
    let similar = cos.try_rsub_scalar(1.0)?.try_mul(&is(1.0))?;
    let dissimilar = cos.try_sub_scalar(margin)?.try_relu()?.try_mul(&is(-1.0))?;
    reduce(similar.try_add(&dissimilar)?, reduction)
}
