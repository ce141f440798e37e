//! The naive reference: row-major `f64` vectors with a shape and a dtype, one plain loop per op.
//! `None` means "this input must be refused with an error". Values are rounded to the dtype
//! after every op, as the library stores them.

use tensor::DType;

#[derive(Clone, Debug, PartialEq)]
pub struct Nd {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
    pub dtype: DType,
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(strides(shape)).map(|(i, s)| i * s).sum()
}

/// A value as `dtype` stores it.
pub fn round(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F32 => v as f32 as f64,
        DType::I64 => v as i64 as f64,
        DType::Bool => (v != 0.0) as u8 as f64,
        _ => v,
    }
}

pub fn axis(a: isize, rank: usize) -> Option<usize> {
    let r = rank as isize;
    let a = if a < 0 { a + r } else { a };
    (0..r).contains(&a).then_some(a as usize)
}

impl Nd {
    pub fn new(shape: &[usize], dtype: DType, f: impl Fn(&[usize]) -> f64) -> Nd {
        let data = (0..numel(shape)).map(|i| round(dtype, f(&unravel(i, shape)))).collect();
        Nd { shape: shape.to_vec(), data, dtype }
    }

    pub fn get(&self, idx: &[usize]) -> f64 {
        self.data[ravel(idx, &self.shape)]
    }

    pub fn is_float(&self) -> bool {
        matches!(self.dtype, DType::F32 | DType::F64)
    }

    /// Arithmetic is defined on every dtype but bool.
    pub fn is_numeric(&self) -> bool {
        self.dtype != DType::Bool
    }

    pub fn numeric_map(&self, f: impl Fn(f64) -> f64) -> Option<Nd> {
        self.is_numeric().then(|| self.map(f))
    }

    /// The same values as `dtype` stores them.
    pub fn as_dtype(&self, dtype: DType) -> Nd {
        Nd::new(&self.shape, dtype, |i| self.get(i))
    }

    pub fn map(&self, f: impl Fn(f64) -> f64) -> Nd {
        Nd::new(&self.shape, self.dtype, |i| f(self.get(i)))
    }

    /// An op defined on floats only.
    pub fn float_map(&self, f: impl Fn(f64) -> f64) -> Option<Nd> {
        self.is_float().then(|| self.map(f))
    }

    /// `x <op> s` for a scalar: integer tensors take only scalars they hold exactly.
    pub fn scalar(&self, s: f64, f: impl Fn(f64, f64) -> f64) -> Option<Nd> {
        if !self.is_float() && round(self.dtype, s) != s {
            return None;
        }
        let s = round(self.dtype, s);
        Some(self.map(|x| f(x, s)))
    }

    pub fn broadcast(&self, other: &Nd, f: impl Fn(f64, f64) -> f64) -> Option<Nd> {
        if self.dtype != other.dtype {
            return None;
        }
        let rank = self.shape.len().max(other.shape.len());
        let pad = |s: &[usize]| [vec![1; rank - s.len()], s.to_vec()].concat();
        let (a, b) = (pad(&self.shape), pad(&other.shape));
        let mut out = vec![0; rank];
        for d in 0..rank {
            out[d] = match (a[d], b[d]) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            };
        }
        let pick = |idx: &[usize], s: &[usize]| -> Vec<usize> {
            idx.iter().zip(s).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect()
        };
        let (sa, sb) = (Nd { shape: a.clone(), ..self.clone() }, Nd { shape: b.clone(), ..other.clone() });
        Some(Nd::new(&out, self.dtype, |i| f(sa.get(&pick(i, &a)), sb.get(&pick(i, &b)))))
    }

    /// Reduces `axes` (empty: all) with `f` over the reduced values; `None` on a bad or
    /// repeated axis.
    /// (`nonempty`: reducing zero elements is an error, even into an empty output, as torch's
    /// max does.)
    pub fn reduce(
        &self,
        axes: &[isize],
        keepdim: bool,
        nonempty: bool,
        f: impl Fn(&[f64]) -> Option<f64>,
    ) -> Option<Option<Nd>> {
        let rank = self.shape.len();
        let mut red: Vec<usize> = Vec::new();
        if axes.is_empty() {
            red = (0..rank).collect();
        }
        for &a in axes {
            let a = axis(a, rank)?;
            if red.contains(&a) {
                return None;
            }
            red.push(a);
        }
        let kept_shape: Vec<usize> = (0..rank).map(|d| if red.contains(&d) { 1 } else { self.shape[d] }).collect();
        let red_shape: Vec<usize> = red.iter().map(|&d| self.shape[d]).collect();
        if nonempty && numel(&red_shape) == 0 {
            return Some(None);
        }
        let mut data = Vec::new();
        for o in 0..numel(&kept_shape) {
            let base = unravel(o, &kept_shape);
            let vals: Vec<f64> = (0..numel(&red_shape))
                .map(|r| {
                    let ri = unravel(r, &red_shape);
                    let mut idx = base.clone();
                    for (k, &d) in red.iter().enumerate() {
                        idx[d] = ri[k];
                    }
                    self.get(&idx)
                })
                .collect();
            match f(&vals) {
                Some(v) => data.push(round(self.dtype, v)),
                None => return Some(None),
            }
        }
        let shape =
            if keepdim { kept_shape } else { (0..rank).filter(|d| !red.contains(d)).map(|d| self.shape[d]).collect() };
        Some(Some(Nd { shape, data, dtype: self.dtype }))
    }

    pub fn permute(&self, perm: &[usize]) -> Nd {
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        Nd::new(&shape, self.dtype, |i| {
            let mut src = vec![0; perm.len()];
            for (k, &p) in perm.iter().enumerate() {
                src[p] = i[k];
            }
            self.get(&src)
        })
    }

    pub fn with_shape(&self, shape: &[usize]) -> Nd {
        Nd { shape: shape.to_vec(), ..self.clone() }
    }

    /// Elements `start..start + len` of `axis`.
    pub fn narrow(&self, a: usize, start: usize, len: usize) -> Nd {
        let mut shape = self.shape.clone();
        shape[a] = len;
        Nd::new(&shape, self.dtype, |i| {
            let mut src = i.to_vec();
            src[a] += start;
            self.get(&src)
        })
    }

    pub fn index_select(&self, a: usize, ids: &[usize]) -> Nd {
        let mut shape = self.shape.clone();
        shape[a] = ids.len();
        Nd::new(&shape, self.dtype, |i| {
            let mut src = i.to_vec();
            src[a] = ids[i[a]];
            self.get(&src)
        })
    }

    pub fn cat(&self, other: &Nd, a: usize) -> Nd {
        let mut shape = self.shape.clone();
        shape[a] += other.shape[a];
        Nd::new(&shape, self.dtype, |i| {
            if i[a] < self.shape[a] {
                self.get(i)
            } else {
                let mut j = i.to_vec();
                j[a] -= self.shape[a];
                other.get(&j)
            }
        })
    }

    /// `self @ w` for a matrix `w` `[k, n]`, `self` `[.., m, k]` or `[k]`.
    pub fn matmul(&self, w: &Nd) -> Option<Nd> {
        let r = self.shape.len();
        if r == 0 || !self.is_float() || self.dtype != w.dtype {
            return None;
        }
        let (k, n) = (w.shape[0], w.shape[1]);
        if self.shape[r - 1] != k {
            return None;
        }
        let mut shape = self.shape[..r - 1].to_vec();
        shape.push(n);
        Some(Nd::new(&shape, self.dtype, |i| {
            let mut src = i.to_vec();
            (0..k)
                .map(|j| {
                    src[r - 1] = j;
                    self.get(&src) * w.get(&[j, i[r - 1]])
                })
                .sum()
        }))
    }

    /// The line through `i` along `a`, and its shift: the maximum, or 0 when that is infinite
    /// (torch's convention, which makes softmax([1, inf]) = [0, nan] rather than the limit
    /// [0, 1]), with the sum of `exp(x - shift)` over the line.
    fn shifted_line(&self, i: &[usize], a: usize) -> (f64, f64) {
        let mut j = i.to_vec();
        let line: Vec<f64> = (0..self.shape[a])
            .map(|k| {
                j[a] = k;
                self.get(&j)
            })
            .collect();
        let m = line.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let m = if m.is_infinite() { 0.0 } else { m };
        (m, line.iter().map(|v| (v - m).exp()).sum())
    }

    /// `x - m - ln(sum(exp(x - m)))` along `a` (not `ln(softmax)`, which underflows to -inf).
    pub fn log_softmax(&self, a: usize) -> Nd {
        Nd::new(&self.shape, self.dtype, |i| {
            let (m, total) = self.shifted_line(i, a);
            self.get(i) - m - total.ln()
        })
    }

    pub fn softmax(&self, a: usize) -> Nd {
        Nd::new(&self.shape, self.dtype, |i| {
            let (m, total) = self.shifted_line(i, a);
            (self.get(i) - m).exp() / total
        })
    }

    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, v| m.max(v.abs()))
    }
}
