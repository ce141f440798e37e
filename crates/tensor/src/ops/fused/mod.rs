//! Fused elementwise programs: a chain (or tree) of elementwise ops evaluated in one pass over
//! the output, each input read once and the output written once, the intermediates living in
//! a small block of registers in L1 instead of in full tensors.
//!
//! Each instruction computes exactly what the op of the same name computes (the same scalar
//! expression: `tanh` is `tanh_k`, `relu` is `x <= 0 ? 0 : x`, ...), element by element in the
//! same dependency order, so a fused program gives the unfused ops' results bit for bit; a test
//! checks every instruction against its op on values that include NaN, infinities and -0.
//! Floats only.
//!
//! ```
//! use tensor::ops::fused::{BinaryFn, ElementwiseProgram, Instr, UnaryFn};
//! use tensor::{DType, Tensor};
//! // tanh(x + b), the bias broadcast over the rows.
//! let program = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1), Instr::Unary(UnaryFn::Tanh, 2)] };
//! let (x, b) = (Tensor::ones(&[4, 3], DType::F32), Tensor::ones(&[3], DType::F32));
//! let y = Tensor::try_fused(&[&x, &b], &program).unwrap();
//! assert_eq!(y.to_vec::<f32>(), (&x + &b).tanh().to_vec::<f32>());
//! ```

use std::fmt;

use crate::dtype::{Float, Numeric};
use crate::error::{Result, TensorError};
use smallvec::SmallVec;

use crate::layout::{broadcast_shapes, same_shape, Shape, Strides};
use crate::macros::float_dispatch;
use crate::Tensor;

mod blocks;
use blocks::run;

/// One-input instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryFn {
    Neg,
    Abs,
    Square,
    Exp,
    Log,
    Sqrt,
    Tanh,
    Sigmoid,
    Relu,
    Sin,
    Cos,
}

/// Instructions with a scalar operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarFn {
    Add,
    Mul,
}

/// Two-input instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    /// `g * (1 - y^2)` with `y` the first operand and `g` the second (`tanh_backward`).
    TanhBackward,
}

/// An instruction: its operands are registers, inputs first (`0..inputs`), then one register
/// per instruction in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    Unary(UnaryFn, usize),
    Scalar(ScalarFn, f64, usize),
    Binary(BinaryFn, usize, usize),
}

/// A fused program: `inputs` tensors (broadcast together) and the instructions; the last
/// instruction's register is the result.
#[derive(Clone, Debug, PartialEq)]
pub struct ElementwiseProgram {
    pub inputs: usize,
    pub instrs: Vec<Instr>,
}

/// An input as a kernel reads it: its storage, offset, and strides broadcast to the output.
type Source<'a, T> = (&'a [T], usize, &'a [usize]);

/// Elements per block: the registers of a block stay in L1.
const BLOCK: usize = 256;

/// One arm per listed variant of `$enum`, with `$op` that variant as a constant: the match is
/// outside each loop and folds away inside it, so every loop is the op's own expression and
/// vectorises.
macro_rules! per_variant {
    ($value:expr, $enum:ident [$($v:ident),*], |$op:ident| $body:expr) => {
        match $value {
            $($enum::$v => {
                let $op = $enum::$v;
                $body
            })*
        }
    };
}

impl UnaryFn {
    pub fn name(self) -> &'static str {
        match self {
            UnaryFn::Neg => "neg",
            UnaryFn::Abs => "abs",
            UnaryFn::Square => "square",
            UnaryFn::Exp => "exp",
            UnaryFn::Log => "log",
            UnaryFn::Sqrt => "sqrt",
            UnaryFn::Tanh => "tanh",
            UnaryFn::Sigmoid => "sigmoid",
            UnaryFn::Relu => "relu",
            UnaryFn::Sin => "sin",
            UnaryFn::Cos => "cos",
        }
    }

    /// The op's scalar expression, as in `ops/unary.rs`.
    #[inline(always)]
    fn apply<T: Float>(self, x: T) -> T {
        match self {
            UnaryFn::Neg => Numeric::num_neg(x),
            UnaryFn::Abs => Numeric::num_abs(x),
            UnaryFn::Square => x * x,
            UnaryFn::Exp => x.exp_k(),
            UnaryFn::Log => x.ln(),
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Tanh => x.tanh_k(),
            UnaryFn::Sigmoid => x.sigmoid_k(),
            UnaryFn::Relu => {
                if x <= T::ZERO {
                    T::ZERO
                } else {
                    x
                }
            }
            UnaryFn::Sin => x.sin(),
            UnaryFn::Cos => x.cos(),
        }
    }
}

impl ScalarFn {
    pub fn name(self) -> &'static str {
        match self {
            ScalarFn::Add => "add_scalar",
            ScalarFn::Mul => "mul_scalar",
        }
    }
}

impl BinaryFn {
    pub fn name(self) -> &'static str {
        match self {
            BinaryFn::Add => "add",
            BinaryFn::Sub => "sub",
            BinaryFn::Mul => "mul",
            BinaryFn::Div => "div",
            BinaryFn::Maximum => "maximum",
            BinaryFn::Minimum => "minimum",
            BinaryFn::TanhBackward => "tanh_backward",
        }
    }

    /// The op's scalar expression, as in `ops/binary.rs` (and `tanh_backward` in `unary.rs`).
    #[inline(always)]
    fn apply<T: Float>(self, a: T, b: T) -> T {
        match self {
            BinaryFn::Add => Numeric::num_add(a, b),
            BinaryFn::Sub => Numeric::num_sub(a, b),
            BinaryFn::Mul => Numeric::num_mul(a, b),
            BinaryFn::Div => a / b,
            BinaryFn::Maximum => a.max_nan(b),
            BinaryFn::Minimum => a.min_nan(b),
            BinaryFn::TanhBackward => b * (T::ONE - a * a),
        }
    }
}

impl fmt::Display for ElementwiseProgram {
    /// The program as one expression per instruction: `r2 = add(x0, x1); r3 = tanh(r2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reg = |r: usize| if r < self.inputs { format!("x{r}") } else { format!("r{r}") };
        for (k, instr) in self.instrs.iter().enumerate() {
            if k > 0 {
                f.write_str("; ")?;
            }
            let out = self.inputs + k;
            match *instr {
                Instr::Unary(u, a) => write!(f, "r{out} = {}({})", u.name(), reg(a))?,
                Instr::Scalar(s, v, a) => write!(f, "r{out} = {}({}, {v})", s.name(), reg(a))?,
                Instr::Binary(b, x, y) => write!(f, "r{out} = {}({}, {})", b.name(), reg(x), reg(y))?,
            }
        }
        Ok(())
    }
}

impl ElementwiseProgram {
    /// Checks that every operand names an input or an earlier instruction.
    fn check(&self, given: usize) -> Result<()> {
        let bad = |msg: String| Err(TensorError::invalid("fused", msg));
        if given != self.inputs {
            return bad(format!("the program takes {} inputs, got {given}", self.inputs));
        }
        if self.instrs.is_empty() {
            return bad("the program has no instructions".into());
        }
        for (k, instr) in self.instrs.iter().enumerate() {
            let operands = match *instr {
                Instr::Unary(_, a) | Instr::Scalar(_, _, a) => [a, a],
                Instr::Binary(_, a, b) => [a, b],
            };
            if operands.iter().any(|&r| r >= self.inputs + k) {
                return bad(format!("instruction {k} ({instr:?}) reads a register not yet written"));
            }
        }
        Ok(())
    }
}

impl Tensor {
    /// Runs `program` over `inputs` broadcast together: one pass, one output buffer. Errors on
    /// a malformed program, shapes that do not broadcast, or inputs that are not all of one
    /// float dtype.
    pub fn try_fused(inputs: &[&Tensor], program: &ElementwiseProgram) -> Result<Tensor> {
        let shape = fused_shape("fused", inputs, program)?;
        let numel = crate::layout::checked_numel("fused", &shape)?;
        crate::pool::ensure_alloc("fused", numel, inputs[0].dtype())?;
        float_dispatch!("fused", inputs[0].dtype(), T => {
            let mut out = crate::pool::for_overwrite::<T>(numel);
            write_fused("fused", inputs, program, &shape, &mut out)?;
            Ok(Tensor::from_data(out, &shape))
        })
    }

    /// [`try_fused`](Self::try_fused) written into `out` instead of a new buffer: what a
    /// compiled program's executor calls to reuse a value's buffer from one run to the next.
    /// `out` must have the broadcast shape and the inputs' dtype, and be
    /// [exclusive](Self::is_exclusive) (no other handle sees the write); it may not be one of
    /// the inputs (the borrow rules see to that).
    ///
    /// ```
    /// use tensor::ops::fused::{BinaryFn, ElementwiseProgram, Instr};
    /// use tensor::{DType, Tensor};
    /// let add = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1)] };
    /// let (x, y) = (Tensor::ones(&[3], DType::F32), Tensor::ones(&[3], DType::F32));
    /// let mut out = Tensor::zeros(&[3], DType::F32);
    /// Tensor::try_fused_into(&[&x, &y], &add, &mut out).unwrap();
    /// assert_eq!(out.to_vec::<f32>(), vec![2.0; 3]);
    /// ```
    pub fn try_fused_into(inputs: &[&Tensor], program: &ElementwiseProgram, out: &mut Tensor) -> Result<()> {
        if let Some((instr, row)) = direct_into(inputs, program, out) {
            float_dispatch!("fused_into", out.dtype(), T => {
                let dst = out.exclusive_slice_mut::<T>();
                single(instr, &operands(inputs, dst.len()), row, dst);
                return Ok(());
            })
        }
        let shape = fused_shape("fused_into", inputs, program)?;
        inputs[0].same_dtype("fused_into", out)?;
        if !same_shape(&shape, out.shape()) {
            return Err(TensorError::invalid(
                "fused_into",
                format!("the inputs broadcast to {:?} but the output is {:?}", shape.as_slice(), out.shape()),
            ));
        }
        if !out.is_exclusive() {
            return Err(TensorError::invalid(
                "fused_into",
                "the output buffer is shared or not contiguous".to_string(),
            ));
        }
        float_dispatch!("fused_into", out.dtype(), T => {
            write_fused("fused_into", inputs, program, &shape, out.exclusive_slice_mut::<T>())
        })
    }
}

/// The direct loop's instruction and row (see [`direct_row`]) for a one-instruction program
/// whose inputs have `out`'s dtype and either its shape (one at least) or that of a row repeated
/// along it, all contiguous, `out` being exclusive: the common case of a compiled program's
/// node, checked without building the broadcast shape.
fn direct_into(inputs: &[&Tensor], program: &ElementwiseProgram, out: &Tensor) -> Option<(Instr, usize)> {
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
            row = repeated_row(t, out.shape(), out.numel(), row)?;
        }
    }
    whole.then_some((instr, row))
}

/// The shape `inputs` broadcast to, after checking the program against them and that they share
/// one dtype.
fn fused_shape(op: &'static str, inputs: &[&Tensor], program: &ElementwiseProgram) -> Result<Shape> {
    program.check(inputs.len())?;
    let first = inputs[0];
    for t in &inputs[1..] {
        first.same_dtype(op, t)?;
    }
    // The common case in a compiled program: inputs of one shape.
    if inputs.iter().all(|t| same_shape(t.shape(), first.shape())) {
        return Ok(Shape::from_slice(first.shape()));
    }
    let mut shape = Shape::from_slice(first.shape());
    for t in &inputs[1..] {
        shape = broadcast_shapes(op, &shape, t.shape())?;
    }
    Ok(shape)
}

/// Writes the program's result over `inputs` broadcast to `shape` into `dst`: the direct loop
/// when it applies (one instruction on contiguous inputs of the output's shape, or of a row
/// repeated along it, such as a bias), else block by block with the inputs gathered.
fn write_fused<T: Float>(
    op: &'static str,
    inputs: &[&Tensor],
    program: &ElementwiseProgram,
    shape: &[usize],
    dst: &mut [T],
) -> Result<()> {
    if let Some(row) = direct_row(inputs, program, shape) {
        single(program.instrs[0], &operands(inputs, dst.len()), row, dst);
        return Ok(());
    }
    let strides =
        inputs.iter().map(|t| t.layout.broadcast_strides(op, shape)).collect::<Result<SmallVec<[Strides; 4]>>>()?;
    let sources: SmallVec<[Source<T>; 4]> =
        inputs.iter().zip(&strides).map(|(t, s)| (t.storage_slice::<T>(), t.layout.offset, &s[..])).collect();
    run(&sources, shape, program, dst);
    Ok(())
}

/// The direct loop's operands (contiguous inputs) for an output of `len` elements. (Inlined:
/// returned from a call, the vector was copied through the stack in pieces too small to
/// forward, a stall that showed in small programs.)
#[inline(always)]
fn operands<'a, T: Float>(inputs: &[&'a Tensor], len: usize) -> SmallVec<[Operand<'a, T>; 2]> {
    inputs.iter().map(|t| (&t.storage_slice::<T>()[t.layout.offset..][..t.numel()], t.numel() != len)).collect()
}

/// An operand of the direct loop: its elements, and whether they are one row repeated along
/// the output (a broadcast bias) rather than the whole output.
type Operand<'a, T> = (&'a [T], bool);

/// Shortest repeated row the direct loop takes (but for a single element, a scalar broadcast,
/// which it runs as one loop): below it, the general path's gather is faster than a loop per
/// row.
const MIN_DIRECT_ROW: usize = 8;

/// Whether the direct loop applies: one instruction, every input contiguous and either of the
/// output's shape or one row repeated along it (its shape, leading ones aside, the output's
/// trailing axes), all rows of one length. `Some(0)` when no input repeats, `Some(row)` when
/// some do.
fn direct_row(inputs: &[&Tensor], program: &ElementwiseProgram, out: &[usize]) -> Option<usize> {
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
            row = repeated_row(t, out, n, row)?;
        }
    }
    Some(row)
}

/// The length of the row `t` repeats along an output of shape `out` (`n` elements), when it is
/// one the direct loop takes (see [`direct_row`]) and of the length `row` of the other repeated
/// operands (0: none yet).
fn repeated_row(t: &Tensor, out: &[usize], n: usize, row: usize) -> Option<usize> {
    let shape = t.shape();
    let trailing = &shape[shape.iter().position(|&d| d != 1).unwrap_or(shape.len())..];
    let len = t.numel();
    let repeats = (len == 1 || len >= MIN_DIRECT_ROW) && len < n && out.ends_with(trailing) && (row == 0 || row == len);
    repeats.then_some(len)
}

/// One instruction over contiguous operands (see [`Operand`]), in parallel chunks of whole rows
/// when large (each element's arithmetic does not depend on the split), for the CPU's widest
/// SIMD. `row` is the repeated operands' length, 0 when there are none.
fn single<T: Float>(instr: Instr, srcs: &[Operand<T>], row: usize, out: &mut [T]) {
    let kernel = |start: usize, chunk: &mut [T]| {
        let row = if row == 0 { chunk.len() } else { row };
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                return unsafe { simd::single_avx512(instr, srcs, row, start, chunk) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { simd::single_avx2(instr, srcs, row, start, chunk) };
            }
        }
        single_plain(instr, srcs, row, start, chunk)
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

/// One instruction over `dst`, each operand register `r` read as `operand(r)` (a slice of
/// `dst`'s length): the loops of both kernels, one per op with the op a constant in it, so
/// each vectorises as the op's own kernel does. (Plain `for` loops: with `Iterator::for_each`
/// the bodies became functions LLVM did not inline into the SIMD builds.)
#[inline(always)]
fn instr_into<'a, T: Float>(instr: Instr, dst: &mut [T], operand: impl Fn(usize) -> &'a [T]) {
    match instr {
        Instr::Unary(u, a) => {
            let a = operand(a);
            per_variant!(u, UnaryFn[Neg, Abs, Square, Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Sin, Cos],
                |op| for (d, &x) in dst.iter_mut().zip(a) {
                *d = op.apply(x)
            })
        }
        Instr::Scalar(s, v, a) => {
            let (a, v) = (operand(a), T::lit(v));
            match s {
                ScalarFn::Add => {
                    for (d, &x) in dst.iter_mut().zip(a) {
                        *d = Numeric::num_add(x, v)
                    }
                }
                ScalarFn::Mul => {
                    for (d, &x) in dst.iter_mut().zip(a) {
                        *d = Numeric::num_mul(x, v)
                    }
                }
            }
        }
        Instr::Binary(b, x, y) => {
            let (xs, ys) = (operand(x), operand(y));
            per_variant!(b, BinaryFn[Add, Sub, Mul, Div, Maximum, Minimum, TanhBackward],
                |op| for (d, (&p, &q)) in dst.iter_mut().zip(xs.iter().zip(ys)) {
                *d = op.apply(p, q)
            })
        }
    }
}

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
