//! Convolutions on `Var` and their rules.
//!
//! conv2d, its input-gradient (`conv2d_backward_input`, which is also conv_transpose2d) and its
//! weight-gradient (`conv2d_backward_weight`) are each linear in both arguments, and each one's
//! adjoints are the other two: the three primitives close under differentiation, so gradients
//! of any order need no other kernel.

use smallvec::smallvec;
use tensor::{Conv1dParams, Conv2dParams, ConvTranspose2dParams};

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::op::Op;
use crate::var::Var;

impl Var {
    /// 2-D convolution: `x [N, C, H, W]`, `weight [Co, C/groups, kh, kw]`, `bias [Co]`.
    pub fn try_conv2d(&self, weight: &Var, bias: Option<&Var>, p: Conv2dParams) -> Result<Var> {
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Var::apply(&inputs, Op::Conv2d { params: p })
    }

    /// 2-D convolution.
    ///
    /// # Panics
    /// As [`try_conv2d`](Self::try_conv2d) errors.
    #[track_caller]
    pub fn conv2d(&self, weight: &Var, bias: Option<&Var>, p: Conv2dParams) -> Var {
        crate::error::ok(self.try_conv2d(weight, bias, p))
    }

    /// 1-D convolution `x [N, C, L]`, `weight [Co, C/groups, k]`, recorded as a conv2d of
    /// height 1 between reshapes.
    pub fn try_conv1d(&self, weight: &Var, bias: Option<&Var>, p: Conv1dParams) -> Result<Var> {
        // Validation (and messages) as in tensor, without computing the convolution twice.
        self.value().try_conv1d_output_shape(weight.value(), bias.map(Var::value), p)?;
        let p2 = Conv2dParams {
            stride: [1, p.stride],
            padding: [0, p.padding],
            dilation: [1, p.dilation],
            groups: p.groups,
        };
        let y = self.try_unsqueeze(2)?.try_conv2d(&weight.try_unsqueeze(2)?, bias, p2)?;
        y.try_squeeze(2)
    }

    /// 1-D convolution.
    ///
    /// # Panics
    /// As [`try_conv1d`](Self::try_conv1d) errors.
    #[track_caller]
    pub fn conv1d(&self, weight: &Var, bias: Option<&Var>, p: Conv1dParams) -> Var {
        crate::error::ok(self.try_conv1d(weight, bias, p))
    }

    /// Transposed 2-D convolution: `x [N, C_in, H, W]`, `weight [C_in, C_out/groups, kh, kw]`.
    pub fn try_conv_transpose2d(&self, weight: &Var, bias: Option<&Var>, p: ConvTranspose2dParams) -> Result<Var> {
        let params = Conv2dParams { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups };
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Var::apply(&inputs, Op::ConvTranspose2d { params: Box::new(params), output_padding: p.output_padding })
    }

    /// Transposed 2-D convolution.
    ///
    /// # Panics
    /// As [`try_conv_transpose2d`](Self::try_conv_transpose2d) errors.
    #[track_caller]
    pub fn conv_transpose2d(&self, weight: &Var, bias: Option<&Var>, p: ConvTranspose2dParams) -> Var {
        crate::error::ok(self.try_conv_transpose2d(weight, bias, p))
    }

    /// The gradient of conv2d with respect to its input (`self` is the output gradient).
    pub fn try_conv2d_backward_input(&self, weight: &Var, input_shape: &[usize], p: Conv2dParams) -> Result<Var> {
        Var::apply(&[self, weight], Op::Conv2dBackwardInput { params: Box::new(p), input_shape: input_shape.into() })
    }

    /// The gradient of conv2d with respect to its weight (`self` is the output gradient).
    pub fn try_conv2d_backward_weight(&self, input: &Var, weight_shape: &[usize], p: Conv2dParams) -> Result<Var> {
        Var::apply(&[self, input], Op::Conv2dBackwardWeight { params: Box::new(p), weight_shape: weight_shape.into() })
    }
}

/// The bias gradient: the output gradient summed over batch and space.
fn bias_grad(c: &Ctx) -> Result<Option<Var>> {
    Ok(if c.arity() > 2 && c.needs(2) { Some(c.g().try_sum(&[0, 2, 3], false)?) } else { None })
}

/// y = conv2d(x, w) + b: dx = conv2d_backward_input(g, w), dw = conv2d_backward_weight(g, x),
/// db = sum of g over N, H, W.
pub(crate) fn d_conv2d(c: &Ctx, p: Conv2dParams) -> Result<Grads> {
    let (x, w) = (c.input(0)?, c.input(1)?);
    let dx = if c.needs(0) { Some(c.g().try_conv2d_backward_input(w, c.shape(0), p)?) } else { None };
    let dw = if c.needs(1) { Some(c.g().try_conv2d_backward_weight(x, c.shape(1), p)?) } else { None };
    let mut out: Grads = smallvec![dx, dw];
    if c.arity() > 2 {
        out.push(bias_grad(c)?);
    }
    Ok(out)
}

/// y = conv_transpose2d(x, w) + b = conv2d_backward_input(x, w) + b:
/// dx = conv2d(g, w), dw = conv2d_backward_weight(x, g), db = sum of g over N, H, W.
pub(crate) fn d_conv_transpose2d(c: &Ctx, p: Conv2dParams) -> Result<Grads> {
    let (x, w) = (c.input(0)?, c.input(1)?);
    let dx = if c.needs(0) { Some(c.g().try_conv2d(w, None, p)?) } else { None };
    let dw = if c.needs(1) { Some(x.try_conv2d_backward_weight(c.g(), c.shape(1), p)?) } else { None };
    let mut out: Grads = smallvec![dx, dw];
    if c.arity() > 2 {
        out.push(bias_grad(c)?);
    }
    Ok(out)
}

/// y = bi(g, w) (linear in both): d/dg = conv2d(h, w), d/dw = conv2d_backward_weight(g, h).
pub(crate) fn d_conv2d_backward_input(c: &Ctx, p: Conv2dParams) -> Result<Grads> {
    let (g, w) = (c.input(0)?, c.input(1)?);
    let dg = if c.needs(0) { Some(c.g().try_conv2d(w, None, p)?) } else { None };
    let dw = if c.needs(1) { Some(g.try_conv2d_backward_weight(c.g(), c.shape(1), p)?) } else { None };
    Ok(smallvec![dg, dw])
}

/// y = bw(g, x) (linear in both): d/dg = conv2d(x, h), d/dx = conv2d_backward_input(g, h).
pub(crate) fn d_conv2d_backward_weight(c: &Ctx, p: Conv2dParams) -> Result<Grads> {
    let (g, x) = (c.input(0)?, c.input(1)?);
    let dg = if c.needs(0) { Some(x.try_conv2d(c.g(), None, p)?) } else { None };
    let dx = if c.needs(1) { Some(g.try_conv2d_backward_input(c.g(), c.shape(1), p)?) } else { None };
    Ok(smallvec![dg, dx])
}
