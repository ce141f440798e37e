//! matmul against a naive triple loop for every numpy.matmul case and operand layout.

mod common;
use common::*;
use tensor::{DType, Rng, Tensor, TensorError};

/// numpy.matmul by definition, on the Nd reference.
fn naive_matmul(a: &Nd, b: &Nd) -> Nd {
    let a2 = if a.shape.len() == 1 { Nd { data: a.data.clone(), shape: vec![1, a.shape[0]] } } else { a.clone() };
    let b2 = if b.shape.len() == 1 { Nd { data: b.data.clone(), shape: vec![b.shape[0], 1] } } else { b.clone() };
    let (ra, rb) = (a2.shape.len(), b2.shape.len());
    let (m, k, n) = (a2.shape[ra - 2], a2.shape[ra - 1], b2.shape[rb - 1]);
    let batch = tensor::broadcast_shapes("t", &a2.shape[..ra - 2], &b2.shape[..rb - 2]).unwrap().to_vec();
    let mut full = batch.clone();
    full.extend([m, n]);
    let out = Nd::new(&full, |i| {
        let nb = batch.len();
        let (r, c) = (i[nb], i[nb + 1]);
        (0..k)
            .map(|p| {
                let mut ia = i[..nb].to_vec();
                ia.extend([r, p]);
                let mut ib = i[..nb].to_vec();
                ib.extend([p, c]);
                a2.get_broadcast(&ia) * b2.get_broadcast(&ib)
            })
            .sum()
    });
    let mut shape = batch;
    if a.shape.len() > 1 {
        shape.push(m);
    }
    if b.shape.len() > 1 {
        shape.push(n);
    }
    out.reshaped(&shape)
}

#[test]
fn every_numpy_matmul_case_on_every_layout() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[5], &[5]),
        (&[3, 5], &[5]),
        (&[5], &[5, 4]),
        (&[3, 5], &[5, 4]),
        (&[2, 3, 5], &[5, 4]),
        (&[3, 5], &[2, 5, 4]),
        (&[2, 1, 3, 5], &[3, 5, 4]),
        (&[1, 3, 5], &[2, 5, 4]),
        (&[3, 0], &[0, 2]),
    ];
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
        for &(sa, sb) in cases {
            for (la, a) in layouts(sa, dtype, 1) {
                for (lb, b) in layouts(sb, dtype, 2) {
                    let want = naive_matmul(&Nd::of(&a), &Nd::of(&b));
                    let got = a.matmul(&b);
                    assert_tensor(&got, &want, tol, &format!("{dtype} {sa:?}/{la} @ {sb:?}/{lb}"));
                }
            }
        }
    }
}

#[test]
fn large_and_batched_products() {
    // Large enough to be cut into row blocks run on rayon (`for_blocks`), with a ragged last
    // block; a batch of small ones run in parallel over the batch.
    let a = rand(&[130, 257], DType::F32, 3);
    let b = rand(&[257, 120], DType::F32, 4);
    let want = naive_matmul(&Nd::of(&a), &Nd::of(&b));
    assert_tensor(&a.matmul(&b), &want, 1e-4, "130x257x120");
    assert_tensor(&b.t().matmul(&a.t()), &naive_matmul(&Nd::of(&b.t()), &Nd::of(&a.t())), 1e-4, "transposed");
    let x = rand(&[64, 16, 32], DType::F64, 5);
    let y = rand(&[64, 32, 8], DType::F64, 6);
    assert_tensor(&x.matmul(&y), &naive_matmul(&Nd::of(&x), &Nd::of(&y)), 1e-12, "batched");
}

#[test]
fn linear_is_x_times_w_transposed_plus_bias() {
    let mut rng = Rng::seed(8);
    let x = Tensor::randn(&[2, 3, 4], DType::F64, &mut rng);
    let w = Tensor::randn(&[5, 4], DType::F64, &mut rng);
    let b = Tensor::randn(&[5], DType::F64, &mut rng);
    let want = (x.matmul(&w.t()) + &b).to_vec::<f64>();
    assert_eq!(x.linear(&w, Some(&b)).shape(), &[2, 3, 5]);
    assert_eq!(x.linear(&w, Some(&b)).to_vec::<f64>(), want);
    assert_eq!(x.linear(&w, None).to_vec::<f64>(), x.matmul(&w.t()).to_vec::<f64>());
    // A non-contiguous weight and a vector input.
    let wt = Tensor::randn(&[4, 5], DType::F64, &mut rng).t();
    let v = Tensor::randn(&[4], DType::F64, &mut rng);
    assert_eq!(v.linear(&wt, None).to_vec::<f64>(), v.matmul(&wt.t()).to_vec::<f64>());
}

#[test]
fn linear_errors_name_the_shapes() {
    let x = Tensor::zeros(&[2, 4], DType::F32);
    let w = Tensor::zeros(&[5, 4], DType::F32);
    let err = |r: tensor::Result<Tensor>| r.unwrap_err().to_string();
    assert_eq!(
        err(Tensor::scalar(1.0f32).try_linear(&w, None)),
        "linear: input must have at least 1 dimension, got a scalar"
    );
    assert_eq!(err(x.try_linear(&w.t(), None)), "linear: input [2, 4] needs weight [out, 4], got weight [4, 5]");
    assert_eq!(
        err(x.try_linear(&Tensor::zeros(&[4], DType::F32), None)),
        "linear: input [2, 4] needs weight [out, 4], got weight [4]"
    );
    assert_eq!(
        err(x.try_linear(&w, Some(&Tensor::zeros(&[4], DType::F32)))),
        "linear: bias must be [5] for weight [5, 4], got [4]"
    );
    assert_eq!(err(x.try_linear(&w.to_dtype(DType::F64), None)), "linear: dtype mismatch: expected f32, got f64");
}

/// `try_matmul_into` writes `try_matmul`'s bits into the given buffer, for every layout of the
/// operands (transposed, offset views), and refuses outputs it must not write.
#[test]
fn matmul_into_equals_matmul_and_checks_its_output() {
    let mut rng = Rng::seed(21);
    for &(m, k, n) in &[(1, 1, 1), (32, 16, 1), (5, 7, 3), (64, 33, 70), (3, 0, 2)] {
        for dtype in [DType::F32, DType::F64] {
            let a = Tensor::randn(&[m, k], dtype, &mut rng);
            let bt = Tensor::randn(&[n + 1, k], dtype, &mut rng);
            // B transposed and offset by one row: a view with strides (1, k) and an offset.
            let b = bt.narrow(0, 1, n).t();
            for (lhs, rhs) in [(a.clone(), b.contiguous()), (a.clone(), b.clone()), (a.t().contiguous().t(), b.clone())]
            {
                let mut out = Tensor::full(&[m, n], 7.0, dtype);
                lhs.try_matmul_into(&rhs, &mut out).unwrap();
                let expected = lhs.matmul(&rhs);
                let bits =
                    |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&expected), "{m}x{k}x{n} {dtype}");
            }
        }
    }
    let a = Tensor::ones(&[2, 3], DType::F32);
    let err = |r: Result<(), TensorError>| r.unwrap_err().to_string();
    let mut out = Tensor::zeros(&[2, 2], DType::F32);
    let shared = out.clone();
    assert_eq!(err(a.try_matmul_into(&a.t(), &mut out)), "matmul_into: the output buffer is shared or not contiguous");
    drop(shared);
    assert_eq!(err(a.try_matmul_into(&a, &mut out)), "matmul_into: [2, 3] @ [2, 3]: inner dimensions 3 and 2 differ");
    assert_eq!(
        err(a.try_matmul_into(&Tensor::ones(&[3], DType::F32), &mut out)),
        "matmul_into: both operands must be matrices, got [2, 3] @ [3]"
    );
    assert_eq!(
        err(a.try_matmul_into(&a.t(), &mut Tensor::zeros(&[2, 2], DType::F64))),
        "matmul_into: dtype mismatch: expected f32, got f64"
    );
}

/// `try_matmul_t_into` with a transpose flag gives the product of the transposed view bit for
/// bit, for each flag and operand layout; its errors show the shapes as transposed.
#[test]
fn matmul_t_into_equals_the_product_of_the_transposed_views() {
    let mut rng = Rng::seed(22);
    let bits = |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for &(m, k, n) in &[(1, 1, 1), (32, 16, 1), (16, 32, 16), (5, 7, 3), (64, 33, 70)] {
        for dtype in [DType::F32, DType::F64] {
            // Each operand stored either way round, the stored one contiguous or itself a view.
            let a = Tensor::randn(&[m, k], dtype, &mut rng);
            let b = Tensor::randn(&[k, n], dtype, &mut rng);
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for strided in [false, true] {
                    let stored = |x: &Tensor, t: bool| {
                        let s = if t { x.t().contiguous() } else { x.clone() };
                        if strided {
                            s.t().contiguous().t()
                        } else {
                            s
                        }
                    };
                    let (sa, sb) = (stored(&a, ta), stored(&b, tb));
                    let mut out = Tensor::full(&[m, n], 7.0, dtype);
                    sa.try_matmul_t_into(ta, &sb, tb, &mut out).unwrap();
                    let view = |s: &Tensor, t: bool| if t { s.t() } else { s.clone() };
                    let expected = view(&sa, ta).matmul(&view(&sb, tb));
                    assert_eq!(bits(&out), bits(&expected), "{m}x{k}x{n} {dtype} {ta} {tb} {strided}");
                }
            }
        }
    }
    let a = Tensor::ones(&[2, 3], DType::F32);
    let mut out = Tensor::zeros(&[2, 2], DType::F32);
    assert_eq!(
        a.try_matmul_t_into(true, &a, true, &mut out).unwrap_err().to_string(),
        "matmul_into: [3, 2] @ [3, 2]: inner dimensions 2 and 3 differ"
    );
    assert_eq!(
        a.try_matmul_t_into(true, &a, false, &mut out).unwrap_err().to_string(),
        "matmul_into: [3, 2] @ [2, 3] is [3, 3], but the output is [2, 2]"
    );
}
