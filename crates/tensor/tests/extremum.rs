//! `extremum_backward` (the gradient of max/min over axes) against a naive reference: ties,
//! NaN, several axes, keepdim, strided and offset inputs, and its errors.

use tensor::{DType, Rng, Tensor};

/// The composite rule the kernel replaces, element by element, in f64.
fn naive(x: &Tensor, y: &Tensor, g: &Tensor, axes: &[usize]) -> Vec<f64> {
    let shape = x.shape().to_vec();
    let xs = x.to_dtype(DType::F64).contiguous().to_vec::<f64>();
    let (ys, gs) = (y.to_dtype(DType::F64).to_vec::<f64>(), g.to_dtype(DType::F64).to_vec::<f64>());
    let kept: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
    let group_of = |flat: usize| {
        let mut rest = flat;
        let mut index = vec![0; shape.len()];
        for d in (0..shape.len()).rev() {
            index[d] = rest % shape[d];
            rest /= shape[d];
        }
        kept.iter().fold(0, |acc, &d| acc * shape[d] + index[d])
    };
    let mut ties = vec![0.0; ys.len()];
    for (i, &v) in xs.iter().enumerate() {
        if v == ys[group_of(i)] {
            ties[group_of(i)] += 1.0;
        }
    }
    xs.iter()
        .enumerate()
        .map(|(i, &v)| {
            let b = group_of(i);
            gs[b] * (if v == ys[b] { 1.0 } else { 0.0 } / ties[b])
        })
        .collect()
}

#[test]
fn matches_the_composite_rule_with_ties_nan_and_strides() {
    let mut rng = Rng::seed(4);
    for dtype in [DType::F32, DType::F64] {
        // Rounded values: plenty of ties.
        let base = Tensor::randn(&[5, 7, 3], DType::F64, &mut rng).try_mul_scalar(2.0).unwrap().round().to_dtype(dtype);
        let strided = base.try_permute(&[2, 0, 1]).unwrap(); // [3, 5, 7], not contiguous
        let offset = base.try_narrow(1, 1, 5).unwrap(); // [5, 5, 3], offset and strided
                                                        // Large enough (36k elements) for the kernel's parallel path.
        let big =
            Tensor::randn(&[80, 3, 150], DType::F64, &mut rng).try_mul_scalar(2.0).unwrap().round().to_dtype(dtype);
        for x in [base.clone(), strided, offset, big] {
            for axes in [vec![0usize], vec![2], vec![0, 2], vec![1, 2], vec![0, 1, 2]] {
                for keepdim in [false, true] {
                    let signed: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                    let axes_arg = if axes.len() == x.rank() { vec![] } else { signed.clone() };
                    for max in [true, false] {
                        let y = if max { x.max(&axes_arg, keepdim) } else { x.min(&axes_arg, keepdim) };
                        let g = Tensor::randn(y.shape(), DType::F64, &mut rng).to_dtype(dtype);
                        let got = x.extremum_backward(&y, &g, &axes_arg, keepdim);
                        assert_eq!(got.shape(), x.shape());
                        let want = naive(&x, &y, &g, &axes);
                        let got = got.to_dtype(DType::F64).to_vec::<f64>();
                        for (a, b) in got.iter().zip(&want) {
                            assert!(
                                a == b || (a - b).abs() <= 1e-6 * b.abs(),
                                "{dtype:?} {axes:?} {keepdim}: {got:?} vs {want:?}"
                            );
                        }
                    }
                }
            }
        }
    }
    // A NaN extremum matches nothing: 0/0 shares, NaN gradients for its group, as the composite.
    let x = Tensor::from_vec(vec![1.0f32, f32::NAN, 2.0, 4.0], &[2, 2]);
    let y = x.max(&[1], false);
    let got = x.extremum_backward(&y, &Tensor::ones(&[2], DType::F32), &[1], false).to_vec::<f32>();
    assert!(got[0].is_nan() && got[1].is_nan());
    assert_eq!(&got[2..], &[0.0, 1.0]);
}

#[test]
fn refuses_mismatched_operands() {
    let x = Tensor::zeros(&[2, 3], DType::F32);
    let e = x.try_extremum_backward(&Tensor::zeros(&[3], DType::F32), &Tensor::zeros(&[2], DType::F32), &[1], false);
    assert_eq!(e.unwrap_err().to_string(), "extremum_backward: shapes [2] and [3] differ");
    let e = x.try_extremum_backward(&Tensor::zeros(&[2], DType::F64), &Tensor::zeros(&[2], DType::F32), &[1], false);
    assert_eq!(e.unwrap_err().to_string(), "extremum_backward: dtype mismatch: expected f32, got f64");
    let ints = Tensor::zeros(&[2, 3], DType::I64);
    let e = ints.try_extremum_backward(&Tensor::zeros(&[2], DType::I64), &Tensor::zeros(&[2], DType::I64), &[1], false);
    assert_eq!(e.unwrap_err().to_string(), "extremum_backward: dtype i64 is not supported (expected f32 or f64)");
    let e = x.try_extremum_backward(&Tensor::zeros(&[2], DType::F32), &Tensor::zeros(&[2], DType::F32), &[2], false);
    assert!(e.unwrap_err().to_string().starts_with("extremum_backward: axis 2 is out of range"));
}
