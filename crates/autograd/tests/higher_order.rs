//! Gradients of gradients: grad with create_graph, hvp, jacobian, hessian, gradient penalties.

use autograd::{grad, hessian, hessian_many, hvp, hvp_many, jacobian, Tape, Var};
use tensor::{DType, Rng, Tensor};

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
    }
}

#[test]
fn third_derivative_of_a_cubic() {
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(2.0f64));
    let y = x.powf(3.0).mul_scalar(2.0); // 2x^3
    let d1 = grad(&[y], std::slice::from_ref(&x), true).unwrap()[0].clone();
    let d2 = grad(std::slice::from_ref(&d1), std::slice::from_ref(&x), true).unwrap()[0].clone();
    let d3 = grad(std::slice::from_ref(&d2), std::slice::from_ref(&x), false).unwrap()[0].clone();
    assert_eq!((d1.item(), d2.item(), d3.item()), (24.0, 24.0, 12.0));
}

#[test]
fn hessian_of_a_quadratic_form_is_the_symmetrised_matrix() {
    let a = Tensor::from_vec(vec![1.0f64, 2.0, 0.5, 3.0], &[2, 2]);
    let x = Tensor::from_vec(vec![0.3f64, -0.7], &[2]);
    let am = a.clone();
    let h = hessian(&|v| v.try_matmul(&v.constant(am.clone()))?.try_matmul(v), &x).unwrap();
    close(&h.to_vec::<f64>(), &(&a + &a.t()).to_vec::<f64>());
    let v = Tensor::from_vec(vec![1.0f64, -1.0], &[2]);
    let hv = hvp(&|v| v.try_matmul(&v.constant(a.clone()))?.try_matmul(v), &x, &v).unwrap();
    close(&hv.to_vec::<f64>(), &(&a + &a.t()).matmul(&v).to_vec::<f64>());
}

#[test]
fn jacobian_of_elementwise_and_linear_maps() {
    let x = Tensor::from_vec(vec![0.1f64, 0.2, 0.3], &[3]);
    let j = jacobian(&|v| v.try_tanh(), &x).unwrap();
    let d: Vec<f64> = x.to_vec::<f64>().iter().map(|t| 1.0 - t.tanh().powi(2)).collect();
    close(&j.to_vec::<f64>(), &[d[0], 0.0, 0.0, 0.0, d[1], 0.0, 0.0, 0.0, d[2]]);
    let w = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let wc = w.clone();
    let j = jacobian(&|v| v.constant(wc.clone()).try_matmul(v), &x).unwrap();
    assert_eq!(j.shape(), &[2, 3]);
    close(&j.to_vec::<f64>(), &w.to_vec::<f64>());
}

#[test]
fn gradient_penalty_trains_through_the_gradient() {
    // WGAN-GP style: penalty = (||d f / d x|| - 1)^2, differentiated with respect to w.
    let tape = Tape::new();
    let w = tape.var(Tensor::from_vec(vec![0.5f64, -2.0], &[2]));
    let x = tape.var(Tensor::from_vec(vec![1.0f64, 1.0], &[2]));
    let f = (&w * &x).tanh().sum_all();
    let gx = grad(&[f], std::slice::from_ref(&x), true).unwrap()[0].clone();
    let penalty = gx.norm(2.0, &[], false).sub_scalar(1.0).square();
    let gw = grad(std::slice::from_ref(&penalty), std::slice::from_ref(&w), false).unwrap()[0].clone();
    // Check against central differences of the penalty in w.
    let eval = |wv: &[f64]| {
        let gx: Vec<f64> = wv.iter().map(|&wi| wi * (1.0 - (wi * 1.0f64).tanh().powi(2))).collect();
        ((gx[0] * gx[0] + gx[1] * gx[1]).sqrt() - 1.0).powi(2)
    };
    assert!((penalty.item() - eval(&[0.5, -2.0])).abs() < 1e-12);
    let eps = 1e-6;
    let num: Vec<f64> = (0..2)
        .map(|i| {
            let mut p = [0.5, -2.0];
            let mut m = p;
            p[i] += eps;
            m[i] -= eps;
            (eval(&p) - eval(&m)) / (2.0 * eps)
        })
        .collect();
    for (a, n) in gw.value().to_vec::<f64>().iter().zip(&num) {
        assert!((a - n).abs() < 1e-6, "{a} vs {n}");
    }
}

#[test]
fn helpers_reject_bad_input() {
    let x = Tensor::ones(&[2], DType::F64);
    assert_eq!(
        hessian(&|v| Ok(v.clone()), &x).unwrap_err().to_string(),
        "hessian: f must return a scalar, got shape [2]"
    );
    assert_eq!(
        hvp(&|v| v.try_sum(&[], false), &x, &Tensor::ones(&[3], DType::F64)).unwrap_err().to_string(),
        "hvp: vector shape [3] differs from input shape [2]"
    );
}

/// f(w, b) = sum(tanh(x w + b)^2) + sum(w)^2 * sum(b), on a weight [2, 3] and a bias [3].
fn two_input_loss(p: &[Var]) -> autograd::Result<Var> {
    let x = p[0].constant(Tensor::from_vec(vec![0.3, -1.2, 0.7, 0.5], &[2, 2]));
    let h = x.try_matmul(&p[0])?.try_add(&p[1])?.tanh();
    let reg = p[0].sum_all().square().try_mul(&p[1].sum_all())?;
    h.square().sum_all().try_add(&reg)
}

/// The same function of one vector z = (w flattened, b).
fn concatenated_loss(z: &Var) -> autograd::Result<Var> {
    let w = z.try_narrow(0, 0, 6)?.try_reshape(&[2, 3])?;
    let b = z.try_narrow(0, 6, 3)?;
    two_input_loss(&[w, b])
}

#[test]
fn hessian_and_hvp_over_several_inputs_match_the_concatenated_input() {
    let mut rng = Rng::seed(4);
    let w = Tensor::randn(&[2, 3], DType::F64, &mut rng);
    let b = Tensor::randn(&[3], DType::F64, &mut rng);
    let z = Tensor::try_cat(&[w.reshape(&[6]), b.clone()], 0).unwrap();
    let full = hessian(&concatenated_loss, &z).unwrap().to_vec::<f64>(); // [9, 9]

    let blocks = hessian_many(&two_input_loss, &[w.clone(), b.clone()]).unwrap();
    assert_eq!(blocks[0][1].shape(), &[2, 3, 3]);
    assert_eq!(blocks[1][0].shape(), &[3, 2, 3]);
    let (sizes, offsets) = ([6, 3], [0, 6]);
    for i in 0..2 {
        for j in 0..2 {
            let block = blocks[i][j].to_vec::<f64>();
            for r in 0..sizes[i] {
                for c in 0..sizes[j] {
                    let want = full[(offsets[i] + r) * 9 + offsets[j] + c];
                    assert!((block[r * sizes[j] + c] - want).abs() < 1e-12, "block ({i}, {j})");
                }
            }
        }
    }

    let (vw, vb) = (Tensor::randn(&[2, 3], DType::F64, &mut rng), Tensor::randn(&[3], DType::F64, &mut rng));
    let v = Tensor::try_cat(&[vw.reshape(&[6]), vb.clone()], 0).unwrap();
    let want = hvp(&concatenated_loss, &z, &v).unwrap().to_vec::<f64>();
    let got = hvp_many(&two_input_loss, &[w.clone(), b.clone()], &[vw, vb]).unwrap();
    assert_eq!((got[0].shape(), got[1].shape()), (&[2, 3][..], &[3][..]));
    let got: Vec<f64> = got.iter().flat_map(|t| t.to_vec::<f64>()).collect();
    for (g, e) in got.iter().zip(&want) {
        assert!((g - e).abs() < 1e-12, "{got:?} vs {want:?}");
    }

    let err = hvp_many(&two_input_loss, &[w.clone(), b], std::slice::from_ref(&w)).unwrap_err();
    assert_eq!(err.to_string(), "hvp_many: 2 inputs but 1 vectors");
    let err = hvp_many(&two_input_loss, &[w.clone(), w.clone()], &[w.clone(), w.reshape(&[6])]).unwrap_err();
    assert_eq!(err.to_string(), "hvp_many: vector 1 has shape [6] but input 1 has shape [2, 3]");
}
