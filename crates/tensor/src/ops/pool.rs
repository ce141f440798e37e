//! 2-D pooling with PyTorch semantics (`ceil_mode=False`, dilation 1): max pooling with argmax
//! indices, average pooling, and their backward kernels.
//!
//! Every kernel runs over the `N * C` planes independently, in parallel when the work is large.
//! Windows start at `o * stride - padding`; the padding reads as `-inf` for max pooling and as
//! zero for average pooling. As in PyTorch, `padding` may be at most half the kernel size, so
//! every window overlaps the input.

use rayon::prelude::*;

use crate::dtype::{Element, Float};
use crate::error::{Result, TensorError};
use crate::macros::float_dispatch;
use crate::ops::conv::check_float;
use crate::ops::im2col::dense;
use crate::parallel::should_parallelize;
use crate::{DType, Shape, Tensor};

/// Window geometry of a checked 2-D pooling: input planes `h x w`, output planes `ho x wo`.
#[derive(Clone, Copy, Debug)]
struct Pool {
    planes: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
}

impl Pool {
    /// The in-bounds rows (or columns, `d = 1`) `lo..hi` of output position `o`'s window, and
    /// the window's start and end before clamping (for `count_include_pad`).
    fn window(&self, d: usize, o: usize) -> (usize, usize, isize, isize) {
        let size = if d == 0 { self.h } else { self.w } as isize;
        let start = (o * self.stride[d]) as isize - self.pad[d] as isize;
        let end = (start + self.kernel[d] as isize).min(size + self.pad[d] as isize);
        (start.max(0) as usize, end.min(size) as usize, start, end)
    }

    fn out_shape(&self, input: &[usize]) -> Shape {
        Shape::from_slice(&[input[0], input[1], self.ho, self.wo])
    }
}

/// Validates a pooling of an input of shape `x` and returns its geometry.
fn pool_geom(op: &'static str, x: &[usize], kernel: [usize; 2], stride: [usize; 2], pad: [usize; 2]) -> Result<Pool> {
    if x.len() != 4 {
        return Err(TensorError::invalid(op, format!("input must be 4-D [N, C, H, W], got shape {x:?}")));
    }
    if kernel.contains(&0) {
        return Err(TensorError::invalid(op, format!("kernel size must be positive, got {kernel:?}")));
    }
    if stride.contains(&0) {
        return Err(TensorError::invalid(op, format!("stride must be positive, got {stride:?}")));
    }
    if pad[0] > kernel[0] / 2 || pad[1] > kernel[1] / 2 {
        return Err(TensorError::invalid(
            op,
            format!("padding {pad:?} must be at most half the kernel size {kernel:?}"),
        ));
    }
    let (h, w) = (x[2], x[3]);
    // Padding is at most half the kernel, so the padded size stays below 2 * usize::MAX.
    let padded = [h as u128 + 2 * pad[0] as u128, w as u128 + 2 * pad[1] as u128];
    if padded[0] < kernel[0] as u128 || padded[1] < kernel[1] as u128 {
        return Err(TensorError::invalid(
            op,
            format!(
                "kernel size {kernel:?} exceeds the padded input size {:?} (input shape {x:?}, padding {pad:?})",
                padded
            ),
        ));
    }
    let out = |d: usize| ((padded[d] - kernel[d] as u128) / stride[d] as u128 + 1) as usize;
    let (ho, wo) = (out(0), out(1));
    Ok(Pool { planes: x[0] * x[1], h, w, ho, wo, kernel, stride, pad })
}

/// Checks a backward kernel's `grad_out` (float, rank 4) against the forward output shape.
fn check_pool_grad(op: &'static str, grad_out: &Tensor, input_shape: &[usize], p: &Pool) -> Result<()> {
    check_float(op, grad_out)?;
    let expected = p.out_shape(input_shape);
    if grad_out.shape() != expected.as_slice() {
        return Err(TensorError::invalid(
            op,
            format!(
                "grad_out shape {:?} does not match the output shape {expected:?} of pooling input shape \
                 {input_shape:?}",
                grad_out.shape()
            ),
        ));
    }
    Ok(())
}

/// Runs `f(plane, chunk)` over the `len`-sized chunks (one per plane) of `out`, in parallel when
/// `work` is large.
fn for_planes<T: Send>(out: &mut [T], len: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if len == 0 {
        return;
    }
    if out.len() > len && should_parallelize(work) {
        out.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// Max pooling of each plane: values and flat argmax indices into the `h * w` plane.
fn max_pool<T: Float>(x: &[T], p: &Pool) -> (Vec<T>, Vec<i64>) {
    let (l, hw) = (p.ho * p.wo, p.h * p.w);
    // Every output is written below: recycled buffers, no zeroing pass.
    let mut vals = crate::pool::for_overwrite::<T>(p.planes * l);
    let mut idx = crate::pool::for_overwrite::<i64>(p.planes * l);
    if l == 0 {
        return (vals, idx);
    }
    let (kw, sw, pw) = (p.kernel[1], p.stride[1], p.pad[1]);
    // Output columns whose windows lie inside the row: their taps need no bounds checks.
    let in_hi = if p.w + pw >= kw { p.wo.min((p.w + pw - kw) / sw + 1) } else { 0 };
    let in_lo = pw.div_ceil(sw).min(in_hi);
    // As PyTorch, each window starts at -inf on its first in-bounds element and takes strictly
    // larger values (first maximum wins) and any NaN (NaN propagates), scanning row-major.
    let take = |e: T, best: &mut T, at: &mut i64, pos: usize| {
        let t = (e > *best) | num_traits::Float::is_nan(e);
        *best = if t { e } else { *best };
        *at = if t { pos as i64 } else { *at };
    };
    let halving = p.kernel == [2, 2] && p.stride == [2, 2] && p.pad == [0, 0];
    let run = |pl: usize, vals: &mut [T], idx: &mut [i64]| {
        let plane = &x[pl * hw..][..hw];
        if halving {
            return max_pool_2x2(plane, p, vals, idx);
        }
        for oy in 0..p.ho {
            let (y0, y1, _, _) = p.window(0, oy);
            let (vrow, irow) = (&mut vals[oy * p.wo..][..p.wo], &mut idx[oy * p.wo..][..p.wo]);
            for ox in 0..p.wo {
                let (x0, x1, _, _) = p.window(1, ox);
                (vrow[ox], irow[ox]) = (<T as num_traits::Float>::neg_infinity(), (y0 * p.w + x0) as i64);
                if (in_lo..in_hi).contains(&ox) {
                    continue;
                }
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        take(plane[iy * p.w + ix], &mut vrow[ox], &mut irow[ox], iy * p.w + ix);
                    }
                }
            }
            // Interior columns in blocks of 8 whose windows are scanned tap by tap: 8 independent
            // compare-and-select chains overlap (one window alone is bound by their latency).
            let mut ox = in_lo;
            while ox < in_hi {
                let n = (in_hi - ox).min(8);
                let mut best = [<T as num_traits::Float>::neg_infinity(); 8];
                let mut at = [0i64; 8];
                at[..n].copy_from_slice(&irow[ox..ox + n]);
                for iy in y0..y1 {
                    for kj in 0..kw {
                        let start = iy * p.w + ox * sw + kj - pw;
                        if n == 8 {
                            // One bounds check and a constant trip count: the block stays in
                            // registers and the selects compile branch-free.
                            let src = &plane[start..start + 7 * sw + 1];
                            for t in 0..8 {
                                take(src[t * sw], &mut best[t], &mut at[t], start + t * sw);
                            }
                        } else {
                            for t in 0..n {
                                take(plane[start + t * sw], &mut best[t], &mut at[t], start + t * sw);
                            }
                        }
                    }
                }
                vrow[ox..ox + n].copy_from_slice(&best[..n]);
                irow[ox..ox + n].copy_from_slice(&at[..n]);
                ox += n;
            }
        }
    };
    if p.planes > 1 && should_parallelize(p.planes * l * p.kernel[0] * kw) {
        vals.par_chunks_mut(l).zip(idx.par_chunks_mut(l)).enumerate().for_each(|(pl, (v, i))| run(pl, v, i));
    } else {
        vals.chunks_mut(l).zip(idx.chunks_mut(l)).enumerate().for_each(|(pl, (v, i))| run(pl, v, i));
    }
    (vals, idx)
}

/// The common 2x2, stride-2, unpadded max-pool of one plane, branch-free: each window is folded
/// as a tree, `(top-left, top-right)` and `(bottom-left, bottom-right)` then the two winners,
/// with the scan's rule at every step (the right side wins if strictly larger or NaN). That
/// rule is associative, so the tree gives the scan's answer: the first maximum, or the last NaN.
/// (A branch per window to find the argmax after the maximum mispredicted on random data: it
/// was 4 ns per window.)
fn max_pool_2x2<T: Float>(plane: &[T], p: &Pool, vals: &mut [T], idx: &mut [i64]) {
    let (w, wo) = (p.w, p.wo);
    let wi = w as i64;
    let pick = |(a, ia): (T, i64), (b, ib): (T, i64)| {
        let right = (b > a) | num_traits::Float::is_nan(b);
        (if right { b } else { a }, if right { ib } else { ia })
    };
    for oy in 0..p.ho {
        let top = &plane[2 * oy * w..][..2 * wo];
        let bottom = &plane[(2 * oy + 1) * w..][..2 * wo];
        let (vrow, irow) = (&mut vals[oy * wo..][..wo], &mut idx[oy * wo..][..wo]);
        let base = (2 * oy * w) as i64;
        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for (ox, ((v, i), (a, b))) in vrow.iter_mut().zip(irow.iter_mut()).zip(windows).enumerate() {
            let at = base + 2 * ox as i64;
            let upper = pick((a[0], at), (a[1], at + 1));
            let lower = pick((b[0], at + wi), (b[1], at + wi + 1));
            (*v, *i) = pick(upper, lower);
        }
    }
}

/// Average pooling of each plane, or (`backward`) its adjoint: spreading each output gradient
/// evenly over its window. `src` holds the planes read, the result the planes written.
fn avg_pool<T: Float>(src: &[T], p: &Pool, count_include_pad: bool, backward: bool) -> Vec<T> {
    let (l, hw) = (p.ho * p.wo, p.h * p.w);
    let (src_len, dst_len) = if backward { (l, hw) } else { (hw, l) };
    let mut out = crate::pool::for_overwrite::<T>(p.planes * dst_len);
    let work = p.planes * l * p.kernel[0] * p.kernel[1];
    for_planes(&mut out, dst_len, work, |pl, dst| {
        // Zeroed here, plane by plane, while the plane is in cache (see `max_pool2d_backward`).
        dst.fill(T::ZERO);
        let s = &src[pl * src_len..][..src_len];
        for oy in 0..p.ho {
            let (y0, y1, ys, ye) = p.window(0, oy);
            for ox in 0..p.wo {
                let (x0, x1, xs, xe) = p.window(1, ox);
                let count = if count_include_pad { ((ye - ys) * (xe - xs)) as usize } else { (y1 - y0) * (x1 - x0) };
                // Sequential sum, then a division, as PyTorch's kernel (same rounding).
                let count = T::lit(count as f64);
                if backward {
                    let g = s[oy * p.wo + ox] / count;
                    for iy in y0..y1 {
                        dst[iy * p.w + x0..iy * p.w + x1].iter_mut().for_each(|d| *d += g);
                    }
                } else {
                    let mut acc = T::ZERO;
                    for iy in y0..y1 {
                        s[iy * p.w + x0..iy * p.w + x1].iter().for_each(|&v| acc += v);
                    }
                    dst[oy * p.wo + ox] = acc / count;
                }
            }
        }
    });
    out
}

/// Checks that a backward kernel's `input_shape` argument is 4-D and that a gradient of that
/// shape and `dtype` fits in memory; returns its element count.
fn input_dims(op: &'static str, input_shape: &[usize], dtype: DType) -> Result<usize> {
    if input_shape.len() != 4 {
        return Err(TensorError::invalid(op, format!("input shape must be 4-D [N, C, H, W], got {input_shape:?}")));
    }
    let numel = crate::layout::checked_numel(op, input_shape)?;
    crate::pool::ensure_alloc(op, numel, dtype)?;
    Ok(numel)
}

/// The output shape of a validated pooling, with its allocation checked.
fn checked_out_shape(op: &'static str, p: &Pool, input: &[usize], dtype: DType) -> Result<Shape> {
    let shape = p.out_shape(input);
    crate::pool::ensure_alloc(op, crate::layout::checked_numel(op, &shape)?, dtype)?;
    Ok(shape)
}

impl Tensor {
    /// 2-D max pooling (as `torch.nn.functional.max_pool2d(..., return_indices=True)`).
    ///
    /// Shapes: `self` `[N, C, H, W]`; returns `(values, indices)`, both `[N, C, H_out, W_out]`
    /// with `H_out = (H + 2 * padding[0] - kernel[0]) / stride[0] + 1` (same for W). `indices`
    /// (i64) are flat positions `iy * W + ix` in each input plane. Padding reads as `-inf`; the
    /// first maximum of a window wins ties and a NaN propagates. Errors on a non-float dtype, a
    /// wrong rank, a zero kernel or stride, `padding > kernel / 2`, or a kernel larger than the
    /// padded input.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[1, 1, 2, 2]);
    /// let (v, i) = x.max_pool2d([2, 2], [2, 2], [0, 0]);
    /// assert_eq!((v.to_vec::<f32>(), i.to_vec::<i64>()), (vec![5.0], vec![1]));
    /// ```
    pub fn try_max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<(Tensor, Tensor)> {
        let op = "max_pool2d";
        check_float(op, self)?;
        let p = pool_geom(op, self.shape(), kernel, stride, padding)?;
        let shape = checked_out_shape(op, &p, self.shape(), self.dtype())?;
        // The indices are i64: as many bytes per element as the widest float.
        crate::pool::ensure_alloc(op, shape.iter().product(), DType::I64)?;
        let x = self.try_contiguous()?;
        float_dispatch!(op, x.dtype(), T => {
            let (v, i) = max_pool::<T>(dense(&x), &p);
            Ok((Tensor::from_data(v, &shape), Tensor::from_data(i, &shape)))
        })
    }

    /// 2-D max pooling with argmax indices; see [`try_max_pool2d`](Self::try_max_pool2d).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn max_pool2d(&self, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> (Tensor, Tensor) {
        crate::error::ok(self.try_max_pool2d(kernel, stride, padding))
    }

    /// Gradient of [`max_pool2d`](Self::max_pool2d) with respect to its input: each
    /// `grad_out [N, C, H_out, W_out]` entry is added to the input position its `indices`
    /// (i64, same shape, flat into each `H * W` plane) name; returns `input_shape = [N, C, H, W]`.
    /// Errors on a non-float `grad_out`, non-i64 `indices`, mismatched shapes, or an index
    /// outside its plane.
    pub fn try_max_pool2d_backward(grad_out: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Result<Tensor> {
        let op = "max_pool2d_backward";
        check_float(op, grad_out)?;
        indices.expect_dtype(op, DType::I64)?;
        let numel = input_dims(op, input_shape, grad_out.dtype())?;
        if grad_out.shape() != indices.shape() {
            return Err(TensorError::ShapeMismatch { op, lhs: grad_out.shape_vec(), rhs: indices.shape_vec() });
        }
        if grad_out.rank() != 4 || grad_out.shape()[..2] != input_shape[..2] {
            return Err(TensorError::invalid(
                op,
                format!(
                    "grad_out shape {:?} must be [N, C, H_out, W_out] with N and C of input shape {input_shape:?}",
                    grad_out.shape()
                ),
            ));
        }
        let hw = input_shape[2] * input_shape[3];
        let l = grad_out.shape()[2] * grad_out.shape()[3];
        let (g, idx) = (grad_out.try_contiguous()?, indices.try_contiguous()?);
        let idx = dense::<i64>(&idx);
        if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i as usize >= hw) {
            return Err(TensorError::invalid(
                op,
                format!(
                    "index {bad} is out of bounds for an input plane of {} x {} = {hw} elements",
                    input_shape[2], input_shape[3]
                ),
            ));
        }
        float_dispatch!(op, g.dtype(), T => {
            let g = dense::<T>(&g);
            // Not `vec![0; n]`: its fresh zero pages fault twice (read, then copy-on-write,
            // with a TLB shootdown), which was a third of the W5 CNN step. A recycled buffer,
            // zeroed plane by plane just before the scatter, costs one pass in cache.
            let mut dx = crate::pool::for_overwrite::<T>(numel);
            for_planes(&mut dx, hw, g.len(), |pl, dst| {
                dst.fill(T::ZERO);
                for (&i, &v) in idx[pl * l..][..l].iter().zip(&g[pl * l..][..l]) {
                    dst[i as usize] += v;
                }
            });
            Ok(Tensor::from_data(dx, input_shape))
        })
    }

    /// Gradient of [`max_pool2d`](Self::max_pool2d); see
    /// [`try_max_pool2d_backward`](Self::try_max_pool2d_backward).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn max_pool2d_backward(grad_out: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor {
        crate::error::ok(Tensor::try_max_pool2d_backward(grad_out, indices, input_shape))
    }

    /// 2-D average pooling (as `torch.nn.functional.avg_pool2d` with `ceil_mode=False`).
    ///
    /// Shapes: `self` `[N, C, H, W]`; output `[N, C, H_out, W_out]` with
    /// `H_out = (H + 2 * padding[0] - kernel[0]) / stride[0] + 1` (same for W). Each output is the
    /// window's sum divided by the window size (`count_include_pad`, zero padding counted) or by
    /// the number of in-bounds elements. Errors as [`try_max_pool2d`](Self::try_max_pool2d).
    pub fn try_avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let op = "avg_pool2d";
        check_float(op, self)?;
        let p = pool_geom(op, self.shape(), kernel, stride, padding)?;
        let shape = checked_out_shape(op, &p, self.shape(), self.dtype())?;
        let x = self.try_contiguous()?;
        float_dispatch!(op, x.dtype(), T => {
            Ok(Tensor::from_data(avg_pool::<T>(dense(&x), &p, count_include_pad, false), &shape))
        })
    }

    /// 2-D average pooling; see [`try_avg_pool2d`](Self::try_avg_pool2d).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Tensor {
        crate::error::ok(self.try_avg_pool2d(kernel, stride, padding, count_include_pad))
    }

    /// Gradient of [`avg_pool2d`](Self::avg_pool2d) with respect to its input:
    /// `grad_out [N, C, H_out, W_out]` with the forward's `input_shape = [N, C, H, W]` and
    /// parameters; each output gradient, divided by its window's divisor, is added to every
    /// in-bounds position of the window. Returns `[N, C, H, W]`. Errors on the forward's errors
    /// for `input_shape`, or a `grad_out` not of the forward output shape.
    pub fn try_avg_pool2d_backward(
        grad_out: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let op = "avg_pool2d_backward";
        input_dims(op, input_shape, grad_out.dtype())?;
        let p = pool_geom(op, input_shape, kernel, stride, padding)?;
        check_pool_grad(op, grad_out, input_shape, &p)?;
        let g = grad_out.try_contiguous()?;
        float_dispatch!(op, g.dtype(), T => {
            Ok(Tensor::from_data(avg_pool::<T>(dense(&g), &p, count_include_pad, true), input_shape))
        })
    }

    /// Gradient of [`avg_pool2d`](Self::avg_pool2d); see
    /// [`try_avg_pool2d_backward`](Self::try_avg_pool2d_backward).
    ///
    /// # Panics
    /// On the errors of the `try_` form, with the same message.
    #[track_caller]
    pub fn avg_pool2d_backward(
        grad_out: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Tensor {
        crate::error::ok(Tensor::try_avg_pool2d_backward(
            grad_out,
            input_shape,
            kernel,
            stride,
            padding,
            count_include_pad,
        ))
    }
}
