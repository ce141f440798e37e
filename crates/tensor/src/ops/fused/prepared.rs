//! The direct loop prepared once for operands of fixed shapes: what a compiled plan runs for
//! an elementwise node. The shape checks, the choice of loop and the program's validation are
//! done when the kernel is made; a run checks only what can change from one run to the next
//! (each operand's dtype, shape and contiguity, the output's exclusivity), with no allocation.

use smallvec::SmallVec;

use super::direct::{operand, repeated_row, single, Operand};
use super::{ElementwiseProgram, Instr};
use crate::dtype::Float;
use crate::layout::{same_shape, Shape};
use crate::{DType, Tensor};

/// A one-instruction elementwise kernel for operands of fixed shapes and dtype.
///
/// ```
/// use tensor::ops::fused::{BinaryFn, DirectKernel, ElementwiseProgram, Instr};
/// use tensor::{DType, Tensor};
/// let add = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1)] };
/// // A bias of 8 repeated along 2 rows.
/// let kernel = DirectKernel::new(&add, DType::F32, &[&[2, 8], &[8]], &[2, 8]).unwrap();
/// let (x, bias) = (Tensor::ones(&[2, 8], DType::F32), Tensor::ones(&[8], DType::F32));
/// let mut out = Tensor::zeros(&[2, 8], DType::F32);
/// assert!(kernel.run(&[&x, &bias], &mut out));
/// assert_eq!(out.to_vec::<f32>(), vec![2.0; 16]);
/// // Not the planned shapes: nothing is written, and the caller takes the general path.
/// assert!(!kernel.run(&[&bias, &bias], &mut out));
/// ```
#[derive(Clone, Debug)]
pub struct DirectKernel {
    instr: Instr,
    planned: Planned,
    /// The repeated operands' row length (0: none repeats).
    row: usize,
}

/// The operands a prepared kernel ([`DirectKernel`], [`super::ProgramKernel`]) was made for: what
/// a run checks before it writes.
#[derive(Clone, Debug)]
pub(super) struct Planned {
    pub dtype: DType,
    inputs: SmallVec<[Shape; 2]>,
    out: Shape,
}

impl Planned {
    pub(super) fn new(dtype: DType, inputs: &[&[usize]], out: &[usize]) -> Planned {
        Planned { dtype, inputs: inputs.iter().map(|&s| Shape::from_slice(s)).collect(), out: Shape::from_slice(out) }
    }

    /// Whether a run may write: every input is contiguous with its planned shape and dtype, and
    /// `out` is [exclusive](Tensor::is_exclusive) with the output's.
    #[inline]
    pub(super) fn admits(&self, inputs: &[&Tensor], out: &Tensor) -> bool {
        let planned = |t: &Tensor, shape: &Shape| t.dtype() == self.dtype && same_shape(t.shape(), shape);
        inputs.len() == self.inputs.len()
            && inputs.iter().zip(&self.inputs).all(|(t, s)| planned(t, s) && t.is_contiguous())
            && planned(out, &self.out)
            && out.is_exclusive()
    }
}

impl DirectKernel {
    /// The kernel of `program` over inputs of these shapes, all of `dtype`, into an output of
    /// shape `out`; `None` when the direct loop does not apply (more than one instruction, a
    /// dtype other than f32 and f64, or operands neither of the output's shape nor a row
    /// repeated along it).
    pub fn new(program: &ElementwiseProgram, dtype: DType, inputs: &[&[usize]], out: &[usize]) -> Option<DirectKernel> {
        let &[instr] = program.instrs.as_slice() else {
            return None;
        };
        if !matches!(dtype, DType::F32 | DType::F64) || program.check(inputs.len()).is_err() || inputs.len() > 2 {
            return None;
        }
        let n = out.iter().product();
        let (mut row, mut whole) = (0, false);
        for &shape in inputs {
            if same_shape(shape, out) {
                whole = true;
            } else {
                row = repeated_row(shape, out, n, row)?;
            }
        }
        whole.then(|| DirectKernel { instr, planned: Planned::new(dtype, inputs, out), row })
    }

    /// Writes the result over `inputs` into `out` and returns `true` when every input is
    /// contiguous with its planned shape and dtype and `out` is [exclusive](Tensor::is_exclusive)
    /// with the output's; otherwise writes nothing and returns `false`.
    #[inline]
    pub fn run(&self, inputs: &[&Tensor], out: &mut Tensor) -> bool {
        if !self.planned.admits(inputs, out) {
            return false;
        }
        match self.planned.dtype {
            DType::F32 => self.write::<f32>(inputs, out),
            DType::F64 => self.write::<f64>(inputs, out),
            _ => return false,
        }
        true
    }

    /// The loop itself, the checks done. (The operands are an array, not a collected vector:
    /// see `direct::operands`.)
    #[inline(always)]
    fn write<T: Float>(&self, inputs: &[&Tensor], out: &mut Tensor) {
        let dst = out.exclusive_slice_mut::<T>();
        let len = dst.len();
        let srcs: [Operand<T>; 2] = [operand(inputs[0], len), operand(inputs[inputs.len() - 1], len)];
        single(self.instr, &srcs[..inputs.len()], self.row, dst);
    }
}
