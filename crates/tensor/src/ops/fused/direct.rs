//! The direct loop: one instruction over contiguous operands, each either of the output's
//! shape or a row repeated along it (a bias, a broadcast scalar), the operands' slices read in
//! place. A compiled program's elementwise nodes are nearly all this case, and at their sizes
//! (a few hundred elements) the checks and set-up cost as much as the loop, so they are kept to
//! one pass over the inputs.

use smallvec::SmallVec;

use super::{instr_into, BinaryFn, ElementwiseProgram, Instr};
use crate::dtype::Float;
use crate::layout::same_shape;
use crate::macros::widest_simd;
use crate::Tensor;

/// The direct loop's instruction and row (see [`direct_row`]) for a one-instruction program
/// whose inputs have `out`'s dtype and either its shape (one at least) or that of a row repeated
/// along it, all contiguous, `out` being exclusive: the common case of a compiled program's
/// node, checked without building the broadcast shape.
pub(super) fn direct_into(inputs: &[&Tensor], program: &ElementwiseProgram, out: &Tensor) -> Option<(Instr, usize)> {
    let &[instr] = program.instrs.as_slice() else {
        return None;
    };
    if program.check(inputs.len()).is_err() || !out.is_exclusive() {
        return None;
    }
    let (mut row, mut whole) = (0, false);
    for t in inputs {
        if t.dtype() != out.dtype() || !t.is_contiguous() {
            return None;
        }
        if same_shape(t.shape(), out.shape()) {
            whole = true;
        } else {
            row = repeated_row(t.shape(), out.shape(), out.numel(), row)?;
        }
    }
    whole.then_some((instr, row))
}

/// The direct loop's operands (contiguous inputs) for an output of `len` elements. (Inlined:
/// returned from a call, the vector was copied through the stack in pieces too small to
/// forward, a stall that showed in small programs.)
#[inline(always)]
pub(super) fn operands<'a, T: Float>(inputs: &[&'a Tensor], len: usize) -> SmallVec<[Operand<'a, T>; 2]> {
    inputs.iter().map(|t| operand(t, len)).collect()
}

/// A contiguous input as an operand of the direct loop for an output of `len` elements.
#[inline(always)]
pub(super) fn operand<T: Float>(t: &Tensor, len: usize) -> Operand<'_, T> {
    let n = t.numel();
    (&t.storage_slice::<T>()[t.layout.offset..][..n], n != len)
}

/// An operand of the direct loop: its elements, and whether they are one row repeated along
/// the output (a broadcast bias) rather than the whole output.
pub(super) type Operand<'a, T> = (&'a [T], bool);

/// Shortest repeated row the direct loop takes (but for a single element, a scalar broadcast,
/// which it runs as one loop): below it, the general path's gather is faster than a loop per
/// row.
const MIN_DIRECT_ROW: usize = 8;

/// Whether the direct loop applies: one instruction, every input contiguous and either of the
/// output's shape or one row repeated along it (its shape, leading ones aside, the output's
/// trailing axes), all rows of one length. `Some(0)` when no input repeats, `Some(row)` when
/// some do.
pub(super) fn direct_row(inputs: &[&Tensor], program: &ElementwiseProgram, out: &[usize]) -> Option<usize> {
    if program.instrs.len() != 1 {
        return None;
    }
    let n: usize = out.iter().product();
    let mut row = 0;
    for t in inputs {
        if !t.is_contiguous() {
            return None;
        }
        if !same_shape(t.shape(), out) {
            row = repeated_row(t.shape(), out, n, row)?;
        }
    }
    Some(row)
}

/// The length of the row an operand of shape `shape` repeats along an output of shape `out`
/// (`n` elements), when it is one the direct loop takes (see [`direct_row`]) and of the length
/// `row` of the other repeated operands (0: none yet).
pub(super) fn repeated_row(shape: &[usize], out: &[usize], n: usize, row: usize) -> Option<usize> {
    let trailing = &shape[shape.iter().position(|&d| d != 1).unwrap_or(shape.len())..];
    let len: usize = shape.iter().product();
    let repeats = (len == 1 || len >= MIN_DIRECT_ROW) && len < n && out.ends_with(trailing) && (row == 0 || row == len);
    repeats.then_some(len)
}

/// One instruction over contiguous operands (see [`Operand`]), in parallel chunks of whole rows
/// when large (each element's arithmetic does not depend on the split), for the CPU's widest
/// SIMD. `row` is the repeated operands' length, 0 when there are none.
pub(super) fn single<T: Float>(instr: Instr, srcs: &[Operand<T>], row: usize, out: &mut [T]) {
    if out.len() < LANES {
        // Shorter than one AVX vector of f32: the AVX builds' main loop would not run and
        // their scalar remainder loop would do it all; the baseline build, called directly
        // (no dispatch, no parallel check), took W2's six 4-element kernels from 1,560 to 910
        // instructions (its `tanh` from 141 to 67). The arithmetic is the same in every build.
        return single_plain(instr, srcs, if row == 0 { out.len() } else { row }, 0, out);
    }
    let kernel = |start: usize, chunk: &mut [T]| {
        let row = if row == 0 { chunk.len() } else { row };
        widest_simd!(simd::single_avx512, simd::single_avx2, single_plain, (instr, srcs, row, start, chunk))
    };
    if row == 0 {
        crate::parallel::fill_chunks(out, kernel);
    } else {
        crate::parallel::fill_rows(out, row, |first_row, chunk| kernel(first_row * row, chunk));
    }
}

/// `dst` (the output from element `start` on) row by row; a repeated operand is read whole for
/// each row, the others from the row's position.
#[inline(always)]
fn single_plain<T: Float>(instr: Instr, srcs: &[Operand<T>], row: usize, start: usize, dst: &mut [T]) {
    if let Instr::Binary(b, x, y) = instr {
        // A repeated operand (a bias): the op chosen once, outside the loop over rows (a short
        // row would otherwise pay for the choice on each).
        let ((xs, x_repeats), (ys, y_repeats)) = (srcs[x], srcs[y]);
        if row == 1 && x_repeats != y_repeats {
            // One element repeated (a scalar broadcast, a bias of one): one loop over the whole
            // chunk, the scalar in a register.
            let len = dst.len();
            let (xs, ys) = (row_of(xs, x_repeats, start, len), row_of(ys, y_repeats, start, len));
            per_variant!(b, BinaryFn[Add, Sub, Mul, Div, Maximum, Minimum, TanhBackward], |op| if x_repeats {
                let p = xs[0];
                for (d, &q) in dst.iter_mut().zip(ys) {
                    *d = op.apply(p, q)
                }
            } else {
                let q = ys[0];
                for (d, &p) in dst.iter_mut().zip(xs) {
                    *d = op.apply(p, q)
                }
            });
            return;
        }
        if row.is_multiple_of(LANES) && row < dst.len() {
            // Rows of whole vectors: one flat loop of fixed-length chunks, which LLVM turns
            // into one vector operation each (a loop per row of 16 would run its scalar
            // remainder loop, the vector one taking 32 at a time).
            per_variant!(b, BinaryFn[Add, Sub, Mul, Div, Maximum, Minimum, TanhBackward],
            |op| for (r, dst) in dst.chunks_exact_mut(row).enumerate() {
                let at = start + r * row;
                let (xs, ys) = (row_of(xs, x_repeats, at, row), row_of(ys, y_repeats, at, row));
                let chunks = dst.chunks_exact_mut(LANES).zip(xs.chunks_exact(LANES).zip(ys.chunks_exact(LANES)));
                for (dst, (p, q)) in chunks {
                    let (p, q): ([T; LANES], [T; LANES]) = (to_array(p), to_array(q));
                    let mut r = [T::zero(); LANES];
                    for i in 0..LANES {
                        r[i] = op.apply(p[i], q[i]);
                    }
                    dst.copy_from_slice(&r);
                }
            });
            return;
        }
        per_variant!(b, BinaryFn[Add, Sub, Mul, Div, Maximum, Minimum, TanhBackward],
        |op| for (r, dst) in dst.chunks_mut(row.max(1)).enumerate() {
            let (at, len) = (start + r * row, dst.len());
            let (xs, ys) = (row_of(xs, x_repeats, at, len), row_of(ys, y_repeats, at, len));
            for (d, (&p, &q)) in dst.iter_mut().zip(xs.iter().zip(ys)) {
                *d = op.apply(p, q)
            }
        });
        return;
    }
    for (r, dst) in dst.chunks_mut(row.max(1)).enumerate() {
        let (at, len) = (start + r * row, dst.len());
        instr_into(instr, dst, |k| row_of(srcs[k].0, srcs[k].1, at, len));
    }
}

/// The elements of an operand for output positions `at..at + len` (the whole of a repeated
/// one, whose length is a row's).
#[inline(always)]
fn row_of<T>(s: &[T], repeats: bool, at: usize, len: usize) -> &[T] {
    if repeats {
        s
    } else {
        &s[at..at + len]
    }
}

#[inline(always)]
fn to_array<T: Copy + Default>(s: &[T]) -> [T; LANES] {
    let mut a = [T::default(); LANES];
    a.copy_from_slice(s);
    a
}

/// Elements per chunk of the flat loop over rows of a repeated operand: one 256-bit vector of
/// f32.
const LANES: usize = 8;

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{single_plain, Instr, Operand};
    use crate::dtype::Float;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn single_avx512<T: Float>(
        i: Instr,
        srcs: &[Operand<T>],
        row: usize,
        start: usize,
        out: &mut [T],
    ) {
        single_plain(i, srcs, row, start, out)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn single_avx2<T: Float>(i: Instr, srcs: &[Operand<T>], row: usize, start: usize, out: &mut [T]) {
        single_plain(i, srcs, row, start, out)
    }
}
