//! `MultiheadAttention` (`torch.nn.MultiheadAttention`): scaled dot-product attention over
//! `num_heads` heads with torch's packed input projection, parameter names and init.

use autograd::{Param, Result, Var};
use tensor::{DType, Rng, Tensor, TensorError};

use crate::init;
use crate::module::child;

/// Multi-head attention with embedding size `embed_dim` split into `num_heads` heads.
/// Sequences are `[L, N, E]` (or `[N, L, E]` with `batch_first`), as torch's.
pub struct MultiheadAttention {
    pub num_heads: usize,
    pub batch_first: bool,
    /// `[3E, E]`: the query, key and value projections stacked.
    pub in_proj_weight: Param,
    pub in_proj_bias: Param,
    pub out_proj_weight: Param,
    pub out_proj_bias: Param,
}

impl MultiheadAttention {
    /// torch's init: Xavier-uniform input projection, zero biases, and the output projection as
    /// a `Linear`'s weight (Kaiming-uniform with a = √5).
    pub fn new(embed_dim: usize, num_heads: usize, rng: &mut Rng) -> tensor::Result<MultiheadAttention> {
        if num_heads == 0 || !embed_dim.is_multiple_of(num_heads) {
            return Err(TensorError::invalid(
                "multihead_attention",
                format!("embed_dim {embed_dim} must be divisible by num_heads {num_heads}"),
            ));
        }
        let e = embed_dim;
        let in_proj_weight = Param::new(init::xavier_uniform(&[3 * e, e], 1.0, DType::F32, rng)?);
        let (out_w, _) = init::torch_default(&[e, e], false, DType::F32, rng)?;
        Ok(MultiheadAttention {
            num_heads,
            batch_first: false,
            in_proj_weight,
            in_proj_bias: Param::new(Tensor::zeros(&[3 * e], DType::F32)),
            out_proj_weight: Param::new(out_w),
            out_proj_bias: Param::new(Tensor::zeros(&[e], DType::F32)),
        })
    }

    /// Attention of `query [L, N, E]` over `key`, `value [S, N, E]` (batch first: `[N, L, E]`,
    /// `[N, S, E]`), with an optional additive `attn_mask [L, S]` (use `-inf` to forbid).
    /// Returns the output (the query's shape) and the attention weights `[N, L, S]` averaged over
    /// the heads, as torch's defaults (`need_weights=True, average_attn_weights=True`).
    pub fn attend(&self, query: &Var, key: &Var, value: &Var, attn_mask: Option<&Var>) -> Result<(Var, Var)> {
        let op = "multihead_attention";
        let e = self.in_proj_weight.shape()[1];
        let (h, d) = (self.num_heads, e / self.num_heads);
        let seq_first = |x: &Var| if self.batch_first { x.try_transpose(0, 1) } else { Ok(x.clone()) };
        let (q, k, v) = (seq_first(query)?, seq_first(key)?, seq_first(value)?);
        let fits =
            |x: &Var| x.rank() == 3 && x.shape()[2] == e && x.shape()[1] == q.shape().get(1).copied().unwrap_or(0);
        if !(fits(&q) && fits(&k) && fits(&v)) || k.shape() != v.shape() {
            return Err(TensorError::invalid(
                op,
                format!(
                    "expected query [L, N, {e}] and key, value [S, N, {e}] of one shape, got {:?}, {:?}, {:?}",
                    query.shape(),
                    key.shape(),
                    value.shape()
                ),
            )
            .into());
        }
        let (l, n, s) = (q.shape()[0], q.shape()[1], k.shape()[0]);
        let tape = query.tape();
        let (w, b) = (tape.param(&self.in_proj_weight), tape.param(&self.in_proj_bias));
        // Project, then split the embedding into heads: [T, N, E] -> [N·H, T, d].
        let project = |x: &Var, part: usize, len: usize| -> Result<Var> {
            let wp = w.try_narrow(0, part * e, e)?;
            let bp = b.try_narrow(0, part * e, e)?;
            x.try_linear(&wp, Some(&bp))?
                .try_reshape(&[len as isize, (n * h) as isize, d as isize])?
                .try_transpose(0, 1)
        };
        let (qh, kh, vh) = (project(&q, 0, l)?, project(&k, 1, s)?, project(&v, 2, s)?);
        let mut scores = qh.try_matmul(&kh.try_transpose(1, 2)?)?.try_div_scalar((d as f64).sqrt())?;
        if let Some(mask) = attn_mask {
            if mask.shape() != [l, s] {
                return Err(TensorError::invalid(
                    op,
                    format!("attn_mask must be [L, S] = [{l}, {s}], got {:?}", mask.shape()),
                )
                .into());
            }
            scores = scores.try_add(mask)?;
        }
        let weights = scores.try_softmax(-1)?; // [N·H, L, S]
        let heads = weights.try_matmul(&vh)?; // [N·H, L, d]
        let merged = heads.try_transpose(0, 1)?.try_reshape(&[l as isize, n as isize, e as isize])?;
        let out = merged.try_linear(&tape.param(&self.out_proj_weight), Some(&tape.param(&self.out_proj_bias)))?;
        let out = if self.batch_first { out.try_transpose(0, 1)? } else { out };
        let mean_weights =
            weights.try_reshape(&[n as isize, h as isize, l as isize, s as isize])?.try_mean(&[1], false)?;
        Ok((out, mean_weights))
    }
}

impl crate::Module for MultiheadAttention {
    /// Self-attention: query, key and value are all `x`.
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.attend(x, x, x, None)?.0)
    }

    /// torch's names: `in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`.
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, "in_proj_weight"), &self.in_proj_weight);
        f(&child(prefix, "in_proj_bias"), &self.in_proj_bias);
        let out = child(prefix, "out_proj");
        f(&child(&out, "weight"), &self.out_proj_weight);
        f(&child(&out, "bias"), &self.out_proj_bias);
    }
}
