//! Convolution layers (`torch.nn.Conv1d`, `Conv2d`, `ConvTranspose2d`).

use autograd::{Param, Result, Var};
use tensor::{Conv1dParams, Conv2dParams, ConvTranspose2dParams, DType, Rng, Tensor};

use crate::init;
use crate::module::{child, Module};

fn params_or_panic<T>(r: tensor::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// A 2-D convolution over `[N, C_in, H, W]` with torch's weight layout
/// `[C_out, C_in / groups, kh, kw]` and default init (`U(-1/√fan_in, 1/√fan_in)`, fan_in =
/// `C_in / groups · kh · kw`).
pub struct Conv2d {
    pub weight: Param,
    pub bias: Option<Param>,
    pub params: Conv2dParams,
}

impl Conv2d {
    /// f32, stride 1, no padding, a bias: `nn.Conv2d(in, out, kernel)`.
    pub fn new(in_channels: usize, out_channels: usize, kernel: [usize; 2], rng: &mut Rng) -> Conv2d {
        let p = Conv2dParams { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
        params_or_panic(Conv2d::with_options(in_channels, out_channels, kernel, p, true, DType::F32, rng))
    }

    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        params: Conv2dParams,
        bias: bool,
        dtype: DType,
        rng: &mut Rng,
    ) -> tensor::Result<Conv2d> {
        let shape = [out_channels, in_channels / params.groups.max(1), kernel[0], kernel[1]];
        let (w, b) = init::torch_default(&shape, bias, dtype, rng)?;
        Ok(Conv2d { weight: Param::new(w), bias: b.map(Param::new), params })
    }

    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, params: Conv2dParams) -> Conv2d {
        Conv2d { weight: Param::new(weight), bias: bias.map(Param::new), params }
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.try_conv2d(&tape.param(&self.weight), bias.as_ref(), self.params)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&child(prefix, "bias"), b);
        }
    }
}

/// A 1-D convolution over `[N, C_in, L]`, weight `[C_out, C_in / groups, k]`.
pub struct Conv1d {
    pub weight: Param,
    pub bias: Option<Param>,
    pub params: Conv1dParams,
}

impl Conv1d {
    /// f32, stride 1, no padding, a bias: `nn.Conv1d(in, out, kernel)`.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize, rng: &mut Rng) -> Conv1d {
        let p = Conv1dParams { stride: 1, padding: 0, dilation: 1, groups: 1 };
        let (w, b) = params_or_panic(init::torch_default(&[out_channels, in_channels, kernel], true, DType::F32, rng));
        Conv1d { weight: Param::new(w), bias: b.map(Param::new), params: p }
    }

    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, params: Conv1dParams) -> Conv1d {
        Conv1d { weight: Param::new(weight), bias: bias.map(Param::new), params }
    }
}

impl Module for Conv1d {
    fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.try_conv1d(&tape.param(&self.weight), bias.as_ref(), self.params)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&child(prefix, "bias"), b);
        }
    }
}

/// A transposed 2-D convolution, weight `[C_in, C_out / groups, kh, kw]` (torch's layout; its
/// default init takes fan_in from dimension 1, as torch's does).
pub struct ConvTranspose2d {
    pub weight: Param,
    pub bias: Option<Param>,
    pub params: ConvTranspose2dParams,
}

impl ConvTranspose2d {
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        params: ConvTranspose2dParams,
        bias: bool,
        dtype: DType,
        rng: &mut Rng,
    ) -> tensor::Result<ConvTranspose2d> {
        let shape = [in_channels, out_channels / params.groups.max(1), kernel[0], kernel[1]];
        let (w, _) = init::torch_default(&shape, false, dtype, rng)?;
        let (fan_in, _) = init::fans(&shape);
        let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
        let b = if bias { Some(Param::new(init::uniform(&[out_channels], -bound, bound, dtype, rng)?)) } else { None };
        Ok(ConvTranspose2d { weight: Param::new(w), bias: b, params })
    }

    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, params: ConvTranspose2dParams) -> ConvTranspose2d {
        ConvTranspose2d { weight: Param::new(weight), bias: bias.map(Param::new), params }
    }
}

impl Module for ConvTranspose2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.try_conv_transpose2d(&tape.param(&self.weight), bias.as_ref(), self.params)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&child(prefix, "bias"), b);
        }
    }
}
