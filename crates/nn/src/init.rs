//! Initialisers, with an explicit seeded generator; the formulas and defaults are torch's
//! (`torch.nn.init`).

use tensor::{DType, Result, Rng, Tensor};

/// The fan-in and fan-out of a weight `[out, in, *kernel]` (torch's `_calculate_fan_in_and_fan_out`).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    let fan_in = shape.get(1).copied().unwrap_or(1) * receptive;
    let fan_out = shape.first().copied().unwrap_or(1) * receptive;
    (fan_in, fan_out)
}

/// The recommended gain for a nonlinearity (`torch.nn.init.calculate_gain`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    Linear,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu(f64),
    Selu,
}

impl Nonlinearity {
    pub fn gain(self) -> f64 {
        match self {
            Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
            Nonlinearity::Tanh => 5.0 / 3.0,
            Nonlinearity::Relu => 2f64.sqrt(),
            Nonlinearity::LeakyRelu(a) => (2.0 / (1.0 + a * a)).sqrt(),
            Nonlinearity::Selu => 0.75,
        }
    }
}

/// `U(low, high)`.
pub fn uniform(shape: &[usize], low: f64, high: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
    Tensor::try_uniform(shape, low, high, dtype, rng)
}

/// `N(mean, std²)`.
pub fn normal(shape: &[usize], mean: f64, std: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
    Tensor::try_normal(shape, mean, std, dtype, rng)
}

/// Xavier/Glorot uniform: `U(-a, a)`, `a = gain·√(6 / (fan_in + fan_out))`.
pub fn xavier_uniform(shape: &[usize], gain: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
    let (fan_in, fan_out) = fans(shape);
    let a = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform(shape, -a, a, dtype, rng)
}

/// Xavier/Glorot normal: `N(0, σ²)`, `σ = gain·√(2 / (fan_in + fan_out))`.
pub fn xavier_normal(shape: &[usize], gain: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
    let (fan_in, fan_out) = fans(shape);
    normal(shape, 0.0, gain * (2.0 / (fan_in + fan_out) as f64).sqrt(), dtype, rng)
}

/// Whether Kaiming scales by the fan-in (preserves activations' variance) or the fan-out
/// (gradients').
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FanMode {
    FanIn,
    FanOut,
}

fn kaiming_std(shape: &[usize], mode: FanMode, nonlinearity: Nonlinearity) -> f64 {
    let (fan_in, fan_out) = fans(shape);
    let fan = if mode == FanMode::FanIn { fan_in } else { fan_out };
    nonlinearity.gain() / (fan.max(1) as f64).sqrt()
}

/// Kaiming/He uniform: `U(-b, b)`, `b = gain·√(3 / fan)`.
pub fn kaiming_uniform(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    dtype: DType,
    rng: &mut Rng,
) -> Result<Tensor> {
    let bound = 3f64.sqrt() * kaiming_std(shape, mode, nonlinearity);
    uniform(shape, -bound, bound, dtype, rng)
}

/// Kaiming/He normal: `N(0, σ²)`, `σ = gain / √fan`.
pub fn kaiming_normal(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    dtype: DType,
    rng: &mut Rng,
) -> Result<Tensor> {
    normal(shape, 0.0, kaiming_std(shape, mode, nonlinearity), dtype, rng)
}

/// The default init of torch's `Linear` and convolutions: `kaiming_uniform(a = √5)` for the
/// weight, i.e. `U(-1/√fan_in, 1/√fan_in)`, and the same bound for the bias.
pub fn torch_default(
    weight_shape: &[usize],
    bias: bool,
    dtype: DType,
    rng: &mut Rng,
) -> Result<(Tensor, Option<Tensor>)> {
    let w = kaiming_uniform(weight_shape, FanMode::FanIn, Nonlinearity::LeakyRelu(5f64.sqrt()), dtype, rng)?;
    let (fan_in, _) = fans(weight_shape);
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    let b = if bias { Some(uniform(&weight_shape[..1], -bound, bound, dtype, rng)?) } else { None };
    Ok((w, b))
}
