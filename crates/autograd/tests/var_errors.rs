//! `Var` ops reject bad input with exactly the messages of the `tensor` ops they mirror.

use autograd::Tape;
use tensor::{Conv1dParams, DType, Tensor};

fn t(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F64)
}

#[test]
fn var_errors_match_tensor_errors() {
    let tape = Tape::new();
    let v = |s: &[usize]| tape.var(t(s));
    let same = |a: String, b: String| assert_eq!(a, b);
    same(v(&[2, 3]).try_add(&v(&[4])).unwrap_err().to_string(), t(&[2, 3]).try_add(&t(&[4])).unwrap_err().to_string());
    same(
        autograd::Var::try_stack(&[v(&[2]), v(&[3])], 0).unwrap_err().to_string(),
        Tensor::try_stack(&[t(&[2]), t(&[3])], 0).unwrap_err().to_string(),
    );
    same(
        autograd::Var::try_stack(&[v(&[2])], 3).unwrap_err().to_string(),
        Tensor::try_stack(&[t(&[2])], 3).unwrap_err().to_string(),
    );
    same(v(&[2, 3]).try_sum_to(&[4]).unwrap_err().to_string(), t(&[2, 3]).try_sum_to(&[4]).unwrap_err().to_string());
    same(
        v(&[2]).try_norm(-1.0, &[], false).unwrap_err().to_string(),
        t(&[2]).try_norm(-1.0, &[], false).unwrap_err().to_string(),
    );
    let p = Conv1dParams::default();
    same(
        v(&[1, 2, 5]).try_conv1d(&v(&[3, 4, 3]), None, p).unwrap_err().to_string(),
        t(&[1, 2, 5]).try_conv1d(&t(&[3, 4, 3]), None, p).unwrap_err().to_string(),
    );
    same(v(&[2, 3]).try_reshape(&[4]).unwrap_err().to_string(), t(&[2, 3]).try_reshape(&[4]).unwrap_err().to_string());
    same(
        v(&[2, 3]).try_gather(0, &Tensor::from_vec(vec![5i64], &[1, 1])).unwrap_err().to_string(),
        t(&[2, 3]).try_gather(0, &Tensor::from_vec(vec![5i64], &[1, 1])).unwrap_err().to_string(),
    );
    assert_eq!(
        v(&[2, 3]).try_softmax_cross_entropy(&Tensor::from_vec(vec![0i64, 3], &[2])).unwrap_err().to_string(),
        "softmax_cross_entropy: index 3 is out of bounds for axis 1 with size 3"
    );
    assert_eq!(
        v(&[2, 3]).try_softmax_cross_entropy(&Tensor::from_vec(vec![0i64], &[1])).unwrap_err().to_string(),
        "softmax_cross_entropy: expected logits [N, C] and target [N], got [2, 3] and [1]"
    );
}

#[test]
#[should_panic(expected = "matmul: [2, 3] @ [4, 5]: inner dimensions 3 and 4 differ")]
fn var_panicking_forms_and_operators_panic_with_the_same_message() {
    let tape = Tape::new();
    let _ = tape.var(t(&[2, 3])).matmul(&tape.var(t(&[4, 5])));
}

#[test]
fn scalars_on_the_left_of_a_var() {
    let tape = autograd::Tape::new();
    let x = tape.var(tensor::Tensor::from(vec![1.0f64, 2.0]));
    let y = (2.0 * &x + (1.0 - &x) + 4.0 / &x).sum_all();
    // 2x + 1 - x + 4/x at x = 1, 2: 6 + 5 = 11; dy/dx = 1 - 4/x^2: -3, 0.
    assert_eq!(y.item(), 11.0);
    assert_eq!(y.backward().unwrap().get(&x).unwrap().to_vec::<f64>(), vec![-3.0, 0.0]);
}

#[test]
fn var_and_tensor_agree_where_a_composite_meets_an_empty_reduction() {
    // Found by the fuzzer: Var's inf-norm is built on max, which refuses empty input, while the
    // tensor op (and torch) give 0 there.
    let tape = Tape::new();
    for shape in [&[0usize, 3][..], &[2, 0]] {
        let x = tape.var(t(shape));
        for axes in [&[][..], &[0], &[1]] {
            let want = t(shape).norm(f64::INFINITY, axes, false);
            let got = x.try_norm(f64::INFINITY, axes, false).unwrap();
            assert_eq!((got.shape(), got.tensor().to_vec::<f64>()), (want.shape(), want.to_vec::<f64>()));
        }
    }
}
