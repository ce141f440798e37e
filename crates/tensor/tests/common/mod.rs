//! A naive n-d reference (row-major `Vec<f64>` plus shape, indexed by explicit multi-indices)
//! that kernels are checked against, and helpers to build non-contiguous views.
#![allow(dead_code)]

use tensor::{DType, Rng, Tensor};

#[derive(Clone, Debug)]
pub struct Nd {
    pub data: Vec<f64>,
    pub shape: Vec<usize>,
}

impl Nd {
    pub fn of(t: &Tensor) -> Nd {
        Nd { data: t.to_dtype(DType::F64).to_vec::<f64>(), shape: t.shape().to_vec() }
    }

    pub fn new(shape: &[usize], f: impl Fn(&[usize]) -> f64) -> Nd {
        let data = indices(shape).iter().map(|i| f(i)).collect();
        Nd { data, shape: shape.to_vec() }
    }

    pub fn get(&self, idx: &[usize]) -> f64 {
        assert_eq!(idx.len(), self.shape.len());
        let mut off = 0;
        for (i, (&x, &d)) in idx.iter().zip(&self.shape).enumerate() {
            assert!(x < d, "index {idx:?} out of shape {:?} at {i}", self.shape);
            off = off * d + x;
        }
        self.data[off]
    }

    /// The same data with another shape of equal size.
    pub fn reshaped(self, shape: &[usize]) -> Nd {
        assert_eq!(self.data.len(), shape.iter().product::<usize>());
        Nd { data: self.data, shape: shape.to_vec() }
    }

    /// Value at `idx` of the broadcast of `self` to a higher-or-equal rank shape.
    pub fn get_broadcast(&self, idx: &[usize]) -> f64 {
        let lead = idx.len() - self.shape.len();
        let own: Vec<usize> =
            self.shape.iter().enumerate().map(|(i, &d)| if d == 1 { 0 } else { idx[lead + i] }).collect();
        self.get(&own)
    }
}

/// Every multi-index of `shape` in row-major order.
pub fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0; shape.len()];
    for _ in 0..n {
        out.push(idx.clone());
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length {} vs {}", got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * (1.0 + w.abs());
        assert!(ok, "{what}: element {i}: got {g}, want {w}");
    }
}

pub fn assert_tensor(t: &Tensor, want: &Nd, tol: f64, what: &str) {
    assert_eq!(t.shape(), want.shape.as_slice(), "{what}: shape");
    assert_close(&Nd::of(t).data, &want.data, tol, what);
}

/// Random tensor of `shape` in `dtype`, values in [-2, 2).
pub fn rand(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    Tensor::uniform(shape, -2.0, 2.0, dtype, &mut Rng::seed(seed))
}

/// The same logical values of `shape` laid out three ways: contiguous, as a transposed view,
/// and as a view sliced with step 2 out of a larger buffer.
pub fn layouts(shape: &[usize], dtype: DType, seed: u64) -> Vec<(&'static str, Tensor)> {
    let base = rand(shape, dtype, seed);
    let mut out = vec![("contiguous", base.clone())];
    if shape.len() >= 2 {
        // Build the transposed storage, then transpose it back: same values, swapped strides.
        let r = shape.len() as isize;
        let t = base.transpose(r - 2, r - 1).contiguous().transpose(r - 2, r - 1);
        assert!(!t.is_contiguous() || shape[shape.len() - 1] <= 1 || shape[shape.len() - 2] <= 1);
        out.push(("transposed", t));
    }
    if !shape.is_empty() {
        // Interleave with junk along axis 0 and slice it out with step 2.
        let junk = Tensor::full(shape, 99.0, dtype);
        let both = Tensor::stack(&[base.clone(), junk], 1);
        let mut s = shape.to_vec();
        s[0] *= 2;
        let flat = both.reshape(&s.iter().map(|&d| d as isize).collect::<Vec<_>>());
        out.push(("strided", flat.slice(0, 0, s[0] as isize, 2)));
    }
    out
}
