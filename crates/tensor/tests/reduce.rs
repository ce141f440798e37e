//! Reductions against naive loops over every axis subset, with and without keepdim, on
//! contiguous, transposed and strided inputs.

mod common;
use common::*;
use tensor::{DType, Tensor};

/// Naive reduction: folds `f` over the reduced positions for every kept position.
fn naive_reduce(x: &Nd, axes: &[usize], keepdim: bool, f: impl Fn(&[f64]) -> f64) -> Nd {
    let out_full: Vec<usize> =
        x.shape.iter().enumerate().map(|(d, &s)| if axes.contains(&d) { 1 } else { s }).collect();
    let red: Vec<usize> = axes.iter().map(|&d| x.shape[d]).collect();
    let full = Nd::new(&out_full, |o| {
        let vals: Vec<f64> = indices(&red)
            .iter()
            .map(|r| {
                let mut idx = o.to_vec();
                for (k, &d) in axes.iter().enumerate() {
                    idx[d] = r[k];
                }
                x.get(&idx)
            })
            .collect();
        f(&vals)
    });
    if keepdim {
        full
    } else {
        let shape: Vec<usize> =
            x.shape.iter().enumerate().filter(|(d, _)| !axes.contains(d)).map(|(_, &s)| s).collect();
        Nd { data: full.data, shape }
    }
}

fn axis_sets(rank: usize) -> Vec<Vec<usize>> {
    (1..(1usize << rank)).map(|mask| (0..rank).filter(|d| mask & (1 << d) != 0).collect()).collect()
}

type Reduction = (&'static str, fn(&Tensor, &[isize], bool) -> Tensor, fn(&[f64]) -> f64);

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64], correction: usize) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - correction) as f64
}

fn table() -> Vec<Reduction> {
    vec![
        ("sum", |t, a, k| t.sum(a, k), |v| v.iter().sum()),
        ("mean", |t, a, k| t.mean(a, k), mean),
        ("prod", |t, a, k| t.prod(a, k), |v| v.iter().product()),
        ("max", |t, a, k| t.max(a, k), |v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        ("min", |t, a, k| t.min(a, k), |v| v.iter().copied().fold(f64::INFINITY, f64::min)),
        ("var0", |t, a, k| t.var(a, 0, k), |v| var(v, 0)),
        ("var1", |t, a, k| t.var(a, 1, k), |v| var(v, 1)),
        ("std1", |t, a, k| t.std(a, 1, k), |v| var(v, 1).sqrt()),
        ("logsumexp", |t, a, k| t.logsumexp(a, k), |v| v.iter().map(|x| x.exp()).sum::<f64>().ln()),
        ("norm1", |t, a, k| t.norm(1.0, a, k), |v| v.iter().map(|x| x.abs()).sum()),
        ("norm2", |t, a, k| t.norm(2.0, a, k), |v| v.iter().map(|x| x * x).sum::<f64>().sqrt()),
        ("norm3", |t, a, k| t.norm(3.0, a, k), |v| v.iter().map(|x| x.abs().powi(3)).sum::<f64>().cbrt()),
        ("norm_inf", |t, a, k| t.norm(f64::INFINITY, a, k), |v| v.iter().map(|x| x.abs()).fold(0.0, f64::max)),
    ]
}

#[test]
fn reductions_over_every_axis_set_and_layout() {
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
        for (layout, x) in layouts(&[3, 4, 5], dtype, 21) {
            let rx = Nd::of(&x);
            for axes in axis_sets(3) {
                let ia: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                for keepdim in [false, true] {
                    for (name, op, f) in table() {
                        let want = naive_reduce(&rx, &axes, keepdim, f);
                        let what = format!("{name} {dtype} {layout} axes={axes:?} keepdim={keepdim}");
                        assert_tensor(&op(&x, &ia, keepdim), &want, tol, &what);
                    }
                }
            }
        }
    }
}

#[test]
fn negative_axes_and_empty_axis_list() {
    let x = rand(&[2, 3, 4], DType::F64, 3);
    assert_eq!(x.sum(&[-1], false).to_vec::<f64>(), x.sum(&[2], false).to_vec::<f64>());
    let all = x.sum(&[], false);
    assert_eq!(all.shape(), &[] as &[usize]);
    assert!((all.item() - x.to_vec::<f64>().iter().sum::<f64>()).abs() < 1e-12);
    assert_eq!(x.sum(&[], true).shape(), &[1, 1, 1]);
}

#[test]
fn long_sums_are_accurate_and_parallel() {
    // 1M f32 ones plus a tiny residue: naive sequential f32 summation would stall at 2^24.
    let n = 1 << 20;
    let x = Tensor::full(&[n], 1.0, DType::F32);
    assert_eq!(x.sum_all().to_scalar::<f32>(), n as f32);
    let y = rand(&[1000, 1000], DType::F32, 9);
    let want: f64 = y.to_vec::<f32>().iter().map(|&v| v as f64).sum();
    assert!((y.sum_all().to_scalar::<f32>() as f64 - want).abs() < 1e-2);
    // Column sums (reduced axis not innermost) on the parallel path.
    let cols = y.sum(&[0], false).to_vec::<f32>();
    let ry = Nd::of(&y);
    for j in [0, 499, 999] {
        let w: f64 = (0..1000).map(|i| ry.get(&[i, j])).sum();
        assert!((cols[j] as f64 - w).abs() < 1e-3, "column {j}");
    }
}

#[test]
fn integer_and_bool_reductions() {
    let m = Tensor::from_vec(vec![true, false, true, true], &[2, 2]);
    let s = m.sum(&[1], false);
    assert_eq!(s.dtype(), DType::I64);
    assert_eq!(s.to_vec::<i64>(), vec![1, 2]);
    let i = Tensor::from_vec(vec![3i64, -1, 7, 2], &[4]);
    assert_eq!(i.max(&[], false).to_scalar::<i64>(), 7);
    assert_eq!(i.min(&[], false).to_scalar::<i64>(), -1);
    assert_eq!(i.cumsum(0).to_vec::<i64>(), vec![3, 2, 9, 11]);
}

#[test]
fn max_and_min_propagate_nan() {
    let x = Tensor::from_vec(vec![1.0f64, f64::NAN, 3.0], &[3]);
    assert!(x.max(&[], false).item().is_nan());
    assert!(x.min(&[], false).item().is_nan());
    assert_eq!(x.argmax(0, false).to_scalar::<i64>(), 1);
}

#[test]
fn argmax_argmin_take_the_first_extreme() {
    for (layout, x) in layouts(&[4, 6], DType::F64, 5) {
        let rx = Nd::of(&x);
        for axis in 0..2 {
            for (name, t, better) in [
                ("argmax", x.argmax(axis as isize, false), (|a, b| a > b) as fn(f64, f64) -> bool),
                ("argmin", x.argmin(axis as isize, false), |a, b| a < b),
            ] {
                let want = naive_reduce(&rx, &[axis], false, |_| 0.0);
                let got = t.to_vec::<i64>();
                assert_eq!(t.shape(), want.shape.as_slice());
                for (o, idx) in indices(&want.shape).iter().enumerate() {
                    let mut best = 0usize;
                    let mut full = idx.clone();
                    full.insert(axis, 0);
                    for k in 0..x.shape()[axis] {
                        full[axis] = k;
                        let v = rx.get(&full);
                        full[axis] = best;
                        if better(v, rx.get(&full)) {
                            best = k;
                        }
                    }
                    assert_eq!(got[o] as usize, best, "{name} {layout} axis {axis} at {idx:?}");
                }
            }
        }
    }
    let ties = Tensor::from_vec(vec![2.0f32, 5.0, 5.0, 1.0], &[4]);
    assert_eq!(ties.argmax(0, true).shape(), &[1]);
    assert_eq!(ties.argmax(0, false).to_scalar::<i64>(), 1);
}

#[test]
fn softmax_and_log_softmax_along_each_axis() {
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-6 };
        for (layout, x) in layouts(&[3, 4, 5], dtype, 8) {
            let rx = Nd::of(&x);
            for axis in 0..3 {
                let lse = naive_reduce(&rx, &[axis], true, |v| v.iter().map(|x| x.exp()).sum::<f64>().ln());
                let want_log = Nd::new(x.shape(), |i| {
                    let mut j = i.to_vec();
                    j[axis] = 0;
                    rx.get(i) - lse.get(&j)
                });
                let want = Nd { data: want_log.data.iter().map(|v| v.exp()).collect(), shape: want_log.shape.clone() };
                let what = format!("{dtype} {layout} axis {axis}");
                assert_tensor(&x.log_softmax(axis as isize), &want_log, tol, &format!("log_softmax {what}"));
                assert_tensor(&x.softmax(axis as isize), &want, tol, &format!("softmax {what}"));
            }
        }
    }
    let big = Tensor::from_vec(vec![1000.0f32, 1000.0, -1000.0], &[3]);
    assert_eq!(big.softmax(0).to_vec::<f32>(), vec![0.5, 0.5, 0.0]);
    assert!((big.logsumexp(&[0], false).to_scalar::<f32>() - (1000.0 + 2f32.ln())).abs() < 1e-3);
}

#[test]
fn softmax_of_long_rows_takes_the_lane_kernels() {
    // Rows of 32 elements and more fold their maximum and sum in 16 lanes (odd lengths leave a
    // remainder); each is checked against the f64 formula, with a NaN and -inf rows too.
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-6 };
        for cols in [32usize, 37, 100, 1000] {
            let x = rand(&[3, cols], dtype, cols as u64);
            let rx = Nd::of(&x);
            let lse: Vec<f64> = (0..3).map(|r| (0..cols).map(|c| rx.get(&[r, c]).exp()).sum::<f64>().ln()).collect();
            let want_log = Nd::new(&[3, cols], |i| rx.get(i) - lse[i[0]]);
            let want = Nd { data: want_log.data.iter().map(|v| v.exp()).collect(), shape: want_log.shape.clone() };
            assert_tensor(&x.log_softmax(-1), &want_log, tol, &format!("log_softmax {dtype} {cols}"));
            assert_tensor(&x.softmax(-1), &want, tol, &format!("softmax {dtype} {cols}"));
        }
    }
    let mut row = vec![0.5f32; 40];
    row[33] = f32::NAN;
    assert!(Tensor::from_vec(row, &[40]).softmax(0).to_vec::<f32>().iter().all(|v| v.is_nan()), "NaN propagates");
    let mut row = vec![f32::NEG_INFINITY; 40];
    row[35] = 2.0;
    let y = Tensor::from_vec(row, &[40]).softmax(0).to_vec::<f32>();
    assert_eq!((y[35], y.iter().sum::<f32>()), (1.0, 1.0), "-inf entries get exactly 0");
}

#[test]
fn softmax_cross_entropy_and_its_backward_against_the_formula() {
    // loss = mean_n(logsumexp(x[n]) - x[n, t_n]); backward = (softmax(x) - one_hot(t)) g / N.
    let target = Tensor::from_vec(vec![4i64, 0, 2], &[3]);
    let t = [4usize, 0, 2];
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-6 };
        for cols in [5usize, 40] {
            for (layout, x) in layouts(&[3, cols], dtype, cols as u64) {
                let rx = Nd::of(&x);
                let lse: Vec<f64> =
                    (0..3).map(|r| (0..cols).map(|c| rx.get(&[r, c]).exp()).sum::<f64>().ln()).collect();
                let loss = (0..3).map(|r| lse[r] - rx.get(&[r, t[r]])).sum::<f64>() / 3.0;
                let what = format!("{dtype} {layout} {cols}");
                assert_tensor(&x.softmax_cross_entropy(&target), &Nd::new(&[], |_| loss), tol, &what);
                let g = Tensor::full(&[], 0.7, dtype);
                let want = Nd::new(&[3, cols], |i| {
                    let onehot = if t[i[0]] == i[1] { 1.0 } else { 0.0 };
                    ((rx.get(i) - lse[i[0]]).exp() - onehot) * 0.7 / 3.0
                });
                assert_tensor(&x.softmax_cross_entropy_backward(&target, &g), &want, tol, &format!("backward {what}"));
            }
        }
    }
    let none = Tensor::zeros(&[0, 4], DType::F32).softmax_cross_entropy(&Tensor::zeros(&[0], DType::I64));
    assert!(none.to_scalar::<f32>().is_nan(), "the mean of no rows is NaN, as in torch");
}

#[test]
fn cumsum_along_each_axis() {
    for (layout, x) in layouts(&[3, 4, 2], DType::F64, 4) {
        let rx = Nd::of(&x);
        for axis in 0..3 {
            let want = Nd::new(x.shape(), |i| {
                (0..=i[axis])
                    .map(|k| {
                        let mut j = i.to_vec();
                        j[axis] = k;
                        rx.get(&j)
                    })
                    .sum()
            });
            assert_tensor(&x.cumsum(axis as isize), &want, 1e-12, &format!("cumsum {layout} axis {axis}"));
        }
    }
}

#[test]
fn sum_to_undoes_broadcasting() {
    let g = rand(&[2, 3, 4], DType::F64, 1);
    let rg = Nd::of(&g);
    let s = g.sum_to(&[3, 1]);
    assert_tensor(&s, &naive_reduce(&rg, &[0, 2], false, |v| v.iter().sum()).reshaped(&[3, 1]), 1e-12, "sum_to");
    assert_eq!(g.sum_to(&[2, 3, 4]).to_vec::<f64>(), g.to_vec::<f64>());
    assert_eq!(g.sum_to(&[]).shape(), &[] as &[usize]);
}

#[test]
fn empty_reductions() {
    let e = Tensor::zeros(&[0, 3], DType::F32);
    assert_eq!(e.sum(&[0], false).to_vec::<f32>(), vec![0.0; 3]);
    assert!(e.mean(&[0], false).to_vec::<f32>()[0].is_nan());
    assert_eq!(e.prod(&[0], false).to_vec::<f32>(), vec![1.0; 3]);
    assert_eq!(e.max(&[1], false).shape(), &[0]);
}

#[test]
fn argmax_and_argmin_along_every_axis_of_rank_3() {
    // Found by the fuzzer: along axis 0 of a [2, 2, 2] tensor the indices came out with the
    // kept axes swapped (the reduced axis was transposed to the end instead of moved).
    for (layout, x) in layouts(&[2, 3, 4], DType::F64, 11) {
        let rx = Nd::of(&x);
        for axis in 0..3 {
            let pick = |max: bool| {
                let mut kept = x.shape().to_vec();
                kept[axis] = 1;
                Nd::new(&kept, |i| {
                    let mut j = i.to_vec();
                    let mut best = 0;
                    for k in 0..x.shape()[axis] {
                        j[axis] = k;
                        let v = rx.get(&j);
                        j[axis] = best;
                        if (max && v > rx.get(&j)) || (!max && v < rx.get(&j)) {
                            best = k;
                        }
                    }
                    best as f64
                })
            };
            let what = format!("{layout} axis {axis}");
            assert_tensor(&x.argmax(axis as isize, true).to_dtype(DType::F64), &pick(true), 0.0, &what);
            assert_tensor(&x.argmin(axis as isize, true).to_dtype(DType::F64), &pick(false), 0.0, &what);
        }
    }
}

#[test]
fn norms_neither_overflow_nor_underflow_in_f32() {
    // Found by the fuzzer: |x|^p overflowed f32 for large x (torch accumulates in double on the
    // CPU); the norm is now scaled by the largest |x|.
    let big = Tensor::from_vec(vec![3e20f32, -4e20], &[2]);
    assert_eq!(big.norm(2.0, &[], false).to_scalar::<f32>(), 5e20);
    let tiny = Tensor::from_vec(vec![3e-30f32, 4e-30], &[2]);
    assert!((tiny.norm(2.0, &[], false).to_scalar::<f32>() / 5e-30 - 1.0).abs() < 1e-6);
    let cubes = Tensor::from_vec(vec![1e13f32, 1e13], &[1, 2]);
    let n3 = cubes.norm(3.0, &[1], true).to_vec::<f32>()[0];
    assert!((n3 / (1e13 * 2f32.powf(1.0 / 3.0)) - 1.0).abs() < 1e-6, "{n3}");
    let with_inf = Tensor::from_vec(vec![1.0f32, f32::INFINITY], &[2]);
    assert_eq!(with_inf.norm(2.0, &[], false).to_scalar::<f32>(), f32::INFINITY);
    assert_eq!(Tensor::zeros(&[3], DType::F32).norm(3.0, &[], false).to_scalar::<f32>(), 0.0);
}

/// A prepared reduction gives its method's result bit for bit, on leading, trailing and all
/// axes, with and without keepdim; it declines an input or output that is not the planned one,
/// and is not made for what it does not take.
#[test]
fn a_prepared_reduction_equals_its_method() {
    use tensor::ops::reduce::{ReduceKernel, Reduction as Kind};
    let bits = |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let mut rng = tensor::Rng::seed(31);
    let cases: [(&[usize], &[isize]); 7] = [
        (&[4], &[]),
        (&[32, 16], &[0]),
        (&[32, 16], &[1]),
        (&[32, 1], &[0]),
        (&[3, 5, 7], &[0, 1]),
        (&[3, 5, 7], &[-1]),
        (&[6, 5], &[]),
    ];
    for dtype in [DType::F32, DType::F64] {
        for (shape, axes) in cases {
            // Values whose sums and products round, so the order of the operations shows.
            let x = (Tensor::randn(shape, DType::F64, &mut rng) * 3.0).to_dtype(dtype);
            for keepdim in [false, true] {
                for kind in [Kind::Sum, Kind::Mean, Kind::Prod, Kind::Max, Kind::Min] {
                    let want = match kind {
                        Kind::Sum => x.sum(axes, keepdim),
                        Kind::Mean => x.mean(axes, keepdim),
                        Kind::Prod => x.prod(axes, keepdim),
                        Kind::Max => x.max(axes, keepdim),
                        Kind::Min => x.min(axes, keepdim),
                    };
                    let kernel = ReduceKernel::new(kind, dtype, shape, axes, keepdim).expect("the kernel takes it");
                    let mut out = Tensor::full(want.shape(), 7.0, dtype);
                    assert!(kernel.run(&x, &mut out), "{kind:?} {shape:?} {axes:?}");
                    assert_eq!(bits(&out), bits(&want), "{kind:?} {dtype:?} {shape:?} {axes:?} keepdim {keepdim}");
                }
            }
        }
    }

    let kernel = ReduceKernel::new(Kind::Sum, DType::F32, &[4, 3], &[0], false).unwrap();
    let (x, mut out) = (Tensor::ones(&[4, 3], DType::F32), Tensor::zeros(&[3], DType::F32));
    for (input, what) in [
        (Tensor::ones(&[3, 4], DType::F32).t(), "strided"),
        (Tensor::ones(&[12], DType::F32), "another shape"),
        (Tensor::ones(&[4, 3], DType::F64), "another dtype"),
    ] {
        assert!(!kernel.run(&input, &mut out), "{what}");
        assert_eq!(out.to_vec::<f32>(), vec![0.0; 3], "{what}");
    }
    let holder = out.clone();
    assert!(!kernel.run(&x, &mut out), "shared output");
    drop(holder);
    assert!(!kernel.run(&x, &mut Tensor::zeros(&[1, 3], DType::F32)), "misshaped output");
    assert!(kernel.run(&x, &mut out));
    assert_eq!(out.to_vec::<f32>(), vec![4.0; 3]);

    // Not made: integers, bad axes, a middle axis, an empty input, one large enough to split.
    assert!(ReduceKernel::new(Kind::Sum, DType::I64, &[4, 3], &[0], false).is_none());
    assert!(ReduceKernel::new(Kind::Sum, DType::F32, &[4, 3], &[2], false).is_none());
    assert!(ReduceKernel::new(Kind::Sum, DType::F32, &[4, 3], &[0, 0], false).is_none());
    assert!(ReduceKernel::new(Kind::Sum, DType::F32, &[4, 3, 2], &[1], false).is_none());
    assert!(ReduceKernel::new(Kind::Max, DType::F32, &[0, 3], &[0], false).is_none());
    assert!(ReduceKernel::new(Kind::Sum, DType::F32, &[1 << 20], &[0], false).is_none());
}
