//! Convolutions with PyTorch semantics: `conv1d`, `conv2d` and the two backward kernels of each
//! (gradient with respect to the input and to the weight), all im2col + GEMM (see the engine in
//! `im2col.rs`). `conv1d` views its operands as `conv2d` ones with height 1: no copies.
//!
//! The gradient with respect to the bias is `grad_out.sum(&[0, 2, 3], false)` (`[0, 2]` for
//! 1-D); autograd computes it with the ordinary reduction.

use crate::error::{Result, TensorError};
use crate::macros::{float_dispatch, panicking};
use crate::ops::im2col::{self, dense, Geom};
use crate::{DType, Shape, Tensor};

/// Parameters of [`Tensor::conv2d`]. `Default` is PyTorch's: stride 1, padding 0, dilation 1,
/// groups 1. Pairs are `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    pub stride: [usize; 2],
    /// Zero padding added on both sides of each spatial dimension.
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    /// Input and output channels are split into `groups` independent convolutions.
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

/// Parameters of [`Tensor::conv1d`]. `Default` is PyTorch's: stride 1, padding 0, dilation 1,
/// groups 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv1dParams {
    pub stride: usize,
    /// Zero padding added on both sides.
    pub padding: usize,
    pub dilation: usize,
    /// Input and output channels are split into `groups` independent convolutions.
    pub groups: usize,
}

impl Default for Conv1dParams {
    fn default() -> Self {
        Conv1dParams { stride: 1, padding: 0, dilation: 1, groups: 1 }
    }
}

/// Per-dimension convolution parameters as slices (one entry per spatial dimension).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec<'a> {
    pub stride: &'a [usize],
    pub pad: &'a [usize],
    pub dil: &'a [usize],
    pub groups: usize,
}

impl Conv2dParams {
    fn spec(&self) -> Spec<'_> {
        Spec { stride: &self.stride, pad: &self.padding, dil: &self.dilation, groups: self.groups }
    }
}

impl Conv1dParams {
    fn spec(&self) -> Spec<'_> {
        Spec {
            stride: std::slice::from_ref(&self.stride),
            pad: std::slice::from_ref(&self.padding),
            dil: std::slice::from_ref(&self.dilation),
            groups: self.groups,
        }
    }
}

/// Prints per-dimension parameters: a bare number for 1-D ops, a list for 2-D ones.
pub(crate) fn dims(v: &[usize]) -> String {
    match v {
        [one] => one.to_string(),
        _ => format!("{v:?}"),
    }
}

/// Checks that `t` is a float tensor.
pub(crate) fn check_float(op: &'static str, t: &Tensor) -> Result<()> {
    if !t.dtype().is_float() {
        return Err(TensorError::UnsupportedDType { op, dtype: t.dtype(), expected: "f32 or f64" });
    }
    Ok(())
}

/// Checks stride, dilation and groups are positive.
pub(crate) fn check_positive(op: &'static str, stride: &[usize], dil: &[usize], groups: usize) -> Result<()> {
    if stride.contains(&0) {
        return Err(TensorError::invalid(op, format!("stride must be positive, got {}", dims(stride))));
    }
    if dil.contains(&0) {
        return Err(TensorError::invalid(op, format!("dilation must be positive, got {}", dims(dil))));
    }
    if groups == 0 {
        return Err(TensorError::invalid(op, "groups must be positive, got 0"));
    }
    Ok(())
}

/// The spatial names of a rank-`2 + sp` operand, for messages.
fn layout_name(sp: usize, input: bool) -> &'static str {
    match (sp, input) {
        (1, true) => "3-D [N, C, L]",
        (1, false) => "3-D [C_out, C_in/groups, k]",
        (_, true) => "4-D [N, C, H, W]",
        (_, false) => "4-D [C_out, C_in/groups, kH, kW]",
    }
}

/// Validates a convolution with `stride.len()` (1 or 2) spatial dimensions of an input of shape
/// `x` with a weight of shape `w`, and returns its geometry (1-D viewed as height 1).
pub(crate) fn conv_geom(
    op: &'static str,
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
    spec: Spec<'_>,
) -> Result<Geom> {
    let Spec { stride, pad, dil, groups } = spec;
    let sp = stride.len();
    if x.len() != 2 + sp {
        return Err(TensorError::invalid(op, format!("input must be {}, got shape {x:?}", layout_name(sp, true))));
    }
    if w.len() != 2 + sp {
        return Err(TensorError::invalid(op, format!("weight must be {}, got shape {w:?}", layout_name(sp, false))));
    }
    check_positive(op, stride, dil, groups)?;
    let (c, co) = (x[1], w[0]);
    if c % groups != 0 {
        return Err(TensorError::invalid(
            op,
            format!("groups {groups} does not divide the {c} input channels of input shape {x:?}"),
        ));
    }
    if co % groups != 0 {
        return Err(TensorError::invalid(
            op,
            format!("groups {groups} does not divide the {co} output channels of weight shape {w:?}"),
        ));
    }
    if w[1] * groups != c {
        return Err(TensorError::invalid(
            op,
            format!(
                "input shape {x:?} has {c} channels, but weight shape {w:?} with groups {groups} expects {} \
                 (weight.shape[1] * groups)",
                w[1] * groups
            ),
        ));
    }
    if w[2..].contains(&0) {
        return Err(TensorError::invalid(op, format!("weight shape {w:?} has an empty kernel")));
    }
    if let Some(b) = bias {
        if b != [co] {
            return Err(TensorError::invalid(
                op,
                format!("bias must have shape [{co}] (one entry per output channel of weight {w:?}), got {b:?}"),
            ));
        }
    }
    let mut out = [1usize; 2];
    for d in 0..sp {
        out[d] = Geom::out_size(x[2 + d], w[2 + d], stride[d], pad[d], dil[d]).ok_or_else(|| {
            let eff: Vec<usize> = (0..sp).map(|i| dil[i].saturating_mul(w[2 + i] - 1).saturating_add(1)).collect();
            let padded: Vec<usize> = (0..sp).map(|i| x[2 + i].saturating_add(pad[i].saturating_mul(2))).collect();
            TensorError::invalid(
                op,
                format!(
                    "effective kernel size {} (kernel {}, dilation {}) exceeds the padded input size {} \
                     (input shape {x:?}, padding {})",
                    dims(&eff),
                    dims(&w[2..]),
                    dims(dil),
                    dims(&padded),
                    dims(pad)
                ),
            )
        })?;
    }
    let (h, wd, kh, kw, ho, wo) =
        if sp == 1 { (1, x[2], 1, w[2], 1, out[0]) } else { (x[2], x[3], w[2], w[3], out[0], out[1]) };
    let two = |v: &[usize], one: usize| if sp == 1 { [one, v[0]] } else { [v[0], v[1]] };
    Ok(Geom {
        n: x[0],
        c,
        h,
        w: wd,
        co,
        ho,
        wo,
        kh,
        kw,
        stride: two(stride, 1),
        pad: two(pad, 0),
        dil: two(dil, 1),
        groups,
    })
}

/// The output shape of a checked convolution with `sp` spatial dimensions.
fn out_shape(g: &Geom, sp: usize) -> Shape {
    if sp == 1 {
        Shape::from_slice(&[g.n, g.co, g.wo])
    } else {
        Shape::from_slice(&[g.n, g.co, g.ho, g.wo])
    }
}

/// Checks that `grad_out` has the shape the forward op produced.
pub(crate) fn check_grad_out(op: &'static str, grad_out: &Tensor, expected: &[usize], what: String) -> Result<()> {
    if grad_out.shape() != expected {
        return Err(TensorError::invalid(
            op,
            format!("grad_out shape {:?} does not match the output shape {expected:?} of {what}", grad_out.shape()),
        ));
    }
    Ok(())
}

/// Shared forward of conv1d/conv2d on validated operands.
fn conv_forward(op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Geom) -> Result<Tensor> {
    let numel = crate::layout::checked_numel(op, &[g.n, g.co, g.ho, g.wo])?;
    crate::pool::ensure_alloc(op, numel, x.dtype())?;
    let (x, w) = (x.try_contiguous()?, w.try_contiguous()?);
    let bias = bias.map(Tensor::try_contiguous).transpose()?;
    float_dispatch!(op, x.dtype(), T => {
        let y = im2col::conv_forward::<T>(dense(&x), dense(&w), bias.as_ref().map(dense), g);
        Ok(Tensor::from_data(y, &[g.n, g.co, g.ho, g.wo]))
    })
}

/// Checks dtypes of a forward conv: `x` float, `weight` and `bias` the same dtype.
fn check_dtypes(op: &'static str, x: &Tensor, others: &[Option<&Tensor>]) -> Result<DType> {
    check_float(op, x)?;
    for t in others.iter().flatten() {
        x.same_dtype(op, t)?;
    }
    Ok(x.dtype())
}

impl Tensor {
    /// 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d`).
    ///
    /// Shapes: `self` (input) `[N, C, H, W]`, `weight` `[C_out, C / groups, kH, kW]`, `bias`
    /// `[C_out]`; output `[N, C_out, H_out, W_out]` with
    /// `H_out = (H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) / stride[0] + 1` (same for W).
    /// Inputs may be any strided view. Errors on a non-float or mixed dtype, a wrong rank,
    /// zero stride/dilation/groups, `groups` not dividing `C` or `C_out`, `C != weight.shape[1] *
    /// groups`, a bias not of shape `[C_out]`, or a kernel larger than the padded input.
    ///
    /// ```
    /// use tensor::{Conv2dParams, DType, Tensor};
    /// let x = Tensor::ones(&[1, 1, 4, 4], DType::F32);
    /// let w = Tensor::ones(&[2, 1, 3, 3], DType::F32);
    /// let p = Conv2dParams { padding: [1, 1], ..Default::default() };
    /// let y = x.conv2d(&w, None, p);
    /// assert_eq!(y.shape(), &[1, 2, 4, 4]);
    /// assert_eq!(y.to_vec::<f32>()[..4], [4.0, 6.0, 6.0, 4.0]);
    /// ```
    pub fn try_conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, p: Conv2dParams) -> Result<Tensor> {
        let op = "conv2d";
        check_dtypes(op, self, &[Some(weight), bias])?;
        let g = conv_geom(op, self.shape(), weight.shape(), bias.map(Tensor::shape), p.spec())?;
        conv_forward(op, self, weight, bias, &g)
    }

    panicking!(
        /// 2-D convolution: `[N, C, H, W]` * `[C_out, C/groups, kH, kW]` (+ `[C_out]`) ->
        /// `[N, C_out, H_out, W_out]`; see [`try_conv2d`](Self::try_conv2d).
        conv2d => try_conv2d(weight: &Tensor, bias: Option<&Tensor>, p: Conv2dParams) -> Tensor
    );

    /// 1-D convolution (as `torch.nn.functional.conv1d`).
    ///
    /// Shapes: `self` `[N, C, L]`, `weight` `[C_out, C / groups, k]`, `bias` `[C_out]`; output
    /// `[N, C_out, L_out]` with `L_out = (L + 2 * padding - dilation * (k - 1) - 1) / stride + 1`.
    /// Runs as [`conv2d`](Self::conv2d) on `[N, C, 1, L]` views. Errors as `try_conv2d`.
    pub fn try_conv1d(&self, weight: &Tensor, bias: Option<&Tensor>, p: Conv1dParams) -> Result<Tensor> {
        let op = "conv1d";
        check_dtypes(op, self, &[Some(weight), bias])?;
        let g = conv_geom(op, self.shape(), weight.shape(), bias.map(Tensor::shape), p.spec())?;
        conv_forward(op, &self.try_unsqueeze(2)?, &weight.try_unsqueeze(2)?, bias, &g)?.try_squeeze(2)
    }

    /// Checks a conv1d's arguments without running it: the errors of
    /// [`try_conv1d`](Self::try_conv1d), or the output shape `[N, C_out, L_out]`.
    pub fn try_conv1d_output_shape(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        p: Conv1dParams,
    ) -> Result<Vec<usize>> {
        let op = "conv1d";
        check_dtypes(op, self, &[Some(weight), bias])?;
        let g = conv_geom(op, self.shape(), weight.shape(), bias.map(Tensor::shape), p.spec())?;
        Ok(vec![g.n, g.co, g.wo])
    }

    panicking!(
        /// 1-D convolution: `[N, C, L]` * `[C_out, C/groups, k]` (+ `[C_out]`) -> `[N, C_out, L_out]`;
        /// see [`try_conv1d`](Self::try_conv1d).
        conv1d => try_conv1d(weight: &Tensor, bias: Option<&Tensor>, p: Conv1dParams) -> Tensor
    );

    /// Gradient of [`conv2d`](Self::conv2d) with respect to its input:
    /// `grad_out [N, C_out, H_out, W_out]`, `weight [C_out, C / groups, kH, kW]`,
    /// `input_shape = [N, C, H, W]`; returns `[N, C, H, W]`.
    ///
    /// Computed as `col = W_g^T @ grad_out_g` per group, then col2im (each column entry added
    /// back to the input position it was read from). This is also `conv_transpose2d(grad_out,
    /// weight)` with the same parameters. Errors on the forward op's errors for `input_shape`
    /// and `weight`, mixed dtypes, or a `grad_out` not of the forward output shape.
    pub fn try_conv2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        p: Conv2dParams,
    ) -> Result<Tensor> {
        let op = "conv2d_backward_input";
        check_dtypes(op, grad_out, &[Some(weight)])?;
        let g = conv_geom(op, input_shape, weight.shape(), None, p.spec())?;
        let what = format!("conv2d with input shape {input_shape:?} and weight shape {:?}", weight.shape());
        check_grad_out(op, grad_out, &out_shape(&g, 2), what)?;
        backward_input(op, grad_out, weight, &g, input_shape)
    }

    /// Gradient of [`conv2d`](Self::conv2d) with respect to its input; see
    /// [`try_conv2d_backward_input`](Self::try_conv2d_backward_input).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn conv2d_backward_input(grad_out: &Tensor, weight: &Tensor, input_shape: &[usize], p: Conv2dParams) -> Tensor {
        crate::error::ok(Tensor::try_conv2d_backward_input(grad_out, weight, input_shape, p))
    }

    /// Gradient of [`conv2d`](Self::conv2d) with respect to its weight:
    /// `grad_out [N, C_out, H_out, W_out]`, `input [N, C, H, W]`,
    /// `weight_shape = [C_out, C / groups, kH, kW]`; returns `weight_shape`.
    ///
    /// Computed per group as `grad_out_g [C_out/g, N*L] @ im2col(input)_g^T`. Errors on the
    /// forward op's errors for `input` and `weight_shape`, mixed dtypes, or a `grad_out` not of
    /// the forward output shape.
    pub fn try_conv2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        p: Conv2dParams,
    ) -> Result<Tensor> {
        let op = "conv2d_backward_weight";
        check_dtypes(op, grad_out, &[Some(input)])?;
        let g = conv_geom(op, input.shape(), weight_shape, None, p.spec())?;
        let what = format!("conv2d with input shape {:?} and weight shape {weight_shape:?}", input.shape());
        check_grad_out(op, grad_out, &out_shape(&g, 2), what)?;
        backward_weight(op, grad_out, input, &g, weight_shape)
    }

    /// Gradient of [`conv2d`](Self::conv2d) with respect to its weight; see
    /// [`try_conv2d_backward_weight`](Self::try_conv2d_backward_weight).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn conv2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        p: Conv2dParams,
    ) -> Tensor {
        crate::error::ok(Tensor::try_conv2d_backward_weight(grad_out, input, weight_shape, p))
    }

    /// Gradient of [`conv1d`](Self::conv1d) with respect to its input:
    /// `grad_out [N, C_out, L_out]`, `weight [C_out, C / groups, k]`, `input_shape = [N, C, L]`;
    /// returns `[N, C, L]`. Errors as [`try_conv2d_backward_input`](Self::try_conv2d_backward_input).
    pub fn try_conv1d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        p: Conv1dParams,
    ) -> Result<Tensor> {
        let op = "conv1d_backward_input";
        check_dtypes(op, grad_out, &[Some(weight)])?;
        let g = conv_geom(op, input_shape, weight.shape(), None, p.spec())?;
        let what = format!("conv1d with input shape {input_shape:?} and weight shape {:?}", weight.shape());
        check_grad_out(op, grad_out, &out_shape(&g, 1), what)?;
        backward_input(op, &grad_out.try_unsqueeze(2)?, &weight.try_unsqueeze(2)?, &g, input_shape)
    }

    /// Gradient of [`conv1d`](Self::conv1d) with respect to its input; see
    /// [`try_conv1d_backward_input`](Self::try_conv1d_backward_input).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn conv1d_backward_input(grad_out: &Tensor, weight: &Tensor, input_shape: &[usize], p: Conv1dParams) -> Tensor {
        crate::error::ok(Tensor::try_conv1d_backward_input(grad_out, weight, input_shape, p))
    }

    /// Gradient of [`conv1d`](Self::conv1d) with respect to its weight:
    /// `grad_out [N, C_out, L_out]`, `input [N, C, L]`, `weight_shape = [C_out, C / groups, k]`;
    /// returns `weight_shape`. Errors as
    /// [`try_conv2d_backward_weight`](Self::try_conv2d_backward_weight).
    pub fn try_conv1d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        p: Conv1dParams,
    ) -> Result<Tensor> {
        let op = "conv1d_backward_weight";
        check_dtypes(op, grad_out, &[Some(input)])?;
        let g = conv_geom(op, input.shape(), weight_shape, None, p.spec())?;
        let what = format!("conv1d with input shape {:?} and weight shape {weight_shape:?}", input.shape());
        check_grad_out(op, grad_out, &out_shape(&g, 1), what)?;
        backward_weight(op, &grad_out.try_unsqueeze(2)?, &input.try_unsqueeze(2)?, &g, weight_shape)
    }

    /// Gradient of [`conv1d`](Self::conv1d) with respect to its weight; see
    /// [`try_conv1d_backward_weight`](Self::try_conv1d_backward_weight).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn conv1d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        p: Conv1dParams,
    ) -> Tensor {
        crate::error::ok(Tensor::try_conv1d_backward_weight(grad_out, input, weight_shape, p))
    }
}

/// `dx` of a validated convolution: `grad_out` and `weight` are (views of) the 4-D operands.
pub(crate) fn backward_input(
    op: &'static str,
    grad_out: &Tensor,
    weight: &Tensor,
    g: &Geom,
    input_shape: &[usize],
) -> Result<Tensor> {
    crate::pool::ensure_alloc(op, crate::layout::checked_numel(op, input_shape)?, grad_out.dtype())?;
    let (dy, w) = (grad_out.try_contiguous()?, weight.try_contiguous()?);
    float_dispatch!(op, dy.dtype(), T => {
        Ok(Tensor::from_data(im2col::conv_backward_input::<T>(dense(&dy), dense(&w), g), input_shape))
    })
}

/// `dw` of a validated convolution: `grad_out` and `input` are (views of) the 4-D operands.
pub(crate) fn backward_weight(
    op: &'static str,
    grad_out: &Tensor,
    input: &Tensor,
    g: &Geom,
    weight_shape: &[usize],
) -> Result<Tensor> {
    crate::pool::ensure_alloc(op, crate::layout::checked_numel(op, weight_shape)?, grad_out.dtype())?;
    let (dy, x) = (grad_out.try_contiguous()?, input.try_contiguous()?);
    float_dispatch!(op, dy.dtype(), T => {
        Ok(Tensor::from_data(im2col::conv_backward_weight::<T>(dense(&dy), dense(&x), g), weight_shape))
    })
}
