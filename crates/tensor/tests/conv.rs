//! conv1d / conv2d / conv_transpose2d and their backward kernels against naive direct loops.

use tensor::*;

// ---------------------------------------------------------------- naive references (f64)

/// A conv2d problem: input `[n, c, h, w]`, weight `[co, c / groups, kh, kw]`.
#[derive(Clone, Copy, Debug)]
struct Case {
    x: [usize; 4],
    w: [usize; 4],
    p: Conv2dParams,
}

fn out_hw(c: &Case) -> [usize; 2] {
    let f = |d: usize| (c.x[2 + d] + 2 * c.p.padding[d] - c.p.dilation[d] * (c.w[2 + d] - 1) - 1) / c.p.stride[d] + 1;
    [f(0), f(1)]
}

fn out_shape(c: &Case) -> [usize; 4] {
    let [ho, wo] = out_hw(c);
    [c.x[0], c.w[0], ho, wo]
}

/// Visits every (input index, weight index, output index) triple that conv2d multiplies.
fn for_each_tap(c: &Case, mut f: impl FnMut(usize, usize, usize)) {
    let [n, ch, h, w] = c.x;
    let [co, cg, kh, kw] = c.w;
    let [ho, wo] = out_hw(c);
    let cog = co / c.p.groups;
    for b in 0..n {
        for o in 0..co {
            let g = o / cog;
            for oy in 0..ho {
                for ox in 0..wo {
                    for ci in 0..cg {
                        let cin = g * cg + ci;
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy = (oy * c.p.stride[0] + ki * c.p.dilation[0]) as isize - c.p.padding[0] as isize;
                                let ix = (ox * c.p.stride[1] + kj * c.p.dilation[1]) as isize - c.p.padding[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xi = ((b * ch + cin) * h + iy as usize) * w + ix as usize;
                                let wi = ((o * cg + ci) * kh + ki) * kw + kj;
                                let yi = ((b * co + o) * ho + oy) * wo + ox;
                                f(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn naive_conv(c: &Case, x: &[f64], w: &[f64], bias: Option<&[f64]>) -> Vec<f64> {
    let s = out_shape(c);
    let mut y = vec![0.0; s.iter().product()];
    if let Some(b) = bias {
        for (i, v) in y.iter_mut().enumerate() {
            *v = b[(i / (s[2] * s[3])) % s[1]];
        }
    }
    for_each_tap(c, |xi, wi, yi| y[yi] += x[xi] * w[wi]);
    y
}

fn naive_grad_input(c: &Case, g: &[f64], w: &[f64]) -> Vec<f64> {
    let mut dx = vec![0.0; c.x.iter().product()];
    for_each_tap(c, |xi, wi, yi| dx[xi] += g[yi] * w[wi]);
    dx
}

fn naive_grad_weight(c: &Case, g: &[f64], x: &[f64]) -> Vec<f64> {
    let mut dw = vec![0.0; c.w.iter().product()];
    for_each_tap(c, |xi, wi, yi| dw[wi] += g[yi] * x[xi]);
    dw
}

/// A conv_transpose2d problem: input `[n, cin, h, w]`, weight `[cin, cout / groups, kh, kw]`.
#[derive(Clone, Copy, Debug)]
struct TCase {
    x: [usize; 4],
    w: [usize; 4],
    p: ConvTranspose2dParams,
}

fn t_out_shape(c: &TCase) -> [usize; 4] {
    let f = |d: usize| {
        (c.x[2 + d] - 1) * c.p.stride[d] + c.p.dilation[d] * (c.w[2 + d] - 1) + c.p.output_padding[d] + 1
            - 2 * c.p.padding[d]
    };
    [c.x[0], c.w[1] * c.p.groups, f(0), f(1)]
}

/// Visits every (input, weight, output) triple of conv_transpose2d, as a scatter.
fn for_each_t_tap(c: &TCase, mut f: impl FnMut(usize, usize, usize)) {
    let [n, cin, h, w] = c.x;
    let [_, cog, kh, kw] = c.w;
    let [_, cout, ho, wo] = t_out_shape(c);
    let cig = cin / c.p.groups;
    for b in 0..n {
        for ci in 0..cin {
            let g = ci / cig;
            for y in 0..h {
                for x in 0..w {
                    for oc in 0..cog {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let oy = (y * c.p.stride[0] + ki * c.p.dilation[0]) as isize - c.p.padding[0] as isize;
                                let ox = (x * c.p.stride[1] + kj * c.p.dilation[1]) as isize - c.p.padding[1] as isize;
                                if oy < 0 || ox < 0 || oy >= ho as isize || ox >= wo as isize {
                                    continue;
                                }
                                let xi = ((b * cin + ci) * h + y) * w + x;
                                let wi = ((ci * cog + oc) * kh + ki) * kw + kj;
                                let yi = ((b * cout + g * cog + oc) * ho + oy as usize) * wo + ox as usize;
                                f(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- helpers

fn randn(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::seed(seed);
    Tensor::randn(shape, DType::F64, &mut rng)
}

/// A non-contiguous tensor of `shape` (built as the transpose of the last two axes).
fn randn_strided(shape: &[usize], seed: u64) -> Tensor {
    let mut s = shape.to_vec();
    let r = s.len();
    s.swap(r - 2, r - 1);
    let t = randn(&s, seed).transpose(-2, -1);
    assert!(!t.is_contiguous() || shape[r - 1] == 1 || shape[r - 2] == 1);
    t
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

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn p2(stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2], groups: usize) -> Conv2dParams {
    Conv2dParams { stride, padding, dilation, groups }
}

fn cases() -> Vec<Case> {
    let d = Conv2dParams::default();
    vec![
        Case { x: [2, 3, 5, 6], w: [4, 3, 3, 3], p: d },
        Case { x: [2, 3, 7, 6], w: [4, 3, 3, 3], p: p2([2, 2], [1, 1], [1, 1], 1) },
        Case { x: [1, 2, 7, 8], w: [3, 2, 3, 2], p: p2([1, 2], [2, 1], [2, 2], 1) },
        Case { x: [3, 4, 6, 5], w: [6, 2, 2, 3], p: p2([2, 1], [0, 1], [1, 1], 2) },
        Case { x: [2, 2, 4, 7], w: [3, 2, 1, 3], p: p2([1, 1], [0, 1], [1, 1], 1) },
        Case { x: [1, 4, 5, 5], w: [6, 2, 1, 1], p: p2([1, 1], [0, 0], [1, 1], 2) },
        Case { x: [3, 4, 3, 4], w: [2, 4, 1, 1], p: d },
        Case { x: [2, 4, 6, 6], w: [8, 1, 3, 3], p: p2([1, 1], [1, 1], [1, 1], 4) },
        Case { x: [1, 1, 4, 4], w: [2, 1, 6, 5], p: p2([1, 1], [1, 1], [1, 1], 1) },
        Case { x: [2, 2, 8, 7], w: [2, 2, 2, 2], p: p2([3, 3], [1, 0], [1, 1], 1) },
        Case { x: [1, 2, 5, 5], w: [3, 2, 3, 3], p: p2([2, 2], [1, 1], [1, 1], 1) },
    ]
}

// ---------------------------------------------------------------- conv2d

#[test]
fn conv2d_matches_naive_f64_and_f32() {
    for (i, c) in cases().into_iter().enumerate() {
        let (x, w, b) = (randn(&c.x, i as u64), randn(&c.w, 100 + i as u64), randn(&[c.w[0]], 200 + i as u64));
        let want = naive_conv(&c, &v(&x), &v(&w), Some(&v(&b)));
        let y = x.conv2d(&w, Some(&b), c.p);
        assert_eq!(y.shape(), &out_shape(&c), "case {i}: {c:?}");
        assert_close(&v(&y), &want, 1e-12);
        let y32 = x.to_dtype(DType::F32).conv2d(&w.to_dtype(DType::F32), Some(&b.to_dtype(DType::F32)), c.p);
        assert_eq!(y32.dtype(), DType::F32);
        assert_close(&v(&y32), &want, 1e-4);
        let nobias = naive_conv(&c, &v(&x), &v(&w), None);
        assert_close(&v(&x.conv2d(&w, None, c.p)), &nobias, 1e-12);
    }
}

#[test]
fn conv2d_non_contiguous_and_offset_inputs() {
    for (i, c) in cases().into_iter().enumerate() {
        let x = randn_strided(&c.x, i as u64);
        let w = randn_strided(&c.w, 50 + i as u64);
        let want = naive_conv(&c, &v(&x), &v(&w), None);
        assert_close(&v(&x.conv2d(&w, None, c.p)), &want, 1e-12);
        // A contiguous view with a storage offset.
        let mut big = c.x;
        big[0] += 1;
        let xo = randn(&big, 7).narrow(0, 1, c.x[0]);
        assert!(xo.is_contiguous());
        let want = naive_conv(&c, &v(&xo), &v(&w), None);
        assert_close(&v(&xo.conv2d(&w, None, c.p)), &want, 1e-12);
    }
}

#[test]
fn conv2d_backward_kernels_match_naive_and_adjoint() {
    for (i, c) in cases().into_iter().enumerate() {
        let x = randn_strided(&c.x, i as u64);
        let w = randn(&c.w, 30 + i as u64);
        let g = randn_strided(&out_shape(&c), 60 + i as u64);
        let dx = Tensor::conv2d_backward_input(&g, &w, &c.x, c.p);
        let dw = Tensor::conv2d_backward_weight(&g, &x, &c.w, c.p);
        assert_eq!((dx.shape(), dw.shape()), (&c.x[..], &c.w[..]));
        assert_close(&v(&dx), &naive_grad_input(&c, &v(&g), &v(&w)), 1e-12);
        assert_close(&v(&dw), &naive_grad_weight(&c, &v(&g), &v(&x)), 1e-12);
        // <conv(x, w), g> == <x, dx(g)> == <w, dw(g)>
        let y = v(&x.conv2d(&w, None, c.p));
        let lhs = dot(&y, &v(&g));
        assert!((lhs - dot(&v(&x), &v(&dx))).abs() < 1e-9 * (1.0 + lhs.abs()), "case {i}");
        assert!((lhs - dot(&v(&w), &v(&dw))).abs() < 1e-9 * (1.0 + lhs.abs()), "case {i}");
        // f32 kernels.
        let f = |t: &Tensor| t.to_dtype(DType::F32);
        let dx32 = Tensor::conv2d_backward_input(&f(&g), &f(&w), &c.x, c.p);
        let dw32 = Tensor::conv2d_backward_weight(&f(&g), &f(&x), &c.w, c.p);
        assert_close(&v(&dx32), &v(&dx), 1e-4);
        assert_close(&v(&dw32), &v(&dw), 1e-4);
    }
}

#[test]
fn conv2d_batches_run_in_chunks_of_several_samples() {
    // Few channels and many samples: chunks of 2 samples (8 chunks, run in parallel), each
    // through the packed [Co, nb*L] buffers, in all three kernels; one case with 7 chunks of 2
    // and a last chunk of 1.
    for (i, c) in [
        Case { x: [16, 1, 12, 12], w: [8, 1, 3, 3], p: Conv2dParams::default() },
        Case { x: [12, 4, 9, 10], w: [6, 2, 3, 2], p: p2([2, 1], [1, 1], [1, 2], 2) },
        Case { x: [15, 3, 7, 7], w: [5, 3, 1, 1], p: Conv2dParams::default() },
    ]
    .into_iter()
    .enumerate()
    {
        let (x, w, b) = (randn(&c.x, 10 + i as u64), randn(&c.w, 20 + i as u64), randn(&[c.w[0]], 30 + i as u64));
        let g = randn(&out_shape(&c), 40 + i as u64);
        let (xs, ws, gs) = (v(&x), v(&w), v(&g));
        assert_close(&v(&x.conv2d(&w, Some(&b), c.p)), &naive_conv(&c, &xs, &ws, Some(&v(&b))), 1e-12);
        assert_close(&v(&Tensor::conv2d_backward_input(&g, &w, &c.x, c.p)), &naive_grad_input(&c, &gs, &ws), 1e-12);
        assert_close(&v(&Tensor::conv2d_backward_weight(&g, &x, &c.w, c.p)), &naive_grad_weight(&c, &gs, &xs), 1e-11);
        let y32 = x.to_dtype(DType::F32).conv2d(&w.to_dtype(DType::F32), None, c.p);
        assert_close(&v(&y32), &naive_conv(&c, &xs, &ws, None), 1e-4);
    }
}

#[test]
fn conv2d_one_sample_chunks_work_in_place() {
    // 288 x 324 column entries per sample, and 2 samples: chunks of one sample, whose GEMMs
    // read and write the NCHW buffers directly.
    let c = Case { x: [2, 32, 20, 20], w: [48, 32, 3, 3], p: Conv2dParams::default() };
    let (x, w, b) = (randn(&c.x, 41), randn(&c.w, 42), randn(&[48], 43));
    let g = randn(&out_shape(&c), 44);
    let (xs, ws, gs) = (v(&x), v(&w), v(&g));
    assert_close(&v(&x.conv2d(&w, Some(&b), c.p)), &naive_conv(&c, &xs, &ws, Some(&v(&b))), 1e-11);
    assert_close(&v(&Tensor::conv2d_backward_input(&g, &w, &c.x, c.p)), &naive_grad_input(&c, &gs, &ws), 1e-11);
    assert_close(&v(&Tensor::conv2d_backward_weight(&g, &x, &c.w, c.p)), &naive_grad_weight(&c, &gs, &xs), 1e-10);
}

#[test]
fn conv2d_large_samples_run_one_per_chunk() {
    // 16 channels * 3x3 * 64x64 positions per sample: past the chunk's column budget alone.
    let c = Case { x: [9, 16, 64, 64], w: [4, 8, 3, 3], p: p2([1, 1], [1, 1], [1, 1], 2) };
    let (x, w) = (randn(&c.x, 1), randn(&c.w, 2));
    let g = randn(&out_shape(&c), 3);
    let (xs, ws, gs) = (v(&x), v(&w), v(&g));
    assert_close(&v(&x.conv2d(&w, None, c.p)), &naive_conv(&c, &xs, &ws, None), 1e-12);
    assert_close(&v(&Tensor::conv2d_backward_input(&g, &w, &c.x, c.p)), &naive_grad_input(&c, &gs, &ws), 1e-12);
    assert_close(&v(&Tensor::conv2d_backward_weight(&g, &x, &c.w, c.p)), &naive_grad_weight(&c, &gs, &xs), 1e-10);
}

#[test]
fn conv2d_empty_batch() {
    let x = Tensor::zeros(&[0, 2, 5, 5], DType::F64);
    let w = randn(&[3, 2, 3, 3], 0);
    let b = randn(&[3], 1);
    assert_eq!(x.conv2d(&w, Some(&b), Conv2dParams::default()).shape(), &[0, 3, 3, 3]);
    let g = Tensor::zeros(&[0, 3, 3, 3], DType::F64);
    let dw = Tensor::conv2d_backward_weight(&g, &x, &[3, 2, 3, 3], Conv2dParams::default());
    assert_eq!(v(&dw), vec![0.0; 54]);
}

#[test]
fn conv2d_backward_input_equals_conv_transpose2d() {
    let c = cases()[3];
    let w = randn(&c.w, 4);
    let g = randn(&out_shape(&c), 5);
    let dx = Tensor::conv2d_backward_input(&g, &w, &c.x, c.p);
    // Output 3x5 maps back to 6x5: (3 - 1) * 2 + (2 - 1) + 1 = 6, 4 - 2 + 2 + 1 = 5.
    let tp = ConvTranspose2dParams {
        stride: c.p.stride,
        padding: c.p.padding,
        output_padding: [0, 0],
        dilation: c.p.dilation,
        groups: c.p.groups,
    };
    assert_close(&v(&g.conv_transpose2d(&w, None, tp)), &v(&dx), 1e-12);
}

// ---------------------------------------------------------------- conv1d

#[test]
fn conv1d_matches_naive() {
    let combos = [
        ([2, 3, 9], [4, 3, 3], Conv1dParams::default()),
        ([2, 4, 11], [6, 2, 3], Conv1dParams { stride: 2, padding: 1, dilation: 2, groups: 2 }),
        ([1, 2, 5], [2, 2, 1], Conv1dParams::default()),
        ([3, 2, 6], [2, 1, 4], Conv1dParams { stride: 3, padding: 2, dilation: 1, groups: 2 }),
    ];
    for (i, (xs, ws, p)) in combos.into_iter().enumerate() {
        let c = Case {
            x: [xs[0], xs[1], 1, xs[2]],
            w: [ws[0], ws[1], 1, ws[2]],
            p: p2([1, p.stride], [0, p.padding], [1, p.dilation], p.groups),
        };
        let x = randn_strided(&xs, i as u64);
        let (w, b) = (randn(&ws, 10 + i as u64), randn(&[ws[0]], 20 + i as u64));
        let y = x.conv1d(&w, Some(&b), p);
        let os = out_shape(&c);
        assert_eq!(y.shape(), &[os[0], os[1], os[3]]);
        assert_close(&v(&y), &naive_conv(&c, &v(&x), &v(&w), Some(&v(&b))), 1e-12);
        let g = randn(y.shape(), 30 + i as u64);
        let dx = Tensor::conv1d_backward_input(&g, &w, &xs, p);
        let dw = Tensor::conv1d_backward_weight(&g, &x, &ws, p);
        assert_eq!((dx.shape(), dw.shape()), (&xs[..], &ws[..]));
        assert_close(&v(&dx), &naive_grad_input(&c, &v(&g), &v(&w)), 1e-12);
        assert_close(&v(&dw), &naive_grad_weight(&c, &v(&g), &v(&x)), 1e-12);
        let y32 = x.to_dtype(DType::F32).conv1d(&w.to_dtype(DType::F32), Some(&b.to_dtype(DType::F32)), p);
        assert_close(&v(&y32), &v(&y), 1e-4);
    }
}

// ---------------------------------------------------------------- conv_transpose2d

fn tp(
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> ConvTranspose2dParams {
    ConvTranspose2dParams { stride, padding, output_padding, dilation, groups }
}

fn t_cases() -> Vec<TCase> {
    vec![
        TCase { x: [2, 3, 4, 5], w: [3, 2, 3, 3], p: ConvTranspose2dParams::default() },
        TCase { x: [2, 3, 4, 3], w: [3, 2, 3, 3], p: tp([2, 2], [1, 1], [1, 0], [1, 1], 1) },
        TCase { x: [1, 4, 3, 4], w: [4, 3, 2, 3], p: tp([2, 3], [0, 1], [1, 2], [1, 1], 2) },
        TCase { x: [2, 2, 3, 3], w: [2, 2, 3, 2], p: tp([1, 1], [1, 0], [1, 1], [2, 2], 1) },
        TCase { x: [1, 2, 3, 3], w: [2, 1, 1, 1], p: tp([2, 2], [0, 0], [1, 1], [1, 1], 1) },
        TCase { x: [3, 4, 2, 2], w: [4, 1, 4, 4], p: tp([2, 2], [1, 1], [0, 0], [1, 1], 4) },
        TCase { x: [1, 2, 3, 3], w: [2, 3, 1, 1], p: ConvTranspose2dParams::default() },
        TCase { x: [2, 2, 3, 3], w: [2, 3, 1, 1], p: ConvTranspose2dParams::default() },
    ]
}

#[test]
fn conv_transpose2d_matches_naive_scatter() {
    for (i, c) in t_cases().into_iter().enumerate() {
        let x = randn_strided(&c.x, i as u64);
        let w = randn_strided(&c.w, 40 + i as u64);
        let os = t_out_shape(&c);
        let b = randn(&[os[1]], 80 + i as u64);
        let (xs, wsv, bs) = (v(&x), v(&w), v(&b));
        let mut want = vec![0.0; os.iter().product()];
        for (j, o) in want.iter_mut().enumerate() {
            *o = bs[(j / (os[2] * os[3])) % os[1]];
        }
        for_each_t_tap(&c, |xi, wi, yi| want[yi] += xs[xi] * wsv[wi]);
        let y = x.conv_transpose2d(&w, Some(&b), c.p);
        assert_eq!(y.shape(), &os, "case {i}");
        assert_close(&v(&y), &want, 1e-12);
        let y32 = x.to_dtype(DType::F32).conv_transpose2d(&w.to_dtype(DType::F32), Some(&b.to_dtype(DType::F32)), c.p);
        assert_close(&v(&y32), &want, 1e-4);
    }
}

#[test]
fn conv_transpose2d_backward_kernels() {
    for (i, c) in t_cases().into_iter().enumerate() {
        let x = randn(&c.x, i as u64);
        let w = randn(&c.w, 40 + i as u64);
        let os = t_out_shape(&c);
        let g = randn_strided(&os, 90 + i as u64);
        let (xs, wsv, gs) = (v(&x), v(&w), v(&g));
        let (mut want_dx, mut want_dw) = (vec![0.0; xs.len()], vec![0.0; wsv.len()]);
        for_each_t_tap(&c, |xi, wi, yi| {
            want_dx[xi] += gs[yi] * wsv[wi];
            want_dw[wi] += gs[yi] * xs[xi];
        });
        let dx = Tensor::conv_transpose2d_backward_input(&g, &w, &c.x, c.p);
        let dw = Tensor::conv_transpose2d_backward_weight(&g, &x, &c.w, c.p);
        assert_close(&v(&dx), &want_dx, 1e-12);
        assert_close(&v(&dw), &want_dw, 1e-12);
        let lhs = dot(&v(&x.conv_transpose2d(&w, None, c.p)), &gs);
        assert!((lhs - dot(&xs, &v(&dx))).abs() < 1e-9 * (1.0 + lhs.abs()));
        assert!((lhs - dot(&wsv, &v(&dw))).abs() < 1e-9 * (1.0 + lhs.abs()));
    }
}

// ---------------------------------------------------------------- errors

#[track_caller]
fn err(r: Result<Tensor>) -> String {
    match r {
        Ok(t) => panic!("expected an error, got a tensor of shape {:?}", t.shape()),
        Err(e) => e.to_string(),
    }
}

fn z(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F64)
}

#[test]
fn conv2d_error_dtypes() {
    let x = Tensor::zeros(&[1, 1, 4, 4], DType::I64);
    assert_eq!(
        err(x.try_conv2d(&x, None, Conv2dParams::default())),
        "conv2d: dtype i64 is not supported (expected f32 or f64)"
    );
    let x = Tensor::zeros(&[1, 1, 4, 4], DType::F32);
    assert_eq!(
        err(x.try_conv2d(&z(&[1, 1, 3, 3]), None, Conv2dParams::default())),
        "conv2d: dtype mismatch: expected f32, got f64"
    );
    let w = Tensor::zeros(&[1, 1, 3, 3], DType::F32);
    assert_eq!(
        err(x.try_conv2d(&w, Some(&z(&[1])), Conv2dParams::default())),
        "conv2d: dtype mismatch: expected f32, got f64"
    );
}

#[test]
fn conv2d_error_ranks() {
    let d = Conv2dParams::default();
    assert_eq!(
        err(z(&[1, 3, 5]).try_conv2d(&z(&[1, 3, 3, 3]), None, d)),
        "conv2d: input must be 4-D [N, C, H, W], got shape [1, 3, 5]"
    );
    assert_eq!(
        err(z(&[1, 3, 5, 5]).try_conv2d(&z(&[1, 3, 3]), None, d)),
        "conv2d: weight must be 4-D [C_out, C_in/groups, kH, kW], got shape [1, 3, 3]"
    );
    assert_eq!(
        err(z(&[1, 3, 5, 5, 1]).try_conv1d(&z(&[1, 3, 3]), None, Conv1dParams::default())),
        "conv1d: input must be 3-D [N, C, L], got shape [1, 3, 5, 5, 1]"
    );
}

#[test]
fn conv2d_error_zero_params() {
    let (x, w) = (z(&[1, 2, 5, 5]), z(&[2, 2, 3, 3]));
    let e = |p| err(x.try_conv2d(&w, None, p));
    assert_eq!(e(p2([0, 1], [0, 0], [1, 1], 1)), "conv2d: stride must be positive, got [0, 1]");
    assert_eq!(e(p2([1, 1], [0, 0], [1, 0], 1)), "conv2d: dilation must be positive, got [1, 0]");
    assert_eq!(e(p2([1, 1], [0, 0], [1, 1], 0)), "conv2d: groups must be positive, got 0");
    let p = Conv1dParams { stride: 0, ..Default::default() };
    assert_eq!(err(z(&[1, 2, 5]).try_conv1d(&z(&[2, 2, 3]), None, p)), "conv1d: stride must be positive, got 0");
}

#[test]
fn conv2d_error_groups_and_channels() {
    let p = p2([1, 1], [0, 0], [1, 1], 2);
    assert_eq!(
        err(z(&[1, 3, 5, 5]).try_conv2d(&z(&[4, 1, 3, 3]), None, p)),
        "conv2d: groups 2 does not divide the 3 input channels of input shape [1, 3, 5, 5]"
    );
    assert_eq!(
        err(z(&[1, 4, 5, 5]).try_conv2d(&z(&[3, 2, 3, 3]), None, p)),
        "conv2d: groups 2 does not divide the 3 output channels of weight shape [3, 2, 3, 3]"
    );
    assert_eq!(
        err(z(&[1, 4, 5, 5]).try_conv2d(&z(&[2, 3, 3, 3]), None, Conv2dParams::default())),
        "conv2d: input shape [1, 4, 5, 5] has 4 channels, but weight shape [2, 3, 3, 3] with groups 1 expects 3 \
         (weight.shape[1] * groups)"
    );
}

#[test]
fn conv2d_error_bias_and_kernel() {
    let d = Conv2dParams::default();
    assert_eq!(
        err(z(&[1, 4, 5, 5]).try_conv2d(&z(&[2, 4, 3, 3]), Some(&z(&[3])), d)),
        "conv2d: bias must have shape [2] (one entry per output channel of weight [2, 4, 3, 3]), got [3]"
    );
    assert_eq!(
        err(z(&[1, 1, 5, 5]).try_conv2d(&z(&[1, 1, 0, 3]), None, d)),
        "conv2d: weight shape [1, 1, 0, 3] has an empty kernel"
    );
    assert_eq!(
        err(z(&[1, 1, 4, 4]).try_conv2d(&z(&[1, 1, 3, 2]), None, p2([1, 1], [0, 0], [2, 1], 1))),
        "conv2d: effective kernel size [5, 2] (kernel [3, 2], dilation [2, 1]) exceeds the padded input size [4, 4] \
         (input shape [1, 1, 4, 4], padding [0, 0])"
    );
    let p = Conv1dParams { dilation: 2, ..Default::default() };
    assert_eq!(
        err(z(&[1, 1, 4]).try_conv1d(&z(&[1, 1, 3]), None, p)),
        "conv1d: effective kernel size 5 (kernel 3, dilation 2) exceeds the padded input size 4 (input shape [1, 1, 4], \
         padding 0)"
    );
}

#[test]
fn conv2d_error_backward_grad_shape() {
    let d = Conv2dParams::default();
    assert_eq!(
        err(Tensor::try_conv2d_backward_input(&z(&[1, 2, 3, 3]), &z(&[2, 1, 3, 3]), &[1, 1, 4, 4], d)),
        "conv2d_backward_input: grad_out shape [1, 2, 3, 3] does not match the output shape [1, 2, 2, 2] of conv2d \
         with input shape [1, 1, 4, 4] and weight shape [2, 1, 3, 3]"
    );
    assert_eq!(
        err(Tensor::try_conv2d_backward_weight(&z(&[1, 2, 3, 3]), &z(&[1, 1, 4, 4]), &[2, 1, 3, 3], d)),
        "conv2d_backward_weight: grad_out shape [1, 2, 3, 3] does not match the output shape [1, 2, 2, 2] of conv2d \
         with input shape [1, 1, 4, 4] and weight shape [2, 1, 3, 3]"
    );
    let x32 = Tensor::zeros(&[1, 1, 4, 4], DType::F32);
    assert_eq!(
        err(Tensor::try_conv2d_backward_weight(&z(&[1, 2, 2, 2]), &x32, &[2, 1, 3, 3], d)),
        "conv2d_backward_weight: dtype mismatch: expected f64, got f32"
    );
    assert_eq!(
        err(Tensor::try_conv1d_backward_input(&z(&[1, 2, 3]), &z(&[2, 1, 3]), &[1, 1, 4], Conv1dParams::default())),
        "conv1d_backward_input: grad_out shape [1, 2, 3] does not match the output shape [1, 2, 2] of conv1d with \
         input shape [1, 1, 4] and weight shape [2, 1, 3]"
    );
}

#[test]
fn conv_transpose2d_errors() {
    let d = ConvTranspose2dParams::default();
    assert_eq!(
        err(z(&[1, 3, 4, 4]).try_conv_transpose2d(&z(&[2, 1, 3, 3]), None, d)),
        "conv_transpose2d: input shape [1, 3, 4, 4] has 3 channels, but weight shape [2, 1, 3, 3] expects 2 \
         (weight.shape[0])"
    );
    assert_eq!(
        err(z(&[1, 3, 4, 4]).try_conv_transpose2d(&z(&[3, 1, 3, 3]), None, tp([1, 1], [0, 0], [0, 0], [1, 1], 2))),
        "conv_transpose2d: groups 2 does not divide the 3 input channels of input shape [1, 3, 4, 4]"
    );
    assert_eq!(
        err(z(&[1, 2, 4, 4]).try_conv_transpose2d(&z(&[2, 3, 3, 3]), Some(&z(&[2])), d)),
        "conv_transpose2d: bias must have shape [3] (one entry per output channel of weight [2, 3, 3, 3] with groups \
         1), got [2]"
    );
    assert_eq!(
        err(z(&[1, 2, 4, 4]).try_conv_transpose2d(&z(&[2, 3, 3, 3]), None, tp([2, 2], [0, 0], [0, 2], [1, 1], 1))),
        "conv_transpose2d: output_padding [0, 2] must be smaller than either stride [2, 2] or dilation [1, 1]"
    );
    assert_eq!(
        err(z(&[1, 2, 1, 4]).try_conv_transpose2d(&z(&[2, 3, 1, 3]), None, tp([1, 1], [1, 0], [0, 0], [1, 1], 1))),
        "conv_transpose2d: output size [-1, 6] is not positive (input shape [1, 2, 1, 4], weight shape [2, 3, 1, 3], \
         stride [1, 1], padding [1, 0], output_padding [0, 0], dilation [1, 1])"
    );
    assert_eq!(
        err(Tensor::try_conv_transpose2d_backward_weight(&z(&[1, 3, 5, 5]), &z(&[1, 2, 4, 4]), &[2, 3, 3, 3], d)),
        "conv_transpose2d_backward_weight: grad_out shape [1, 3, 5, 5] does not match the output shape [1, 3, 6, 6] \
         of conv_transpose2d with input shape [1, 2, 4, 4] and weight shape [2, 3, 3, 3]"
    );
}

#[test]
#[should_panic(expected = "conv2d: stride must be positive, got [0, 0]")]
fn conv2d_panicking_form_panics_with_message() {
    z(&[1, 1, 3, 3]).conv2d(&z(&[1, 1, 1, 1]), None, p2([0, 0], [0, 0], [1, 1], 1));
}
