//! The strided elementwise engine: every map, zip and copy kernel goes through here.
//!
//! Inputs may be any strided view (transposed, sliced with step, broadcast with stride 0);
//! outputs are always fresh row-major buffers. Contiguous inputs take a straight slice loop the
//! compiler vectorises; everything else walks collapsed dimensions in runs.

use crate::dtype::Element;
use crate::layout::{collapse, for_each_run, Strides};
use crate::macros::widest_simd;
use crate::parallel::fill_chunks;
use crate::Tensor;

/// `out[i] = f(x[i])` over `x` in row-major order.
pub(crate) fn map<T: Element, U: Element>(x: &Tensor, f: impl Fn(T) -> U + Sync + Send) -> Vec<U> {
    let src = x.storage_slice::<T>();
    let n = x.numel();
    let mut out = crate::pool::for_overwrite::<U>(n);
    if let Some(range) = x.layout.contiguous_range() {
        let src = &src[range];
        fill_chunks(&mut out, |start, chunk| {
            let len = chunk.len();
            map_slice(&src[start..start + len], chunk, &f);
        });
        return out;
    }
    let (shape, [strides]) = collapse(x.shape(), [x.strides()]);
    let strides = [strides];
    let base = [x.layout.offset];
    fill_chunks(&mut out, |start, chunk| {
        for_each_run(&shape, &strides, base, start, chunk.len(), |pos, [o], run, [s]| {
            let dst = &mut chunk[pos - start..pos - start + run];
            if s == 1 {
                for (d, &v) in dst.iter_mut().zip(&src[o..o + run]) {
                    *d = f(v);
                }
            } else {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = f(src[o + i * s]);
                }
            }
        });
    });
    out
}

/// `dst[i] = f(src[i])`, compiled for the widest SIMD the CPU has: the compiler vectorises the
/// loop (and any branch-free math inlined into `f`, such as `fastmath::exp_f32`) separately for
/// AVX-512, AVX2 and the SSE2 baseline, and the CPU picks at run time. The arithmetic is the
/// same in every version (no FMA contraction), so results do not depend on the machine.
#[inline(always)]
fn map_slice<T: Copy, U, F: Fn(T) -> U>(src: &[T], dst: &mut [U], f: &F) {
    widest_simd!(simd::map_avx512, simd::map_avx2, map_plain, (src, dst, f))
}

#[inline(always)]
fn map_plain<T: Copy, U, F: Fn(T) -> U>(src: &[T], dst: &mut [U], f: &F) {
    for (o, &v) in dst.iter_mut().zip(src) {
        *o = f(v);
    }
}

/// `dst[i] = f(a[i], b[i])`, compiled three times and dispatched at run time as [`map_slice`].
#[inline(always)]
pub(crate) fn zip_slices<A: Copy, B: Copy, U, F: Fn(A, B) -> U>(a: &[A], b: &[B], dst: &mut [U], f: &F) {
    widest_simd!(simd::zip_avx512, simd::zip_avx2, zip_plain, (a, b, dst, f))
}

#[inline(always)]
fn zip_plain<A: Copy, B: Copy, U, F: Fn(A, B) -> U>(a: &[A], b: &[B], dst: &mut [U], f: &F) {
    for ((o, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
}

/// `dst[i] = f(a[i], b[i], c[i])`, compiled three times and dispatched at run time as
/// [`map_slice`].
#[inline(always)]
fn zip3_slices<A: Copy, B: Copy, C: Copy, U, F: Fn(A, B, C) -> U>(a: &[A], b: &[B], c: &[C], dst: &mut [U], f: &F) {
    widest_simd!(simd::zip3_avx512, simd::zip3_avx2, zip3_plain, (a, b, c, dst, f))
}

#[inline(always)]
fn zip3_plain<A: Copy, B: Copy, C: Copy, U, F: Fn(A, B, C) -> U>(a: &[A], b: &[B], c: &[C], dst: &mut [U], f: &F) {
    for (((o, &x), &y), &z) in dst.iter_mut().zip(a).zip(b).zip(c) {
        *o = f(x, y, z);
    }
}

/// One contiguous run of a binary op: both operands contiguous, or one of them a broadcast
/// scalar (stride 0), each vectorised; anything else element by element.
#[allow(clippy::too_many_arguments)] // two operands, each a (slice, offset, stride)
#[inline(always)]
fn zip_run<A: Copy, B: Copy, U, F: Fn(A, B) -> U>(
    sa: &[A],
    (xa, ia): (usize, usize),
    sb: &[B],
    (xb, ib): (usize, usize),
    dst: &mut [U],
    f: &F,
) {
    let run = dst.len();
    match (ia, ib) {
        (1, 1) => zip_slices(&sa[xa..xa + run], &sb[xb..xb + run], dst, f),
        (1, 0) => {
            let y = sb[xb];
            map_slice(&sa[xa..xa + run], dst, &|x| f(x, y))
        }
        (0, 1) => {
            let x = sa[xa];
            map_slice(&sb[xb..xb + run], dst, &|y| f(x, y))
        }
        _ => {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = f(sa[xa + i * ia], sb[xb + i * ib]);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn map_avx512<T: Copy, U, F: Fn(T) -> U>(src: &[T], dst: &mut [U], f: &F) {
        super::map_plain(src, dst, f)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn map_avx2<T: Copy, U, F: Fn(T) -> U>(src: &[T], dst: &mut [U], f: &F) {
        super::map_plain(src, dst, f)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn zip_avx512<A: Copy, B: Copy, U, F: Fn(A, B) -> U>(a: &[A], b: &[B], dst: &mut [U], f: &F) {
        super::zip_plain(a, b, dst, f)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn zip_avx2<A: Copy, B: Copy, U, F: Fn(A, B) -> U>(a: &[A], b: &[B], dst: &mut [U], f: &F) {
        super::zip_plain(a, b, dst, f)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn zip3_avx512<A: Copy, B: Copy, C: Copy, U, F: Fn(A, B, C) -> U>(
        a: &[A],
        b: &[B],
        c: &[C],
        dst: &mut [U],
        f: &F,
    ) {
        super::zip3_plain(a, b, c, dst, f)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn zip3_avx2<A: Copy, B: Copy, C: Copy, U, F: Fn(A, B, C) -> U>(
        a: &[A],
        b: &[B],
        c: &[C],
        dst: &mut [U],
        f: &F,
    ) {
        super::zip3_plain(a, b, c, dst, f)
    }
}

/// `out[i] = f(a[i], b[i])` where `a` and `b` are read through `a_strides`/`b_strides`
/// (already broadcast to `shape`).
pub(crate) fn zip<A: Element, B: Element, U: Element>(
    a: &Tensor,
    a_strides: &[usize],
    b: &Tensor,
    b_strides: &[usize],
    shape: &[usize],
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U> {
    let (sa, sb) = (a.storage_slice::<A>(), b.storage_slice::<B>());
    let n: usize = shape.iter().product();
    let mut out = crate::pool::for_overwrite::<U>(n);
    let (shape, [sta, stb]) = collapse(shape, [a_strides, b_strides]);
    let (oa, ob) = (a.layout.offset, b.layout.offset);
    // Fast paths: one dimension left after collapsing covers contiguous, scalar-broadcast
    // and row-broadcast-over-contiguous cases.
    if shape.len() == 1 {
        let (ia, ib) = (sta[0], stb[0]);
        fill_chunks(&mut out, |start, chunk| {
            zip_run(sa, (oa + start * ia, ia), sb, (ob + start * ib, ib), chunk, &f);
        });
        return out;
    }
    // Two dimensions on one thread (a bias added to a batch of rows): a plain loop over rows,
    // each a vectorised run, instead of the general walker's per-run bookkeeping.
    if shape.len() == 2 && !crate::parallel::should_parallelize(n) {
        let cols = shape[1];
        for (r, row) in out.chunks_exact_mut(cols.max(1)).enumerate().take(shape[0]) {
            zip_run(sa, (oa + r * sta[0], sta[1]), sb, (ob + r * stb[0], stb[1]), row, &f);
        }
        return out;
    }
    let strides = [sta, stb];
    fill_chunks(&mut out, |start, chunk| {
        for_each_run(&shape, &strides, [oa, ob], start, chunk.len(), |pos, [xa, xb], run, [ia, ib]| {
            zip_run(sa, (xa, ia), sb, (xb, ib), &mut chunk[pos - start..pos - start + run], &f);
        });
    });
    out
}

/// `out[i] = f(a[i], b[i], c[i])` with each operand read through broadcast strides.
pub(crate) fn zip3<A: Element, B: Element, C: Element, U: Element>(
    operands: (&Tensor, &Tensor, &Tensor),
    strides: [&[usize]; 3],
    shape: &[usize],
    f: impl Fn(A, B, C) -> U + Sync + Send,
) -> Vec<U> {
    let (a, b, c) = operands;
    let (sa, sb, sc) = (a.storage_slice::<A>(), b.storage_slice::<B>(), c.storage_slice::<C>());
    let n: usize = shape.iter().product();
    let mut out = crate::pool::for_overwrite::<U>(n);
    let (shape, st) = collapse(shape, strides);
    let st: [Strides; 3] = st;
    let base = [a.layout.offset, b.layout.offset, c.layout.offset];
    fill_chunks(&mut out, |start, chunk| {
        for_each_run(&shape, &st, base, start, chunk.len(), |pos, [xa, xb, xc], run, [ia, ib, ic]| {
            let dst = &mut chunk[pos - start..pos - start + run];
            if (ia, ib, ic) == (1, 1, 1) {
                // All three contiguous (`where` on same-shape tensors): vectorised.
                return zip3_slices(&sa[xa..xa + run], &sb[xb..xb + run], &sc[xc..xc + run], dst, &f);
            }
            for (i, d) in dst.iter_mut().enumerate() {
                *d = f(sa[xa + i * ia], sb[xb + i * ib], sc[xc + i * ic]);
            }
        });
    });
    out
}

/// Writes `src` (any layout) into `dst` at the positions given by `dst_strides`/`dst_offset`,
/// which describe a view of `dst` with `src`'s shape.
pub(crate) fn copy_into<T: Element>(src: &Tensor, dst: &mut [T], dst_strides: &[usize], dst_offset: usize) {
    copy_into_from(src, src.layout.offset, dst, dst_strides, dst_offset)
}

/// [`copy_into`] reading `src`'s shape and strides from storage offset `src_offset` instead of
/// its own (the same view shifted, as `index_select` needs for each picked slab).
pub(crate) fn copy_into_from<T: Element>(
    src: &Tensor,
    src_offset: usize,
    dst: &mut [T],
    dst_strides: &[usize],
    dst_offset: usize,
) {
    let s = src.storage_slice::<T>();
    if src.numel() == 0 {
        return;
    }
    let (shape, st) = collapse(src.shape(), [src.strides(), dst_strides]);
    for_each_run(&shape, &st, [src_offset, dst_offset], 0, src.numel(), |_, [so, d], run, [ss, ds]| {
        if ss == 1 && ds == 1 {
            dst[d..d + run].copy_from_slice(&s[so..so + run]);
        } else {
            for i in 0..run {
                dst[d + i * ds] = s[so + i * ss];
            }
        }
    });
}
