//! The convolution engine: im2col / col2im and the three GEMM drivers (forward, gradient with
//! respect to the input, gradient with respect to the weight) that every convolution op of the
//! crate (`conv1d`, `conv2d`, `conv_transpose2d` and their backward kernels) reduces to.
//!
//! Everything here works on contiguous buffers and a checked [`Geom`]; the public ops in
//! `conv.rs` and `conv_transpose.rs` validate shapes and dispatch on dtype.
//!
//! # Plan
//! The batch is processed in chunks of `nb` samples, `nb` chosen so the column buffer stays
//! under [`COL_LIMIT`] elements. For a chunk, the column matrix has one row per
//! `(channel, ki, kj)` (all groups stacked: `C * kh * kw` rows) and one column per
//! `(sample, oy, ox)` (`nb * Ho * Wo` columns); group `g` owns the row block
//! `g * K .. (g + 1) * K` with `K = C/groups * kh * kw`. Each group then needs one GEMM per chunk:
//! - forward: `y_g [Co/g, nb*L] = W_g [Co/g, K] @ col_g [K, nb*L]`;
//! - grad input: `dcol_g [K, nb*L] = W_g^T @ dy_g [Co/g, nb*L]`, then col2im;
//! - grad weight: `dW_g [Co/g, K] += dy_g [Co/g, nb*L] @ col_g^T`.
//!
//! With `nb == 1` the `[Co/g, L]` block of a sample is a plain strided matrix of the NCHW
//! buffer, so GEMMs read and write it in place; with `nb > 1` it is packed into / unpacked from a
//! `[Co, nb*L]` scratch buffer (one cheap pass, against a GEMM that costs `K` times more).
//! A 1x1, stride-1, unpadded convolution with `nb == 1` skips im2col: the input is its own column
//! matrix. im2col fills rows in parallel, col2im accumulates input planes in parallel, and
//! matrixmultiply threads inside the large GEMMs.

use rayon::prelude::*;

use crate::dtype::Element;
use crate::ops::matmul::{Gemm, MatRef};
use crate::parallel::should_parallelize;
use crate::Tensor;

/// Largest column buffer (in elements) built at once; bigger batches are processed in chunks.
const COL_LIMIT: usize = 1 << 22;

/// Per-sample forward products below this many multiply-adds run one sample per rayon task
/// (matrixmultiply does not thread them), writing straight into the output; larger ones are
/// batched into one threaded GEMM per chunk.
const PER_SAMPLE_GEMM: usize = 1 << 22;

/// GEMMs below this many multiply-adds are too small for matrixmultiply to thread, so groups
/// run in parallel over rayon instead (as batched matmul does).
const SMALL_GEMM: usize = 1 << 18;

/// The checked geometry of one 2-D convolution, in the forward (conv2d) orientation:
/// input `[n, c, h, w]`, weight `[co, c / groups, kh, kw]`, output `[n, co, ho, wo]`.
///
/// `ho`/`wo` are not re-derived from the other fields: a transposed convolution may use an
/// input (`h`, `w`) larger than the one the output size formula maps back from
/// (`output_padding`); im2col reads zeros and col2im drops writes outside the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub co: usize,
    pub ho: usize,
    pub wo: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub dil: [usize; 2],
    pub groups: usize,
}

impl Geom {
    /// Input channels per group.
    fn cg(&self) -> usize {
        self.c / self.groups
    }

    /// Output channels per group.
    fn cog(&self) -> usize {
        self.co / self.groups
    }

    /// Rows of one group's column matrix: `C/groups * kh * kw`.
    fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }

    /// Output positions per sample and channel.
    fn l(&self) -> usize {
        self.ho * self.wo
    }

    fn hw(&self) -> usize {
        self.h * self.w
    }

    /// A 1x1, stride-1, unpadded convolution whose column matrix is the input itself.
    fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && self.ho == self.h
            && self.wo == self.w
    }

    /// Samples per chunk so that the column buffer stays under [`COL_LIMIT`].
    fn chunk(&self) -> usize {
        let per_sample = (self.c * self.kh * self.kw * self.l()).max(1);
        (COL_LIMIT / per_sample).clamp(1, self.n.max(1))
    }

    /// The output size along one dimension for an input of `input` elements (`None` if empty).
    pub fn out_size(input: usize, kernel: usize, stride: usize, pad: usize, dil: usize) -> Option<usize> {
        let eff = dil * (kernel - 1) + 1;
        (input + 2 * pad).checked_sub(eff).map(|span| span / stride + 1)
    }
}

/// The elements of a contiguous tensor (`contiguous()` already called) as a slice.
pub(crate) fn dense<T: Element>(t: &Tensor) -> &[T] {
    debug_assert!(t.is_contiguous());
    let off = t.layout.offset;
    &t.storage_slice::<T>()[off..off + t.numel()]
}

/// The outputs `o in 0..out_len` whose input position `o * stride + off - pad` lies in
/// `0..in_len`, as a range `lo..hi` (empty when none do).
fn valid_range(out_len: usize, in_len: usize, stride: usize, pad: usize, off: usize) -> (usize, usize) {
    let last = in_len as isize - 1 + pad as isize - off as isize;
    if last < 0 {
        return (0, 0);
    }
    let hi = out_len.min(last as usize / stride + 1);
    let lo = if pad > off { (pad - off).div_ceil(stride) } else { 0 };
    (lo.min(hi), hi)
}

/// Runs `f(i, chunk)` over the `len`-sized chunks of `buf`, in parallel when `work` is large.
fn for_chunks<T: Send>(buf: &mut [T], len: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if len == 0 {
        return;
    }
    if buf.len() > len && should_parallelize(work) {
        buf.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        buf.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// Fills `col [C*kh*kw, nb*L]` from samples `n0..n0 + nb` of `x [N, C, H, W]`; positions in the
/// padding read as zero.
fn im2col<T: Element>(x: &[T], g: &Geom, n0: usize, nb: usize, col: &mut [T]) {
    let (l, cols, hw) = (g.l(), nb * g.l(), g.hw());
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad;
    let [dh, dw] = g.dil;
    for_chunks(col, cols, col.len(), |r, row| {
        let (kj, ki, c) = (r % g.kw, (r / g.kw) % g.kh, r / (g.kw * g.kh));
        let (y_lo, y_hi) = valid_range(g.ho, g.h, sh, ph, ki * dh);
        let (x_lo, x_hi) = valid_range(g.wo, g.w, sw, pw, kj * dw);
        for s in 0..nb {
            let plane = &x[((n0 + s) * g.c + c) * hw..][..hw];
            let out = &mut row[s * l..][..l];
            for (oy, dst) in out.chunks_mut(g.wo).enumerate() {
                if oy < y_lo || oy >= y_hi || x_lo == x_hi {
                    dst.fill(T::ZERO);
                    continue;
                }
                let src = &plane[(oy * sh + ki * dh - ph) * g.w..][..g.w];
                dst[..x_lo].fill(T::ZERO);
                dst[x_hi..].fill(T::ZERO);
                let ix0 = x_lo * sw + kj * dw - pw;
                if sw == 1 {
                    dst[x_lo..x_hi].copy_from_slice(&src[ix0..ix0 + (x_hi - x_lo)]);
                } else {
                    for (i, d) in dst[x_lo..x_hi].iter_mut().enumerate() {
                        *d = src[ix0 + i * sw];
                    }
                }
            }
        }
    });
}

/// Writes into `dx` (samples `n0..n0 + nb` of `[N, C, H, W]`) the sum of the `dcol [C*kh*kw,
/// nb*L]` entries read from each input position (the adjoint of [`im2col`]); positions no
/// column read get zero.
fn col2im<T: Gemm>(dcol: &[T], g: &Geom, nb: usize, dx: &mut [T]) {
    let (l, cols, hw) = (g.l(), nb * g.l(), g.hw());
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad;
    let [dh, dw] = g.dil;
    let kk = g.kh * g.kw;
    for_chunks(dx, hw, dcol.len(), |p, plane| {
        let (s, c) = (p / g.c, p % g.c);
        plane.fill(T::ZERO);
        for ki in 0..g.kh {
            let (y_lo, y_hi) = valid_range(g.ho, g.h, sh, ph, ki * dh);
            for kj in 0..g.kw {
                let (x_lo, x_hi) = valid_range(g.wo, g.w, sw, pw, kj * dw);
                if x_lo == x_hi {
                    continue;
                }
                let row = &dcol[(c * kk + ki * g.kw + kj) * cols + s * l..][..l];
                for oy in y_lo..y_hi {
                    let dst = &mut plane[(oy * sh + ki * dh - ph) * g.w..][..g.w];
                    let src = &row[oy * g.wo..][..g.wo];
                    let ix0 = x_lo * sw + kj * dw - pw;
                    if sw == 1 {
                        for (d, &v) in dst[ix0..ix0 + (x_hi - x_lo)].iter_mut().zip(&src[x_lo..x_hi]) {
                            *d += v;
                        }
                    } else {
                        for (i, &v) in src[x_lo..x_hi].iter().enumerate() {
                            dst[ix0 + i * sw] += v;
                        }
                    }
                }
            }
        }
    });
}

/// Copies channels of samples `n0..n0 + nb` of `y [N, Co, L]` into `buf [Co, nb*L]`.
fn pack<T: Element>(y: &[T], g: &Geom, n0: usize, nb: usize, buf: &mut [T]) {
    let (l, co) = (g.l(), g.co);
    for_chunks(buf, nb * l, buf.len(), |ch, row| {
        for (s, dst) in row.chunks_mut(l).enumerate() {
            dst.copy_from_slice(&y[((n0 + s) * co + ch) * l..][..l]);
        }
    });
}

/// Adds `buf [Co, nb*L]` onto samples `n0..n0 + nb` of `y [N, Co, L]` (`y` holds those samples).
fn unpack_add<T: Gemm>(buf: &[T], g: &Geom, nb: usize, y: &mut [T]) {
    let (l, co) = (g.l(), g.co);
    for_chunks(y, l, buf.len(), |p, dst| {
        let (s, ch) = (p / co, p % co);
        for (d, &v) in dst.iter_mut().zip(&buf[(ch * nb + s) * l..][..l]) {
            *d += v;
        }
    });
}

/// The column matrix of group `grp` for a chunk: either the built buffer or, for a pointwise
/// convolution of one sample, the input itself.
fn col_mat(g: &Geom, grp: usize, n0: usize, nb: usize, direct: bool) -> MatRef {
    let (k, cols) = (g.k(), nb * g.l());
    if direct {
        MatRef { rows: k, cols, offset: (n0 * g.c + grp * g.cg()) * g.hw(), row_stride: g.hw(), col_stride: 1 }
    } else {
        MatRef { rows: k, cols, offset: grp * k * cols, row_stride: cols, col_stride: 1 }
    }
}

/// The `[Co/g, nb*L]` output-side matrix of group `grp` for a chunk: in place in the NCHW
/// buffer when `nb == 1`, else in the packed `[Co, nb*L]` scratch buffer.
fn out_mat(g: &Geom, grp: usize, n0: usize, nb: usize) -> MatRef {
    let (cog, l) = (g.cog(), g.l());
    if nb == 1 {
        MatRef { rows: cog, cols: l, offset: (n0 * g.co + grp * cog) * l, row_stride: l, col_stride: 1 }
    } else {
        MatRef::contiguous(cog, nb * l, grp * cog * nb * l)
    }
}

/// Group `grp`'s weight block `[Co/g, K]` of a contiguous `[Co, C/g, kh, kw]` weight.
fn weight_mat(g: &Geom, grp: usize) -> MatRef {
    MatRef::contiguous(g.cog(), g.k(), grp * g.cog() * g.k())
}

/// Runs `f(grp, block)` over the `groups` equal contiguous blocks of `out` (each group's GEMM
/// output), in parallel over groups when each GEMM (`macs` multiply-adds) is too small for
/// matrixmultiply to thread (depthwise and other many-group convolutions).
fn for_groups<T: Send>(out: &mut [T], groups: usize, macs: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let len = out.len() / groups;
    if len == 0 {
        return;
    }
    if groups > 1 && macs < SMALL_GEMM && should_parallelize(groups * macs) {
        out.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// A call's scratch buffers, taken from the buffer cache and handed back on drop: the column
/// matrix (unless a pointwise convolution reads its input directly) and the packed output
/// buffer (only when a chunk holds several samples).
struct Scratch<T: Element> {
    nbmax: usize,
    direct: bool,
    col: Vec<T>,
    buf: Vec<T>,
}

impl<T: Element> Scratch<T> {
    fn new(g: &Geom) -> Self {
        let (nbmax, l) = (g.chunk(), g.l());
        let direct = g.pointwise() && nbmax == 1;
        let col = if direct { Vec::new() } else { crate::pool::for_overwrite::<T>(g.c * g.kh * g.kw * nbmax * l) };
        let buf = if nbmax > 1 { crate::pool::for_overwrite::<T>(g.co * nbmax * l) } else { Vec::new() };
        Scratch { nbmax, direct, col, buf }
    }
}

impl<T: Element> Drop for Scratch<T> {
    fn drop(&mut self) {
        crate::pool::recycle_vec(std::mem::take(&mut self.col));
        crate::pool::recycle_vec(std::mem::take(&mut self.buf));
    }
}

/// Forward convolution: `x [N, C, H, W]`, `w [Co, C/groups, kh, kw]`, optional `bias [Co]`;
/// returns `y [N, Co, Ho, Wo]` (row-major).
pub(crate) fn conv_forward<T: Gemm>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geom) -> Vec<T> {
    let l = g.l();
    // Every element starts as the bias (or zero): GEMMs accumulate onto it.
    let mut y = crate::pool::for_overwrite::<T>(g.n * g.co * l);
    match bias {
        Some(b) => {
            for (p, plane) in y.chunks_mut(l.max(1)).enumerate() {
                plane.fill(b[p % g.co]);
            }
        }
        None => y.fill(T::ZERO),
    }
    let per_sample_macs = g.co * g.k() * l;
    if g.n > 1 && per_sample_macs < PER_SAMPLE_GEMM && should_parallelize(g.n * per_sample_macs) {
        // Small per-sample products (few channels, e.g. a first layer): one sample per rayon
        // task, each GEMM single-threaded and written straight into the sample's NCHW output.
        // One big GEMM here would have a tiny inner dimension and pay for packing and for
        // matrixmultiply's own threads contending with rayon's.
        y.par_chunks_mut(g.co * l).enumerate().for_each(|(s, ys)| {
            let mut col = crate::pool::for_overwrite::<T>(g.c * g.kh * g.kw * l);
            im2col(x, g, s, 1, &mut col);
            for grp in 0..g.groups {
                let cm = MatRef::contiguous(g.cog(), l, grp * g.cog() * l);
                T::gemm(T::ONE, w, weight_mat(g, grp), &col, col_mat(g, grp, s, 1, false), T::ONE, ys, cm);
            }
            crate::pool::recycle_vec(col);
        });
        return y;
    }
    let mut scratch = Scratch::<T>::new(g);
    let (nbmax, direct) = (scratch.nbmax, scratch.direct);
    let (col, buf) = (&mut scratch.col, &mut scratch.buf);
    for n0 in (0..g.n).step_by(nbmax) {
        let nb = nbmax.min(g.n - n0);
        let cols = nb * l;
        let col = &mut col[..if direct { 0 } else { g.c * g.kh * g.kw * cols }];
        if !direct {
            im2col(x, g, n0, nb, col);
        }
        let src: &[T] = if direct { x } else { col };
        let ysample = &mut y[n0 * g.co * l..(n0 + nb) * g.co * l];
        // One sample: accumulate onto the bias in place. Several: GEMM into the packed buffer.
        let (dst, beta) = if nb == 1 { (ysample, T::ONE) } else { (&mut buf[..g.co * cols], T::ZERO) };
        for_groups(dst, g.groups, g.cog() * g.k() * cols, |grp, c| {
            let cm = MatRef::contiguous(g.cog(), cols, 0);
            T::gemm(T::ONE, w, weight_mat(g, grp), src, col_mat(g, grp, n0, nb, direct), beta, c, cm);
        });
        if nb > 1 {
            unpack_add(&buf[..g.co * cols], g, nb, &mut y[n0 * g.co * l..(n0 + nb) * g.co * l]);
        }
    }
    y
}

/// Gradient of [`conv_forward`] with respect to its input: `dy [N, Co, Ho, Wo]`,
/// `w [Co, C/groups, kh, kw]`; returns `dx [N, C, H, W]` (`W^T @ dy`, then col2im).
pub(crate) fn conv_backward_input<T: Gemm>(dy: &[T], w: &[T], g: &Geom) -> Vec<T> {
    let (l, hw) = (g.l(), g.hw());
    // Every element is written: by the GEMM (pointwise, beta = 0) or by col2im, which zeroes
    // each plane before adding onto it (fresh zero pages would fault on every first write).
    let mut dx = crate::pool::for_overwrite::<T>(g.n * g.c * hw);
    let mut scratch = Scratch::<T>::new(g);
    let (nbmax, direct) = (scratch.nbmax, scratch.direct);
    let (dcol, buf) = (&mut scratch.col, &mut scratch.buf);
    for n0 in (0..g.n).step_by(nbmax) {
        let nb = nbmax.min(g.n - n0);
        let cols = nb * l;
        if nb > 1 {
            pack(dy, g, n0, nb, &mut buf[..g.co * cols]);
        }
        let dsrc: &[T] = if nb > 1 { buf } else { dy };
        let dxs = &mut dx[n0 * g.c * hw..(n0 + nb) * g.c * hw];
        // Pointwise: the column gradient is the input gradient itself.
        let dst = if direct { &mut *dxs } else { &mut dcol[..g.c * g.kh * g.kw * cols] };
        for_groups(dst, g.groups, g.cog() * g.k() * cols, |grp, c| {
            let cm = MatRef::contiguous(g.k(), cols, 0);
            T::gemm(T::ONE, w, weight_mat(g, grp).t(), dsrc, out_mat(g, grp, n0, nb), T::ZERO, c, cm);
        });
        if !direct {
            col2im(&dcol[..g.c * g.kh * g.kw * cols], g, nb, dxs);
        }
    }
    dx
}

/// Gradient of [`conv_forward`] with respect to its weight: `dy [N, Co, Ho, Wo]`,
/// `x [N, C, H, W]`; returns `dw [Co, C/groups, kh, kw]` (`dy @ im2col(x)^T`, summed over chunks).
pub(crate) fn conv_backward_weight<T: Gemm>(dy: &[T], x: &[T], g: &Geom) -> Vec<T> {
    let l = g.l();
    let mut dw = vec![T::ZERO; g.co * g.k()];
    let mut scratch = Scratch::<T>::new(g);
    let (nbmax, direct) = (scratch.nbmax, scratch.direct);
    let (col, buf) = (&mut scratch.col, &mut scratch.buf);
    for n0 in (0..g.n).step_by(nbmax) {
        let nb = nbmax.min(g.n - n0);
        let cols = nb * l;
        let col = &mut col[..if direct { 0 } else { g.c * g.kh * g.kw * cols }];
        if !direct {
            im2col(x, g, n0, nb, col);
        }
        if nb > 1 {
            pack(dy, g, n0, nb, &mut buf[..g.co * cols]);
        }
        let src: &[T] = if direct { x } else { col };
        let dsrc: &[T] = if nb > 1 { buf } else { dy };
        for_groups(&mut dw, g.groups, g.cog() * g.k() * cols, |grp, c| {
            let (am, bm) = (out_mat(g, grp, n0, nb), col_mat(g, grp, n0, nb, direct).t());
            T::gemm(T::ONE, dsrc, am, src, bm, T::ONE, c, MatRef::contiguous(g.cog(), g.k(), 0));
        });
    }
    dw
}
