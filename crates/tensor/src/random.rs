//! Seeded random numbers: the same seed gives the same tensor on any thread count.
//!
//! Numbers are drawn sequentially from one explicit generator (xoshiro256++, seeded through
//! SplitMix64), never from thread-local state, so results are reproducible by construction.

use crate::dtype::Element;
use crate::error::{ok, Result, TensorError};
use crate::layout::checked_numel;
use crate::macros::float_dispatch;
use crate::pool;
use crate::{DType, Tensor};

/// A small, fast, seedable generator (xoshiro256++).
///
/// ```
/// use tensor::{DType, Rng, Tensor};
/// let a = Tensor::randn(&[2, 3], DType::F32, &mut Rng::seed(7));
/// let b = Tensor::randn(&[2, 3], DType::F32, &mut Rng::seed(7));
/// assert_eq!(a.to_vec::<f32>(), b.to_vec::<f32>());
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn seed(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box-Muller; one draw per call, the pair's second value is discarded
    /// so that the stream position depends only on how many numbers were drawn).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]: log is finite
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A uniformly random permutation of `0..n` (Fisher-Yates, from the end).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }

    /// Uniform integer in `[0, n)` (`n > 0`), by rejection so there is no modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

impl Tensor {
    /// Uniform samples in `[low, high)`.
    pub fn try_uniform(shape: &[usize], low: f64, high: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
        if !low.is_finite() || !high.is_finite() || low > high {
            return Err(TensorError::invalid("uniform", format!("bad bounds low={low} high={high}")));
        }
        let n = checked_numel("uniform", shape)?;
        Ok(float_dispatch!("uniform", dtype, T => {
            pool::ensure_alloc("uniform", n, T::DTYPE)?;
            let data: Vec<T> = (0..n).map(|_| T::from_f64(low + (high - low) * rng.next_f64())).collect();
            Tensor::from_data(data, shape)
        }))
    }

    /// Uniform samples in `[low, high)`.
    #[track_caller]
    pub fn uniform(shape: &[usize], low: f64, high: f64, dtype: DType, rng: &mut Rng) -> Tensor {
        ok(Tensor::try_uniform(shape, low, high, dtype, rng))
    }

    /// Uniform samples in `[0, 1)`.
    #[track_caller]
    pub fn rand(shape: &[usize], dtype: DType, rng: &mut Rng) -> Tensor {
        Tensor::uniform(shape, 0.0, 1.0, dtype, rng)
    }

    /// Normal samples with the given mean and standard deviation.
    pub fn try_normal(shape: &[usize], mean: f64, std: f64, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
        if !mean.is_finite() || !std.is_finite() || std < 0.0 {
            return Err(TensorError::invalid("normal", format!("bad parameters mean={mean} std={std}")));
        }
        let n = checked_numel("normal", shape)?;
        Ok(float_dispatch!("normal", dtype, T => {
            pool::ensure_alloc("normal", n, T::DTYPE)?;
            let data: Vec<T> = (0..n).map(|_| T::from_f64(mean + std * rng.next_normal())).collect();
            Tensor::from_data(data, shape)
        }))
    }

    /// Normal samples with the given mean and standard deviation.
    #[track_caller]
    pub fn normal(shape: &[usize], mean: f64, std: f64, dtype: DType, rng: &mut Rng) -> Tensor {
        ok(Tensor::try_normal(shape, mean, std, dtype, rng))
    }

    /// Standard normal samples.
    #[track_caller]
    pub fn randn(shape: &[usize], dtype: DType, rng: &mut Rng) -> Tensor {
        Tensor::normal(shape, 0.0, 1.0, dtype, rng)
    }

    /// Uniform integers in `[low, high)` as an i64 tensor.
    pub fn try_randint(shape: &[usize], low: i64, high: i64, rng: &mut Rng) -> Result<Tensor> {
        if high <= low {
            return Err(TensorError::invalid("randint", format!("empty range [{low}, {high})")));
        }
        let n = checked_numel("randint", shape)?;
        pool::ensure_alloc("randint", n, DType::I64)?;
        let span = (high - low) as u64;
        let data: Vec<i64> = (0..n).map(|_| low + rng.below(span) as i64).collect();
        Ok(Tensor::from_data(data, shape))
    }

    /// Uniform integers in `[low, high)` as an i64 tensor.
    #[track_caller]
    pub fn randint(shape: &[usize], low: i64, high: i64, rng: &mut Rng) -> Tensor {
        ok(Tensor::try_randint(shape, low, high, rng))
    }
}

impl Tensor {
    /// Dropout's scaled keep-mask: each element is `0` with probability `p` and `1 / (1 - p)`
    /// otherwise (all zeros when `p = 1`), drawn from `Rng::seed(seed)`, so one seed always
    /// gives one mask. `x * mask` is inverted dropout, as `torch.nn.functional.dropout`.
    pub fn try_dropout_mask(shape: &[usize], p: f64, dtype: DType, seed: u64) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::invalid("dropout", format!("probability p must be in [0, 1], got {p}")));
        }
        let keep = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
        let mut rng = Rng::seed(seed);
        let n = checked_numel("dropout", shape)?;
        Ok(float_dispatch!("dropout", dtype, T => {
            pool::ensure_alloc("dropout", n, T::DTYPE)?;
            let (zero, kept) = (T::from_f64(0.0), T::from_f64(keep));
            let data: Vec<T> = (0..n).map(|_| if rng.next_f64() < p { zero } else { kept }).collect();
            Tensor::from_data(data, shape)
        }))
    }
}

impl Tensor {
    /// A random permutation of `0..n` as i64 (`torch.randperm`); [`TensorError::OutOfMemory`]
    /// when `n` indices cannot be allocated.
    pub fn try_randperm(n: usize, rng: &mut Rng) -> Result<Tensor> {
        // The permutation is built as usize, then converted: both buffers exist at once.
        pool::ensure_alloc("randperm", n.saturating_mul(2), DType::I64)?;
        Ok(Tensor::from_data(rng.permutation(n).into_iter().map(|i| i as i64).collect::<Vec<i64>>(), &[n]))
    }

    /// A random permutation of `0..n` as i64 (`torch.randperm`).
    #[track_caller]
    pub fn randperm(n: usize, rng: &mut Rng) -> Tensor {
        ok(Tensor::try_randperm(n, rng))
    }
}
