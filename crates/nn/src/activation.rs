//! Activations as modules (no parameters), each the `Var` op of the same name.

use autograd::{Param, Result, Var};

use crate::module::Module;

/// The `Module` impl of an activation: no parameters, the forward as given.
macro_rules! forward {
    ($name:ident => |$x:ident, $s:ident| $body:expr) => {
        impl Module for $name {
            #[allow(unused_variables)]
            fn forward(&self, $x: &Var) -> Result<Var> {
                let $s = self;
                $body
            }
            fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
        }
    };
}

/// `max(x, 0)` (`nn.ReLU`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Relu;
forward!(Relu => |x, s| x.try_relu());

/// `nn.Tanh`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tanh;
forward!(Tanh => |x, s| x.try_tanh());

/// `nn.Sigmoid`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sigmoid;
forward!(Sigmoid => |x, s| x.try_sigmoid());

/// `x·σ(x)` (`nn.SiLU`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Silu;
forward!(Silu => |x, s| x.try_silu());

/// `x·tanh(softplus(x))` (`nn.Mish`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mish;
forward!(Mish => |x, s| x.try_mul(&x.try_softplus()?.try_tanh()?));

/// The input unchanged (`nn.Identity`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Identity;
forward!(Identity => |x, s| Ok(x.clone()));

/// GELU, exact or with the tanh approximation (`nn.GELU(approximate=...)`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gelu {
    pub tanh_approximation: bool,
}
forward!(Gelu => |x, s| if s.tanh_approximation { x.try_gelu_tanh() } else { x.try_gelu() });

/// `nn.LeakyReLU(negative_slope)`; torch's default slope is 0.01 ([`LeakyRelu::default_slope`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu {
    pub negative_slope: f64,
}
forward!(LeakyRelu => |x, s| x.try_leaky_relu(s.negative_slope));

/// `nn.ELU(alpha)`; torch's default alpha is 1 ([`Elu::default_alpha`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elu {
    pub alpha: f64,
}
forward!(Elu => |x, s| x.try_elu(s.alpha));

/// Softmax along `dim` (`nn.Softmax`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Softmax {
    pub dim: isize,
}
forward!(Softmax => |x, s| x.try_softmax(s.dim));

/// Log-softmax along `dim` (`nn.LogSoftmax`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogSoftmax {
    pub dim: isize,
}
forward!(LogSoftmax => |x, s| x.try_log_softmax(s.dim));

/// Merges dimensions `start_dim..=end_dim` (`nn.Flatten`; [`Flatten::batch`] is torch's default).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flatten {
    pub start_dim: isize,
    pub end_dim: isize,
}
forward!(Flatten => |x, s| x.try_flatten(s.start_dim, s.end_dim));

impl LeakyRelu {
    /// torch's default: `negative_slope = 0.01`.
    pub fn default_slope() -> LeakyRelu {
        LeakyRelu { negative_slope: 0.01 }
    }
}

impl Elu {
    /// torch's default: `alpha = 1`.
    pub fn default_alpha() -> Elu {
        Elu { alpha: 1.0 }
    }
}

impl Flatten {
    /// torch's default: everything after the batch dimension.
    pub fn batch() -> Flatten {
        Flatten { start_dim: 1, end_dim: -1 }
    }
}
