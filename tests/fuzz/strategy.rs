//! The generators: random starting tensors and random ops, weighted towards valid input
//! with a share of bad axes, indices, shapes and dtypes.

use proptest::prelude::*;
use tensor::DType;

use crate::program::{BinaryOp, Init, Loss, OpSpec, Reduction, Relation, ScalarOp, Unary};
use crate::windows::{ConvSpec, PoolSpec};

/// A window size, stride or dilation: mostly 1-2, now and then the refused 0.
fn window_size() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![12 => 1usize..3, 1 => Just(0usize)]
}

fn pair(s: impl Strategy<Value = usize> + Clone) -> impl Strategy<Value = [usize; 2]> {
    (s.clone(), s).prop_map(|(a, b)| [a, b])
}

fn conv() -> impl Strategy<Value = ConvSpec> {
    let groups = prop::sample::select(vec![1usize, 1, 1, 2, 0]);
    (
        0usize..3,
        pair(window_size()),
        pair(window_size()),
        pair(0usize..2),
        pair(window_size()),
        groups,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(cout, kernel, stride, padding, dilation, groups, bias, seed)| ConvSpec {
            cout,
            kernel,
            params: tensor::Conv2dParams { stride, padding, dilation, groups },
            bias,
            seed,
        })
}

fn pool() -> impl Strategy<Value = PoolSpec> {
    (pair(prop_oneof![12 => 1usize..4, 1 => Just(0usize)]), pair(window_size()), pair(0usize..2))
        .prop_map(|(kernel, stride, padding)| PoolSpec { kernel, stride, padding })
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
        2 => conv().prop_map(OpSpec::Conv2d),
        1 => pool().prop_map(OpSpec::MaxPool2d),
        1 => (pool(), any::<bool>()).prop_map(|(p, i)| OpSpec::AvgPool2d(p, i)),
        1 => (small_axis(), 0usize..4, 0usize..2, any::<u64>())
            .prop_map(|(a, l, s, seed)| OpSpec::ScatterAdd(a, l, s, seed)),
        1 => (0usize..4, small_axis(), any::<bool>()).prop_map(|(n, a, l)| OpSpec::Split(n, a, l)),
        1 => (0usize..4, small_axis(), any::<bool>()).prop_map(|(n, a, l)| OpSpec::Chunk(n, a, l)),
        1 => any::<u64>().prop_map(OpSpec::CrossEntropy),
        2 => (
            select(vec![Loss::Mse, Loss::L1, Loss::Huber, Loss::BceWithLogits]),
            select(vec![nn::Reduction::None, nn::Reduction::Mean, nn::Reduction::Sum]),
            prop_oneof![6 => Just(Relation::Same), 1 => Just(Relation::Broadcast), 1 => Just(Relation::OtherDtype)],
            any::<u64>(),
        )
            .prop_map(|(k, r, rel, s)| OpSpec::Loss(k, r, rel, s)),
    ]
}
