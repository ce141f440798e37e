//! A fused program of several instructions prepared once for operands of fixed shapes: what a
//! compiled plan runs for a `fused` node.
//!
//! It evaluates block by block as the general path does ([`super::blocks`]), but what that path
//! works out on every call (the broadcast shape, each input's strides, merged axes, a register
//! bank from the buffer pool) is worked out here when the kernel is made. At run time:
//! - an operand of the output's shape is read in place;
//! - a row repeated along the output (a bias) shorter than a block, or a single element, is
//!   copied once per run into a register as long as a block, whose blocks then start on row
//!   boundaries; a longer row is read in place, blocks cut at the row's end;
//! - the intermediates live in a few registers of a block's length, kept by the kernel from one
//!   run to the next (no buffer per call), each reused once its value is dead.
//!
//! So the executor's work per node is paid once for the whole group, and the kernel's own
//! set-up once, not once per op (BENCHMARKS.md has the instruction counts). Each instruction computes what [`super::instr_into`] computes for the general
//! path and the ops, element by element in program order: the results are the same bit for bit.

use smallvec::SmallVec;

use super::direct::operand;
use super::prepared::Planned;
use super::{instr_into, ElementwiseProgram, Instr};
use crate::dtype::Float;
use crate::layout::same_shape;
use crate::macros::widest_simd;
use crate::{DType, Tensor};

/// Elements per block: each register is this long, in L1 with the others.
const SPAN: usize = 256;

/// Registers at most: intermediates alive at once, plus copied rows. (A program needing more is
/// left to the general path.)
const BANK: usize = 8;

/// Inputs a prepared program takes at most.
pub const MAX_INPUTS: usize = 8;

/// Where a register of the program lives while the kernel runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Loc {
    /// Input `k`, of the output's shape, read in place.
    Whole(usize),
    /// Input `k`, a row repeated along the output and at least a block long, read in place.
    Row(usize),
    /// Register `b` of the bank (an intermediate, or a copied row or element).
    Reg(usize),
    /// The output (the last instruction's register).
    Out,
}

/// A fused program of two or more instructions for operands of fixed shapes and dtype (see
/// the module documentation).
///
/// ```
/// use tensor::ops::fused::{BinaryFn, ElementwiseProgram, Instr, ProgramKernel, UnaryFn};
/// use tensor::{DType, Tensor};
/// // tanh(x + b), a bias of 3 repeated along 4 rows.
/// let program = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1), Instr::Unary(UnaryFn::Tanh, 2)] };
/// let mut kernel = ProgramKernel::new(&program, DType::F32, &[&[4, 3], &[3]], &[4, 3]).unwrap();
/// let (x, b) = (Tensor::ones(&[4, 3], DType::F32), Tensor::ones(&[3], DType::F32));
/// let mut out = Tensor::zeros(&[4, 3], DType::F32);
/// assert!(kernel.run(&[&x, &b], &mut out));
/// assert_eq!(out.to_vec::<f32>(), vec![2f32.tanh(); 12]);
/// // Not the planned shapes: nothing is written, and the caller takes the general path.
/// assert!(!kernel.run(&[&b, &b], &mut out));
/// ```
#[derive(Clone, Debug)]
pub struct ProgramKernel {
    program: Prepared,
    planned: Planned,
    /// The registers of a run on one thread (of the kernel's dtype; the other stays empty).
    bank32: Vec<f32>,
    bank64: Vec<f64>,
}

/// The program as the loop runs it.
#[derive(Clone, Debug)]
struct Prepared {
    instrs: Box<[Instr]>,
    /// Where each register of the program lives: the inputs', then one per instruction.
    locs: Box<[Loc]>,
    /// The inputs copied into a register at the start of a run: (input, register).
    copied: Box<[(usize, usize)]>,
    /// The repeated rows' length (0: none repeats; a single element does not count).
    row: usize,
    /// Elements per block (and per register): a whole number of rows when rows are copied.
    span: usize,
    /// Registers in the bank.
    registers: usize,
}

impl ProgramKernel {
    /// The kernel of `program` over inputs of these shapes, all of `dtype`, into an output of
    /// shape `out`. `None` when it does not apply: a program of one instruction (see
    /// [`DirectKernel`](super::DirectKernel)), a dtype other than f32 and f64, an input neither
    /// of the output's shape nor a row of its trailing axes repeated along it (repeated rows
    /// all of one length, single elements aside), more than [`MAX_INPUTS`] inputs, or more
    /// registers alive at once than the kernel keeps (eight, copied rows included).
    pub fn new(
        program: &ElementwiseProgram,
        dtype: DType,
        inputs: &[&[usize]],
        out: &[usize],
    ) -> Option<ProgramKernel> {
        let usable =
            program.instrs.len() >= 2 && inputs.len() <= MAX_INPUTS && matches!(dtype, DType::F32 | DType::F64);
        if !usable || program.check(inputs.len()).is_err() {
            return None;
        }
        let n: usize = out.iter().product();
        // Each input's role: of the output's shape, one element, or a repeated row.
        let mut row = 0;
        let mut roles: SmallVec<[Role; 4]> = SmallVec::new();
        for &shape in inputs {
            let len: usize = shape.iter().product();
            roles.push(if same_shape(shape, out) {
                Role::Whole
            } else if len == 1 {
                Role::Element
            } else {
                let trailing = &shape[shape.iter().position(|&d| d != 1).unwrap_or(shape.len())..];
                if len >= n || !out.ends_with(trailing) || (row != 0 && row != len) {
                    return None;
                }
                row = len;
                Role::Row
            });
        }
        // Rows shorter than a block are copied, a whole number of them per block.
        let copy_rows = row != 0 && row < SPAN;
        let span = if copy_rows { row * (SPAN / row) } else { SPAN }.min(n).max(1);

        let mut free: SmallVec<[usize; BANK]> = (0..BANK).rev().collect();
        let mut locs: SmallVec<[Loc; 10]> = SmallVec::new();
        let mut copied = Vec::new();
        for (k, role) in roles.iter().enumerate() {
            locs.push(match role {
                Role::Whole => Loc::Whole(k),
                Role::Row if !copy_rows => Loc::Row(k),
                Role::Row | Role::Element => {
                    let b = free.pop()?;
                    copied.push((k, b));
                    Loc::Reg(b)
                }
            });
        }
        // Registers by linear scan: an intermediate takes a free register, and its register is
        // free again after its last read. (Freed after the reader's own register is taken, so
        // an instruction never writes over an operand.)
        let count = program.inputs + program.instrs.len();
        let mut last_read = vec![None; count];
        for (k, instr) in program.instrs.iter().enumerate() {
            for r in operands(*instr) {
                last_read[r] = Some(k);
            }
        }
        let last = program.instrs.len() - 1;
        for (k, instr) in program.instrs.iter().enumerate() {
            let reg = program.inputs + k;
            locs.push(if k == last { Loc::Out } else { Loc::Reg(free.pop()?) });
            for r in operands(*instr) {
                if r >= program.inputs && last_read[r] == Some(k) {
                    if let Loc::Reg(b) = locs[r] {
                        if !free.contains(&b) {
                            free.push(b);
                        }
                    }
                }
            }
            if last_read[reg].is_none() && k != last {
                // Never read (a program that computes something it drops).
                if let Loc::Reg(b) = locs[reg] {
                    free.push(b);
                }
            }
        }
        let registers = (0..BANK).filter(|b| locs.contains(&Loc::Reg(*b))).max().map_or(0, |b| b + 1);
        let program = Prepared {
            instrs: program.instrs.iter().copied().collect(),
            locs: locs.into_iter().collect(),
            copied: copied.into(),
            row,
            span,
            registers,
        };
        let bank = program.bank_len();
        Some(ProgramKernel {
            bank32: if dtype == DType::F32 { vec![0.0; bank] } else { Vec::new() },
            bank64: if dtype == DType::F64 { vec![0.0; bank] } else { Vec::new() },
            program,
            planned: Planned::new(dtype, inputs, out),
        })
    }

    /// Writes the result over `inputs` into `out` and returns `true` when every input is
    /// contiguous with its planned shape and dtype and `out` is [exclusive](Tensor::is_exclusive)
    /// with the output's; otherwise writes nothing and returns `false`. (`&mut`: the kernel
    /// keeps its registers from one run to the next.)
    pub fn run(&mut self, inputs: &[&Tensor], out: &mut Tensor) -> bool {
        if !self.planned.admits(inputs, out) {
            return false;
        }
        let program = &self.program;
        match self.planned.dtype {
            DType::F32 => program.write::<f32>(inputs, out, &mut self.bank32),
            DType::F64 => program.write::<f64>(inputs, out, &mut self.bank64),
            _ => return false,
        }
        true
    }
}

impl Prepared {
    /// The loop, the checks done: one chunk on this thread into the kernel's registers, or
    /// chunks of whole rows in parallel, each with registers of its own, when large.
    fn write<T: Float>(&self, inputs: &[&Tensor], out: &mut Tensor, bank: &mut [T]) {
        let dst = out.exclusive_slice_mut::<T>();
        // An array, not a collected vector: see `direct::operands`.
        let mut srcs: [&[T]; MAX_INPUTS] = [&[]; MAX_INPUTS];
        for (s, t) in srcs.iter_mut().zip(inputs) {
            *s = operand::<T>(t, dst.len()).0;
        }
        let srcs = &srcs[..inputs.len()];
        if dst.len() < LANES {
            // Shorter than one vector: the baseline build, called directly, as `direct::single`
            // does for the same reason.
            return chunk_plain(self, srcs, bank, 0, dst);
        }
        if !crate::parallel::should_parallelize(dst.len()) {
            return self.chunk(srcs, bank, 0, dst);
        }
        let chunk = |start: usize, chunk: &mut [T]| {
            let mut bank = crate::pool::for_overwrite::<T>(self.bank_len());
            self.chunk(srcs, &mut bank, start, chunk);
            crate::pool::recycle_vec(bank);
        };
        if self.row == 0 {
            crate::parallel::fill_chunks(dst, chunk);
        } else {
            crate::parallel::fill_rows(dst, self.row, |first_row, rows| chunk(first_row * self.row, rows));
        }
    }

    /// [`chunk_plain`] compiled for the CPU's widest SIMD.
    fn chunk<T: Float>(&self, srcs: &[&[T]], bank: &mut [T], start: usize, chunk: &mut [T]) {
        widest_simd!(simd::chunk_avx512, simd::chunk_avx2, chunk_plain, (self, srcs, bank, start, chunk))
    }

    /// Elements of the register bank.
    fn bank_len(&self) -> usize {
        self.registers * self.span
    }
}

/// How an input is read: see [`Loc`].
enum Role {
    Whole,
    Element,
    Row,
}

/// The registers an instruction reads.
fn operands(instr: Instr) -> SmallVec<[usize; 2]> {
    match instr {
        Instr::Unary(_, a) | Instr::Scalar(_, _, a) => smallvec::smallvec![a],
        Instr::Binary(_, a, b) => smallvec::smallvec![a, b],
    }
}

/// Elements per vector of f32 (below it, the SIMD builds' main loops would not run).
const LANES: usize = 8;

/// Output elements `start..start + chunk.len()` (`start` on a row boundary when rows repeat),
/// the registers in `bank`.
#[inline(always)]
fn chunk_plain<T: Float>(kernel: &Prepared, srcs: &[&[T]], bank: &mut [T], start: usize, chunk: &mut [T]) {
    let span = kernel.span;
    for &(k, b) in &kernel.copied[..] {
        // A row (or element) repeated over a block: the blocks start on row boundaries.
        let (src, reg) = (srcs[k], &mut bank[b * span..][..span]);
        if let &[element] = src {
            reg.fill(element);
        } else {
            for reg in reg.chunks_exact_mut(src.len()) {
                reg.copy_from_slice(src);
            }
        }
    }
    let row = kernel.row;
    let mut done = 0;
    while done < chunk.len() {
        let at = start + done;
        let mut len = span.min(chunk.len() - done);
        if row >= SPAN {
            len = len.min(row - at % row); // rows read in place: a block stays in one row
        }
        for (instr, &dst) in kernel.instrs.iter().zip(&kernel.locs[srcs.len()..]) {
            // The destination register is split off the bank; the others are read around it.
            let (dst, below, above, b): (&mut [T], &[T], &[T], usize) = match dst {
                Loc::Reg(b) => {
                    let (below, rest) = bank.split_at_mut(b * span);
                    let (dst, above) = rest.split_at_mut(span);
                    (&mut dst[..len], below, above, b)
                }
                _ => (&mut chunk[done..done + len], &bank[..], &[], BANK),
            };
            // The operand lookup inlined: as a call per operand it was 3% of W2's replay.
            instr_into(
                *instr,
                dst,
                #[inline(always)]
                |r| match kernel.locs[r] {
                    Loc::Whole(k) => &srcs[k][at..at + len],
                    Loc::Row(k) => &srcs[k][at % row..][..len],
                    Loc::Reg(q) if q < b => &below[q * span..][..len],
                    Loc::Reg(q) => &above[(q - b - 1) * span..][..len],
                    Loc::Out => unreachable!("no instruction reads the output"),
                },
            );
        }
        done += len;
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{chunk_plain, Prepared};
    use crate::dtype::Float;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn chunk_avx512<T: Float>(k: &Prepared, srcs: &[&[T]], bank: &mut [T], at: usize, out: &mut [T]) {
        chunk_plain(k, srcs, bank, at, out)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn chunk_avx2<T: Float>(k: &Prepared, srcs: &[&[T]], bank: &mut [T], at: usize, out: &mut [T]) {
        chunk_plain(k, srcs, bank, at, out)
    }
}
