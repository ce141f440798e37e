//! The table of ops shared by the gradcheck and replay tests: one line per op, with the
//! shapes of its inputs, and the layouts each input is checked on.

#![allow(dead_code)]

use std::sync::Arc;

use autograd::{CustomOp, Result, Var};
use tensor::{Conv1dParams, Conv2dParams, ConvTranspose2dParams, DType, Rng, Tensor};

pub type F = fn(&[Var]) -> Result<Var>;

pub struct Case {
    pub name: &'static str,
    pub shapes: &'static [&'static [usize]],
    pub f: F,
}

const fn case(name: &'static str, shapes: &'static [&'static [usize]], f: F) -> Case {
    Case { name, shapes, f }
}

/// Positive inputs for ops defined on x > 0.
pub fn pos(v: &Var) -> Result<Var> {
    v.try_abs()?.try_add_scalar(0.5)
}

pub fn conv_p(stride: usize, pad: usize, dil: usize, groups: usize) -> Conv2dParams {
    Conv2dParams { stride: [stride, stride], padding: [pad, pad], dilation: [dil, dil], groups }
}

pub struct StraightThroughSquare;

impl CustomOp for StraightThroughSquare {
    fn name(&self) -> &str {
        "custom_square"
    }
    fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor> {
        Ok(inputs[0].square())
    }
    fn backward(&self, inputs: &[Var], _output: &Var, grad: &Var) -> Result<Vec<Option<Var>>> {
        Ok(vec![Some(grad.try_mul(&inputs[0].try_mul_scalar(2.0)?)?)])
    }
}

pub fn cases() -> Vec<Case> {
    const M: &[&[usize]] = &[&[3, 4]];
    vec![
        // Elementwise unary.
        case("neg", M, |v| v[0].try_neg()),
        case("abs", M, |v| v[0].try_abs()),
        case("exp", M, |v| v[0].try_exp()),
        case("log", M, |v| pos(&v[0])?.try_log()),
        case("log1p", M, |v| v[0].try_abs()?.try_log1p()),
        case("expm1", M, |v| v[0].try_expm1()),
        case("sqrt", M, |v| pos(&v[0])?.try_sqrt()),
        case("rsqrt", M, |v| pos(&v[0])?.try_rsqrt()),
        case("sin", M, |v| v[0].try_sin()),
        case("cos", M, |v| v[0].try_cos()),
        case("tanh", M, |v| v[0].try_tanh()),
        case("sigmoid", M, |v| v[0].try_sigmoid()),
        case("relu", M, |v| v[0].try_relu()),
        case("relu_backward", &[&[3, 4], &[3, 4]], |v| v[0].try_relu_backward(&v[1])),
        case("clamp_backward", &[&[3, 4], &[3, 4]], |v| v[0].try_clamp_backward(&v[1], -0.5, 0.5)),
        case("abs_backward", &[&[3, 4], &[3, 4]], |v| v[0].try_abs_backward(&v[1])),
        case("leaky_relu", M, |v| v[0].try_leaky_relu(0.1)),
        case("elu", M, |v| v[0].try_elu(1.3)),
        case("gelu", M, |v| v[0].try_gelu()),
        case("gelu_tanh", M, |v| v[0].try_gelu_tanh()),
        case("silu", M, |v| v[0].try_silu()),
        case("softplus", M, |v| v[0].try_softplus()),
        case("sign", M, |v| v[0].try_sign()?.try_mul(&v[0])),
        case("floor_ceil_round", M, |v| v[0].try_floor()?.try_add(&v[0].try_ceil()?)?.try_add(&v[0].try_round()?)),
        case("recip", M, |v| pos(&v[0])?.try_recip()),
        case("square", M, |v| v[0].try_square()),
        case("powf", M, |v| pos(&v[0])?.try_powf(2.5)),
        case("clamp", M, |v| v[0].try_clamp(-0.5, 0.7)),
        case("maximum_minimum_scalar", M, |v| v[0].try_maximum_scalar(-0.3)?.try_minimum_scalar(0.4)?.try_mul(&v[0])),
        case("scalar_ops", M, |v| {
            v[0].try_add_scalar(2.0)?.try_mul_scalar(-3.0)?.try_rsub_scalar(1.0)?.try_div_scalar(4.0)
        }),
        // Binary, including broadcasting.
        case("add", &[&[3, 4], &[3, 4]], |v| v[0].try_add(&v[1])),
        case("add_bcast_row", &[&[3, 4], &[4]], |v| v[0].try_add(&v[1])),
        case("sub_bcast_outer", &[&[3, 1], &[1, 4]], |v| v[0].try_sub(&v[1])),
        case("mul_bcast_3d", &[&[2, 3, 4], &[3, 1]], |v| v[0].try_mul(&v[1])),
        case("mul_scalar_tensor", &[&[3, 4], &[]], |v| v[0].try_mul(&v[1])),
        case("div", &[&[3, 4], &[4]], |v| v[0].try_div(&pos(&v[1])?)),
        case("pow", &[&[3, 4], &[3, 1]], |v| pos(&v[0])?.try_pow(&v[1])),
        case("maximum", &[&[3, 4], &[4]], |v| v[0].try_maximum(&v[1])),
        case("minimum", &[&[3, 4], &[3, 4]], |v| v[0].try_minimum(&v[1])),
        // Reductions.
        case("sum_axis", &[&[3, 4, 5]], |v| v[0].try_sum(&[1], false)),
        case("sum_axes_keepdim", &[&[3, 4, 5]], |v| v[0].try_sum(&[0, -1], true)),
        case("sum_all", &[&[3, 4]], |v| v[0].try_sum(&[], false)),
        case("mean", &[&[3, 4, 5]], |v| v[0].try_mean(&[0, 2], false)),
        case("prod", &[&[3, 4]], |v| v[0].try_prod(&[1], false)),
        case("max", &[&[3, 4, 5]], |v| v[0].try_max(&[1], false)),
        case("min_keepdim", &[&[3, 4]], |v| v[0].try_min(&[0], true)),
        case("max_two_axes_keepdim", &[&[3, 4, 5]], |v| v[0].try_max(&[0, 2], true)),
        case("min_all", &[&[3, 4]], |v| v[0].try_min(&[], false)),
        case("logsumexp", &[&[3, 4]], |v| v[0].try_logsumexp(&[1], false)),
        case("cumsum", &[&[3, 4]], |v| v[0].try_cumsum(1)),
        case("var", &[&[3, 4]], |v| v[0].try_var(&[1], 1, false)),
        case("std", &[&[3, 4]], |v| v[0].try_std(&[0], 0, true)),
        case("norm1", &[&[3, 4]], |v| v[0].try_norm(1.0, &[1], false)),
        case("norm2", &[&[3, 4]], |v| v[0].try_norm(2.0, &[], false)),
        case("norm3", &[&[3, 4]], |v| v[0].try_norm(3.0, &[0], false)),
        case("norm_inf", &[&[3, 4]], |v| v[0].try_norm(f64::INFINITY, &[1], false)),
        case("softmax", &[&[3, 4]], |v| v[0].try_softmax(-1)),
        case("softmax_axis0", &[&[3, 4]], |v| v[0].try_softmax(0)),
        case("log_softmax", &[&[3, 4]], |v| v[0].try_log_softmax(1)),
        // Movement.
        case("reshape", &[&[3, 4]], |v| v[0].try_reshape(&[2, -1])?.try_exp()),
        case("permute", &[&[2, 3, 4]], |v| v[0].try_permute(&[2, 0, 1])?.try_mul(&v[0].try_permute(&[2, 0, 1])?)),
        case("transpose_t", &[&[3, 4]], |v| v[0].try_t()?.try_transpose(0, 1)?.try_sin()),
        case("broadcast_to", &[&[3, 1]], |v| v[0].try_broadcast_to(&[2, 3, 4])?.try_square()),
        case("expand", &[&[1, 4]], |v| v[0].try_expand(&[3, -1])?.try_square()),
        case("narrow", &[&[5, 4]], |v| v[0].try_narrow(0, 1, 3)?.try_square()),
        case("slice_step2", &[&[7, 3]], |v| v[0].try_slice(0, 1, 7, 2)?.try_square()),
        case("slice_step3_neg", &[&[4, 8]], |v| v[0].try_slice(1, -7, 8, 3)?.try_square()),
        case("select", &[&[3, 4]], |v| v[0].try_select(1, 2)?.try_square()),
        case("flatten_squeeze", &[&[3, 1, 4]], |v| {
            v[0].try_squeeze(1)?.try_unsqueeze(0)?.try_flatten(0, -1)?.try_square()
        }),
        case("squeeze_all", &[&[1, 3, 1, 4]], |v| v[0].squeeze_all().try_square()),
        case("cat", &[&[2, 3], &[4, 3]], |v| Var::try_cat(&[v[0].clone(), v[1].clone()], 0)?.try_square()),
        case("stack", &[&[2, 3], &[2, 3]], |v| Var::try_stack(&[v[0].clone(), v[1].try_exp()?], 1)),
        case("split_chunk", &[&[5, 3]], |v| {
            let parts = v[0].try_split(2, 0)?;
            let c = v[0].try_chunk(2, 1)?;
            parts[2]
                .try_sum(&[], false)?
                .try_add(&parts[0].try_square()?.try_sum(&[], false)?)?
                .try_add(&c[1].try_sum(&[], false)?)
        }),
        case("pad", &[&[2, 3]], |v| v[0].try_pad(&[(1, 0), (2, 1)], 0.5)?.try_square()),
        case("repeat", &[&[2, 3]], |v| v[0].try_repeat(&[2, 1, 2])?.try_square()),
        // Indexing.
        case("index_select", &[&[4, 3]], |v| {
            v[0].try_index_select(0, &Tensor::from_vec(vec![3i64, 0, 3], &[3]))?.try_square()
        }),
        case("gather", &[&[3, 4]], |v| {
            v[0].try_gather(1, &Tensor::from_vec(vec![0i64, 3, 1, 1, 2, 0], &[3, 2]))?.try_square()
        }),
        case("scatter_add", &[&[3, 4], &[3, 2]], |v| {
            v[0].try_scatter_add(1, &Tensor::from_vec(vec![0i64, 3, 1, 1, 2, 0], &[3, 2]), &v[1])?.try_square()
        }),
        case("where_cond", &[&[3, 4], &[4]], |v| {
            let mask = v[0].try_gt(&v[0].constant(Tensor::scalar(0.0f64)))?;
            mask.try_where_cond(&v[0].try_square()?, &v[1])
        }),
        case("masked_fill", &[&[3, 4]], |v| {
            v[0].try_masked_fill(&v[0].try_lt(&v[0].constant(Tensor::scalar(0.0f64)))?, 2.0)?.try_square()
        }),
        // Recorded non-differentiable nodes that a gradient passes around.
        case("compare_scalar_mask", M, |v| v[0].try_masked_fill(&v[0].try_gt_scalar(0.2)?, 0.0)?.try_square()),
        case("argmax_gather", M, |v| v[0].try_gather(1, &v[0].try_argmax(1, true)?)?.try_exp()),
        case("argmin_one_hot", M, |v| {
            let pick = v[0].try_argmin(1, false)?.try_one_hot(4, DType::F64)?;
            v[0].try_mul(&pick)?.try_sum(&[1], false)?.try_square()
        }),
        // A detached factor that is locally constant, so finite differences agree with the rule.
        case("stop_gradient", M, |v| v[0].try_mul(&v[0].detach().try_sign()?)),
        case("dropout", M, |v| v[0].try_dropout(0.3, &Tensor::scalar(11i64))?.try_square()),
        case("prod_with_zeros", M, |v| v[0].try_masked_fill(&v[0].try_lt_scalar(-0.5)?, 0.0)?.try_prod(&[1], false)),
        case("max_pool2d_indices_gather", &[&[1, 2, 4, 4]], |v| {
            let (pooled, idx) = v[0].try_max_pool2d_with_indices([2, 2], [2, 2], [0, 0])?;
            let flat = v[0].try_reshape(&[1, 2, 16])?.try_gather(2, &idx.try_reshape(&[1, 2, 4])?)?;
            pooled.try_reshape(&[1, 2, 4])?.try_mul(&flat)
        }),
        // Linear algebra.
        case("matmul_2d", &[&[3, 4], &[4, 5]], |v| v[0].try_matmul(&v[1])),
        case("matmul_vec_mat", &[&[4], &[4, 2]], |v| v[0].try_matmul(&v[1])),
        case("matmul_mat_vec", &[&[3, 4], &[4]], |v| v[0].try_matmul(&v[1])),
        case("matmul_dot", &[&[4], &[4]], |v| v[0].try_matmul(&v[1])),
        case("matmul_batched", &[&[2, 3, 4], &[4, 5]], |v| v[0].try_matmul(&v[1])),
        case("matmul_batch_bcast", &[&[2, 1, 3, 4], &[3, 4, 2]], |v| v[0].try_matmul(&v[1])),
        case("linear", &[&[3, 4], &[5, 4], &[5]], |v| v[0].try_linear(&v[1], Some(&v[2]))),
        case("linear_no_bias", &[&[3, 4], &[5, 4]], |v| v[0].try_linear(&v[1], None)),
        case("linear_batched", &[&[2, 3, 4], &[5, 4], &[5]], |v| v[0].try_linear(&v[1], Some(&v[2]))),
        case("linear_vector", &[&[4], &[5, 4], &[5]], |v| v[0].try_linear(&v[1], Some(&v[2]))),
        // Convolution and pooling.
        case("conv2d", &[&[2, 2, 5, 5], &[3, 2, 3, 3], &[3]], |v| {
            v[0].try_conv2d(&v[1], Some(&v[2]), conv_p(1, 0, 1, 1))
        }),
        case("conv2d_stride_pad", &[&[1, 2, 6, 5], &[2, 2, 3, 2]], |v| {
            v[0].try_conv2d(&v[1], None, conv_p(2, 1, 1, 1))
        }),
        case("conv2d_groups_dilation", &[&[1, 4, 7, 7], &[4, 2, 2, 2]], |v| {
            v[0].try_conv2d(&v[1], None, conv_p(1, 1, 2, 2))
        }),
        case("conv1d", &[&[2, 2, 7], &[3, 2, 3], &[3]], |v| {
            v[0].try_conv1d(&v[1], Some(&v[2]), Conv1dParams { stride: 2, padding: 1, dilation: 1, groups: 1 })
        }),
        case("conv_transpose2d", &[&[1, 2, 3, 3], &[2, 3, 3, 3], &[3]], |v| {
            let p = ConvTranspose2dParams {
                stride: [2, 2],
                padding: [1, 1],
                output_padding: [1, 0],
                dilation: [1, 1],
                groups: 1,
            };
            v[0].try_conv_transpose2d(&v[1], Some(&v[2]), p)
        }),
        case("max_pool2d", &[&[1, 2, 4, 5]], |v| v[0].try_max_pool2d([2, 2], [2, 1], [0, 1])?.try_square()),
        case("avg_pool2d", &[&[1, 2, 5, 5]], |v| v[0].try_avg_pool2d([3, 3], [2, 2], [1, 1], false)?.try_square()),
        case("softmax_cross_entropy", &[&[4, 3]], |v| {
            v[0].try_softmax_cross_entropy(&Tensor::from_vec(vec![2i64, 0, 1, 2], &[4]))
        }),
        case("softmax_cross_entropy_backward", &[&[4, 3], &[]], |v| {
            let target = v[0].constant(Tensor::from_vec(vec![1i64, 0, 2, 2], &[4]));
            v[0].try_softmax_cross_entropy_backward(&target, &v[1])
        }),
        // A user-defined op.
        case("custom_op", &[&[3, 4]], |v| Var::try_custom(Arc::new(StraightThroughSquare), &[&v[0]])?.try_exp()),
    ]
}

/// The same values as contiguous, transposed-storage and strided views.
pub fn layouts(shape: &[usize], seed: u64) -> Vec<(&'static str, Tensor)> {
    let base = Tensor::uniform(shape, -1.5, 1.5, DType::F64, &mut Rng::seed(seed));
    let mut out = vec![("contiguous", base.clone())];
    if shape.len() >= 2 {
        let r = shape.len() as isize;
        out.push(("transposed", base.transpose(r - 2, r - 1).contiguous().transpose(r - 2, r - 1)));
    }
    if !shape.is_empty() {
        let both = Tensor::stack(&[base.clone(), base.full_like(7.0)], 1);
        let mut s: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
        s[0] *= 2;
        out.push(("strided", both.reshape(&s).slice(0, 0, s[0], 2)));
    }
    out
}
