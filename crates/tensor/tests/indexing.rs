//! Indexing, joining and splitting against naive loops.

mod common;
use common::*;
use tensor::{DType, Tensor};

fn ids(v: &[i64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()])
}

#[test]
fn index_select_on_every_axis_and_layout() {
    for (layout, x) in layouts(&[4, 3, 5], DType::F64, 1) {
        let rx = Nd::of(&x);
        for axis in 0..3 {
            let idx = [2i64, 0, 2];
            let got = x.index_select(axis, &ids(&idx));
            let mut shape = x.shape().to_vec();
            shape[axis as usize] = 3;
            let want = Nd::new(&shape, |i| {
                let mut j = i.to_vec();
                j[axis as usize] = idx[i[axis as usize]] as usize;
                rx.get(&j)
            });
            assert_tensor(&got, &want, 0.0, &format!("index_select {layout} axis {axis}"));
        }
    }
}

#[test]
fn gather_and_scatter_add_are_adjoint() {
    for (layout, x) in layouts(&[3, 4], DType::F64, 2) {
        let rx = Nd::of(&x);
        for axis in 0..2usize {
            let shape = [3, 2];
            let index: Vec<i64> =
                indices(&shape).iter().map(|i| ((i[0] * 7 + i[1] * 3) % x.shape()[axis]) as i64).collect();
            let index = Tensor::from_vec(index, &shape);
            let ri = index.to_vec::<i64>();
            let got = x.gather(axis as isize, &index);
            let want = Nd::new(&shape, |i| {
                let mut j = i.to_vec();
                j[axis] = ri[i[0] * 2 + i[1]] as usize;
                rx.get(&j)
            });
            assert_tensor(&got, &want, 0.0, &format!("gather {layout} axis {axis}"));
            // scatter_add: out[..index..] += src, duplicates accumulating.
            let src = rand(&shape, DType::F64, 3);
            let rs = Nd::of(&src);
            let base = x.clone();
            let got = base.scatter_add(axis as isize, &index, &src);
            let mut want = rx.clone();
            for (n, i) in indices(&shape).iter().enumerate() {
                let mut j = i.to_vec();
                j[axis] = ri[n] as usize;
                let off = j[0] * 4 + j[1];
                want.data[off] += rs.get(i);
            }
            assert_tensor(&got, &want, 1e-12, &format!("scatter_add {layout} axis {axis}"));
        }
    }
}

#[test]
fn where_cond_and_masked_fill_broadcast() {
    let cond = Tensor::from_vec(vec![true, false, true], &[3]);
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = Tensor::scalar(-1.0f32);
    assert_eq!(cond.where_cond(&a, &b).to_vec::<f32>(), vec![1.0, -1.0, 3.0, 4.0, -1.0, 6.0]);
    assert_eq!(a.masked_fill(&cond, 0.0).to_vec::<f32>(), vec![0.0, 2.0, 0.0, 0.0, 5.0, 0.0]);
    let mask = a.t().gt_scalar(2.5);
    assert_eq!(mask.where_cond(&a.t(), &b).to_vec::<f32>(), vec![-1.0, 4.0, -1.0, 5.0, 3.0, 6.0]);
}

#[test]
fn one_hot_encodes_class_ids() {
    let y = Tensor::from_vec(vec![2i64, 0, 1], &[3]);
    let oh = y.one_hot(3, DType::F32);
    assert_eq!(oh.shape(), &[3, 3]);
    assert_eq!(oh.to_vec::<f32>(), vec![0., 0., 1., 1., 0., 0., 0., 1., 0.]);
}

#[test]
fn cat_stack_split_chunk() {
    for (layout, x) in layouts(&[2, 3], DType::F64, 7) {
        let y = rand(&[2, 2], DType::F64, 8);
        let c = Tensor::cat(&[x.clone(), y.clone()], 1);
        let (rx, ry) = (Nd::of(&x), Nd::of(&y));
        let want = Nd::new(&[2, 5], |i| if i[1] < 3 { rx.get(i) } else { ry.get(&[i[0], i[1] - 3]) });
        assert_tensor(&c, &want, 0.0, &format!("cat {layout}"));
        let parts = c.split(3, 1);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].shares_storage(&c));
        assert_tensor(&parts[0], &rx, 0.0, "split 0");
        assert_tensor(&parts[1], &ry, 0.0, "split 1");
        let s = Tensor::stack(&[x.clone(), x.clone()], 1);
        assert_eq!(s.shape(), &[2, 2, 3]);
        assert_tensor(&s, &Nd::new(&[2, 2, 3], |i| rx.get(&[i[0], i[2]])), 0.0, "stack");
    }
    let x = Tensor::arange(0.0, 10.0, 1.0, DType::I64);
    let chunks = x.chunk(3, 0);
    let sizes: Vec<usize> = chunks.iter().map(|c| c.shape()[0]).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
    assert_eq!(chunks[2].to_vec::<i64>(), vec![8, 9]);
}

#[test]
fn pad_and_repeat() {
    for (layout, x) in layouts(&[2, 3], DType::F64, 9) {
        let rx = Nd::of(&x);
        let p = x.pad(&[(1, 0), (2, 1)], -7.0);
        let want =
            Nd::new(&[3, 6], |i| if i[0] >= 1 && i[1] >= 2 && i[1] < 5 { rx.get(&[i[0] - 1, i[1] - 2]) } else { -7.0 });
        assert_tensor(&p, &want, 0.0, &format!("pad {layout}"));
        let r = x.repeat(&[2, 1, 2]);
        let want = Nd::new(&[2, 2, 6], |i| rx.get(&[i[1], i[2] % 3]));
        assert_tensor(&r, &want, 0.0, &format!("repeat {layout}"));
    }
}

#[test]
fn creation() {
    assert_eq!(Tensor::arange(1.0, 2.0, 0.25, DType::F32).to_vec::<f32>(), vec![1.0, 1.25, 1.5, 1.75]);
    assert_eq!(Tensor::arange(5.0, 0.0, -2.0, DType::I64).to_vec::<i64>(), vec![5, 3, 1]);
    let l = Tensor::linspace(0.0, 1.0, 5, DType::F64).to_vec::<f64>();
    assert_eq!(l, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(Tensor::eye(2, DType::I64).to_vec::<i64>(), vec![1, 0, 0, 1]);
    let f = Tensor::full(&[2], 3.5, DType::F64);
    assert_eq!(f.zeros_like().to_vec::<f64>(), vec![0.0; 2]);
    assert_eq!(f.ones_like().dtype(), DType::F64);
    assert_eq!(f.full_like(2.0).to_vec::<f64>(), vec![2.0; 2]);
    assert_eq!(Tensor::scalar(3i64).item(), 3.0);
    assert_eq!(Tensor::from_slice(&[1u8, 2], &[2, 1]).shape(), &[2, 1]);
}

#[test]
fn random_tensors_are_reproducible_and_distributed() {
    use tensor::Rng;
    let a = Tensor::randn(&[10_000], DType::F64, &mut Rng::seed(42));
    let b = Tensor::randn(&[10_000], DType::F64, &mut Rng::seed(42));
    assert_eq!(a.to_vec::<f64>(), b.to_vec::<f64>());
    let m = a.mean_all().item();
    let s = a.std(&[], 1, false).item();
    assert!(m.abs() < 0.05 && (s - 1.0).abs() < 0.05, "mean {m} std {s}");
    let u = Tensor::uniform(&[10_000], -1.0, 3.0, DType::F32, &mut Rng::seed(1));
    assert!(u.min(&[], false).item() >= -1.0 && u.max(&[], false).item() < 3.0);
    assert!((u.mean_all().item() - 1.0).abs() < 0.05);
    let r = Tensor::randint(&[1000], -2, 3, &mut Rng::seed(3));
    assert_eq!(r.dtype(), DType::I64);
    assert!(r.min(&[], false).item() == -2.0 && r.max(&[], false).item() == 2.0);
    // The same seed gives the same numbers regardless of the rayon pool size.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let c = pool.install(|| Tensor::randn(&[10_000], DType::F64, &mut Rng::seed(42)));
    assert_eq!(a.to_vec::<f64>(), c.to_vec::<f64>());
}

#[test]
fn in_place_access_copies_on_write() {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    let mut b = a.clone();
    b.try_as_mut_slice::<f32>().unwrap()[0] = 9.0;
    assert_eq!(a.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    assert_eq!(b.to_vec::<f32>(), vec![9.0, 2.0, 3.0]);
}

#[test]
fn scatter_add_into_an_offset_view() {
    // Rows 1..3 of a [4, 3] tensor: contiguous, but starting at storage offset 3.
    let base = Tensor::arange(0.0, 12.0, 1.0, DType::F64).reshape(&[4, 3]);
    let view = base.narrow(0, 1, 2);
    let index = Tensor::from_vec(vec![2i64, 0], &[2, 1]);
    let src = Tensor::from_vec(vec![10.0f64, 20.0], &[2, 1]);
    let got = view.scatter_add(1, &index, &src);
    assert_eq!(got.to_vec::<f64>(), vec![3.0, 4.0, 15.0, 26.0, 7.0, 8.0]);
    assert_eq!(base.to_vec::<f64>()[3..6], [3.0, 4.0, 5.0], "the input is not modified");
}

#[test]
fn integer_comparisons_and_argmax_are_exact_beyond_f64_precision() {
    let big = 1i64 << 53;
    let x = Tensor::from_vec(vec![big, big + 1, 3], &[3]);
    assert_eq!(x.argmax(0, false).to_scalar::<i64>(), 1);
    assert_eq!(x.argmin(0, false).to_scalar::<i64>(), 2);
    assert_eq!(x.gt_scalar(big as f64).to_vec::<bool>(), vec![false, true, false]);
    let y = Tensor::from_vec(vec![1i64, 2], &[2]);
    assert_eq!(y.ge_scalar(1.5).to_vec::<bool>(), vec![false, true], "a fractional scalar compares exactly");
    assert_eq!(y.lt_scalar(1.5).to_vec::<bool>(), vec![true, false]);
}

#[test]
fn index_select_edge_cases() {
    // Empty index on an empty axis, offset views on both paths, zero-width rows.
    let empty = Tensor::zeros(&[0, 3], DType::F32);
    assert_eq!(empty.index_select(0, &Tensor::from_vec(Vec::<i64>::new(), &[0])).shape(), &[0, 3]);
    let base = Tensor::arange(0.0, 12.0, 1.0, DType::F64).reshape(&[4, 3]);
    let rows = base.narrow(0, 1, 3); // contiguous, offset 3
    let ids = Tensor::from_vec(vec![2i64, 0], &[2]);
    assert_eq!(rows.index_select(0, &ids).to_vec::<f64>(), vec![9.0, 10.0, 11.0, 3.0, 4.0, 5.0]);
    let cols = base.narrow(1, 1, 2); // strided, offset 1
    assert_eq!(cols.index_select(1, &Tensor::from_vec(vec![1i64], &[1])).to_vec::<f64>(), vec![2.0, 5.0, 8.0, 11.0]);
    let thin = Tensor::zeros(&[3, 0], DType::F32);
    assert_eq!(thin.index_select(0, &ids).shape(), &[2, 0]);
}

/// The vectorised path of `where_cond` (all three operands contiguous, here also offset into
/// their buffers) selects exactly what a plain loop does, NaN and -0 included, on lengths with
/// a vector tail.
#[test]
fn where_cond_on_contiguous_operands_matches_a_loop() {
    let mut rng = tensor::Rng::seed(8);
    for n in [1usize, 7, 33, 1000, 4099] {
        for dtype in [DType::F32, DType::F64] {
            let a = Tensor::randn(&[n + 3], dtype, &mut rng).narrow(0, 3, n);
            let mut b_vals = Tensor::randn(&[n], DType::F64, &mut rng).to_vec::<f64>();
            b_vals[0] = f64::NAN;
            b_vals[n - 1] = -0.0;
            let b = Tensor::from_vec(b_vals, &[n]).to_dtype(dtype);
            let cond = Tensor::randn(&[n + 1], DType::F64, &mut rng).narrow(0, 1, n).try_gt_scalar(0.0).unwrap();
            let got = cond.where_cond(&a, &b).to_dtype(DType::F64).to_vec::<f64>();
            let (c, av, bv) =
                (cond.to_vec::<bool>(), a.to_dtype(DType::F64).to_vec::<f64>(), b.to_dtype(DType::F64).to_vec::<f64>());
            let want: Vec<f64> = (0..n).map(|i| if c[i] { av[i] } else { bv[i] }).collect();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "n = {n}, {dtype}");
        }
    }
}
