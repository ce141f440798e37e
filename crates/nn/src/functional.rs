//! The functional API (`torch.nn.functional` as `F`): every layer's computation as a function
//! of `Var`s, parameters passed in. The layers call these, so a layer and its function are one
//! implementation. Losses are re-exported from [`crate::loss`].
//!
//! ```
//! use autograd::Tape;
//! use nn::functional as F;
//! use tensor::{DType, Tensor};
//! let tape = Tape::new();
//! let x = tape.var(Tensor::ones(&[2, 4], DType::F64));
//! let w = tape.var(Tensor::ones(&[3, 4], DType::F64));
//! let y = F::relu(&F::linear(&x, &w, None).unwrap()).unwrap();
//! let y = F::layer_norm(&y, &[3], None, None, 1e-5).unwrap();
//! assert_eq!(y.shape(), &[2, 3]);
//! ```

use autograd::{AsVar, Param, Result, Var};
use tensor::{Conv1dParams, Conv2dParams, ConvTranspose2dParams, DType, Tensor, TensorError};

pub use crate::loss::*;

fn invalid(op: &'static str, msg: String) -> autograd::AutogradError {
    TensorError::invalid(op, msg).into()
}

/// `x Wᵀ + b` (`F.linear`).
pub fn linear(x: &Var, weight: &Var, bias: Option<&Var>) -> Result<Var> {
    x.try_linear(weight, bias)
}

/// `F.conv1d`.
pub fn conv1d(x: &Var, weight: &Var, bias: Option<&Var>, params: Conv1dParams) -> Result<Var> {
    x.try_conv1d(weight, bias, params)
}

/// `F.conv2d`.
pub fn conv2d(x: &Var, weight: &Var, bias: Option<&Var>, params: Conv2dParams) -> Result<Var> {
    x.try_conv2d(weight, bias, params)
}

/// `F.conv_transpose2d`.
pub fn conv_transpose2d(x: &Var, weight: &Var, bias: Option<&Var>, params: ConvTranspose2dParams) -> Result<Var> {
    x.try_conv_transpose2d(weight, bias, params)
}

/// `F.max_pool2d` (dilation 1, floor mode).
pub fn max_pool2d(x: &Var, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Result<Var> {
    x.try_max_pool2d(kernel, stride, padding)
}

/// `F.avg_pool2d` (floor mode).
pub fn avg_pool2d(
    x: &Var,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    count_include_pad: bool,
) -> Result<Var> {
    x.try_avg_pool2d(kernel, stride, padding, count_include_pad)
}

/// `F.adaptive_avg_pool2d`: output cell `(i, j)` averages input rows `⌊i·H/h⌋..⌈(i+1)·H/h⌉`
/// and the same for columns, as torch does.
pub fn adaptive_avg_pool2d(x: &Var, output_size: [usize; 2]) -> Result<Var> {
    if x.rank() != 4 || output_size.contains(&0) {
        return Err(invalid(
            "adaptive_avg_pool2d",
            format!("expected [N, C, H, W] input and a non-zero output size, got {:?} and {output_size:?}", x.shape()),
        ));
    }
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let [oh, ow] = output_size;
    if h % oh == 0 && w % ow == 0 {
        // Equal windows: one pooling op.
        let k = [h / oh, w / ow];
        return x.try_avg_pool2d(k, k, [0, 0], true);
    }
    let mut rows = Vec::with_capacity(oh);
    for i in 0..oh {
        let (r0, r1) = (i * h / oh, ((i + 1) * h).div_ceil(oh));
        let mut cells = Vec::with_capacity(ow);
        for j in 0..ow {
            let (c0, c1) = (j * w / ow, ((j + 1) * w).div_ceil(ow));
            let window = x.try_narrow(2, r0, r1 - r0)?.try_narrow(3, c0, c1 - c0)?;
            cells.push(window.try_mean(&[2, 3], false)?);
        }
        rows.push(Var::try_stack(&cells, -1)?);
    }
    Var::try_stack(&rows, -2)
}

/// `F.relu`.
pub fn relu(x: &Var) -> Result<Var> {
    x.try_relu()
}

/// `F.leaky_relu`.
pub fn leaky_relu(x: &Var, negative_slope: f64) -> Result<Var> {
    x.try_leaky_relu(negative_slope)
}

/// `F.elu`.
pub fn elu(x: &Var, alpha: f64) -> Result<Var> {
    x.try_elu(alpha)
}

/// `F.gelu` (`tanh_approximation`: torch's `approximate='tanh'`).
pub fn gelu(x: &Var, tanh_approximation: bool) -> Result<Var> {
    if tanh_approximation {
        x.try_gelu_tanh()
    } else {
        x.try_gelu()
    }
}

/// `F.silu`.
pub fn silu(x: &Var) -> Result<Var> {
    x.try_silu()
}

/// `F.mish`: `x · tanh(softplus(x))`.
pub fn mish(x: &Var) -> Result<Var> {
    x.try_mul(&x.try_softplus()?.try_tanh()?)
}

/// `torch.sigmoid`.
pub fn sigmoid(x: &Var) -> Result<Var> {
    x.try_sigmoid()
}

/// `torch.tanh`.
pub fn tanh(x: &Var) -> Result<Var> {
    x.try_tanh()
}

/// `F.softmax` along `dim`.
pub fn softmax(x: &Var, dim: isize) -> Result<Var> {
    x.try_softmax(dim)
}

/// `F.log_softmax` along `dim`.
pub fn log_softmax(x: &Var, dim: isize) -> Result<Var> {
    x.try_log_softmax(dim)
}

/// `F.dropout`: in training, zeroes each element with probability `p` (a recorded mask drawn
/// from `seed`) and scales the rest by `1 / (1 - p)`; otherwise the identity.
pub fn dropout(x: &Var, p: f64, training: bool, seed: &impl AsVar) -> Result<Var> {
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    x.try_dropout(p, seed)
}

/// `F.embedding`: the rows of `weight [num, dim]` at the i64 `indices` (any shape); the result
/// is `indices.shape ++ [dim]`.
pub fn embedding(indices: &impl AsVar, weight: &Var) -> Result<Var> {
    let ids = indices.as_var(weight);
    if ids.dtype() != DType::I64 {
        return Err(TensorError::DTypeMismatch { op: "embedding", expected: DType::I64, got: ids.dtype() }.into());
    }
    let rows = weight.try_index_select(0, &ids.try_reshape(&[-1])?)?;
    let mut shape: Vec<isize> = ids.shape().iter().map(|&d| d as isize).collect();
    shape.push(weight.shape()[1] as isize);
    rows.try_reshape(&shape)
}

/// `(x - mean) / √(var + eps)` over `axes` (biased variance), as torch's norms use.
fn normalize(x: &Var, axes: &[isize], eps: f64) -> Result<Var> {
    let mean = x.try_mean(axes, true)?;
    let centered = x.try_sub(&mean)?;
    let var = centered.try_square()?.try_mean(axes, true)?;
    centered.try_mul(&var.try_add_scalar(eps)?.try_rsqrt()?)
}

/// Shape `[1, C, 1, ...]` of a per-channel vector for an input of `rank`.
fn per_channel(rank: usize, channels: usize) -> Vec<isize> {
    let mut shape = vec![1isize; rank];
    shape[1] = channels as isize;
    shape
}

/// `y · weight + bias`, each reshaped to `shape` (absent: skipped).
fn affine(y: Var, weight: Option<&Var>, bias: Option<&Var>, shape: &[isize]) -> Result<Var> {
    let y = match weight {
        Some(w) => y.try_mul(&w.try_reshape(shape)?)?,
        None => y,
    };
    match bias {
        Some(b) => y.try_add(&b.try_reshape(shape)?),
        None => Ok(y),
    }
}

/// `F.layer_norm`: normalises over the trailing `normalized_shape` dimensions, then scales and
/// shifts elementwise.
pub fn layer_norm(
    x: &Var,
    normalized_shape: &[usize],
    weight: Option<&Var>,
    bias: Option<&Var>,
    eps: f64,
) -> Result<Var> {
    let k = normalized_shape.len();
    if x.rank() < k || x.shape()[x.rank() - k..] != normalized_shape[..] {
        return Err(invalid(
            "layer_norm",
            format!("input {:?} does not end with the normalized shape {normalized_shape:?}", x.shape()),
        ));
    }
    let axes: Vec<isize> = (x.rank() - k..x.rank()).map(|a| a as isize).collect();
    let shape: Vec<isize> = normalized_shape.iter().map(|&d| d as isize).collect();
    affine(normalize(x, &axes, eps)?, weight, bias, &shape)
}

/// `F.group_norm`: normalises each of `num_groups` channel groups of `[N, C, *]` over the
/// group's channels and positions, then scales and shifts per channel.
pub fn group_norm(x: &Var, num_groups: usize, weight: Option<&Var>, bias: Option<&Var>, eps: f64) -> Result<Var> {
    let g = num_groups;
    let c = if x.rank() >= 2 { x.shape()[1] } else { 0 };
    if x.rank() < 2 || g == 0 || c % g != 0 {
        return Err(invalid(
            "group_norm",
            format!("{g} groups do not divide the channels of an input of shape {:?}", x.shape()),
        ));
    }
    let n = x.shape()[0] as isize;
    let y = normalize(&x.try_reshape(&[n, g as isize, -1])?, &[2], eps)?;
    let back: Vec<isize> = x.shape().iter().map(|&d| d as isize).collect();
    affine(y.try_reshape(&back)?, weight, bias, &per_channel(x.rank(), c))
}

/// `F.batch_norm` over `[N, C, *]`. In training it normalises with the batch's statistics and,
/// when running statistics are given, blends the batch's mean and unbiased variance into them
/// with `momentum` (values only, outside the graph); otherwise it normalises with the running
/// statistics, which must then be given.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    x: &Var,
    running_mean: Option<&Param>,
    running_var: Option<&Param>,
    weight: Option<&Var>,
    bias: Option<&Var>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Var> {
    if x.rank() < 2 {
        return Err(invalid("batch_norm", format!("expected an input [N, C, *], got {:?}", x.shape())));
    }
    let c = x.shape()[1];
    let axes: Vec<isize> = (0..x.rank() as isize).filter(|&a| a != 1).collect();
    let shape = per_channel(x.rank(), c);
    let y = if training {
        let y = normalize(x, &axes, eps)?;
        let count = x.numel() / c.max(1);
        if let (Some(rm), Some(rv), true) = (running_mean, running_var, count > 1) {
            let v = x.value();
            let blend = |p: &Param, batch: Tensor| -> tensor::Result<()> {
                p.replace(p.value().try_mul_scalar(1.0 - momentum)?.try_add(&batch.try_mul_scalar(momentum)?)?);
                Ok(())
            };
            blend(rm, v.try_mean(&axes, false)?)?;
            blend(rv, v.try_var(&axes, 1, false)?)?;
        }
        y
    } else {
        let (Some(rm), Some(rv)) = (running_mean, running_var) else {
            return Err(invalid("batch_norm", "evaluation mode needs the running mean and variance".into()));
        };
        let tape = x.tape();
        let mean = tape.constant(rm.value()).try_reshape(&shape)?;
        let inv_std = tape.constant(rv.value()).try_add_scalar(eps)?.try_rsqrt()?.try_reshape(&shape)?;
        x.try_sub(&mean)?.try_mul(&inv_std)?
    };
    affine(y, weight, bias, &shape)
}
