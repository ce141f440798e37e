//! Random programs: a starting tensor (any rank up to 3, empty and size-1 dimensions, every
//! layout a view can have, three dtypes) and a list of ops, each runnable three ways: on
//! `Tensor`, on `Var` and on the naive reference.

use autograd::Var;
use proptest::prelude::*;
use tensor::{DType, Rng, Tensor};

use crate::reference::{axis, numel, round, Nd};

#[derive(Clone, Copy, Debug)]
pub enum Unary {
    Neg,
    Abs,
    Square,
    Exp,
    Tanh,
    Sigmoid,
    Relu,
    Sqrt,
    Log,
    Sign,
    Sin,
    Cos,
    Log1p,
    Expm1,
    Rsqrt,
    Recip,
    Floor,
    Ceil,
    Round,
    Silu,
    Softplus,
}

#[derive(Clone, Copy, Debug)]
pub enum ScalarOp {
    Add,
    Sub,
    Mul,
}

#[derive(Clone, Copy, Debug)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    Pow,
    Lt,
    Eq,
    Ge,
}

/// How a second operand's shape relates to the first's.
#[derive(Clone, Copy, Debug)]
pub enum Relation {
    Same,
    Broadcast,
    Random,
    OtherDtype,
}

#[derive(Clone, Copy, Debug)]
pub enum Reduction {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    LogSumExp,
}

#[derive(Clone, Debug)]
pub enum OpSpec {
    Unary(Unary),
    Scalar(ScalarOp, f64),
    Binary(BinaryOp, Relation, u64),
    Reduce(Reduction, Vec<isize>, bool),
    Transpose(isize, isize),
    Permute(Vec<isize>),
    Unsqueeze(isize),
    Reshape(Vec<isize>),
    Narrow(isize, usize, usize),
    Softmax(isize),
    /// `x @ w` with `w` `[k + k_off, n]`, `k` the last dimension of `x`.
    Matmul(usize, usize, u64),
    CatSelf(isize),
    IndexSelect(isize, Vec<i64>),
    ToDtype(DType),
    Cumsum(isize),
    LogSoftmax(isize),
    Flatten(isize, isize),
    Squeeze(isize),
    Slice(isize, isize, isize, usize),
    Select(isize, usize),
    Clamp(f64, f64),
    /// `where(mask, x, y)` with `mask = m > 0`, `m` and `y` operands related to `x` as given.
    WhereCond(Relation, u64),
    Argmax(isize, bool),
    Std(Vec<isize>, usize, bool),
    Norm(f64, Vec<isize>, bool),
    /// `gather` with an index of `x`'s shape, the gathered axis resized to `len`, other axes
    /// shrunk by `shrink` (where they can be), values from the seed (some out of range).
    Gather(isize, usize, usize, u64),
    Repeat(Vec<usize>),
    Pad(Vec<(usize, usize)>, f64),
    Expand(Vec<isize>),
    OneHot(usize),
    StackSelf(isize),
    /// `masked_fill(m > 0, value)`, `m` related to `x` as given.
    MaskedFill(Relation, u64, f64),
}

/// The starting value: its logical shape, dtype, values, and how it is laid out in memory.
#[derive(Clone, Debug)]
pub struct Init {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub layout: u8,
    pub seed: u64,
}

fn values(shape: &[usize], dtype: DType, seed: u64) -> Nd {
    let mut rng = Rng::seed(seed);
    let data: Vec<f64> = (0..numel(shape))
        .map(|_| match dtype {
            DType::I64 => rng.below(11) as f64 - 5.0,
            _ => round(dtype, rng.next_f64() * 4.0 - 2.0),
        })
        .collect();
    Nd { shape: shape.to_vec(), data, dtype }
}

pub fn to_tensor(r: &Nd) -> Tensor {
    match r.dtype {
        DType::F32 => Tensor::from_vec(r.data.iter().map(|&v| v as f32).collect::<Vec<_>>(), &r.shape),
        DType::I64 => Tensor::from_vec(r.data.iter().map(|&v| v as i64).collect::<Vec<_>>(), &r.shape),
        DType::Bool => Tensor::from_vec(r.data.iter().map(|&v| v != 0.0).collect::<Vec<_>>(), &r.shape),
        _ => Tensor::from_vec(r.data.clone(), &r.shape),
    }
}

pub fn to_nd(t: &Tensor) -> Nd {
    Nd { shape: t.shape().to_vec(), data: t.to_dtype(DType::F64).to_vec::<f64>(), dtype: t.dtype() }
}

impl Init {
    /// The tensor (laid out as `layout` says) and its reference.
    pub fn build(&self) -> (Tensor, Nd) {
        let r = values(&self.shape, self.dtype, self.seed);
        let rank = self.shape.len();
        let junk = |shape: &[usize]| to_tensor(&values(shape, self.dtype, self.seed ^ 0x5eed));
        let t = match self.layout {
            // Transposed storage: the last two axes swapped in memory, swapped back as a view.
            1 if rank >= 2 => {
                let mut perm: Vec<usize> = (0..rank).collect();
                perm.swap(rank - 2, rank - 1);
                to_tensor(&r.permute(&perm)).transpose(-2, -1)
            }
            // Every other row of a buffer interleaved with junk (stride 2 on axis 0).
            2 if rank >= 1 => {
                let base = to_tensor(&r);
                let both = Tensor::stack(&[base.clone(), junk(&self.shape)], 1);
                let mut s: Vec<isize> = self.shape.iter().map(|&d| d as isize).collect();
                s[0] *= 2;
                both.reshape(&s).slice(0, 0, s[0], 2)
            }
            // A view at an offset: a junk row first.
            3 if rank >= 1 => {
                let mut first = self.shape.clone();
                first[0] = 1;
                Tensor::cat(&[junk(&first), to_tensor(&r)], 0).narrow(0, 1, self.shape[0])
            }
            // Broadcast: one row, expanded along axis 0 with stride 0.
            4 if rank >= 1 => {
                let mut one = self.shape.clone();
                one[0] = 1;
                let row = values(&one, self.dtype, self.seed);
                let expanded = Nd::new(&self.shape, self.dtype, |i| {
                    let mut j = i.to_vec();
                    j[0] = 0;
                    row.get(&j)
                });
                let dims: Vec<isize> = self.shape.iter().map(|&d| d as isize).collect();
                return (to_tensor(&row).expand(&dims), expanded);
            }
            _ => to_tensor(&r),
        };
        (t, r)
    }
}

/// The second operand of a binary op on a value of `shape`.
fn operand(rel: Relation, seed: u64, shape: &[usize], dtype: DType) -> Nd {
    let mut rng = Rng::seed(seed);
    match rel {
        Relation::Same => values(shape, dtype, seed),
        Relation::Broadcast => {
            let drop = rng.below(shape.len() as u64 + 1) as usize;
            let s: Vec<usize> = shape[drop..].iter().map(|&d| if rng.below(2) == 0 { 1 } else { d }).collect();
            values(&s, dtype, seed)
        }
        Relation::Random => {
            let rank = rng.below(4) as usize;
            let s: Vec<usize> = (0..rank).map(|_| rng.below(4) as usize).collect();
            values(&s, dtype, seed)
        }
        Relation::OtherDtype => values(shape, if dtype == DType::F64 { DType::F32 } else { DType::F64 }, seed),
    }
}

/// `where`'s mask source (compared with 0) and its `on_false` operand.
fn where_operands(rel: Relation, seed: u64, shape: &[usize], dtype: DType) -> (Tensor, Tensor) {
    (to_tensor(&operand(rel, seed, shape, DType::F64)), to_tensor(&values(shape, dtype, seed ^ 1)))
}

/// `gather`'s index: `shape` with axis `a` resized to `len` and the others shrunk by `shrink`
/// (never below 0), values mostly inside `0..shape[a]`, some just past it.
fn gather_index(shape: &[usize], a: usize, len: usize, shrink: usize, seed: u64) -> Nd {
    let mut rng = Rng::seed(seed);
    let s: Vec<usize> =
        shape.iter().enumerate().map(|(d, &n)| if d == a { len } else { n.saturating_sub(shrink) }).collect();
    let data = (0..numel(&s)).map(|_| rng.below(shape[a] as u64 + 1) as f64).collect();
    Nd { shape: s, data, dtype: DType::I64 }
}

/// `masked_fill`'s mask: an operand related to `shape`, compared with 0.
fn fill_mask(rel: Relation, seed: u64, shape: &[usize]) -> tensor::Result<Tensor> {
    to_tensor(&operand(rel, seed, shape, DType::F64)).try_gt_scalar(0.0)
}

fn ids_tensor(ids: &[i64]) -> Tensor {
    Tensor::from_vec(ids.to_vec(), &[ids.len()])
}

impl OpSpec {
    /// The reference result, `None` where the op must fail.
    pub fn reference(&self, x: &Nd) -> Option<Nd> {
        let rank = x.shape.len();
        match self {
            OpSpec::Unary(u) => match u {
                Unary::Neg => x.numeric_map(|v| -v),
                Unary::Abs => x.numeric_map(f64::abs),
                Unary::Square => x.numeric_map(|v| v * v),
                Unary::Exp => x.float_map(f64::exp),
                Unary::Tanh => x.float_map(f64::tanh),
                Unary::Sigmoid => x.float_map(|v| 1.0 / (1.0 + (-v).exp())),
                Unary::Relu => x.float_map(|v| if v <= 0.0 { 0.0 } else { v }),
                Unary::Sqrt => x.float_map(f64::sqrt),
                Unary::Log => x.float_map(f64::ln),
                Unary::Sign => x.numeric_map(|v| {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        v
                    }
                }),
                Unary::Sin => x.float_map(f64::sin),
                Unary::Cos => x.float_map(f64::cos),
                Unary::Log1p => x.float_map(f64::ln_1p),
                Unary::Expm1 => x.float_map(f64::exp_m1),
                Unary::Rsqrt => x.float_map(|v| 1.0 / v.sqrt()),
                Unary::Recip => x.float_map(|v| 1.0 / v),
                Unary::Floor => x.float_map(f64::floor),
                Unary::Ceil => x.float_map(f64::ceil),
                Unary::Round => x.float_map(f64::round_ties_even),
                Unary::Silu => x.float_map(|v| v / (1.0 + (-v).exp())),
                Unary::Softplus => x.float_map(|v| if v > 20.0 { v } else { v.exp().ln_1p() }),
            },
            OpSpec::Scalar(..) if !x.is_numeric() => None,
            OpSpec::Scalar(op, s) => match op {
                ScalarOp::Add => x.scalar(*s, |a, b| a + b),
                ScalarOp::Sub => x.scalar(*s, |a, b| a - b),
                ScalarOp::Mul => x.scalar(*s, |a, b| a * b),
            },
            OpSpec::Binary(op, rel, seed) => {
                let y = operand(*rel, *seed, &x.shape, x.dtype);
                match op {
                    BinaryOp::Div if x.is_float() => x.broadcast(&y, |a, b| a / b),
                    BinaryOp::Div => None,
                    _ if !x.is_numeric() && !matches!(op, BinaryOp::Lt | BinaryOp::Eq | BinaryOp::Ge) => None,
                    BinaryOp::Add => x.broadcast(&y, |a, b| a + b),
                    BinaryOp::Sub => x.broadcast(&y, |a, b| a - b),
                    BinaryOp::Mul => x.broadcast(&y, |a, b| a * b),
                    BinaryOp::Maximum => {
                        x.broadcast(&y, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) })
                    }
                    BinaryOp::Minimum => {
                        x.broadcast(&y, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) })
                    }
                    BinaryOp::Pow if x.is_float() => x.broadcast(&y, f64::powf),
                    BinaryOp::Pow => None,
                    BinaryOp::Lt => x.broadcast(&y, |a, b| (a < b) as u8 as f64).map(|r| r.as_dtype(DType::Bool)),
                    BinaryOp::Eq => x.broadcast(&y, |a, b| (a == b) as u8 as f64).map(|r| r.as_dtype(DType::Bool)),
                    BinaryOp::Ge => x.broadcast(&y, |a, b| (a >= b) as u8 as f64).map(|r| r.as_dtype(DType::Bool)),
                }
            }
            OpSpec::Reduce(Reduction::Sum, axes, keepdim) if x.dtype == DType::Bool => {
                x.as_dtype(DType::I64).reduce(axes, *keepdim, false, |v| Some(v.iter().sum()))?
            }
            OpSpec::Reduce(Reduction::Max | Reduction::Min | Reduction::Prod, ..) if !x.is_numeric() => None,
            OpSpec::Reduce(kind, axes, keepdim) => match kind {
                Reduction::Min => x.reduce(axes, *keepdim, true, |v| {
                    let first = *v.first()?;
                    Some(v.iter().fold(first, |m, &a| if m.is_nan() || a.is_nan() { f64::NAN } else { m.min(a) }))
                })?,
                Reduction::Prod => x.reduce(axes, *keepdim, false, |v| Some(v.iter().product()))?,
                Reduction::LogSumExp if x.is_float() => x.reduce(axes, *keepdim, true, |v| {
                    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let m = if m.is_infinite() { 0.0 } else { m };
                    Some(m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln())
                })?,
                Reduction::LogSumExp => None,
                Reduction::Sum => x.reduce(axes, *keepdim, false, |v| Some(v.iter().sum()))?,
                Reduction::Mean if x.is_float() => {
                    x.reduce(axes, *keepdim, false, |v| Some(v.iter().sum::<f64>() / v.len() as f64))?
                }
                Reduction::Mean => None,
                Reduction::Max => x.reduce(axes, *keepdim, true, |v| {
                    let first = *v.first()?;
                    Some(v.iter().fold(first, |m, &a| if m.is_nan() || a.is_nan() { f64::NAN } else { m.max(a) }))
                })?,
            },
            OpSpec::Transpose(a, b) => {
                let (a, b) = (axis(*a, rank)?, axis(*b, rank)?);
                let mut perm: Vec<usize> = (0..rank).collect();
                perm.swap(a, b);
                Some(x.permute(&perm))
            }
            OpSpec::Permute(axes) => {
                if axes.len() != rank {
                    return None;
                }
                let perm: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<Option<_>>()?;
                let mut seen = perm.clone();
                seen.sort_unstable();
                seen.dedup();
                (seen.len() == rank).then(|| x.permute(&perm))
            }
            OpSpec::Unsqueeze(a) => {
                let a = axis(*a, rank + 1)?;
                let mut shape = x.shape.clone();
                shape.insert(a, 1);
                Some(x.with_shape(&shape))
            }
            OpSpec::Reshape(to) => {
                let n = numel(&x.shape);
                if to.iter().filter(|&&d| d == -1).count() > 1 || to.iter().any(|&d| d < -1) {
                    return None;
                }
                let known: usize = to.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
                let mut shape: Vec<usize> = to.iter().map(|&d| d.max(0) as usize).collect();
                if let Some(i) = to.iter().position(|&d| d == -1) {
                    if known == 0 || !n.is_multiple_of(known) {
                        return None;
                    }
                    shape[i] = n / known;
                }
                (numel(&shape) == n).then(|| x.with_shape(&shape))
            }
            OpSpec::Narrow(a, start, len) => {
                let a = axis(*a, rank)?;
                (start + len <= x.shape[a]).then(|| x.narrow(a, *start, *len))
            }
            OpSpec::Softmax(a) => {
                let a = axis(*a, rank)?;
                x.is_float().then(|| x.softmax(a))
            }
            OpSpec::Matmul(n, k_off, seed) => {
                let k = x.shape.last().copied().unwrap_or(0) + k_off;
                x.matmul(&values(&[k, *n], x.dtype, *seed))
            }
            OpSpec::CatSelf(a) => {
                let a = axis(*a, rank)?;
                Some(x.cat(x, a))
            }
            OpSpec::IndexSelect(a, ids) => {
                let a = axis(*a, rank)?;
                let size = x.shape[a] as i64;
                let ids: Vec<usize> =
                    ids.iter().map(|&i| (0..size).contains(&i).then_some(i as usize)).collect::<Option<_>>()?;
                Some(x.index_select(a, &ids))
            }
            OpSpec::ToDtype(d) => Some(Nd::new(&x.shape, *d, |i| x.get(i))),
            OpSpec::Cumsum(a) => {
                let a = axis(*a, rank)?;
                let x = if x.dtype == DType::Bool { x.as_dtype(DType::I64) } else { x.clone() };
                Some(Nd::new(&x.shape, x.dtype, |i| {
                    let mut j = i.to_vec();
                    (0..=i[a])
                        .map(|k| {
                            j[a] = k;
                            x.get(&j)
                        })
                        .sum()
                }))
            }
            OpSpec::LogSoftmax(a) => {
                let a = axis(*a, rank)?;
                x.is_float().then(|| x.log_softmax(a))
            }
            OpSpec::Flatten(s, e) => {
                if rank == 0 {
                    return Some(x.with_shape(&[1]));
                }
                let (s, e) = (axis(*s, rank)?, axis(*e, rank)?);
                if s > e {
                    return None;
                }
                let shape: Vec<usize> = [&x.shape[..s], &[numel(&x.shape[s..=e])][..], &x.shape[e + 1..]].concat();
                Some(x.with_shape(&shape))
            }
            OpSpec::Squeeze(a) => {
                let a = axis(*a, rank)?;
                let mut shape = x.shape.clone();
                (shape.remove(a) == 1).then(|| x.with_shape(&shape))
            }
            OpSpec::Slice(a, start, end, step) => {
                let a = axis(*a, rank)?;
                if *step == 0 {
                    return None;
                }
                let size = x.shape[a] as isize;
                let clamp = |i: isize| if i < 0 { (i + size).max(0) } else { i.min(size) } as usize;
                let (s, e) = (clamp(*start), clamp(*end));
                let ids: Vec<usize> = (s..e.max(s)).step_by(*step).collect();
                Some(x.index_select(a, &ids))
            }
            OpSpec::Select(a, i) => {
                let a = axis(*a, rank)?;
                if *i >= x.shape[a] {
                    return None;
                }
                let picked = x.narrow(a, *i, 1);
                let mut shape = x.shape.clone();
                shape.remove(a);
                Some(picked.with_shape(&shape))
            }
            OpSpec::Clamp(lo, hi) => {
                if lo > hi
                    || !x.is_numeric()
                    || (!x.is_float() && [lo, hi].iter().any(|b| b.is_finite() && b.fract() != 0.0))
                {
                    return None;
                }
                Some(x.map(|v| {
                    if v < *lo {
                        *lo
                    } else if v > *hi {
                        *hi
                    } else {
                        v
                    }
                }))
            }
            OpSpec::Argmax(a, keepdim) => {
                let a = axis(*a, rank)?;
                if !x.is_numeric() || x.shape[a] == 0 {
                    return None;
                }
                let mut shape = x.shape.clone();
                shape[a] = 1;
                let out = Nd::new(&shape, DType::I64, |i| {
                    let mut j = i.to_vec();
                    let mut best = 0;
                    for k in 0..x.shape[a] {
                        j[a] = k;
                        let v = x.get(&j);
                        j[a] = best;
                        let b = x.get(&j);
                        if !b.is_nan() && (v.is_nan() || v > b) {
                            best = k;
                        }
                    }
                    best as f64
                });
                if !*keepdim {
                    shape.remove(a);
                }
                Some(out.with_shape(&shape))
            }
            OpSpec::Std(axes, correction, keepdim) => {
                if !x.is_float() {
                    return None;
                }
                x.reduce(axes, *keepdim, false, |v| {
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    let ss: f64 = v.iter().map(|a| (a - mean) * (a - mean)).sum();
                    Some((ss / v.len().saturating_sub(*correction) as f64).sqrt())
                })?
            }
            OpSpec::Norm(p, axes, keepdim) => {
                if !x.is_float() {
                    return None;
                }
                x.reduce(axes, *keepdim, false, |v| {
                    Some(if p.is_infinite() {
                        v.iter().fold(0.0, |m: f64, a| if m.is_nan() || a.is_nan() { f64::NAN } else { m.max(a.abs()) })
                    } else {
                        v.iter().map(|a| a.abs().powf(*p)).sum::<f64>().powf(1.0 / p)
                    })
                })?
            }
            OpSpec::Gather(a, len, shrink, seed) => {
                let a = axis(*a, rank)?;
                let index = gather_index(&x.shape, a, *len, *shrink, *seed);
                let size = x.shape[a] as f64;
                if index.data.iter().any(|&i| i < 0.0 || i >= size) {
                    return None;
                }
                Some(Nd::new(&index.shape, x.dtype, |i| {
                    let mut j = i.to_vec();
                    j[a] = index.get(i) as usize;
                    x.get(&j)
                }))
            }
            OpSpec::Repeat(reps) => {
                if reps.len() < rank {
                    return None;
                }
                let lead = reps.len() - rank;
                let shape: Vec<usize> =
                    reps.iter().enumerate().map(|(d, &r)| r * if d < lead { 1 } else { x.shape[d - lead] }).collect();
                Some(Nd::new(&shape, x.dtype, |i| {
                    let j: Vec<usize> = (0..rank).map(|d| i[lead + d] % x.shape[d]).collect();
                    x.get(&j)
                }))
            }
            OpSpec::Pad(pads, value) => {
                if pads.len() != rank || round(x.dtype, *value) != *value {
                    return None;
                }
                let shape: Vec<usize> = x.shape.iter().zip(pads).map(|(&d, &(b, e))| d + b + e).collect();
                Some(Nd::new(&shape, x.dtype, |i| {
                    let inside = i.iter().zip(pads).zip(&x.shape).all(|((&k, &(b, _)), &d)| k >= b && k < b + d);
                    if inside {
                        x.get(&i.iter().zip(pads).map(|(&k, &(b, _))| k - b).collect::<Vec<_>>())
                    } else {
                        *value
                    }
                }))
            }
            OpSpec::Expand(to) => {
                let lead = to.len().checked_sub(rank)?;
                let mut shape = Vec::new();
                for (i, &d) in to.iter().enumerate() {
                    shape.push(match d {
                        -1 if i >= lead => x.shape[i - lead],
                        d if d >= 0 => d as usize,
                        _ => return None,
                    });
                }
                if (0..rank).any(|d| x.shape[d] != shape[lead + d] && x.shape[d] != 1) {
                    return None;
                }
                Some(Nd::new(&shape, x.dtype, |i| {
                    let j: Vec<usize> = (0..rank).map(|d| if x.shape[d] == 1 { 0 } else { i[lead + d] }).collect();
                    x.get(&j)
                }))
            }
            OpSpec::OneHot(classes) => {
                if x.dtype != DType::I64 || x.data.iter().any(|&v| v < 0.0 || v >= *classes as f64) {
                    return None;
                }
                let shape = [&x.shape[..], &[*classes]].concat();
                Some(Nd::new(&shape, DType::F64, |i| (x.get(&i[..rank]) == i[rank] as f64) as u8 as f64))
            }
            OpSpec::MaskedFill(rel, seed, value) => {
                let m = operand(*rel, *seed, &x.shape, DType::F64);
                let spread = x.as_dtype(DType::F64).broadcast(&m, |_, c| c)?;
                if spread.shape != x.shape || round(x.dtype, *value) != *value {
                    return None;
                }
                Some(Nd::new(&x.shape, x.dtype, |i| if spread.get(i) > 0.0 { *value } else { x.get(i) }))
            }
            OpSpec::StackSelf(a) => {
                let a = axis(*a, rank + 1)?;
                let mut one = x.shape.clone();
                one.insert(a, 1);
                let x1 = x.with_shape(&one);
                Some(x1.cat(&x1, a))
            }
            OpSpec::WhereCond(rel, seed) => {
                let m = operand(*rel, *seed, &x.shape, DType::F64);
                let y = values(&x.shape, x.dtype, seed ^ 1);
                // where(m > 0, x, y) broadcast over the three shapes.
                let picked = m.as_dtype(x.dtype).broadcast(x, |_, a| a)?;
                let cond = m.broadcast(&picked.as_dtype(DType::F64), |c, _| c)?;
                let other = picked.broadcast(&y, |_, b| b)?;
                let cond = cond.broadcast(&other.as_dtype(DType::F64), |c, _| c)?;
                let picked = picked.broadcast(&other, |a, _| a)?;
                Some(Nd::new(&picked.shape, x.dtype, |i| if cond.get(i) > 0.0 { picked.get(i) } else { other.get(i) }))
            }
        }
    }

    /// The op on tensors.
    pub fn tensor(&self, x: &Tensor) -> tensor::Result<Tensor> {
        match self {
            OpSpec::Unary(u) => match u {
                Unary::Neg => x.try_neg(),
                Unary::Abs => x.try_abs(),
                Unary::Square => x.try_square(),
                Unary::Exp => x.try_exp(),
                Unary::Tanh => x.try_tanh(),
                Unary::Sigmoid => x.try_sigmoid(),
                Unary::Relu => x.try_relu(),
                Unary::Sqrt => x.try_sqrt(),
                Unary::Log => x.try_log(),
                Unary::Sign => x.try_sign(),
                Unary::Sin => x.try_sin(),
                Unary::Cos => x.try_cos(),
                Unary::Log1p => x.try_log1p(),
                Unary::Expm1 => x.try_expm1(),
                Unary::Rsqrt => x.try_rsqrt(),
                Unary::Recip => x.try_recip(),
                Unary::Floor => x.try_floor(),
                Unary::Ceil => x.try_ceil(),
                Unary::Round => x.try_round(),
                Unary::Silu => x.try_silu(),
                Unary::Softplus => x.try_softplus(),
            },
            OpSpec::Scalar(op, s) => match op {
                ScalarOp::Add => x.try_add_scalar(*s),
                ScalarOp::Sub => x.try_sub_scalar(*s),
                ScalarOp::Mul => x.try_mul_scalar(*s),
            },
            OpSpec::Binary(op, rel, seed) => {
                let y = to_tensor(&operand(*rel, *seed, x.shape(), x.dtype()));
                match op {
                    BinaryOp::Add => x.try_add(&y),
                    BinaryOp::Sub => x.try_sub(&y),
                    BinaryOp::Mul => x.try_mul(&y),
                    BinaryOp::Div => x.try_div(&y),
                    BinaryOp::Maximum => x.try_maximum(&y),
                    BinaryOp::Minimum => x.try_minimum(&y),
                    BinaryOp::Pow => x.try_pow(&y),
                    BinaryOp::Lt => x.try_lt(&y),
                    BinaryOp::Eq => x.try_eq(&y),
                    BinaryOp::Ge => x.try_ge(&y),
                }
            }
            OpSpec::Reduce(kind, axes, keepdim) => match kind {
                Reduction::Sum => x.try_sum(axes, *keepdim),
                Reduction::Mean => x.try_mean(axes, *keepdim),
                Reduction::Max => x.try_max(axes, *keepdim),
                Reduction::Min => x.try_min(axes, *keepdim),
                Reduction::Prod => x.try_prod(axes, *keepdim),
                Reduction::LogSumExp => x.try_logsumexp(axes, *keepdim),
            },
            OpSpec::Transpose(a, b) => x.try_transpose(*a, *b),
            OpSpec::Permute(axes) => x.try_permute(axes),
            OpSpec::Unsqueeze(a) => x.try_unsqueeze(*a),
            OpSpec::Reshape(to) => x.try_reshape(to),
            OpSpec::Narrow(a, start, len) => x.try_narrow(*a, *start, *len),
            OpSpec::Softmax(a) => x.try_softmax(*a),
            OpSpec::Matmul(n, k_off, seed) => {
                let k = x.shape().last().copied().unwrap_or(0) + k_off;
                x.try_matmul(&to_tensor(&values(&[k, *n], x.dtype(), *seed)))
            }
            OpSpec::CatSelf(a) => Tensor::try_cat(&[x.clone(), x.clone()], *a),
            OpSpec::IndexSelect(a, ids) => x.try_index_select(*a, &ids_tensor(ids)),
            OpSpec::ToDtype(d) => Ok(x.to_dtype(*d)),
            OpSpec::Cumsum(a) => x.try_cumsum(*a),
            OpSpec::LogSoftmax(a) => x.try_log_softmax(*a),
            OpSpec::Flatten(s, e) => x.try_flatten(*s, *e),
            OpSpec::Squeeze(a) => x.try_squeeze(*a),
            OpSpec::Slice(a, start, end, step) => x.try_slice(*a, *start, *end, *step),
            OpSpec::Select(a, i) => x.try_select(*a, *i),
            OpSpec::Clamp(lo, hi) => x.try_clamp(*lo, *hi),
            OpSpec::WhereCond(rel, seed) => {
                let (m, y) = where_operands(*rel, *seed, x.shape(), x.dtype());
                m.try_gt_scalar(0.0)?.try_where_cond(x, &y)
            }
            OpSpec::Argmax(a, keepdim) => x.try_argmax(*a, *keepdim),
            OpSpec::Std(axes, correction, keepdim) => x.try_std(axes, *correction, *keepdim),
            OpSpec::Norm(p, axes, keepdim) => x.try_norm(*p, axes, *keepdim),
            OpSpec::Gather(a, len, shrink, seed) => {
                let a = tensor::normalize_axis("gather", *a, x.shape())?;
                x.try_gather(a as isize, &to_tensor(&gather_index(x.shape(), a, *len, *shrink, *seed)))
            }
            OpSpec::Repeat(reps) => x.try_repeat(reps),
            OpSpec::Pad(pads, value) => x.try_pad(pads, *value),
            OpSpec::Expand(to) => x.try_expand(to),
            OpSpec::OneHot(classes) => x.try_one_hot(*classes, DType::F64),
            OpSpec::StackSelf(a) => Tensor::try_stack(&[x.clone(), x.clone()], *a),
            OpSpec::MaskedFill(rel, seed, value) => x.try_masked_fill(&fill_mask(*rel, *seed, x.shape())?, *value),
        }
    }

    /// The op on `Var`s (second operands as constants on the same tape).
    pub fn var(&self, x: &Var) -> autograd::Result<Var> {
        match self {
            OpSpec::Unary(u) => match u {
                Unary::Neg => x.try_neg(),
                Unary::Abs => x.try_abs(),
                Unary::Square => x.try_square(),
                Unary::Exp => x.try_exp(),
                Unary::Tanh => x.try_tanh(),
                Unary::Sigmoid => x.try_sigmoid(),
                Unary::Relu => x.try_relu(),
                Unary::Sqrt => x.try_sqrt(),
                Unary::Log => x.try_log(),
                Unary::Sign => x.try_sign(),
                Unary::Sin => x.try_sin(),
                Unary::Cos => x.try_cos(),
                Unary::Log1p => x.try_log1p(),
                Unary::Expm1 => x.try_expm1(),
                Unary::Rsqrt => x.try_rsqrt(),
                Unary::Recip => x.try_recip(),
                Unary::Floor => x.try_floor(),
                Unary::Ceil => x.try_ceil(),
                Unary::Round => x.try_round(),
                Unary::Silu => x.try_silu(),
                Unary::Softplus => x.try_softplus(),
            },
            OpSpec::Scalar(op, s) => match op {
                ScalarOp::Add => x.try_add_scalar(*s),
                ScalarOp::Sub => x.try_sub_scalar(*s),
                ScalarOp::Mul => x.try_mul_scalar(*s),
            },
            OpSpec::Binary(op, rel, seed) => {
                let y = x.constant(to_tensor(&operand(*rel, *seed, x.shape(), x.dtype())));
                match op {
                    BinaryOp::Add => x.try_add(&y),
                    BinaryOp::Sub => x.try_sub(&y),
                    BinaryOp::Mul => x.try_mul(&y),
                    BinaryOp::Div => x.try_div(&y),
                    BinaryOp::Maximum => x.try_maximum(&y),
                    BinaryOp::Minimum => x.try_minimum(&y),
                    BinaryOp::Pow => x.try_pow(&y),
                    BinaryOp::Lt => x.try_lt(&y),
                    BinaryOp::Eq => x.try_eq(&y),
                    BinaryOp::Ge => x.try_ge(&y),
                }
            }
            OpSpec::Reduce(kind, axes, keepdim) => match kind {
                Reduction::Sum => x.try_sum(axes, *keepdim),
                Reduction::Mean => x.try_mean(axes, *keepdim),
                Reduction::Max => x.try_max(axes, *keepdim),
                Reduction::Min => x.try_min(axes, *keepdim),
                Reduction::Prod => x.try_prod(axes, *keepdim),
                Reduction::LogSumExp => x.try_logsumexp(axes, *keepdim),
            },
            OpSpec::Transpose(a, b) => x.try_transpose(*a, *b),
            OpSpec::Permute(axes) => x.try_permute(axes),
            OpSpec::Unsqueeze(a) => x.try_unsqueeze(*a),
            OpSpec::Reshape(to) => x.try_reshape(to),
            OpSpec::Narrow(a, start, len) => x.try_narrow(*a, *start, *len),
            OpSpec::Softmax(a) => x.try_softmax(*a),
            OpSpec::Matmul(n, k_off, seed) => {
                let k = x.shape().last().copied().unwrap_or(0) + k_off;
                x.try_matmul(&x.constant(to_tensor(&values(&[k, *n], x.dtype(), *seed))))
            }
            OpSpec::CatSelf(a) => Var::try_cat(&[x.clone(), x.clone()], *a),
            OpSpec::IndexSelect(a, ids) => x.try_index_select(*a, &ids_tensor(ids)),
            OpSpec::ToDtype(d) => x.try_to_dtype(*d),
            OpSpec::Cumsum(a) => x.try_cumsum(*a),
            OpSpec::LogSoftmax(a) => x.try_log_softmax(*a),
            OpSpec::Flatten(s, e) => x.try_flatten(*s, *e),
            OpSpec::Squeeze(a) => x.try_squeeze(*a),
            OpSpec::Slice(a, start, end, step) => x.try_slice(*a, *start, *end, *step),
            OpSpec::Select(a, i) => x.try_select(*a, *i),
            OpSpec::Clamp(lo, hi) => x.try_clamp(*lo, *hi),
            OpSpec::WhereCond(rel, seed) => {
                let (m, y) = where_operands(*rel, *seed, x.shape(), x.dtype());
                x.constant(m.try_gt_scalar(0.0)?).try_where_cond(x, &x.constant(y))
            }
            OpSpec::Argmax(a, keepdim) => x.try_argmax(*a, *keepdim),
            OpSpec::Std(axes, correction, keepdim) => x.try_std(axes, *correction, *keepdim),
            OpSpec::Norm(p, axes, keepdim) => x.try_norm(*p, axes, *keepdim),
            OpSpec::Gather(a, len, shrink, seed) => {
                let a = tensor::normalize_axis("gather", *a, x.shape())?;
                x.try_gather(a as isize, &to_tensor(&gather_index(x.shape(), a, *len, *shrink, *seed)))
            }
            OpSpec::Repeat(reps) => x.try_repeat(reps),
            OpSpec::Pad(pads, value) => x.try_pad(pads, *value),
            OpSpec::Expand(to) => x.try_expand(to),
            OpSpec::OneHot(classes) => x.try_one_hot(*classes, DType::F64),
            OpSpec::StackSelf(a) => Var::try_stack(&[x.clone(), x.clone()], *a),
            OpSpec::MaskedFill(rel, seed, value) => x.try_masked_fill(&fill_mask(*rel, *seed, x.shape())?, *value),
        }
    }

    /// Smooth in its input (no kinks, no poles) on the values a bounded program makes, so a
    /// central difference is a fair check of its gradient.
    pub fn smooth(&self) -> bool {
        match self {
            OpSpec::Unary(u) => matches!(
                u,
                Unary::Neg
                    | Unary::Square
                    | Unary::Exp
                    | Unary::Tanh
                    | Unary::Sigmoid
                    | Unary::Sin
                    | Unary::Cos
                    | Unary::Expm1
                    | Unary::Silu
                    | Unary::Softplus
            ),
            OpSpec::Binary(op, ..) => matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul),
            OpSpec::Reduce(kind, ..) => !matches!(kind, Reduction::Max | Reduction::Min),
            OpSpec::ToDtype(d) => *d == DType::F64,
            OpSpec::Clamp(..) | OpSpec::Argmax(..) | OpSpec::OneHot(..) => false,
            // |x| and sqrt have kinks at 0; a variance of one element is 0/0.
            OpSpec::Std(..) | OpSpec::Norm(..) => false,
            _ => true,
        }
    }
}

fn small_axis() -> impl Strategy<Value = isize> {
    prop_oneof![8 => -3isize..3, 1 => prop::sample::select(vec![-5isize, 4, isize::MIN, isize::MAX])]
}

fn dtype() -> impl Strategy<Value = DType> {
    prop::sample::select(vec![DType::F64, DType::F32, DType::I64])
}

pub fn init() -> impl Strategy<Value = Init> {
    let dim = prop_oneof![1 => Just(0usize), 3 => Just(1usize), 6 => 2usize..5];
    (prop::collection::vec(dim, 0..4), prop_oneof![4 => Just(DType::F64), 2 => dtype()], 0u8..5, any::<u64>())
        .prop_map(|(shape, dtype, layout, seed)| Init { shape, dtype, layout, seed })
}

pub fn op() -> impl Strategy<Value = OpSpec> {
    use prop::sample::select;
    let unary = select(vec![
        Unary::Neg,
        Unary::Abs,
        Unary::Square,
        Unary::Exp,
        Unary::Tanh,
        Unary::Sigmoid,
        Unary::Relu,
        Unary::Sqrt,
        Unary::Log,
        Unary::Sign,
        Unary::Sin,
        Unary::Cos,
        Unary::Log1p,
        Unary::Expm1,
        Unary::Rsqrt,
        Unary::Recip,
        Unary::Floor,
        Unary::Ceil,
        Unary::Round,
        Unary::Silu,
        Unary::Softplus,
    ]);
    let scalar = (select(vec![ScalarOp::Add, ScalarOp::Sub, ScalarOp::Mul]), select(vec![2.0, -1.0, 0.5, 3.0, 1.5]));
    let binary = (
        select(vec![
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Maximum,
            BinaryOp::Minimum,
            BinaryOp::Pow,
            BinaryOp::Lt,
            BinaryOp::Eq,
            BinaryOp::Ge,
        ]),
        prop_oneof![3 => Just(Relation::Same), 4 => Just(Relation::Broadcast), 1 => Just(Relation::Random), 1 => Just(Relation::OtherDtype)],
        any::<u64>(),
    );
    let reduce = (
        select(vec![
            Reduction::Sum,
            Reduction::Mean,
            Reduction::Max,
            Reduction::Min,
            Reduction::Prod,
            Reduction::LogSumExp,
        ]),
        prop::collection::vec(small_axis(), 0..3),
        any::<bool>(),
    );
    let reshape = prop_oneof![
        Just(vec![-1isize]),
        (1isize..4).prop_map(|d| vec![d, -1]),
        (1isize..4).prop_map(|d| vec![-1, d, 1]),
        prop::collection::vec(-2isize..5, 0..4),
    ];
    let ids = prop::collection::vec(prop_oneof![9 => 0i64..4, 1 => Just(-1i64), 1 => Just(i64::MAX)], 0..5);
    prop_oneof![
        3 => unary.prop_map(OpSpec::Unary),
        2 => scalar.prop_map(|(o, s)| OpSpec::Scalar(o, s)),
        4 => binary.prop_map(|(o, r, s)| OpSpec::Binary(o, r, s)),
        3 => reduce.prop_map(|(k, a, d)| OpSpec::Reduce(k, a, d)),
        1 => (small_axis(), small_axis()).prop_map(|(a, b)| OpSpec::Transpose(a, b)),
        1 => prop::collection::vec(-3isize..3, 0..4).prop_map(OpSpec::Permute),
        1 => small_axis().prop_map(OpSpec::Unsqueeze),
        2 => reshape.prop_map(OpSpec::Reshape),
        1 => (small_axis(), 0usize..3, 0usize..3).prop_map(|(a, s, l)| OpSpec::Narrow(a, s, l)),
        1 => small_axis().prop_map(OpSpec::Softmax),
        2 => (0usize..4, prop_oneof![5 => Just(0usize), 1 => 1usize..3], any::<u64>())
            .prop_map(|(n, k, s)| OpSpec::Matmul(n, k, s)),
        1 => small_axis().prop_map(OpSpec::CatSelf),
        1 => (small_axis(), ids).prop_map(|(a, i)| OpSpec::IndexSelect(a, i)),
        1 => prop_oneof![dtype(), Just(DType::Bool)].prop_map(OpSpec::ToDtype),
        1 => small_axis().prop_map(OpSpec::Cumsum),
        1 => small_axis().prop_map(OpSpec::LogSoftmax),
        1 => (small_axis(), small_axis()).prop_map(|(s, e)| OpSpec::Flatten(s, e)),
        1 => small_axis().prop_map(OpSpec::Squeeze),
        1 => (small_axis(), -5isize..5, -5isize..6, 0usize..4).prop_map(|(a, s, e, k)| OpSpec::Slice(a, s, e, k)),
        1 => (small_axis(), 0usize..4).prop_map(|(a, i)| OpSpec::Select(a, i)),
        1 => (select(vec![f64::NEG_INFINITY, -1.0, 0.0, 0.5]), select(vec![f64::INFINITY, 1.0, 0.0, 1.5]))
            .prop_map(|(lo, hi)| OpSpec::Clamp(lo, hi)),
        1 => (prop_oneof![Just(Relation::Same), Just(Relation::Broadcast), Just(Relation::Random)], any::<u64>())
            .prop_map(|(r, s)| OpSpec::WhereCond(r, s)),
        1 => (small_axis(), any::<bool>()).prop_map(|(a, k)| OpSpec::Argmax(a, k)),
        1 => (prop::collection::vec(small_axis(), 0..3), 0usize..3, any::<bool>())
            .prop_map(|(a, c, k)| OpSpec::Std(a, c, k)),
        1 => (select(vec![1.0, 2.0, 3.0, f64::INFINITY]), prop::collection::vec(small_axis(), 0..3), any::<bool>())
            .prop_map(|(p, a, k)| OpSpec::Norm(p, a, k)),
        1 => (small_axis(), 0usize..4, 0usize..2, any::<u64>()).prop_map(|(a, l, s, seed)| OpSpec::Gather(a, l, s, seed)),
        1 => prop::collection::vec(0usize..3, 0..5).prop_map(OpSpec::Repeat),
        1 => (prop::collection::vec((0usize..2, 0usize..2), 0..4), select(vec![0.0, -1.0, 1.5]))
            .prop_map(|(p, v)| OpSpec::Pad(p, v)),
        1 => prop::collection::vec(prop_oneof![Just(-1isize), 0isize..4], 0..5).prop_map(OpSpec::Expand),
        1 => (0usize..7).prop_map(OpSpec::OneHot),
        1 => small_axis().prop_map(OpSpec::StackSelf),
        1 => (
            prop_oneof![Just(Relation::Same), Just(Relation::Broadcast), Just(Relation::Random)],
            any::<u64>(),
            select(vec![0.0, 2.5, f64::NEG_INFINITY])
        )
            .prop_map(|(r, s, v)| OpSpec::MaskedFill(r, s, v)),
    ]
}
