//! `Linear`: `y = x Wᵀ + b` (`torch.nn.Linear`).

use autograd::{Param, Result, Var};
use tensor::{DType, Rng, Tensor};

use crate::init;
use crate::module::{child, Module};

/// A fully connected layer with torch's layout (`weight` is `[out_features, in_features]`) and
/// default init (`U(-1/√in, 1/√in)` for weight and bias). The input's last dimension is
/// `in_features`; leading dimensions are batch dimensions.
pub struct Linear {
    pub weight: Param,
    pub bias: Option<Param>,
}

impl Linear {
    /// An f32 layer with a bias, initialised as torch does.
    pub fn new(in_features: usize, out_features: usize, rng: &mut Rng) -> Linear {
        match Linear::with_options(in_features, out_features, true, DType::F32, rng) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        }
    }

    /// A layer of `dtype`, with or without a bias.
    pub fn with_options(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        rng: &mut Rng,
    ) -> tensor::Result<Linear> {
        let (w, b) = init::torch_default(&[out_features, in_features], bias, dtype, rng)?;
        Ok(Linear { weight: Param::new(w), bias: b.map(Param::new) })
    }

    /// A layer with given values (`weight` `[out, in]`, `bias` `[out]`).
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Linear {
        Linear { weight: Param::new(weight), bias: bias.map(Param::new) }
    }
}

impl Module for Linear {
    fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        // One fused node: its rule writes dW in W's own layout, contiguous for the optimizer.
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.try_linear(&tape.param(&self.weight), bias.as_ref())
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&child(prefix, "bias"), b);
        }
    }
}
