//! Random programs: a starting tensor (any rank up to 3, empty and size-1 dimensions, every
//! layout a view can have, three dtypes) and a list of ops, each runnable on `Tensor` and on
//! `Var` (what the reference expects of each is in `expected.rs`).

use autograd::Var;
use tensor::{DType, Rng, Tensor};

use crate::reference::{numel, round, Nd};

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

pub(crate) fn values(shape: &[usize], dtype: DType, seed: u64) -> Nd {
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
pub(crate) fn operand(rel: Relation, seed: u64, shape: &[usize], dtype: DType) -> Nd {
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
pub(crate) fn gather_index(shape: &[usize], a: usize, len: usize, shrink: usize, seed: u64) -> Nd {
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

/// One op on `$x`, a `Tensor` or a `Var` (the two share their method names); `$wrap` turns a
/// second operand (a `Tensor`) into `$x`'s type, `$Ty` names it for `cat`/`stack`.
macro_rules! apply {
    ($spec:expr, $x:ident, $Ty:ty, $wrap:expr) => {{
        let x = $x;
        match $spec {
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
                let y = $wrap(to_tensor(&operand(*rel, *seed, x.shape(), x.dtype())));
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
                x.try_matmul(&$wrap(to_tensor(&values(&[k, *n], x.dtype(), *seed))))
            }
            OpSpec::CatSelf(a) => <$Ty>::try_cat(&[x.clone(), x.clone()], *a),
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
                $wrap(m.try_gt_scalar(0.0)?).try_where_cond(x, &$wrap(y))
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
            OpSpec::StackSelf(a) => <$Ty>::try_stack(&[x.clone(), x.clone()], *a),
            OpSpec::MaskedFill(rel, seed, value) => x.try_masked_fill(&fill_mask(*rel, *seed, x.shape())?, *value),
        }
    }};
}

impl OpSpec {
    /// The reference result, `None` where the op must fail.
    /// The op on tensors.
    pub fn tensor(&self, x: &Tensor) -> tensor::Result<Tensor> {
        apply!(self, x, Tensor, |t: Tensor| t)
    }

    /// The op on `Var`s (second operands as constants on the same tape).
    pub fn var(&self, x: &Var) -> autograd::Result<Var> {
        apply!(self, x, Var, |t: Tensor| x.constant(t))
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
