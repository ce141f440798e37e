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

mod direct;
use direct::{direct_into, direct_row, operands, single};
mod prepared;
pub use prepared::DirectKernel;
mod program_kernel;
pub use program_kernel::{ProgramKernel, MAX_INPUTS};

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
