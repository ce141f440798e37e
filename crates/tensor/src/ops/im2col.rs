//! The convolution engine: im2col / col2im and the three GEMM drivers (forward, gradient with
//! respect to the input, gradient with respect to the weight) that every convolution op of the
//! crate (`conv1d`, `conv2d`, `conv_transpose2d` and their backward kernels) reduces to.
//!
//! Everything here works on contiguous buffers and a checked [`Geom`]; the public ops in
//! `conv.rs` and `conv_transpose.rs` validate shapes and dispatch on dtype.
//!
//! # Plan
//! The batch is cut into chunks of `nb` samples (see [`Geom::chunk`]): small enough that a
//! chunk's column matrix stays in L2, and at least [`MIN_CHUNKS`] of them so both threads have
//! work. Chunks run in parallel on rayon, each with its own scratch buffers; the GEMMs inside
//! them may split further on the same pool (`matmul::for_blocks`), so there is one pool and no
//! nested thread hand-offs. For a chunk, the column matrix has one row per `(channel, ki, kj)`
//! (all groups stacked: `C * kh * kw` rows) and one column per `(sample, oy, ox)` (`nb * Ho * Wo`
//! columns); group `g` owns the row block `g * K .. (g + 1) * K` with `K = C/groups * kh * kw`.
//! Each group then needs one GEMM per chunk:
//! - forward: `y_g [Co/g, nb*L] = W_g [Co/g, K] @ col_g [K, nb*L]`, written into a packed
//!   `[Co, nb*L]` buffer and copied into NCHW with the bias added (one pass in cache);
//! - grad input: `dcol_g [K, nb*L] = W_g^T @ dy_g [Co/g, nb*L]` (`dy` packed the same way), then
//!   col2im;
//! - grad weight: `dW_g [Co/g, K] = dy_g [Co/g, nb*L] @ col_g^T`, one partial per chunk, summed in
//!   chunk order.
//!
//! Chunk sizes depend only on the shapes, and every partial sum is added in a fixed order, so the
//! results are bit-identical for any number of threads. With `nb == 1` the packed buffers are
//! skipped (a sample's `[Co, L]` block of the NCHW buffer is already the matrix). A 1x1,
//! stride-1, unpadded convolution skips im2col: a sample's input is its own column matrix.

use rayon::prelude::*;

use crate::dtype::Element;
use crate::ops::matmul::{Gemm, MatRef};
use crate::parallel::should_parallelize;
use crate::Tensor;

/// Target size (in elements) of one chunk's column matrix: 1 MiB of f32, in L2 with room for
/// the GEMM's packed panels.
const CHUNK_COLS: usize = 1 << 18;

/// The batch is cut into at least this many chunks (when it has that many samples), so the
/// pool's threads share the work evenly; a constant, not the thread count, so results never
/// depend on it.
const MIN_CHUNKS: usize = 8;

/// GEMMs below this many multiply-adds run groups in parallel over rayon (depthwise and other
/// many-group convolutions); larger ones parallelise inside the GEMM.
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

    /// Samples per chunk: as many as keep the column matrix near [`CHUNK_COLS`] elements, but
    /// no more than makes [`MIN_CHUNKS`] chunks.
    fn chunk(&self) -> usize {
        let per_sample = (self.c * self.kh * self.kw * self.l()).max(1);
        (CHUNK_COLS / per_sample).min(self.n.div_ceil(MIN_CHUNKS)).clamp(1, self.n.max(1))
    }

    /// Rows of the stacked column matrix: `C * kh * kw`.
    fn col_rows(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// The output size along one dimension for an input of `input` elements (`None` if empty).
    pub fn out_size(input: usize, kernel: usize, stride: usize, pad: usize, dil: usize) -> Option<usize> {
        let eff = dil.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
        input.checked_add(pad.checked_mul(2)?)?.checked_sub(eff).map(|span| span / stride + 1)
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
    for (ch, row) in buf.chunks_mut(nb * l).enumerate() {
        for (s, dst) in row.chunks_mut(l).enumerate() {
            dst.copy_from_slice(&y[((n0 + s) * co + ch) * l..][..l]);
        }
    }
}

/// Writes `buf [Co, nb*L]` plus the bias into `y`, the `[nb, Co, L]` block of a chunk's samples.
fn unpack_bias<T: Gemm>(buf: &[T], g: &Geom, nb: usize, bias: Option<&[T]>, y: &mut [T]) {
    let (l, co) = (g.l(), g.co);
    for (p, dst) in y.chunks_mut(l).enumerate() {
        let (s, ch) = (p / co, p % co);
        let src = &buf[(ch * nb + s) * l..][..l];
        match bias {
            Some(b) => {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = v + b[ch];
                }
            }
            None => dst.copy_from_slice(src),
        }
    }
}

/// The column matrix of group `grp` for a chunk: the chunk's built buffer or, for a pointwise
/// convolution of one sample, the input itself.
fn col_mat(g: &Geom, grp: usize, n0: usize, nb: usize, direct: bool) -> MatRef {
    let (k, cols) = (g.k(), nb * g.l());
    if direct {
        MatRef { rows: k, cols, offset: (n0 * g.c + grp * g.cg()) * g.hw(), row_stride: g.hw(), col_stride: 1 }
    } else {
        MatRef { rows: k, cols, offset: grp * k * cols, row_stride: cols, col_stride: 1 }
    }
}

/// Group `grp`'s `[Co/g, nb*L]` block of a chunk's output-side matrix: in place in the NCHW
/// buffer when the chunk is one sample, else in the packed `[Co, nb*L]` buffer.
fn out_mat(g: &Geom, grp: usize, n0: usize, nb: usize) -> MatRef {
    let (cog, l) = (g.cog(), g.l());
    if nb == 1 {
        MatRef::contiguous(cog, l, (n0 * g.co + grp * cog) * l)
    } else {
        MatRef::contiguous(cog, nb * l, grp * cog * nb * l)
    }
}

/// Group `grp`'s weight block `[Co/g, K]` of a contiguous `[Co, C/g, kh, kw]` weight.
fn weight_mat(g: &Geom, grp: usize) -> MatRef {
    MatRef::contiguous(g.cog(), g.k(), grp * g.cog() * g.k())
}

/// Runs `f(grp, block)` over the `groups` equal contiguous blocks of `out` (each group's GEMM
/// output), in parallel over groups when each GEMM (`macs` multiply-adds) is too small to
/// split (depthwise and other many-group convolutions).
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

/// A chunk's scratch buffers, taken from the buffer cache and handed back on drop: the column
/// matrix (unless a pointwise convolution reads its input directly) and the packed output-side
/// buffer (unless the chunk is one sample).
struct Scratch<T: Element> {
    col: Vec<T>,
    buf: Vec<T>,
}

impl<T: Element> Scratch<T> {
    fn new(g: &Geom, nb: usize, direct: bool, packed: bool) -> Self {
        let cols = nb * g.l();
        let col = if direct { Vec::new() } else { crate::pool::for_overwrite::<T>(g.col_rows() * cols) };
        let buf = if packed { crate::pool::for_overwrite::<T>(g.co * cols) } else { Vec::new() };
        Scratch { col, buf }
    }
}

impl<T: Element> Drop for Scratch<T> {
    fn drop(&mut self) {
        crate::pool::recycle_vec(std::mem::take(&mut self.col));
        crate::pool::recycle_vec(std::mem::take(&mut self.buf));
    }
}

/// Runs `f(n0, nb, block)` for each chunk of samples `n0..n0 + nb` (see [`Geom::chunk`]), where
/// `block` is the chunk's `block_len(nb)` elements of `out` (consecutive chunks, consecutive
/// blocks), in parallel when `macs` (the whole op's multiply-adds) is worth it.
fn for_sample_chunks<T: Send>(
    out: &mut [T],
    g: &Geom,
    block_len: impl Fn(usize) -> usize,
    macs: usize,
    f: impl Fn(usize, usize, &mut [T]) + Sync + Send,
) {
    let nb = g.chunk();
    let len = block_len(nb);
    if len == 0 || g.n == 0 {
        return;
    }
    let run = |i: usize, block: &mut [T]| f(i * nb, nb.min(g.n - i * nb), block);
    if g.n > nb && should_parallelize(macs) {
        out.par_chunks_mut(len).enumerate().for_each(|(i, b)| run(i, b));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(i, b)| run(i, b));
    }
}

/// Multiply-adds of one of the three convolution GEMMs over the whole batch.
fn macs(g: &Geom) -> usize {
    g.n.saturating_mul(g.co).saturating_mul(g.k()).saturating_mul(g.l())
}

/// Forward convolution: `x [N, C, H, W]`, `w [Co, C/groups, kh, kw]`, optional `bias [Co]`;
/// returns `y [N, Co, Ho, Wo]` (row-major).
pub(crate) fn conv_forward<T: Gemm>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geom) -> Vec<T> {
    let l = g.l();
    // Every element is written: by the unpacking pass, or by the GEMM onto the bias.
    let mut y = crate::pool::for_overwrite::<T>(g.n * g.co * l);
    for_sample_chunks(
        &mut y,
        g,
        |nb| nb * g.co * l,
        macs(g),
        |n0, nb, ys| {
            let direct = g.pointwise() && nb == 1;
            let mut scratch = Scratch::<T>::new(g, nb, direct, nb > 1);
            if !direct {
                im2col(x, g, n0, nb, &mut scratch.col);
            }
            let src: &[T] = if direct { x } else { &scratch.col };
            let cols = nb * l;
            let gemm_macs = g.cog() * g.k() * cols;
            if nb > 1 {
                for_groups(&mut scratch.buf, g.groups, gemm_macs, |grp, c| {
                    let cm = MatRef::contiguous(g.cog(), cols, 0);
                    T::gemm(T::ONE, w, weight_mat(g, grp), src, col_mat(g, grp, n0, nb, direct), T::ZERO, c, cm);
                });
                unpack_bias(&scratch.buf, g, nb, bias, ys);
            } else {
                // One sample: its [Co, L] block of the output is the GEMM's matrix; start it at
                // the bias and accumulate.
                for (ch, plane) in ys.chunks_mut(l.max(1)).enumerate() {
                    plane.fill(bias.map_or(T::ZERO, |b| b[ch]));
                }
                for_groups(ys, g.groups, gemm_macs, |grp, c| {
                    let cm = MatRef::contiguous(g.cog(), cols, 0);
                    T::gemm(T::ONE, w, weight_mat(g, grp), src, col_mat(g, grp, n0, 1, direct), T::ONE, c, cm);
                });
            }
        },
    );
    y
}

/// Gradient of [`conv_forward`] with respect to its input: `dy [N, Co, Ho, Wo]`,
/// `w [Co, C/groups, kh, kw]`; returns `dx [N, C, H, W]` (`W^T @ dy`, then col2im).
pub(crate) fn conv_backward_input<T: Gemm>(dy: &[T], w: &[T], g: &Geom) -> Vec<T> {
    let (l, hw) = (g.l(), g.hw());
    // Every element is written: by the GEMM (pointwise, beta = 0) or by col2im, which zeroes
    // each plane before adding onto it (fresh zero pages would fault on every first write).
    let mut dx = crate::pool::for_overwrite::<T>(g.n * g.c * hw);
    for_sample_chunks(
        &mut dx,
        g,
        |nb| nb * g.c * hw,
        macs(g),
        |n0, nb, dxs| {
            let direct = g.pointwise() && nb == 1;
            let mut scratch = Scratch::<T>::new(g, nb, direct, nb > 1);
            let cols = nb * l;
            if nb > 1 {
                pack(dy, g, n0, nb, &mut scratch.buf);
            }
            let dsrc: &[T] = if nb > 1 { &scratch.buf } else { dy };
            // Pointwise: the column gradient is the input gradient itself.
            let dst = if direct { &mut *dxs } else { &mut scratch.col[..] };
            for_groups(dst, g.groups, g.cog() * g.k() * cols, |grp, c| {
                let cm = MatRef::contiguous(g.k(), cols, 0);
                T::gemm(T::ONE, w, weight_mat(g, grp).t(), dsrc, out_mat(g, grp, n0, nb), T::ZERO, c, cm);
            });
            if !direct {
                col2im(&scratch.col, g, nb, dxs);
            }
        },
    );
    dx
}

/// Gradient of [`conv_forward`] with respect to its weight: `dy [N, Co, Ho, Wo]`,
/// `x [N, C, H, W]`; returns `dw [Co, C/groups, kh, kw]` (`dy @ im2col(x)^T`: one partial per
/// chunk, summed in chunk order).
pub(crate) fn conv_backward_weight<T: Gemm>(dy: &[T], x: &[T], g: &Geom) -> Vec<T> {
    let (l, wlen) = (g.l(), g.co * g.k());
    let nb = g.chunk();
    let chunks = g.n.div_ceil(nb);
    // One partial gradient per chunk, side by side.
    let mut partials = crate::pool::for_overwrite::<T>(chunks * wlen);
    for_sample_chunks(
        &mut partials,
        g,
        |_| wlen,
        macs(g),
        |n0, nb, part| {
            let direct = g.pointwise() && nb == 1;
            let mut scratch = Scratch::<T>::new(g, nb, direct, nb > 1);
            if !direct {
                im2col(x, g, n0, nb, &mut scratch.col);
            }
            if nb > 1 {
                pack(dy, g, n0, nb, &mut scratch.buf);
            }
            let src: &[T] = if direct { x } else { &scratch.col };
            let dsrc: &[T] = if nb > 1 { &scratch.buf } else { dy };
            for_groups(part, g.groups, g.cog() * g.k() * nb * l, |grp, c| {
                let bm = col_mat(g, grp, n0, nb, direct).t();
                T::gemm(
                    T::ONE,
                    dsrc,
                    out_mat(g, grp, n0, nb),
                    src,
                    bm,
                    T::ZERO,
                    c,
                    MatRef::contiguous(g.cog(), g.k(), 0),
                );
            });
        },
    );
    let mut dw = vec![T::ZERO; wlen];
    for part in partials.chunks(wlen.max(1)).take(chunks) {
        for (d, &p) in dw.iter_mut().zip(part) {
            *d += p;
        }
    }
    crate::pool::recycle_vec(partials);
    dw
}
