//! Movement ops are O(1) views with the right values; round trips are the identity.

mod common;
use common::*;
use proptest::prelude::*;
use tensor::{DType, Tensor};

fn iota(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::arange(0.0, n as f64, 1.0, DType::F64).reshape(&shape.iter().map(|&d| d as isize).collect::<Vec<_>>())
}

#[test]
fn transpose_and_permute_are_views_with_swapped_indices() {
    let x = iota(&[2, 3, 4]);
    let ref_x = Nd::of(&x);
    let p = x.permute(&[2, 0, 1]);
    assert!(p.shares_storage(&x));
    assert_tensor(&p, &Nd::new(&[4, 2, 3], |i| ref_x.get(&[i[1], i[2], i[0]])), 0.0, "permute");
    let t = x.transpose(0, -1);
    assert_tensor(&t, &Nd::new(&[4, 3, 2], |i| ref_x.get(&[i[2], i[1], i[0]])), 0.0, "transpose");
    assert!(!t.is_contiguous());
    let m = iota(&[3, 5]).t();
    assert_eq!(m.shape(), &[5, 3]);
}

#[test]
fn slicing_narrowing_selecting() {
    let x = iota(&[6, 5]);
    let rx = Nd::of(&x);
    let s = x.slice(1, 1, 5, 2);
    assert!(s.shares_storage(&x));
    assert_tensor(&s, &Nd::new(&[6, 2], |i| rx.get(&[i[0], 1 + 2 * i[1]])), 0.0, "slice step");
    let s = x.slice(0, -3, 100, 1);
    assert_tensor(&s, &Nd::new(&[3, 5], |i| rx.get(&[3 + i[0], i[1]])), 0.0, "slice negative start");
    assert_eq!(x.slice(0, 4, 2, 1).shape(), &[0, 5]);
    let n = x.narrow(0, 2, 3);
    assert_tensor(&n, &Nd::new(&[3, 5], |i| rx.get(&[2 + i[0], i[1]])), 0.0, "narrow");
    let r = x.select(1, 4);
    assert_tensor(&r, &Nd::new(&[6], |i| rx.get(&[i[0], 4])), 0.0, "select");
}

#[test]
fn expand_repeats_with_stride_zero() {
    let x = iota(&[3, 1]);
    let e = x.expand(&[2, -1, 4]);
    assert_eq!(e.strides()[0], 0);
    assert_eq!(e.strides()[2], 0);
    assert!(e.shares_storage(&x));
    assert_tensor(&e, &Nd::new(&[2, 3, 4], |i| i[1] as f64), 0.0, "expand");
    let b = x.broadcast_to(&[3, 3]);
    assert_tensor(&b, &Nd::new(&[3, 3], |i| i[0] as f64), 0.0, "broadcast_to");
}

#[test]
fn reshape_is_a_view_when_possible_and_a_copy_otherwise() {
    let x = iota(&[4, 6]);
    let r = x.reshape(&[2, -1, 3]);
    assert!(r.shares_storage(&x));
    assert_eq!(r.shape(), &[2, 4, 3]);
    assert_eq!(r.to_vec::<f64>(), x.to_vec::<f64>());
    // A column slice can split its kept dimension without copying...
    let s = x.narrow(1, 0, 4);
    assert!(s.reshape(&[4, 2, 2]).shares_storage(&x));
    assert!(s.view(&[4, 2, 2]).shares_storage(&x));
    // ...but flattening it needs a copy, and `view` refuses.
    let f = s.reshape(&[-1]);
    assert!(!f.shares_storage(&x));
    assert_eq!(f.to_vec::<f64>(), s.contiguous().to_vec::<f64>());
    assert!(s.try_view(&[16]).is_err());
    assert_eq!(x.flatten(0, -1).shape(), &[24]);
    assert_eq!(iota(&[2, 3, 4]).flatten(1, 2).shape(), &[2, 12]);
    let u = x.unsqueeze(1).unsqueeze(-1);
    assert_eq!(u.shape(), &[4, 1, 6, 1]);
    assert_eq!(u.squeeze(1).squeeze(-1).shape(), &[4, 6]);
    assert_eq!(u.squeeze_all().shape(), &[4, 6]);
}

#[test]
fn contiguous_copies_only_when_needed() {
    let x = iota(&[3, 4]);
    assert!(x.contiguous().shares_storage(&x));
    let t = x.t();
    let c = t.contiguous();
    assert!(!c.shares_storage(&x));
    assert!(c.is_contiguous());
    assert_eq!(c.to_vec::<f64>(), t.to_vec::<f64>());
}

fn arb_shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..5, 0..5)
}

proptest! {
    #[test]
    fn permute_round_trip(shape in arb_shape(), seed in 0u64..1000) {
        let x = rand(&shape, DType::F32, seed);
        let r = shape.len();
        // A rotation and its inverse.
        let perm: Vec<isize> = (0..r).map(|i| ((i + 1) % r) as isize).collect();
        let inv: Vec<isize> = (0..r).map(|i| ((i + r - 1) % r.max(1)) as isize).collect();
        let y = x.permute(&perm).permute(&inv);
        prop_assert_eq!(y.shape(), x.shape());
        prop_assert_eq!(y.to_vec::<f32>(), x.to_vec::<f32>());
    }

    #[test]
    fn reshape_of_any_view_keeps_row_major_order(shape in prop::collection::vec(1usize..5, 2..4), seed in 0u64..1000) {
        let x = rand(&shape, DType::F64, seed);
        let t = x.transpose(0, 1);
        let n: usize = shape.iter().product();
        let flat = t.reshape(&[n as isize]);
        prop_assert_eq!(flat.to_vec::<f64>(), t.contiguous().to_vec::<f64>());
        let back = flat.reshape(&t.shape().iter().map(|&d| d as isize).collect::<Vec<_>>());
        prop_assert_eq!(back.to_vec::<f64>(), t.to_vec::<f64>());
    }

    #[test]
    fn broadcasting_follows_numpy(a in arb_shape(), b in arb_shape()) {
        // Build b compatible with a by replacing some of a's trailing dims with 1.
        let rank = a.len().min(b.len());
        let mut b2: Vec<usize> = b[b.len() - rank..].to_vec();
        for (i, d) in b2.iter_mut().enumerate() {
            if *d != 1 { *d = a[a.len() - rank + i]; }
        }
        let want: Vec<usize> = {
            let r = a.len().max(b2.len());
            (0..r).map(|i| {
                let x = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
                let y = if i + b2.len() >= r { b2[i + b2.len() - r] } else { 1 };
                x.max(y)
            }).collect()
        };
        let x = rand(&a, DType::F64, 1);
        let y = rand(&b2, DType::F64, 2);
        let z = x.add(&y);
        prop_assert_eq!(z.shape(), want.as_slice());
        let (rx, ry) = (Nd::of(&x), Nd::of(&y));
        let expect = Nd::new(&want, |i| rx.get_broadcast(i) + ry.get_broadcast(i));
        prop_assert_eq!(Nd::of(&z).data, expect.data);
    }
}

#[test]
fn views_of_empty_tensors_read_nothing_past_the_buffer() {
    // Found by the fuzzer: narrowing an empty tensor moved its offset past the end of its
    // (empty) buffer, and the next kernel sliced out of range.
    let x = Tensor::zeros(&[0, 0, 2], DType::F64).narrow(2, 1, 1);
    assert_eq!(x.shape(), &[0, 0, 1]);
    let y = x.unsqueeze(0).exp();
    assert_eq!((y.shape(), y.to_vec::<f64>()), (&[1usize, 0, 0, 1][..], vec![]));
    assert_eq!(x.contiguous().sum_all().to_scalar::<f64>(), 0.0);
}
