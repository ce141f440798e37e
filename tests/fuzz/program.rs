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

fn ids_tensor(ids: &[i64]) -> Tensor {
    Tensor::from_vec(ids.to_vec(), &[ids.len()])
}

impl OpSpec {
    /// The reference result, `None` where the op must fail.
    pub fn reference(&self, x: &Nd) -> Option<Nd> {
        let rank = x.shape.len();
        match self {
            OpSpec::Unary(u) => match u {
                Unary::Neg => Some(x.map(|v| -v)),
                Unary::Abs => Some(x.map(f64::abs)),
                Unary::Square => Some(x.map(|v| v * v)),
                Unary::Exp => x.float_map(f64::exp),
                Unary::Tanh => x.float_map(f64::tanh),
                Unary::Sigmoid => x.float_map(|v| 1.0 / (1.0 + (-v).exp())),
                Unary::Relu => x.float_map(|v| if v <= 0.0 { 0.0 } else { v }),
                Unary::Sqrt => x.float_map(f64::sqrt),
                Unary::Log => x.float_map(f64::ln),
            },
            OpSpec::Scalar(op, s) => match op {
                ScalarOp::Add => x.scalar(*s, |a, b| a + b),
                ScalarOp::Sub => x.scalar(*s, |a, b| a - b),
                ScalarOp::Mul => x.scalar(*s, |a, b| a * b),
            },
            OpSpec::Binary(op, rel, seed) => {
                let y = operand(*rel, *seed, &x.shape, x.dtype);
                match op {
                    BinaryOp::Add => x.broadcast(&y, |a, b| a + b),
                    BinaryOp::Sub => x.broadcast(&y, |a, b| a - b),
                    BinaryOp::Mul => x.broadcast(&y, |a, b| a * b),
                    BinaryOp::Div if x.is_float() => x.broadcast(&y, |a, b| a / b),
                    BinaryOp::Div => None,
                    BinaryOp::Maximum => {
                        x.broadcast(&y, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) })
                    }
                }
            }
            OpSpec::Reduce(kind, axes, keepdim) => match kind {
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
                }
            }
            OpSpec::Reduce(kind, axes, keepdim) => match kind {
                Reduction::Sum => x.try_sum(axes, *keepdim),
                Reduction::Mean => x.try_mean(axes, *keepdim),
                Reduction::Max => x.try_max(axes, *keepdim),
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
                }
            }
            OpSpec::Reduce(kind, axes, keepdim) => match kind {
                Reduction::Sum => x.try_sum(axes, *keepdim),
                Reduction::Mean => x.try_mean(axes, *keepdim),
                Reduction::Max => x.try_max(axes, *keepdim),
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
        }
    }

    /// Smooth in its input (no kinks, no poles) on the values a bounded program makes, so a
    /// central difference is a fair check of its gradient.
    pub fn smooth(&self) -> bool {
        match self {
            OpSpec::Unary(u) => matches!(u, Unary::Neg | Unary::Square | Unary::Exp | Unary::Tanh | Unary::Sigmoid),
            OpSpec::Binary(op, ..) => matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul),
            OpSpec::Reduce(kind, ..) => !matches!(kind, Reduction::Max),
            OpSpec::ToDtype(d) => *d == DType::F64,
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
    ]);
    let scalar = (select(vec![ScalarOp::Add, ScalarOp::Sub, ScalarOp::Mul]), select(vec![2.0, -1.0, 0.5, 3.0, 1.5]));
    let binary = (
        select(vec![BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum]),
        prop_oneof![3 => Just(Relation::Same), 4 => Just(Relation::Broadcast), 1 => Just(Relation::Random), 1 => Just(Relation::OtherDtype)],
        any::<u64>(),
    );
    let reduce = (
        select(vec![Reduction::Sum, Reduction::Mean, Reduction::Max]),
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
        1 => dtype().prop_map(OpSpec::ToDtype),
    ]
}
