//! Initialisers, with an explicit seeded generator; the formulas and defaults are torch's
//! (`torch.nn.init`).

use tensor::{DType, Result, Rng, Tensor, TensorError};

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

/// `N(mean, std²)` truncated to `[a, b]` (`nn.init.trunc_normal_`, torch's defaults `a = -2`,
/// `b = 2` in absolute units). Draws by rejection; an interval holding less than 1e-4 of the
/// distribution is an error rather than a near-endless loop.
pub fn trunc_normal(
    shape: &[usize],
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    dtype: DType,
    rng: &mut Rng,
) -> Result<Tensor> {
    let op = "trunc_normal";
    if !(std > 0.0 && a < b) {
        return Err(TensorError::invalid(op, format!("needs std > 0 and a < b, got std {std}, a {a}, b {b}")));
    }
    let cdf = |x: f64| 0.5 * (1.0 + tensor::Float::erf((x - mean) / (std * std::f64::consts::SQRT_2)));
    let mass = cdf(b) - cdf(a);
    if mass < 1e-4 {
        return Err(TensorError::invalid(
            op,
            format!("[{a}, {b}] holds only {mass:.2e} of N({mean}, {std}²); move the bounds towards the mean"),
        ));
    }
    let n: usize = shape.iter().product();
    let mut values = Vec::with_capacity(n);
    while values.len() < n {
        let v = mean + std * rng.next_normal();
        if (a..=b).contains(&v) {
            values.push(v);
        }
    }
    Ok(Tensor::from_vec(values, shape).to_dtype(dtype))
}

/// A (semi-)orthogonal matrix scaled by `gain` (`nn.init.orthogonal_`): the tensor viewed as
/// `[shape[0], rest]` has orthonormal rows (if it is wide) or columns (if tall). The Q of a
/// Gaussian matrix's QR decomposition, signs fixed by R's diagonal so the result is uniform
/// over orthogonal matrices.
pub fn orthogonal(shape: &[usize], gain: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
    if shape.len() < 2 {
        return Err(TensorError::invalid("orthogonal", format!("needs at least 2 dimensions, got shape {shape:?}")));
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    // Work on the tall orientation [long, short]: its columns get orthonormalised.
    let (long, short) = (rows.max(cols), rows.min(cols));
    let mut q: Vec<Vec<f64>> = (0..short).map(|_| (0..long).map(|_| rng.next_normal()).collect()).collect();
    // Modified Gram-Schmidt, twice over for orthogonality to rounding error. The first pass's
    // norm is R's diagonal, positive by construction: no sign fix needed.
    for _ in 0..2 {
        for j in 0..short {
            for i in 0..j {
                let dot: f64 = q[i].iter().zip(&q[j]).map(|(a, b)| a * b).sum();
                let qi = q[i].clone();
                q[j].iter_mut().zip(&qi).for_each(|(v, u)| *v -= dot * u);
            }
            let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm == 0.0 {
                return Err(TensorError::invalid("orthogonal", "a Gaussian draw was rank-deficient; use another seed"));
            }
            q[j].iter_mut().for_each(|v| *v /= norm);
        }
    }
    // q holds `short` orthonormal vectors of length `long`: the rows of the result if it is wide,
    // its columns if tall.
    let mut out = vec![0.0; rows * cols];
    for (j, vector) in q.iter().enumerate() {
        for (i, &v) in vector.iter().enumerate() {
            let (r, c) = if rows <= cols { (j, i) } else { (i, j) };
            out[r * cols + c] = gain * v;
        }
    }
    Ok(Tensor::from_vec(out, shape).to_dtype(dtype))
}
