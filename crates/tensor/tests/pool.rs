//! max_pool2d / avg_pool2d and their backward kernels against naive direct loops.

use tensor::*;

#[derive(Clone, Copy, Debug)]
struct Case {
    x: [usize; 4],
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
}

fn out_shape(c: &Case) -> [usize; 4] {
    let f = |d: usize| (c.x[2 + d] + 2 * c.p[d] - c.k[d]) / c.s[d] + 1;
    [c.x[0], c.x[1], f(0), f(1)]
}

/// Calls `f(plane, out_pos, in_bounds_positions)` for every output window (positions are flat
/// into the plane, in row-major scan order).
fn for_each_window(c: &Case, mut f: impl FnMut(usize, usize, &[usize])) {
    let [n, ch, h, w] = c.x;
    let [_, _, ho, wo] = out_shape(c);
    for pl in 0..n * ch {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut pos = vec![];
                for ki in 0..c.k[0] {
                    for kj in 0..c.k[1] {
                        let iy = (oy * c.s[0] + ki) as isize - c.p[0] as isize;
                        let ix = (ox * c.s[1] + kj) as isize - c.p[1] as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            pos.push(iy as usize * w + ix as usize);
                        }
                    }
                }
                f(pl, oy * wo + ox, &pos);
            }
        }
    }
}

/// PyTorch's scan: start at -inf on the first in-bounds element, then take each strictly larger
/// value or NaN in row-major order (first maximum wins ties; the last NaN wins).
fn naive_max(c: &Case, x: &[f64]) -> (Vec<f64>, Vec<i64>) {
    let hw = c.x[2] * c.x[3];
    let (mut vals, mut idx) = (vec![], vec![]);
    for_each_window(c, |pl, _, pos| {
        let (mut best, mut at) = (f64::NEG_INFINITY, pos[0]);
        for &i in pos {
            let e = x[pl * hw + i];
            if e > best || e.is_nan() {
                (best, at) = (e, i);
            }
        }
        vals.push(best);
        idx.push(at as i64);
    });
    (vals, idx)
}

/// Values equal as f64 bit patterns (so NaN == NaN).
#[track_caller]
fn assert_same(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(a == b || (a.is_nan() && b.is_nan()), "element {i}: got {a}, want {b}");
    }
}

fn divisor(c: &Case, pos: &[usize], include_pad: bool) -> f64 {
    if include_pad {
        (c.k[0] * c.k[1]) as f64
    } else {
        pos.len() as f64
    }
}

fn naive_avg(c: &Case, x: &[f64], include_pad: bool) -> Vec<f64> {
    let hw = c.x[2] * c.x[3];
    let mut out = vec![];
    for_each_window(c, |pl, _, pos| {
        out.push(pos.iter().map(|&i| x[pl * hw + i]).sum::<f64>() / divisor(c, pos, include_pad));
    });
    out
}

fn naive_avg_backward(c: &Case, g: &[f64], include_pad: bool) -> Vec<f64> {
    let [_, _, ho, wo] = out_shape(c);
    let (hw, l) = (c.x[2] * c.x[3], ho * wo);
    let mut dx = vec![0.0; c.x.iter().product()];
    for_each_window(c, |pl, o, pos| {
        for &i in pos {
            dx[pl * hw + i] += g[pl * l + o] / divisor(c, pos, include_pad);
        }
    });
    dx
}

fn cases() -> Vec<Case> {
    vec![
        Case { x: [2, 3, 5, 6], k: [2, 2], s: [2, 2], p: [0, 0] },
        Case { x: [1, 2, 7, 7], k: [3, 3], s: [2, 2], p: [1, 1] },
        Case { x: [2, 1, 6, 5], k: [3, 2], s: [1, 2], p: [1, 1] },
        Case { x: [1, 2, 4, 4], k: [1, 1], s: [1, 1], p: [0, 0] },
        Case { x: [2, 2, 5, 7], k: [2, 3], s: [3, 1], p: [1, 0] },
        Case { x: [1, 1, 3, 3], k: [3, 3], s: [1, 1], p: [1, 1] },
        Case { x: [4, 8, 32, 32], k: [3, 3], s: [1, 1], p: [1, 1] },
    ]
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, DType::F64, &mut Rng::seed(seed))
}

/// A non-contiguous tensor of `shape` (the transpose of a `[.., W, H]` tensor).
fn randn_strided(shape: &[usize; 4], seed: u64) -> Tensor {
    randn(&[shape[0], shape[1], shape[3], shape[2]], seed).transpose(2, 3)
}

fn v(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>()
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "element {i}: got {a}, want {b}");
    }
}

#[test]
fn max_pool2d_values_and_indices() {
    for (i, c) in cases().into_iter().enumerate() {
        let x = randn_strided(&c.x, i as u64);
        let (want_v, want_i) = naive_max(&c, &v(&x));
        let (vals, idx) = x.max_pool2d(c.k, c.s, c.p);
        assert_eq!((vals.shape(), idx.shape()), (&out_shape(&c)[..], &out_shape(&c)[..]), "case {i}");
        assert_eq!(idx.dtype(), DType::I64);
        assert_eq!(v(&vals), want_v, "case {i}");
        assert_eq!(idx.to_vec::<i64>(), want_i, "case {i}");
        let (v32, i32_) = x.to_dtype(DType::F32).max_pool2d(c.k, c.s, c.p);
        assert_eq!(v32.dtype(), DType::F32);
        assert_close(&v(&v32), &want_v, 1e-6);
        assert_eq!(i32_.to_vec::<i64>(), want_i);
    }
}

#[test]
fn max_pool2d_ties_take_the_first_maximum() {
    let mut rng = Rng::seed(3);
    for c in cases() {
        let x = Tensor::randint(&c.x, 0, 3, &mut rng).to_dtype(DType::F64);
        let (want_v, want_i) = naive_max(&c, &v(&x));
        let (vals, idx) = x.max_pool2d(c.k, c.s, c.p);
        assert_eq!((v(&vals), idx.to_vec::<i64>()), (want_v, want_i));
    }
}

#[test]
fn max_pool2d_nan_and_infinities() {
    let nan = f64::NAN;
    let ninf = f64::NEG_INFINITY;
    let x = Tensor::from_vec(vec![1.0, nan, 3.0, nan, ninf, ninf, ninf, ninf], &[1, 2, 2, 2]);
    let (vals, idx) = x.max_pool2d([2, 2], [2, 2], [0, 0]);
    let vals = v(&vals);
    assert!(vals[0].is_nan(), "NaN propagates");
    assert_eq!(vals[1], ninf);
    // The last NaN wins (as PyTorch); an all -inf window points at its first element.
    assert_eq!(idx.to_vec::<i64>(), vec![3, 0]);
    // Padding never wins: a window hanging over the edge picks an in-bounds element.
    let x = Tensor::from_vec(vec![-5.0, -6.0, -7.0, -8.0], &[1, 1, 2, 2]);
    let (vals, idx) = x.max_pool2d([2, 2], [1, 1], [1, 1]);
    assert_eq!(v(&vals), vec![-5.0, -5.0, -6.0, -5.0, -5.0, -6.0, -7.0, -7.0, -8.0]);
    assert_eq!(idx.to_vec::<i64>(), vec![0, 0, 1, 0, 0, 1, 2, 2, 3]);
}

#[test]
fn max_pool2d_random_nans_and_infinities() {
    let mut rng = Rng::seed(9);
    for (i, c) in cases().into_iter().enumerate() {
        // Small integers (many ties) with NaN and -inf sprinkled in.
        let codes = Tensor::randint(&c.x, 0, 8, &mut rng).to_vec::<i64>();
        let data: Vec<f64> = codes
            .iter()
            .map(|&k| match k {
                0 => f64::NAN,
                1 => f64::NEG_INFINITY,
                k => (k % 3) as f64,
            })
            .collect();
        let x = Tensor::from_vec(data.clone(), &c.x);
        let (want_v, want_i) = naive_max(&c, &data);
        let (vals, idx) = x.max_pool2d(c.k, c.s, c.p);
        assert_same(&v(&vals), &want_v);
        assert_eq!(idx.to_vec::<i64>(), want_i, "case {i}");
        let (v32, i32_) = x.to_dtype(DType::F32).max_pool2d(c.k, c.s, c.p);
        assert_same(&v(&v32), &want_v);
        assert_eq!(i32_.to_vec::<i64>(), want_i, "case {i} f32");
    }
}

#[test]
fn max_pool2d_backward_scatters_to_argmax() {
    for (i, c) in cases().into_iter().enumerate() {
        let x = randn(&c.x, i as u64);
        let (_, idx) = x.max_pool2d(c.k, c.s, c.p);
        let g = randn_strided(&out_shape(&c), 50 + i as u64);
        let (gs, is) = (v(&g), idx.to_vec::<i64>());
        let [_, _, ho, wo] = out_shape(&c);
        let (hw, l) = (c.x[2] * c.x[3], ho * wo);
        let mut want = vec![0.0; c.x.iter().product()];
        for (o, (&gv, &iv)) in gs.iter().zip(&is).enumerate() {
            want[(o / l) * hw + iv as usize] += gv;
        }
        let dx = Tensor::max_pool2d_backward(&g, &idx, &c.x);
        assert_eq!(dx.shape(), &c.x);
        assert_close(&v(&dx), &want, 1e-12);
        let dx32 = Tensor::max_pool2d_backward(&g.to_dtype(DType::F32), &idx, &c.x);
        assert_close(&v(&dx32), &want, 1e-5);
    }
}

#[test]
fn avg_pool2d_matches_naive() {
    for (i, c) in cases().into_iter().enumerate() {
        let x = randn_strided(&c.x, i as u64);
        for include_pad in [true, false] {
            let want = naive_avg(&c, &v(&x), include_pad);
            let y = x.avg_pool2d(c.k, c.s, c.p, include_pad);
            assert_eq!(y.shape(), &out_shape(&c));
            assert_close(&v(&y), &want, 1e-12);
            let y32 = x.to_dtype(DType::F32).avg_pool2d(c.k, c.s, c.p, include_pad);
            assert_close(&v(&y32), &want, 1e-5);
        }
    }
}

#[test]
fn avg_pool2d_backward_matches_naive_and_adjoint() {
    for (i, c) in cases().into_iter().enumerate() {
        let x = randn(&c.x, i as u64);
        let g = randn_strided(&out_shape(&c), 70 + i as u64);
        for include_pad in [true, false] {
            let dx = Tensor::avg_pool2d_backward(&g, &c.x, c.k, c.s, c.p, include_pad);
            assert_eq!(dx.shape(), &c.x);
            assert_close(&v(&dx), &naive_avg_backward(&c, &v(&g), include_pad), 1e-12);
            let lhs: f64 = v(&x.avg_pool2d(c.k, c.s, c.p, include_pad)).iter().zip(v(&g)).map(|(a, b)| a * b).sum();
            let rhs: f64 = v(&x).iter().zip(v(&dx)).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9 * (1.0 + lhs.abs()));
            let dx32 = Tensor::avg_pool2d_backward(&g.to_dtype(DType::F32), &c.x, c.k, c.s, c.p, include_pad);
            assert_close(&v(&dx32), &v(&dx), 1e-5);
        }
    }
}

// ---------------------------------------------------------------- errors

#[track_caller]
fn err<T>(r: Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn z(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F64)
}

#[test]
fn pool_error_dtype_and_rank() {
    let xi = Tensor::zeros(&[1, 1, 4, 4], DType::I64);
    assert_eq!(
        err(xi.try_max_pool2d([2, 2], [2, 2], [0, 0])),
        "max_pool2d: dtype i64 is not supported (expected f32 or f64)"
    );
    assert_eq!(
        err(xi.try_avg_pool2d([2, 2], [2, 2], [0, 0], true)),
        "avg_pool2d: dtype i64 is not supported (expected f32 or f64)"
    );
    assert_eq!(
        err(z(&[2, 3]).try_max_pool2d([2, 2], [2, 2], [0, 0])),
        "max_pool2d: input must be 4-D [N, C, H, W], got shape [2, 3]"
    );
}

#[test]
fn pool_error_params() {
    let x = z(&[1, 1, 4, 4]);
    assert_eq!(err(x.try_max_pool2d([0, 2], [1, 1], [0, 0])), "max_pool2d: kernel size must be positive, got [0, 2]");
    assert_eq!(err(x.try_avg_pool2d([2, 2], [1, 0], [0, 0], true)), "avg_pool2d: stride must be positive, got [1, 0]");
    assert_eq!(
        err(x.try_max_pool2d([3, 3], [1, 1], [2, 0])),
        "max_pool2d: padding [2, 0] must be at most half the kernel size [3, 3]"
    );
    assert_eq!(
        err(x.try_avg_pool2d([5, 2], [1, 1], [0, 0], false)),
        "avg_pool2d: kernel size [5, 2] exceeds the padded input size [4, 4] (input shape [1, 1, 4, 4], padding [0, 0])"
    );
}

#[test]
fn max_pool2d_backward_errors() {
    let (g, idx) = (z(&[1, 1, 2, 2]), Tensor::zeros(&[1, 1, 2, 2], DType::I64));
    assert_eq!(
        err(Tensor::try_max_pool2d_backward(&g, &z(&[1, 1, 2, 2]), &[1, 1, 4, 4])),
        "max_pool2d_backward: dtype mismatch: expected i64, got f64"
    );
    assert_eq!(
        err(Tensor::try_max_pool2d_backward(&g, &Tensor::zeros(&[1, 1, 2, 3], DType::I64), &[1, 1, 4, 4])),
        "max_pool2d_backward: shapes [1, 1, 2, 2] and [1, 1, 2, 3] differ"
    );
    assert_eq!(
        err(Tensor::try_max_pool2d_backward(
            &z(&[1, 2, 2, 2]),
            &Tensor::zeros(&[1, 2, 2, 2], DType::I64),
            &[1, 1, 4, 4]
        )),
        "max_pool2d_backward: grad_out shape [1, 2, 2, 2] must be [N, C, H_out, W_out] with N and C of input shape \
         [1, 1, 4, 4]"
    );
    let bad = Tensor::from_vec(vec![0i64, 3, 16, 1], &[1, 1, 2, 2]);
    assert_eq!(
        err(Tensor::try_max_pool2d_backward(&g, &bad, &[1, 1, 4, 4])),
        "max_pool2d_backward: index 16 is out of bounds for an input plane of 4 x 4 = 16 elements"
    );
    assert_eq!(
        err(Tensor::try_max_pool2d_backward(&g, &idx, &[4, 4])),
        "max_pool2d_backward: input shape must be 4-D [N, C, H, W], got [4, 4]"
    );
}

#[test]
fn avg_pool2d_backward_errors() {
    assert_eq!(
        err(Tensor::try_avg_pool2d_backward(&z(&[1, 1, 3, 3]), &[1, 1, 4, 4], [2, 2], [2, 2], [0, 0], true)),
        "avg_pool2d_backward: grad_out shape [1, 1, 3, 3] does not match the output shape [1, 1, 2, 2] of pooling \
         input shape [1, 1, 4, 4]"
    );
    assert_eq!(
        err(Tensor::try_avg_pool2d_backward(&z(&[1, 1, 3, 3]), &[4, 4], [2, 2], [2, 2], [0, 0], true)),
        "avg_pool2d_backward: input shape must be 4-D [N, C, H, W], got [4, 4]"
    );
}

#[test]
#[should_panic(expected = "max_pool2d: padding [2, 2] must be at most half the kernel size [2, 2]")]
fn max_pool2d_panicking_form() {
    z(&[1, 1, 4, 4]).max_pool2d([2, 2], [1, 1], [2, 2]);
}
