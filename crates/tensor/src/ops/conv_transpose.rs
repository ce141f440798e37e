//! Transposed convolution (`torch.nn.functional.conv_transpose2d`) and its backward kernels.
//!
//! A transposed convolution is the adjoint (the input gradient) of a convolution whose input is
//! the transposed op's output: with the same weight `[C_in, C_out/groups, kH, kW]` read as a
//! conv2d weight `[C_out', C_in'/groups, kH, kW]` (`C_out' = C_in`, `C_in' = C_out`), and the same
//! stride, padding, dilation and groups,
//! - `conv_transpose2d(x, w) = conv2d_backward_input(x, w)` (col2im of `W^T @ x`);
//! - its gradient with respect to `x` is `conv2d(grad_out, w)` (cropped to `x`'s size when
//!   `output_padding` made the output larger than conv2d maps back from);
//! - its gradient with respect to `w` is `conv2d_backward_weight(x, grad_out)`: the roles of the
//!   conv's input and output gradient swap;
//! - its gradient with respect to the bias is `grad_out.sum(&[0, 2, 3], false)`.
//!
//! All three run on the shared im2col + GEMM engine with the conv geometry built here.

use crate::error::{Result, TensorError};
use crate::layout::checked_numel;
use crate::macros::{float_dispatch, panicking};
use crate::ops::conv::{check_float, check_grad_out, check_positive};
use crate::ops::im2col::{self, dense, Geom};
use crate::Tensor;

/// Parameters of [`Tensor::conv_transpose2d`]. `Default` is PyTorch's: stride 1, padding 0,
/// output_padding 0, dilation 1, groups 1. Pairs are `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvTranspose2dParams {
    pub stride: [usize; 2],
    /// The padding of the conv2d this op is the adjoint of: `padding` rows/columns are cropped
    /// from each side of the full output (which shrinks by `2 * padding`).
    pub padding: [usize; 2],
    /// Extra rows/columns added to one side of the output (to pick among the input sizes a
    /// strided conv2d maps to the same output size); must be smaller than stride or dilation.
    pub output_padding: [usize; 2],
    pub dilation: [usize; 2],
    /// Input and output channels are split into `groups` independent convolutions.
    pub groups: usize,
}

impl Default for ConvTranspose2dParams {
    fn default() -> Self {
        ConvTranspose2dParams { stride: [1, 1], padding: [0, 0], output_padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

/// Validates `conv_transpose2d` of an input of shape `x` with a weight of shape `w` and returns
/// the geometry of the equivalent conv2d (whose input is the transposed conv's output).
fn tconv_geom(
    op: &'static str,
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
    p: &ConvTranspose2dParams,
) -> Result<Geom> {
    if x.len() != 4 {
        return Err(TensorError::invalid(op, format!("input must be 4-D [N, C_in, H, W], got shape {x:?}")));
    }
    if w.len() != 4 {
        return Err(TensorError::invalid(
            op,
            format!("weight must be 4-D [C_in, C_out/groups, kH, kW], got shape {w:?}"),
        ));
    }
    check_positive(op, &p.stride, &p.dilation, p.groups)?;
    let (cin, groups) = (x[1], p.groups);
    if cin % groups != 0 {
        return Err(TensorError::invalid(
            op,
            format!("groups {groups} does not divide the {cin} input channels of input shape {x:?}"),
        ));
    }
    if w[0] != cin {
        return Err(TensorError::invalid(
            op,
            format!("input shape {x:?} has {cin} channels, but weight shape {w:?} expects {} (weight.shape[0])", w[0]),
        ));
    }
    if w[2..].contains(&0) {
        return Err(TensorError::invalid(op, format!("weight shape {w:?} has an empty kernel")));
    }
    let cout = w[1] * groups;
    if let Some(b) = bias {
        if b != [cout] {
            return Err(TensorError::invalid(
                op,
                format!(
                    "bias must have shape [{cout}] (one entry per output channel of weight {w:?} with groups \
                     {groups}), got {b:?}"
                ),
            ));
        }
    }
    let op_ok = (0..2).all(|d| p.output_padding[d] < p.stride[d] || p.output_padding[d] < p.dilation[d]);
    if !op_ok {
        return Err(TensorError::invalid(
            op,
            format!(
                "output_padding {:?} must be smaller than either stride {:?} or dilation {:?}",
                p.output_padding, p.stride, p.dilation
            ),
        ));
    }
    // In i128: every term is below 2^64 and their sum cannot overflow.
    let size = |d: usize| -> i128 {
        (x[2 + d] as i128 - 1) * p.stride[d] as i128 - 2 * p.padding[d] as i128
            + p.dilation[d] as i128 * (w[2 + d] as i128 - 1)
            + p.output_padding[d] as i128
            + 1
    };
    let (ho, wo) = (size(0), size(1));
    if ho < 1 || wo < 1 {
        return Err(TensorError::invalid(
            op,
            format!(
                "output size [{ho}, {wo}] is not positive (input shape {x:?}, weight shape {w:?}, stride {:?}, \
                 padding {:?}, output_padding {:?}, dilation {:?})",
                p.stride, p.padding, p.output_padding, p.dilation
            ),
        ));
    }
    let clamp = |v: i128| v.min(usize::MAX as i128) as usize;
    let too_large = || TensorError::TooLarge { op, shape: vec![x[0], cout, clamp(ho), clamp(wo)] };
    let (ho, wo) = (usize::try_from(ho).map_err(|_| too_large())?, usize::try_from(wo).map_err(|_| too_large())?);
    checked_numel(op, &[x[0], cout, ho, wo])?;
    Ok(Geom {
        n: x[0],
        c: cout,
        h: ho,
        w: wo,
        co: cin,
        ho: x[2],
        wo: x[3],
        kh: w[2],
        kw: w[3],
        stride: p.stride,
        pad: p.padding,
        dil: p.dilation,
        groups,
    })
}

impl Tensor {
    /// Transposed 2-D convolution (as `torch.nn.functional.conv_transpose2d`), the gradient of
    /// [`conv2d`](Self::conv2d) with respect to its input.
    ///
    /// Shapes: `self` `[N, C_in, H, W]`, `weight` `[C_in, C_out / groups, kH, kW]`, `bias`
    /// `[C_out]`; output `[N, C_out, H_out, W_out]` with
    /// `H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kH - 1) + output_padding[0] + 1`
    /// (same for W). Errors on a non-float or mixed dtype, a wrong rank, zero
    /// stride/dilation/groups, `groups` not dividing `C_in`, `C_in != weight.shape[0]`, a bias not
    /// of shape `[C_out]`, `output_padding` not smaller than stride or dilation, or an output size
    /// below 1.
    ///
    /// ```
    /// use tensor::{ConvTranspose2dParams, DType, Tensor};
    /// let x = Tensor::ones(&[1, 1, 2, 2], DType::F64);
    /// let w = Tensor::ones(&[1, 1, 2, 2], DType::F64);
    /// let p = ConvTranspose2dParams { stride: [2, 2], ..Default::default() };
    /// assert_eq!(x.conv_transpose2d(&w, None, p).shape(), &[1, 1, 4, 4]);
    /// ```
    pub fn try_conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        p: ConvTranspose2dParams,
    ) -> Result<Tensor> {
        let op = "conv_transpose2d";
        check_float(op, self)?;
        for t in [Some(weight), bias].into_iter().flatten() {
            self.same_dtype(op, t)?;
        }
        let g = tconv_geom(op, self.shape(), weight.shape(), bias.map(Tensor::shape), &p)?;
        crate::pool::ensure_alloc(op, checked_numel(op, &[g.n, g.c, g.h, g.w])?, self.dtype())?;
        let (x, w) = (self.try_contiguous()?, weight.try_contiguous()?);
        let bias = bias.map(Tensor::try_contiguous).transpose()?;
        float_dispatch!(op, x.dtype(), T => {
            let mut y = im2col::conv_backward_input::<T>(dense(&x), dense(&w), &g);
            if let Some(b) = bias.as_ref().map(dense::<T>) {
                for (i, plane) in y.chunks_mut(g.h * g.w).enumerate() {
                    let v = b[i % g.c];
                    plane.iter_mut().for_each(|e| *e += v);
                }
            }
            Ok(Tensor::from_data(y, &[g.n, g.c, g.h, g.w]))
        })
    }

    panicking!(
        /// Transposed 2-D convolution: `[N, C_in, H, W]` with weight `[C_in, C_out/groups, kH, kW]`
        /// (+ `[C_out]`) -> `[N, C_out, H_out, W_out]`; see
        /// [`try_conv_transpose2d`](Self::try_conv_transpose2d).
        conv_transpose2d => try_conv_transpose2d(weight: &Tensor, bias: Option<&Tensor>, p: ConvTranspose2dParams) -> Tensor
    );

    /// Gradient of [`conv_transpose2d`](Self::conv_transpose2d) with respect to its input:
    /// `grad_out [N, C_out, H_out, W_out]`, `weight [C_in, C_out / groups, kH, kW]`,
    /// `input_shape = [N, C_in, H, W]`; returns `[N, C_in, H, W]`. This is
    /// `conv2d(grad_out, weight)` with the same stride, padding, dilation and groups, evaluated
    /// at the `H x W` output positions. Errors on the forward op's errors for `input_shape` and
    /// `weight`, mixed dtypes, or a `grad_out` not of the forward output shape.
    pub fn try_conv_transpose2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        p: ConvTranspose2dParams,
    ) -> Result<Tensor> {
        let op = "conv_transpose2d_backward_input";
        check_float(op, grad_out)?;
        grad_out.same_dtype(op, weight)?;
        let g = tconv_geom(op, input_shape, weight.shape(), None, &p)?;
        let what = format!("conv_transpose2d with input shape {input_shape:?} and weight shape {:?}", weight.shape());
        check_grad_out(op, grad_out, &[g.n, g.c, g.h, g.w], what)?;
        crate::pool::ensure_alloc(op, checked_numel(op, input_shape)?, grad_out.dtype())?;
        let (dy, w) = (grad_out.try_contiguous()?, weight.try_contiguous()?);
        float_dispatch!(op, dy.dtype(), T => {
            Ok(Tensor::from_data(im2col::conv_forward::<T>(dense(&dy), dense(&w), None, &g), input_shape))
        })
    }

    /// Gradient of [`conv_transpose2d`](Self::conv_transpose2d) with respect to its input; see
    /// [`try_conv_transpose2d_backward_input`](Self::try_conv_transpose2d_backward_input).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn conv_transpose2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        p: ConvTranspose2dParams,
    ) -> Tensor {
        crate::error::ok(Tensor::try_conv_transpose2d_backward_input(grad_out, weight, input_shape, p))
    }

    /// Gradient of [`conv_transpose2d`](Self::conv_transpose2d) with respect to its weight:
    /// `grad_out [N, C_out, H_out, W_out]`, `input [N, C_in, H, W]`,
    /// `weight_shape = [C_in, C_out / groups, kH, kW]`; returns `weight_shape`. This is
    /// `conv2d_backward_weight` with the roles swapped: `input` plays the conv's output gradient
    /// and `grad_out` the conv's input (`dW_g = input_g @ im2col(grad_out)_g^T`). Errors on the
    /// forward op's errors for `input` and `weight_shape`, mixed dtypes, or a `grad_out` not of
    /// the forward output shape.
    pub fn try_conv_transpose2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        p: ConvTranspose2dParams,
    ) -> Result<Tensor> {
        let op = "conv_transpose2d_backward_weight";
        check_float(op, grad_out)?;
        grad_out.same_dtype(op, input)?;
        let g = tconv_geom(op, input.shape(), weight_shape, None, &p)?;
        let what = format!("conv_transpose2d with input shape {:?} and weight shape {weight_shape:?}", input.shape());
        check_grad_out(op, grad_out, &[g.n, g.c, g.h, g.w], what)?;
        crate::pool::ensure_alloc(op, checked_numel(op, weight_shape)?, grad_out.dtype())?;
        let (dy, x) = (grad_out.try_contiguous()?, input.try_contiguous()?);
        float_dispatch!(op, dy.dtype(), T => {
            Ok(Tensor::from_data(im2col::conv_backward_weight::<T>(dense(&x), dense(&dy), &g), weight_shape))
        })
    }

    /// Gradient of [`conv_transpose2d`](Self::conv_transpose2d) with respect to its weight; see
    /// [`try_conv_transpose2d_backward_weight`](Self::try_conv_transpose2d_backward_weight).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn conv_transpose2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        p: ConvTranspose2dParams,
    ) -> Tensor {
        crate::error::ok(Tensor::try_conv_transpose2d_backward_weight(grad_out, input, weight_shape, p))
    }
}
