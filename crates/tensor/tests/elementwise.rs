//! Every elementwise kernel against scalar f64 math, on contiguous, transposed and strided
//! inputs, in f32 and f64.

mod common;
use common::*;
use tensor::{DType, Tensor};

fn erf(x: f64) -> f64 {
    // Abramowitz-Stegun 7.1.26 is too coarse for a reference; integrate instead (Simpson).
    let n = 2000;
    let h = x / n as f64;
    let f = |t: f64| (-t * t).exp();
    let mut s = f(0.0) + f(x);
    for i in 1..n {
        s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

type Unary = (&'static str, fn(&Tensor) -> Tensor, fn(f64) -> f64);

fn unary_table() -> Vec<Unary> {
    vec![
        ("neg", |t| t.neg(), |x| -x),
        ("abs", |t| t.abs(), f64::abs),
        ("exp", |t| t.exp(), f64::exp),
        ("log", |t| t.abs().log(), |x| x.abs().ln()),
        ("log1p", |t| t.abs().log1p(), |x| x.abs().ln_1p()),
        ("expm1", |t| t.expm1(), f64::exp_m1),
        ("sqrt", |t| t.abs().sqrt(), |x| x.abs().sqrt()),
        ("rsqrt", |t| t.abs().rsqrt(), |x| 1.0 / x.abs().sqrt()),
        ("sin", |t| t.sin(), f64::sin),
        ("cos", |t| t.cos(), f64::cos),
        ("tanh", |t| t.tanh(), f64::tanh),
        ("sigmoid", |t| t.sigmoid(), sigmoid),
        ("relu", |t| t.relu(), |x| x.max(0.0)),
        ("leaky_relu", |t| t.leaky_relu(0.1), |x| if x > 0.0 { x } else { 0.1 * x }),
        ("elu", |t| t.elu(1.5), |x| if x > 0.0 { x } else { 1.5 * x.exp_m1() }),
        ("gelu", |t| t.gelu(), |x| 0.5 * x * (1.0 + erf(x / 2f64.sqrt()))),
        (
            "gelu_tanh",
            |t| t.gelu_tanh(),
            |x| 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh()),
        ),
        ("silu", |t| t.silu(), |x| x * sigmoid(x)),
        ("softplus", |t| t.softplus(), |x| x.exp().ln_1p()),
        (
            "sign",
            |t| t.sign(),
            |x| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            },
        ),
        ("floor", |t| t.floor(), f64::floor),
        ("ceil", |t| t.ceil(), f64::ceil),
        ("round", |t| t.mul_scalar(2.0).round(), |x| (2.0 * x).round()),
        ("recip", |t| t.recip(), |x| 1.0 / x),
        ("square", |t| t.square(), |x| x * x),
        ("powf", |t| t.abs().powf(1.7), |x| x.abs().powf(1.7)),
        ("clamp", |t| t.clamp(-0.5, 0.75), |x| x.clamp(-0.5, 0.75)),
        ("add_scalar", |t| t + 1.5, |x| x + 1.5),
        ("rsub_scalar", |t| t.rsub_scalar(1.5), |x| 1.5 - x),
        ("div_scalar", |t| t / 4.0, |x| x / 4.0),
    ]
}

#[test]
fn unary_ops_match_scalar_math_on_every_layout() {
    for dtype in [DType::F64, DType::F32] {
        let tol: f64 = if dtype == DType::F64 { 1e-12 } else { 2e-6 };
        for (name, op, reference) in unary_table() {
            for (layout, x) in layouts(&[3, 5, 4], dtype, 11) {
                let want = Nd::new(x.shape(), |i| reference(Nd::of(&x).get(i)));
                let got = op(&x);
                assert_eq!(got.dtype(), dtype, "{name}");
                let tol = if name.starts_with("gelu") { tol.max(1e-9) } else { tol };
                assert_tensor(&got, &want, tol, &format!("{name} {dtype} {layout}"));
            }
        }
    }
}

#[test]
fn round_ties_to_even_like_torch() {
    let x = Tensor::from_vec(vec![0.5f64, 1.5, 2.5, -0.5, -1.5, 2.4], &[6]);
    assert_eq!(x.round().to_vec::<f64>(), vec![0.0, 2.0, 2.0, -0.0, -2.0, 2.0]);
}

#[test]
fn activations_are_stable_at_extremes() {
    let x = Tensor::from_vec(vec![-1000.0f32, 1000.0, f32::NAN], &[3]);
    let s = x.sigmoid().to_vec::<f32>();
    assert_eq!(&s[..2], &[0.0, 1.0]);
    assert!(s[2].is_nan());
    assert_eq!(x.softplus().to_vec::<f32>()[1], 1000.0);
    assert!(x.relu().to_vec::<f32>()[2].is_nan(), "relu propagates NaN");
}

type Binary = (&'static str, fn(&Tensor, &Tensor) -> Tensor, fn(f64, f64) -> f64);

fn binary_table() -> Vec<Binary> {
    vec![
        ("add", |a, b| a + b, |x, y| x + y),
        ("sub", |a, b| a - b, |x, y| x - y),
        ("mul", |a, b| a * b, |x, y| x * y),
        ("div", |a, b| a / b, |x, y| x / y),
        ("pow", |a, b| a.abs().pow(b), |x, y| x.abs().powf(y)),
        ("maximum", |a, b| a.maximum(b), f64::max),
        ("minimum", |a, b| a.minimum(b), f64::min),
        // The fused backward kernels: `self` is x (or y), `rhs` the incoming gradient.
        ("relu_backward", |a, b| a.relu_backward(b), |x, g| if x <= 0.0 { 0.0 } else { g }),
        ("clamp_backward", |a, b| a.clamp_backward(b, -0.5, 0.5), |x, g| if x > -0.5 && x < 0.5 { g } else { 0.0 }),
        (
            "abs_backward",
            |a, b| a.abs_backward(b),
            |x, g| {
                if x > 0.0 {
                    g
                } else if x < 0.0 {
                    -g
                } else {
                    0.0
                }
            },
        ),
        ("tanh_backward", |a, b| a.tanh_backward(b), |y, g| g * (1.0 - y * y)),
        ("sigmoid_backward", |a, b| a.sigmoid_backward(b), |y, g| g * y * (1.0 - y)),
    ]
}

#[test]
fn binary_ops_broadcast_on_every_layout() {
    let cases: &[(&[usize], &[usize])] =
        &[(&[4, 3], &[4, 3]), (&[4, 3], &[3]), (&[4, 1], &[1, 3]), (&[2, 4, 3], &[4, 1]), (&[3, 4], &[])];
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-6 };
        for (name, op, reference) in binary_table() {
            for &(sa, sb) in cases {
                for (la, a) in layouts(sa, dtype, 3) {
                    for (lb, b) in layouts(sb, dtype, 4) {
                        let (ra, rb) = (Nd::of(&a), Nd::of(&b));
                        let out = tensor::broadcast_shapes("t", sa, sb).unwrap();
                        let want = Nd::new(&out, |i| reference(ra.get_broadcast(i), rb.get_broadcast(i)));
                        assert_tensor(&op(&a, &b), &want, tol, &format!("{name} {dtype} {sa:?}/{la} {sb:?}/{lb}"));
                    }
                }
            }
        }
    }
}

#[test]
fn comparisons_return_bool_masks() {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    let b = Tensor::from_vec(vec![2.0f32], &[1]);
    assert_eq!(a.lt(&b).to_vec::<bool>(), vec![true, false, false]);
    assert_eq!(a.le(&b).to_vec::<bool>(), vec![true, true, false]);
    assert_eq!(a.gt(&b).to_vec::<bool>(), vec![false, false, true]);
    assert_eq!(a.ge(&b).to_vec::<bool>(), vec![false, true, true]);
    assert_eq!(a.eq(&b).to_vec::<bool>(), vec![false, true, false]);
    assert_eq!(a.ne(&b).to_vec::<bool>(), vec![true, false, true]);
    assert_eq!(a.gt_scalar(1.5).dtype(), DType::Bool);
    assert_eq!(a.gt_scalar(1.5).to_vec::<bool>(), vec![false, true, true]);
    let i = Tensor::from_vec(vec![1i64, 5, -3], &[3]);
    assert_eq!(i.ge_scalar(1.0).to_vec::<bool>(), vec![true, true, false]);
    assert_eq!(a.ne_scalar(2.0).to_vec::<bool>(), vec![true, false, true]);
    // Integers against a scalar they cannot hold compare in f64: nothing equals 0.5 or NaN.
    assert_eq!(i.ne_scalar(0.5).to_vec::<bool>(), vec![true, true, true]);
    assert_eq!(i.ne_scalar(f64::NAN).to_vec::<bool>(), vec![true, true, true]);
}

#[test]
fn integer_arithmetic_wraps_instead_of_panicking() {
    let a = Tensor::from_vec(vec![i64::MAX, 3], &[2]);
    let b = Tensor::from_vec(vec![1i64, 4], &[2]);
    assert_eq!((&a + &b).to_vec::<i64>(), vec![i64::MIN, 7]);
    assert_eq!((&a * &b).to_vec::<i64>()[1], 12);
    assert_eq!(a.neg().to_vec::<i64>(), vec![-i64::MAX, -3]);
}

#[test]
fn operators_on_owned_and_borrowed() {
    let a = Tensor::ones(&[2], DType::F64);
    let b = Tensor::full(&[2], 3.0, DType::F64);
    let c = &a + &b;
    let d = a.clone() - &b;
    let e = &a * b.clone();
    let f = a / b;
    let g = -&c * 2.0;
    assert_eq!(c.to_vec::<f64>(), vec![4.0, 4.0]);
    assert_eq!(d.to_vec::<f64>(), vec![-2.0, -2.0]);
    assert_eq!(e.to_vec::<f64>(), vec![3.0, 3.0]);
    assert_eq!(f.to_vec::<f64>(), vec![1.0 / 3.0, 1.0 / 3.0]);
    assert_eq!(g.to_vec::<f64>(), vec![-8.0, -8.0]);
}

#[test]
fn large_tensors_take_the_parallel_path_with_the_same_result() {
    // Above the parallel threshold and with a broadcast, transposed operand.
    let a = rand(&[300, 400], DType::F32, 5);
    let b = rand(&[400, 1], DType::F32, 6).t();
    let got = (&a * &b).exp().to_vec::<f32>();
    let (ra, rb) = (Nd::of(&a), Nd::of(&b));
    let want = Nd::new(&[300, 400], |i| ((ra.get(i) as f32) * (rb.get_broadcast(i) as f32)).exp() as f64);
    assert_close(&got.iter().map(|&v| v as f64).collect::<Vec<_>>(), &want.data, 1e-6, "parallel mul-exp");
}

#[test]
fn dtype_conversion() {
    let a = Tensor::from_vec(vec![1.7f32, -2.2, 0.0], &[3]);
    assert_eq!(a.to_dtype(DType::I64).to_vec::<i64>(), vec![1, -2, 0]);
    assert_eq!(a.to_dtype(DType::Bool).to_vec::<bool>(), vec![true, true, false]);
    assert_eq!(a.to_dtype(DType::F64).to_vec::<f64>(), vec![1.7f32 as f64, -2.2f32 as f64, 0.0]);
}

#[test]
fn operators_take_scalars_on_either_side_and_assign_in_place() {
    let t = Tensor::from(vec![1.0f32, 2.0, 4.0]);
    assert_eq!((2.0 * &t).to_vec::<f32>(), vec![2.0, 4.0, 8.0]);
    assert_eq!((&t + 1.0).to_vec::<f32>(), vec![2.0, 3.0, 5.0]);
    assert_eq!((1.0 - &t).to_vec::<f32>(), vec![0.0, -1.0, -3.0]);
    assert_eq!((4.0 / &t).to_vec::<f32>(), vec![4.0, 2.0, 1.0]);
    let mut u = t.clone();
    u -= &Tensor::from([1.0f32]);
    u *= 2.0;
    u += &t;
    assert_eq!(u.to_vec::<f32>(), vec![1.0, 4.0, 10.0]);
    assert_eq!(t.to_vec::<f32>(), vec![1.0, 2.0, 4.0], "the shared original is untouched");
    let m = Tensor::from([[1i64, 2], [3, 4]]);
    assert_eq!(m.shape(), &[2, 2]);
    let mut small = Tensor::from([1.0f64]);
    let err = std::panic::catch_unwind(move || small -= &Tensor::from([1.0f64, 2.0])).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.starts_with("sub_assign: cannot broadcast shapes [1] and [2]"), "{msg}");
}
