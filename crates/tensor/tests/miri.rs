//! Small cases of every path that runs `unsafe` code or raw-pointer strides, sized for Miri:
//!
//! ```text
//! cargo +nightly miri test -p backprop-tensor --lib --test miri
//! ```
//!
//! Miri checks that every read and write lands inside its buffer and, for the GEMM blocks that
//! write one output through a shared pointer from several rayon threads, that no two blocks
//! race (under `cfg(miri)` even these small products are split). The AVX-512/AVX2 versions of
//! the elementwise, reduction and softmax loops are not interpreted: Miri reports no such CPU
//! features, so the same source runs as the SSE2 baseline. The tests run in the normal suite
//! too, where they are cheap.

mod common;
use common::*;
use tensor::{Conv2dParams, DType, Tensor};

/// The naive product of `[.., m, k] @ [k, n]` (batch dims broadcast from `a`).
fn naive_matmul(a: &Nd, b: &Nd) -> Nd {
    let r = a.shape.len();
    let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[1]);
    let mut shape = a.shape[..r - 2].to_vec();
    shape.extend([m, n]);
    Nd::new(&shape, |i| {
        let (row, col) = (i[r - 2], i[r - 1]);
        (0..k)
            .map(|j| {
                let mut ai = i[..r - 2].to_vec();
                ai.extend([row, j]);
                a.get(&ai) * b.get(&[j, col])
            })
            .sum()
    })
}

#[test]
fn gemm_on_every_layout_stays_in_bounds() {
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-4 };
        for (la, a) in layouts(&[2, 3, 5], dtype, 1) {
            for (lb, b) in layouts(&[5, 4], dtype, 2) {
                let want = naive_matmul(&Nd::of(&a), &Nd::of(&b));
                assert_tensor(&a.matmul(&b), &want, tol, &format!("{dtype} {la} @ {lb}"));
            }
        }
    }
}

#[test]
fn gemm_blocks_on_two_threads_write_disjoint_elements() {
    // Wide and tall products, so both the column and the row split run; Miri's race detector
    // watches the blocks' writes through the shared output pointer.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool of 2 threads");
    for (m, k, n) in [(4, 8, 24), (24, 8, 4)] {
        let a = rand(&[m, k], DType::F64, 3);
        let b = rand(&[k, n], DType::F64, 4);
        let want = naive_matmul(&Nd::of(&a), &Nd::of(&b));
        let got = pool.install(|| a.matmul(&b));
        assert_tensor(&got, &want, 1e-12, &format!("{m}x{k}x{n} on 2 threads"));
    }
}

#[test]
fn elementwise_reductions_and_softmax_on_strided_views() {
    for (layout, x) in layouts(&[3, 4], DType::F32, 5) {
        let rx = Nd::of(&x);
        let want = Nd::new(&[3, 4], |i| rx.get(i).exp() + rx.get(i) * rx.get(i));
        assert_tensor(&(&x.exp() + &x.square()), &want, 1e-5, &format!("exp + square, {layout}"));
        let rows = Nd::new(&[3], |i| (0..4).map(|j| rx.get(&[i[0], j])).sum());
        assert_tensor(&x.sum(&[1], false), &rows, 1e-5, &format!("sum, {layout}"));
        let cols = Nd::new(&[4], |j| (0..3).map(|i| rx.get(&[i, j[0]])).fold(f64::MIN, f64::max));
        assert_tensor(&x.max(&[0], false), &cols, 0.0, &format!("max, {layout}"));
        let p = x.softmax(1);
        assert_tensor(&p.sum(&[1], false), &Nd::new(&[3], |_| 1.0), 1e-6, &format!("softmax, {layout}"));
    }
}

#[test]
fn indexing_conv_and_pool_read_inside_their_buffers() {
    let x = rand(&[1, 2, 5, 5], DType::F64, 6);
    let w = rand(&[3, 2, 3, 3], DType::F64, 7);
    let p = Conv2dParams { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 1 };
    let y = x.conv2d(&w, None, p);
    assert_eq!(y.shape(), &[1, 3, 3, 3]);
    let g = y.ones_like();
    assert_eq!(Tensor::conv2d_backward_input(&g, &w, x.shape(), p).shape(), x.shape());
    assert_eq!(Tensor::conv2d_backward_weight(&g, &x, w.shape(), p).shape(), w.shape());
    let (pooled, idx) = x.try_max_pool2d([2, 2], [2, 2], [0, 0]).expect("a valid pooling");
    assert_eq!((pooled.shape(), idx.shape()), (&[1usize, 2, 2, 2][..], &[1usize, 2, 2, 2][..]));
    let back = Tensor::try_max_pool2d_backward(&pooled, &idx, x.shape()).expect("a valid backward");
    assert_eq!(back.sum_all().to_scalar::<f64>(), pooled.sum_all().to_scalar::<f64>());
    let ids = Tensor::from_vec(vec![2i64, 0, 2], &[3]);
    let picked = x.index_select(3, &ids);
    assert_eq!(picked.shape(), &[1, 2, 5, 3]);
    assert_eq!(picked.narrow(3, 1, 1).squeeze(3).to_vec::<f64>(), x.select(3, 0).to_vec::<f64>());
}
