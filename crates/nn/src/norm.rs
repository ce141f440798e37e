//! Normalisation layers (`torch.nn.LayerNorm`, `GroupNorm`, `BatchNorm1d`, `BatchNorm2d`).

use autograd::{Param, Result, Var};
use tensor::{DType, Tensor, TensorError};

use crate::functional as F;
use crate::module::{child, Module};

/// The optional affine parameters on `x`'s tape.
fn on_tape(x: &Var, p: &Option<Param>) -> Option<Var> {
    p.as_ref().map(|p| x.tape().param(p))
}

fn visit_affine(prefix: &str, weight: &Option<Param>, bias: &Option<Param>, f: &mut dyn FnMut(&str, &Param)) {
    if let Some(w) = weight {
        f(&child(prefix, "weight"), w);
    }
    if let Some(b) = bias {
        f(&child(prefix, "bias"), b);
    }
}

/// Normalises over the last `normalized_shape.len()` dimensions, then scales and shifts
/// elementwise (weight 1, bias 0 at the start, as torch; `eps = 1e-5`).
pub struct LayerNorm {
    pub normalized_shape: Vec<usize>,
    pub eps: f64,
    pub weight: Option<Param>,
    pub bias: Option<Param>,
}

impl LayerNorm {
    pub fn new(normalized_shape: &[usize], dtype: DType) -> LayerNorm {
        LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
            weight: Some(Param::new(Tensor::ones(normalized_shape, dtype))),
            bias: Some(Param::new(Tensor::zeros(normalized_shape, dtype))),
        }
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let (w, b) = (on_tape(x, &self.weight), on_tape(x, &self.bias));
        F::layer_norm(x, &self.normalized_shape, w.as_ref(), b.as_ref(), self.eps)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        visit_affine(prefix, &self.weight, &self.bias, f);
    }
}

/// Normalises each of `num_groups` channel groups of `[N, C, *]` over the group's channels and
/// positions, then scales and shifts per channel (`eps = 1e-5`).
pub struct GroupNorm {
    pub num_groups: usize,
    pub num_channels: usize,
    pub eps: f64,
    pub weight: Option<Param>,
    pub bias: Option<Param>,
}

impl GroupNorm {
    pub fn new(num_groups: usize, num_channels: usize, dtype: DType) -> GroupNorm {
        GroupNorm {
            num_groups,
            num_channels,
            eps: 1e-5,
            weight: Some(Param::new(Tensor::ones(&[num_channels], dtype))),
            bias: Some(Param::new(Tensor::zeros(&[num_channels], dtype))),
        }
    }
}

impl Module for GroupNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let (g, c) = (self.num_groups, self.num_channels);
        if x.rank() < 2 || x.shape()[1] != c || g == 0 || c % g != 0 {
            return Err(TensorError::invalid(
                "group_norm",
                format!("{g} groups of {c} channels do not fit an input of shape {:?}", x.shape()),
            )
            .into());
        }
        let (w, b) = (on_tape(x, &self.weight), on_tape(x, &self.bias));
        F::group_norm(x, g, w.as_ref(), b.as_ref(), self.eps)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        visit_affine(prefix, &self.weight, &self.bias, f);
    }
}

/// Batch normalisation over `[N, C]` or `[N, C, L]` (`BatchNorm1d`) or `[N, C, H, W]`
/// (`BatchNorm2d`), torch's defaults (`eps = 1e-5`, `momentum = 0.1`, affine, running
/// statistics). In training mode it normalises with the batch's statistics (biased variance)
/// and updates the running ones (unbiased variance); in evaluation mode it uses the running
/// ones. The running statistics are buffers: named, saved, never differentiated.
pub struct BatchNorm {
    pub num_features: usize,
    pub eps: f64,
    pub momentum: f64,
    pub weight: Option<Param>,
    pub bias: Option<Param>,
    pub running_mean: Param,
    pub running_var: Param,
    /// A 0-d i64 counter of the training batches seen (a buffer, as in torch).
    pub num_batches_tracked: Param,
    pub training: bool,
    ranks: &'static [usize],
}

impl BatchNorm {
    fn with_ranks(num_features: usize, dtype: DType, ranks: &'static [usize]) -> BatchNorm {
        let buffer = |t: Tensor| {
            let p = Param::new(t);
            p.set_requires_grad(false);
            p
        };
        BatchNorm {
            num_features,
            eps: 1e-5,
            momentum: 0.1,
            weight: Some(Param::new(Tensor::ones(&[num_features], dtype))),
            bias: Some(Param::new(Tensor::zeros(&[num_features], dtype))),
            running_mean: buffer(Tensor::zeros(&[num_features], dtype)),
            running_var: buffer(Tensor::ones(&[num_features], dtype)),
            num_batches_tracked: buffer(Tensor::scalar(0i64)),
            training: true,
            ranks,
        }
    }

    /// `nn.BatchNorm1d`: inputs `[N, C]` or `[N, C, L]`.
    pub fn new_1d(num_features: usize, dtype: DType) -> BatchNorm {
        BatchNorm::with_ranks(num_features, dtype, &[2, 3])
    }

    /// `nn.BatchNorm2d`: inputs `[N, C, H, W]`.
    pub fn new_2d(num_features: usize, dtype: DType) -> BatchNorm {
        BatchNorm::with_ranks(num_features, dtype, &[4])
    }

    /// How many training batches updated the running statistics.
    pub fn num_batches_tracked(&self) -> u64 {
        self.num_batches_tracked.value().item() as u64
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let c = self.num_features;
        if !self.ranks.contains(&x.rank()) || x.shape()[1] != c {
            return Err(TensorError::invalid(
                "batch_norm",
                format!("expected an input of rank {:?} with {c} channels, got {:?}", self.ranks, x.shape()),
            )
            .into());
        }
        let (w, b) = (on_tape(x, &self.weight), on_tape(x, &self.bias));
        let (mean, var) = (Some(&self.running_mean), Some(&self.running_var));
        let y = F::batch_norm(x, mean, var, w.as_ref(), b.as_ref(), self.training, self.momentum, self.eps)?;
        if self.training {
            let seen = self.num_batches_tracked.value().to_vec::<i64>()[0];
            self.num_batches_tracked.replace(Tensor::scalar(seen + 1));
        }
        Ok(y)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        visit_affine(prefix, &self.weight, &self.bias, f);
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, "running_mean"), &self.running_mean);
        f(&child(prefix, "running_var"), &self.running_var);
        f(&child(prefix, "num_batches_tracked"), &self.num_batches_tracked);
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
