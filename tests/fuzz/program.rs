//! Random programs: a starting tensor (any rank up to 3, empty and size-1 dimensions, every
//! layout a view can have, three dtypes) and a list of ops, each runnable on `Tensor` and on
//! `Var` (what the reference expects of each is in `expected.rs`).

use autograd::{AutogradError, Tape, Var};
use tensor::{DType, Rng, Tensor, TensorError};

use crate::reference::{numel, round, Nd};
use crate::windows::{lift, ConvSpec, PoolSpec};

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
    Conv2d(ConvSpec),
    MaxPool2d(PoolSpec),
    AvgPool2d(PoolSpec, bool),
    /// `scatter_add` of a `src` of the index's shape, the index drawn as `Gather`'s.
    ScatterAdd(isize, usize, usize, u64),
    /// The first (`false`) or last (`true`) piece of `split(size, axis)`; `x` itself where
    /// there are no pieces.
    Split(usize, isize, bool),
    /// The first or last piece of `chunk(chunks, axis)`, as `Split`.
    Chunk(usize, isize, bool),
    /// Fused mean softmax cross-entropy against `[N]` class ids from the seed (some `== C`,
    /// out of range).
    CrossEntropy(u64),
    /// One of `nn`'s pointwise losses against a target related to `x` as given.
    Loss(Loss, nn::Reduction, Relation, u64),
}

#[derive(Clone, Copy, Debug)]
pub enum Loss {
    Mse,
    L1,
    Huber,
    BceWithLogits,
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

/// `cross_entropy`'s class ids for logits of `shape` (`[N, C]` when valid): `N` ids in `0..=C`.
pub(crate) fn class_ids(shape: &[usize], seed: u64) -> Nd {
    let mut rng = Rng::seed(seed);
    let (n, c) = (shape.first().copied().unwrap_or(1), shape.get(1).copied().unwrap_or(1));
    let data = (0..n).map(|_| rng.below(c as u64 + 1).min(rng.below(c as u64 + 1)) as f64).collect();
    Nd { shape: vec![n], data, dtype: DType::I64 }
}

/// `scatter_add`'s source: values of the index's shape.
pub(crate) fn scatter_src(index: &Nd, dtype: DType, seed: u64) -> Nd {
    values(&index.shape, dtype, seed ^ 2)
}

/// What differs between the `Tensor` and the `Var` forms of an op the fuzzer runs.
pub trait Forms: Sized {
    type Error: From<TensorError>;
    fn max_pool_values(&self, p: PoolSpec) -> Result<Self, Self::Error>;
    /// An `nn` loss: on `Var`s directly, on tensors through a tape of their own.
    fn loss(&self, kind: Loss, reduction: nn::Reduction, target: Tensor) -> Result<Self, Self::Error>;
}

fn nn_loss(x: &Var, t: &Var, kind: Loss, reduction: nn::Reduction) -> autograd::Result<Var> {
    match kind {
        Loss::Mse => nn::loss::mse_loss(x, t, reduction),
        Loss::L1 => nn::loss::l1_loss(x, t, reduction),
        Loss::Huber => nn::loss::huber_loss(x, t, 1.0, reduction),
        Loss::BceWithLogits => nn::loss::binary_cross_entropy_with_logits(x, t, reduction),
    }
}

impl Forms for Tensor {
    type Error = TensorError;
    fn max_pool_values(&self, p: PoolSpec) -> tensor::Result<Tensor> {
        Ok(self.try_max_pool2d(p.kernel, p.stride, p.padding)?.0)
    }
    fn loss(&self, kind: Loss, reduction: nn::Reduction, target: Tensor) -> tensor::Result<Tensor> {
        let tape = Tape::new();
        match nn_loss(&tape.input(self.clone()), &tape.input(target), kind, reduction) {
            Ok(v) => Ok(v.tensor()),
            Err(AutogradError::Tensor(e)) => Err(e),
            Err(e) => Err(TensorError::invalid("loss", e.to_string())),
        }
    }
}

impl Forms for Var {
    type Error = AutogradError;
    fn max_pool_values(&self, p: PoolSpec) -> autograd::Result<Var> {
        self.try_max_pool2d(p.kernel, p.stride, p.padding)
    }
    fn loss(&self, kind: Loss, reduction: nn::Reduction, target: Tensor) -> autograd::Result<Var> {
        nn_loss(self, &self.constant(target), kind, reduction)
    }
}

fn ids_tensor(ids: &[i64]) -> Tensor {
    Tensor::from_vec(ids.to_vec(), &[ids.len()])
}

/// `$x` with leading size-1 axes up to rank 4 (the window ops' `[N, C, H, W]`).
macro_rules! lifted {
    ($x:expr) => {{
        let mut y = $x.clone();
        for _ in 0..lift(y.shape().len()) {
            y = y.try_unsqueeze(0)?;
        }
        y
    }};
}

/// A loss's target: related to the input's shape as given; in `[0, 1]` for the binary
/// cross-entropy.
pub(crate) fn loss_target(kind: Loss, rel: Relation, seed: u64, shape: &[usize], dtype: DType) -> Nd {
    let t = operand(rel, seed, shape, dtype);
    match kind {
        Loss::BceWithLogits => t.map(|v| (v + 2.0) / 4.0),
        _ => t,
    }
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
            OpSpec::Conv2d(c) => {
                let x = lifted!(x);
                let channels = x.shape().get(1).copied().unwrap_or(0);
                let w = $wrap(to_tensor(&c.weight(channels, x.dtype())));
                let b = c.bias_values(x.dtype()).map(|b| $wrap(to_tensor(&b)));
                x.try_conv2d(&w, b.as_ref(), c.params)
            }
            OpSpec::MaxPool2d(p) => lifted!(x).max_pool_values(*p),
            OpSpec::AvgPool2d(p, include_pad) => lifted!(x).try_avg_pool2d(p.kernel, p.stride, p.padding, *include_pad),
            OpSpec::ScatterAdd(a, len, shrink, seed) => {
                let a = tensor::normalize_axis("scatter_add", *a, x.shape())?;
                let index = gather_index(x.shape(), a, *len, *shrink, *seed);
                let src = $wrap(to_tensor(&scatter_src(&index, x.dtype(), *seed)));
                x.try_scatter_add(a as isize, &to_tensor(&index), &src)
            }
            OpSpec::Split(size, a, last) => {
                let pieces = x.try_split(*size, *a)?;
                Ok(if *last { pieces.last() } else { pieces.first() }.unwrap_or(x).clone())
            }
            OpSpec::Chunk(chunks, a, last) => {
                let pieces = x.try_chunk(*chunks, *a)?;
                Ok(if *last { pieces.last() } else { pieces.first() }.unwrap_or(x).clone())
            }
            OpSpec::CrossEntropy(seed) => x.try_softmax_cross_entropy(&to_tensor(&class_ids(x.shape(), *seed))),
            OpSpec::Loss(kind, reduction, rel, seed) => {
                let target = to_tensor(&loss_target(*kind, *rel, *seed, x.shape(), x.dtype()));
                x.loss(*kind, *reduction, target)
            }
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
            OpSpec::Clamp(..) | OpSpec::Argmax(..) | OpSpec::OneHot(..) | OpSpec::MaxPool2d(..) => false,
            // |x - t| has a kink; Huber's second derivative jumps at |x - t| = 1.
            OpSpec::Loss(kind, ..) => matches!(kind, Loss::Mse | Loss::BceWithLogits),
            // |x| and sqrt have kinks at 0; a variance of one element is 0/0.
            OpSpec::Std(..) | OpSpec::Norm(..) => false,
            _ => true,
        }
    }
}
