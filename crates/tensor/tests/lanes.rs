//! `zip_lanes` and `try_add_assign`: fused multi-slice passes and in-place accumulation.

use tensor::lanes::zip_lanes;
use tensor::{DType, Rng, Tensor};

#[test]
fn zip_lanes_walks_every_element_once_serial_and_parallel() {
    for n in [0usize, 1, 100, 1 << 20] {
        let mut rng = Rng::seed(n as u64);
        let g = Tensor::randn(&[n], DType::F64, &mut rng).to_vec::<f64>();
        let mut p = vec![1.0f64; n];
        let mut m = vec![0.0f64; n];
        zip_lanes((&mut p[..], &mut m[..], &g[..]), |(p, m, g)| {
            for ((p, m), &g) in p.iter_mut().zip(m.iter_mut()).zip(g) {
                *m = 0.9 * *m + g;
                *p -= 0.1 * *m;
            }
        })
        .unwrap();
        assert!(p.iter().zip(&g).all(|(&p, &g)| p == 1.0 - 0.1 * g), "n = {n}");
        assert!(m.iter().zip(&g).all(|(&m, &g)| m == g), "n = {n}");
    }
}

#[test]
fn zip_lanes_rejects_slices_of_different_lengths() {
    let (mut a, b) = (vec![0.0f32; 3], vec![0.0f32; 4]);
    let err = zip_lanes((&mut a[..], &b[..]), |_| panic!("must not run")).unwrap_err();
    assert_eq!(err.to_string(), "zip_lanes: slices of different lengths [3, 4]");
}

#[test]
fn add_assign_is_in_place_when_exclusive_and_copy_on_write_when_shared() {
    let mut a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    assert!(a.is_exclusive());
    let before = a.as_slice::<f32>().unwrap().as_ptr();
    a.try_add_assign(&Tensor::from_vec(vec![10.0f32], &[1])).unwrap();
    assert_eq!(a.to_vec::<f32>(), vec![11.0, 12.0]);
    assert_eq!(a.as_slice::<f32>().unwrap().as_ptr(), before, "written in place");

    let held = a.clone();
    assert!(!a.is_exclusive());
    a.try_add_assign(&Tensor::ones(&[2], DType::F32)).unwrap();
    assert_eq!(a.to_vec::<f32>(), vec![12.0, 13.0]);
    assert_eq!(held.to_vec::<f32>(), vec![11.0, 12.0], "the other holder never sees the write");

    let err = a.try_add_assign(&Tensor::ones(&[3], DType::F32)).unwrap_err();
    assert!(err.to_string().starts_with("add_assign"), "{err}");
    let err = a.try_add_assign(&Tensor::ones(&[2, 2], DType::F32)).unwrap_err();
    assert_eq!(err.to_string(), "add_assign: cannot broadcast shapes [2] and [2, 2]");
    assert!(a.try_add_assign(&Tensor::ones(&[2], DType::F64)).is_err());
}
