//! The general path of a fused program: block by block over the output, the inputs gathered
//! into a bank of registers (or read in place where laid out as the output), for programs of
//! several instructions and inputs the direct loop does not take (broadcasts, strides).

use smallvec::SmallVec;

use super::{instr_into, ElementwiseProgram, Source, BLOCK};
use crate::dtype::Float;
use crate::layout::{Shape, Strides};
use crate::macros::widest_simd;

/// The output's shape with trailing axes merged wherever every input continues contiguously
/// (or stays broadcast) across them, so that contiguous operands give long runs; each input's
/// strides on the merged axes.
fn merged<T>(sources: &[Source<'_, T>], shape: &[usize]) -> (Shape, SmallVec<[Strides; 4]>) {
    let mut out_shape = Shape::new();
    let mut out_strides: SmallVec<[Strides; 4]> = sources.iter().map(|_| Strides::new()).collect();
    for d in (0..shape.len()).rev() {
        let joins = !out_shape.is_empty()
            && sources.iter().enumerate().all(|(k, (_, _, st))| st[d] == out_strides[k][0] * out_shape[0]);
        if joins {
            out_shape[0] *= shape[d];
        } else {
            out_shape.insert(0, shape[d]);
            for (k, (_, _, st)) in sources.iter().enumerate() {
                out_strides[k].insert(0, st[d]);
            }
        }
    }
    (out_shape, out_strides)
}

/// Evaluates the program block by block: each block is `BLOCK` consecutive output elements
/// (across rows), its inputs gathered into registers (or read in place when laid out as the
/// output), the last instruction written straight into the output. Large outputs are split into
/// chunks run in parallel (each element's arithmetic does not depend on the split), each with
/// its own registers, taken from (and given back to) the buffer caches as any kernel's output.
/// Each chunk runs compiled for the CPU's widest SIMD, picked at run time, as the elementwise
/// kernels (the arithmetic is the same in each version). The pick is made inside the chunk's
/// closure: a closure is compiled for the baseline, whatever function it is written in.
pub(super) fn run<T: Float>(sources: &[Source<'_, T>], shape: &[usize], program: &ElementwiseProgram, out: &mut [T]) {
    if out.is_empty() {
        return;
    }
    let (shape, strides) = merged(sources, shape);
    let regs = program.inputs + program.instrs.len();
    // Inputs laid out as the output (row-major strides of the merged shape) are read in place.
    let mut row_major = Strides::from_elem(1, shape.len());
    for d in (1..shape.len()).rev() {
        row_major[d - 1] = row_major[d] * shape[d];
    }
    let in_place: SmallVec<[bool; 4]> = strides.iter().map(|st| *st == row_major).collect();
    let job = Job { sources, shape: &shape, strides: &strides, in_place: &in_place, program };
    crate::parallel::fill_chunks(out, |chunk_start, chunk| {
        let mut bank = crate::pool::for_overwrite::<T>(regs * BLOCK);
        run_chunk(&job, &mut bank, chunk_start, chunk);
        crate::pool::recycle_vec(bank);
    });
}

/// What every chunk of [`run`] reads: the inputs (merged to the fewest axes), which are read in
/// place, and the program.
struct Job<'a, T> {
    sources: &'a [Source<'a, T>],
    shape: &'a [usize],
    strides: &'a [Strides],
    in_place: &'a [bool],
    program: &'a ElementwiseProgram,
}

/// One chunk of [`run`]: output elements `start..start + chunk.len()`.
fn run_chunk<T: Float>(job: &Job<'_, T>, bank: &mut [T], start: usize, chunk: &mut [T]) {
    widest_simd!(simd::chunk_avx512, simd::chunk_avx2, chunk_plain, (job, bank, start, chunk))
}

#[inline(always)]
fn chunk_plain<T: Float>(job: &Job<'_, T>, bank: &mut [T], start: usize, chunk: &mut [T]) {
    let program = job.program;
    let last = program.instrs.len() - 1;
    let mut done = 0;
    while done < chunk.len() {
        let (len, at) = (BLOCK.min(chunk.len() - done), start + done);
        for (k, &(src, offset, _)) in job.sources.iter().enumerate() {
            if !job.in_place[k] {
                gather(&mut bank[k * BLOCK..][..len], src, offset, job.shape, &job.strides[k], at);
            }
        }
        for (k, &instr) in program.instrs.iter().enumerate() {
            let reg = program.inputs + k;
            // Registers below `reg` are read, `reg` is written (the last straight into the
            // output): split the bank there.
            let (read, write) = bank.split_at_mut(reg * BLOCK);
            let dst = if k == last { &mut chunk[done..done + len] } else { &mut write[..len] };
            instr_into(instr, dst, |r| match job.sources.get(r) {
                Some(&(src, offset, _)) if job.in_place[r] => &src[offset + at..][..len],
                _ => &read[r * BLOCK..][..len],
            });
        }
        done += len;
    }
}

/// Fills `reg` with the input's elements at output positions `start..start + reg.len()`
/// (row-major over `shape`), the input read through `strides` from `offset`: one copy when it
/// is contiguous there, a fill when it is broadcast, a row at a time otherwise.
#[inline(always)]
fn gather<T: Copy>(reg: &mut [T], src: &[T], offset: usize, shape: &[usize], strides: &[usize], start: usize) {
    let rank = shape.len();
    if rank == 0 {
        reg.fill(src[offset]);
        return;
    }
    let (inner, step) = (shape[rank - 1], strides[rank - 1]);
    if rank == 2 {
        // The common case (a bias repeated along the rows, a transposed matrix): the row index
        // is all the multi-index there is.
        let (mut row, mut col, mut done) = (start / inner, start % inner, 0);
        while done < reg.len() {
            let seg = (inner - col).min(reg.len() - done);
            copy_segment(&mut reg[done..done + seg], src, offset + row * strides[0], col, step);
            (row, col, done) = (row + 1, 0, done + seg);
        }
        return;
    }
    // The multi-index of `start`.
    let mut index: SmallVec<[usize; 6]> = SmallVec::from_elem(0, rank);
    let mut rest = start;
    for d in (0..rank).rev() {
        index[d] = rest % shape[d];
        rest /= shape[d];
    }
    let mut done = 0;
    while done < reg.len() {
        let base = offset + index[..rank - 1].iter().zip(strides).map(|(&i, &s)| i * s).sum::<usize>();
        let col = index[rank - 1];
        let seg = (inner - col).min(reg.len() - done);
        copy_segment(&mut reg[done..done + seg], src, base, col, step);
        done += seg;
        // Next row.
        index[rank - 1] = 0;
        for d in (0..rank - 1).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

/// `dst` from one row of the input: elements `col..` of the row at `base`, `step` apart. Plain
/// loops: rows are short (a bias of 16), where a call to `memcpy` costs more than the copy.
#[inline(always)]
fn copy_segment<T: Copy>(dst: &mut [T], src: &[T], base: usize, col: usize, step: usize) {
    match step {
        1 => {
            let len = dst.len();
            for (d, &v) in dst.iter_mut().zip(&src[base + col..][..len]) {
                *d = v;
            }
        }
        0 => dst.fill(src[base]),
        _ => {
            for (e, d) in dst.iter_mut().enumerate() {
                *d = src[base + (col + e) * step];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{chunk_plain, Job};
    use crate::dtype::Float;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn chunk_avx512<T: Float>(job: &Job<'_, T>, bank: &mut [T], start: usize, chunk: &mut [T]) {
        chunk_plain(job, bank, start, chunk)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn chunk_avx2<T: Float>(job: &Job<'_, T>, bank: &mut [T], start: usize, chunk: &mut [T]) {
        chunk_plain(job, bank, start, chunk)
    }
}
