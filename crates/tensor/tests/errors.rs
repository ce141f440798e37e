//! Every kind of bad input gives a typed error whose message names the op and the offending
//! shapes, axes or dtypes; the panicking forms panic with the same message.

use tensor::{DType, Tensor, TensorError};

fn f32s(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32)
}

fn msg<T: std::fmt::Debug>(r: Result<T, TensorError>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn shape_and_broadcast_errors() {
    assert_eq!(msg(f32s(&[2, 3]).try_add(&f32s(&[4]))), "add: cannot broadcast shapes [2, 3] and [4]");
    assert_eq!(
        msg(f32s(&[2, 3]).try_matmul(&f32s(&[4, 5]))),
        "matmul: [2, 3] @ [4, 5]: inner dimensions 3 and 4 differ"
    );
    assert_eq!(
        msg(f32s(&[2, 2, 3]).try_matmul(&f32s(&[3, 3, 1]))),
        "matmul: cannot broadcast shapes [2, 2, 3] and [3, 3, 1]"
    );
    assert_eq!(msg(f32s(&[]).try_matmul(&f32s(&[2]))), "matmul: both operands need at least 1 dimension, got [] @ [2]");
    assert_eq!(msg(f32s(&[2]).try_broadcast_to(&[3])), "broadcast_to: cannot broadcast shapes [2] and [3]");
    assert_eq!(msg(Tensor::try_stack(&[f32s(&[2]), f32s(&[3])], 0)), "stack: shapes [2] and [3] differ");
    assert_eq!(
        msg(Tensor::try_cat(&[f32s(&[2, 2]), f32s(&[3, 3])], 0)),
        "cat: shapes [2, 2] and [3, 3] differ outside axis 0"
    );
    assert_eq!(msg(Tensor::try_cat(&[], 0)), "cat: needs at least one tensor");
}

#[test]
fn axis_errors() {
    let x = f32s(&[2, 3]);
    assert_eq!(msg(x.try_sum(&[2], false)), "sum: axis 2 is out of range for a tensor of shape [2, 3] (rank 2)");
    assert_eq!(msg(x.try_softmax(-3)), "softmax: axis -3 is out of range for a tensor of shape [2, 3] (rank 2)");
    let (t, g) = (Tensor::from_vec(vec![0i64, 1], &[2]), Tensor::full(&[], 1.0, DType::F32));
    assert_eq!(
        msg(x.try_softmax_cross_entropy_backward(&t, &Tensor::full(&[1], 1.0, DType::F32))),
        "softmax_cross_entropy_backward: grad must be 0-d (the loss's), got shape [1]"
    );
    assert_eq!(
        msg(x.try_softmax_cross_entropy_backward(&Tensor::from_vec(vec![0i64, 5], &[2]), &g)),
        "softmax_cross_entropy_backward: index 5 is out of bounds for axis 1 with size 3"
    );
    assert_eq!(
        msg(x.try_softmax_cross_entropy(&t.reshape(&[1, 2]))),
        "softmax_cross_entropy: expected logits [N, C] and target [N], got [2, 3] and [1, 2]"
    );
    assert_eq!(msg(x.try_sum(&[0, -2], false)), "sum: axis 0 appears more than once in [0, -2]");
    assert_eq!(msg(x.try_permute(&[0, 0])), "permute: axis 0 appears more than once in [0, 0]");
    assert_eq!(msg(x.try_permute(&[0])), "permute: axes [0] do not match the rank 2 of shape [2, 3]");
    assert_eq!(msg(x.try_squeeze(0)), "squeeze: axis 0 of shape [2, 3] has size 2, not 1");
    assert_eq!(msg(x.try_unsqueeze(4)), "unsqueeze: axis 4 is out of range for a tensor of shape [2, 3] (rank 2)");
    assert_eq!(msg(x.try_narrow(1, 2, 2)), "narrow: range 2..4 is out of bounds for axis 1 of size 3");
    assert_eq!(msg(x.try_slice(0, 0, 2, 0)), "slice: step must be positive, got 0");
    assert_eq!(msg(x.try_select(0, 2)), "select: index 2 is out of bounds for axis 0 with size 2");
    assert_eq!(msg(x.try_flatten(1, 0)), "flatten: start axis 1 is after end axis 0");
}

#[test]
fn reshape_errors() {
    let x = f32s(&[2, 3]);
    assert_eq!(msg(x.try_reshape(&[4, 2])), "reshape: cannot reshape [2, 3] (6 elements) into [4, 2] (8 elements)");
    assert_eq!(msg(x.try_reshape(&[-1, -1])), "reshape: only one dimension can be -1, got [-1, -1]");
    assert_eq!(
        msg(x.try_reshape(&[4, -1])),
        "reshape: cannot infer the -1 dimension of [4, -1] for 6 elements (shape [2, 3])"
    );
    assert_eq!(msg(x.try_reshape(&[-2, 3])), "reshape: invalid dimension -2 in shape [-2, 3]");
    assert_eq!(
        msg(x.t().try_view(&[6])),
        "view: cannot view shape [3, 2] with strides [1, 3] as [6] without a copy; use reshape"
    );
    assert_eq!(msg(Tensor::try_from_vec(vec![1.0f32; 5], &[2, 3])), "from_vec: shape [2, 3] needs 6 elements, got 5");
    assert_eq!(msg(x.try_expand(&[2])), "expand: cannot expand shape [2, 3] to fewer dimensions [2]");
    assert_eq!(msg(x.try_pad(&[(1, 1)], 0.0)), "pad: needs one (before, after) pair per dimension of [2, 3], got 1");
    assert_eq!(msg(x.try_repeat(&[2])), "repeat: needs at least 2 repeat counts for shape [2, 3], got [2]");
    assert_eq!(msg(x.try_split(0, 0)), "split: piece size must be positive, got 0");
    let huge = 1isize << 40;
    assert_eq!(
        msg(x.try_reshape(&[huge, huge, -1])),
        "reshape: shape [1099511627776, 1099511627776] has more elements than a usize can count"
    );
    assert_eq!(
        msg(x.try_pad(&[(usize::MAX, 0), (0, 0)], 0.0)),
        format!("pad: padding [({}, 0), (0, 0)] of shape [2, 3] overflows", usize::MAX)
    );
    assert_eq!(
        msg(x.try_repeat(&[usize::MAX, 1])),
        format!("repeat: repeating shape [2, 3] by [{}, 1] overflows", usize::MAX)
    );
    assert_eq!(msg(x.try_chunk(0, 0)), "chunk: number of chunks must be positive, got 0");
}

#[test]
fn dtype_errors() {
    let f = f32s(&[2]);
    let d = Tensor::zeros(&[2], DType::F64);
    let i = Tensor::zeros(&[2], DType::I64);
    assert_eq!(msg(f.try_add(&d)), "add: dtype mismatch: expected f32, got f64");
    assert_eq!(msg(f.try_matmul(&d)), "matmul: dtype mismatch: expected f32, got f64");
    assert_eq!(msg(i.try_exp()), "exp: dtype i64 is not supported (expected f32 or f64)");
    assert_eq!(msg(i.try_div(&i)), "div: dtype i64 is not supported (expected f32 or f64)");
    assert_eq!(msg(i.try_mean(&[], false)), "mean: dtype i64 is not supported (expected f32 or f64)");
    assert_eq!(msg(f.try_to_vec::<f64>()), "to_vec: dtype mismatch: expected f64, got f32");
    assert_eq!(msg(f.try_where_cond(&f, &f)), "where_cond: dtype mismatch: expected bool, got f32");
    assert_eq!(msg(f.try_masked_fill(&f, 0.0)), "masked_fill: dtype mismatch: expected bool, got f32");
    assert_eq!(msg(f.try_index_select(0, &f)), "index_select: dtype mismatch: expected i64, got f32");
    let b = Tensor::zeros(&[2], DType::Bool);
    assert_eq!(msg(b.try_neg()), "neg: dtype bool is not supported (expected a numeric dtype (f32, f64, i64, u8))");
    assert_eq!(
        msg(Tensor::try_linspace(0.0, 1.0, 3, DType::I64)),
        "linspace: dtype i64 is not supported (expected f32 or f64)"
    );
}

#[test]
fn index_errors() {
    let x = f32s(&[3, 2]);
    let bad = Tensor::from_vec(vec![0i64, 3], &[2]);
    assert_eq!(msg(x.try_index_select(0, &bad)), "index_select: index 3 is out of bounds for axis 0 with size 3");
    let neg = Tensor::from_vec(vec![-1i64, 0], &[2, 1]);
    assert_eq!(msg(x.try_gather(1, &neg)), "gather: index -1 is out of bounds for axis 1 with size 2");
    let big = Tensor::zeros(&[4, 1], DType::I64);
    assert_eq!(
        msg(x.try_gather(1, &big)),
        "gather: index shape [4, 1] does not fit input shape [3, 2] along axes other than 1"
    );
    let idx = Tensor::zeros(&[3, 1], DType::I64);
    assert_eq!(msg(x.try_scatter_add(1, &idx, &f32s(&[3, 2]))), "scatter_add: shapes [3, 1] and [3, 2] differ");
    assert_eq!(msg(bad.try_one_hot(3, DType::F32)), "one_hot: index 3 is out of bounds for axis 1 with size 3");
    assert_eq!(
        msg(x.try_index_select(0, &Tensor::zeros(&[1, 1], DType::I64))),
        "index_select: index must be 1-D, got shape [1, 1]"
    );
}

#[test]
fn empty_and_value_errors() {
    let e = f32s(&[0]);
    assert_eq!(msg(e.try_max(&[], false)), "max: tensor of shape [0] is empty; max needs at least one element");
    assert_eq!(msg(e.try_argmin(0, false)), "argmin: tensor of shape [0] is empty; argmin needs at least one element");
    assert_eq!(
        msg(e.try_logsumexp(&[0], false)),
        "logsumexp: tensor of shape [0] is empty; logsumexp needs at least one element"
    );
    assert_eq!(msg(f32s(&[2]).try_to_scalar::<f32>()), "to_scalar: tensor of shape [2] has 2 elements, expected 1");
    assert_eq!(msg(f32s(&[2]).try_item()), "item: tensor of shape [2] has 2 elements, expected 1");
    assert_eq!(msg(f32s(&[2]).try_clamp(1.0, 0.0)), "clamp: min 1 is greater than max 0");
    assert_eq!(msg(f32s(&[2]).try_norm(0.0, &[], false)), "norm: order p must be positive or inf, got 0");
    assert_eq!(msg(Tensor::try_arange(0.0, 1.0, 0.0, DType::F32)), "arange: bad range 0..1 step 0");
    assert_eq!(msg(Tensor::try_arange(0.0, 1.0, -1.0, DType::F32)), "arange: step -1 does not move from 0 towards 1");
    let mut rng = tensor::Rng::seed(0);
    assert_eq!(msg(Tensor::try_normal(&[1], 0.0, -1.0, DType::F32, &mut rng)), "normal: bad parameters mean=0 std=-1");
    assert_eq!(msg(Tensor::try_randint(&[1], 2, 2, &mut rng)), "randint: empty range [2, 2)");
    assert_eq!(msg(f32s(&[1]).try_t()), "t: needs at least 2 dimensions, got shape [1]");
    // A layout whose extent overflows is rejected, not wrapped around into bounds.
    assert_eq!(
        msg(f32s(&[1]).try_as_strided(&[3, 1], &[1 << 62, 1 << 62], 0)),
        "as_strided: shape [3, 1] strides [4611686018427387904, 4611686018427387904] offset 0 do not fit a storage of 1 elements"
    );
    assert_eq!(
        msg(f32s(&[4]).try_as_strided(&[2], &[3], 1)),
        "as_strided: shape [2] strides [3] offset 1 do not fit a storage of 4 elements"
    );
    assert_eq!(f32s(&[4]).try_as_strided(&[2], &[2], 1).map(|t| t.shape().to_vec()), Ok(vec![2]));
}

#[test]
#[should_panic(expected = "add: cannot broadcast shapes [2, 3] and [4]")]
fn operators_panic_with_the_same_message() {
    let _ = f32s(&[2, 3]) + f32s(&[4]);
}

#[test]
#[should_panic(expected = "matmul: [2, 3] @ [4, 5]: inner dimensions 3 and 4 differ")]
fn panicking_forms_panic_with_the_same_message() {
    let _ = f32s(&[2, 3]).matmul(&f32s(&[4, 5]));
}
