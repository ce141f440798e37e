//! A product of two matrices prepared once for operands of fixed shapes: what a compiled plan
//! runs for a matrix product node. The shapes, the transposes and the choice of GEMM are settled
//! when the kernel is made; a run checks only what can change from one run to the next (each
//! operand's dtype, shape and place in its buffer, the output's exclusivity) and calls the GEMM
//! that [`Tensor::try_matmul_t_into`] would have called, with the same arguments, so the values
//! are the same bit for bit. At a small model's sizes the general entry point's checks and
//! dispatch cost about a fifth of the product itself.

#[cfg(not(feature = "gemm-crate"))]
use super::MatRef;
use crate::{DType, Tensor};

/// `op(a) @ op(b)` for 2-D operands of fixed shapes and float dtype, `op` transposing where
/// the flag is set, written into an exclusive output.
///
/// ```
/// use tensor::ops::matmul::MatmulKernel;
/// use tensor::{DType, Tensor};
/// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// let mut out = Tensor::zeros(&[3, 3], DType::F32);
/// // aᵀ @ a, where the CPU has our GEMM (AVX2 and FMA); `None` elsewhere.
/// if let Some(kernel) = MatmulKernel::new(DType::F32, [&[2, 3], &[2, 3]], [true, false]) {
///     assert!(kernel.run(&a, &a, &mut out));
///     assert_eq!(out.to_vec::<f32>(), a.t().matmul(&a).to_vec::<f32>());
///     // Not the planned shapes: nothing is written, and the caller takes the general path.
///     assert!(!kernel.run(&a.t(), &a, &mut out));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct MatmulKernel {
    dtype: DType,
    /// The operands' shapes as stored (before `op`).
    shapes: [[usize; 2]; 2],
    #[cfg_attr(feature = "gemm-crate", allow(dead_code))] // read by the GEMM call only
    transposed: [bool; 2],
    /// `C`'s rows, the inner dimension, `C`'s columns.
    m: usize,
    #[cfg_attr(feature = "gemm-crate", allow(dead_code))] // read by the GEMM call only
    k: usize,
    n: usize,
}

impl MatmulKernel {
    /// The kernel for operands of these shapes (as stored) and `dtype`, transposed where the
    /// flags say; `None` when it does not apply: operands that are not matrices or whose inner
    /// dimensions differ, a dtype other than f32 and f64, an empty product, or a CPU (or
    /// build) on which matmul does not run on this crate's GEMM.
    pub fn new(dtype: DType, shapes: [&[usize]; 2], transposed: [bool; 2]) -> Option<MatmulKernel> {
        let (&[r0, c0], &[r1, c1]) = (shapes[0], shapes[1]) else { return None };
        let (m, k) = if transposed[0] { (c0, r0) } else { (r0, c0) };
        let (k2, n) = if transposed[1] { (c1, r1) } else { (r1, c1) };
        let applies = k == k2 && m != 0 && k != 0 && n != 0 && matches!(dtype, DType::F32 | DType::F64) && own_gemm();
        applies.then_some(MatmulKernel { dtype, shapes: [[r0, c0], [r1, c1]], transposed, m, k, n })
    }

    /// Writes `op(a) @ op(b)` into `out` and returns `true` when both operands have the planned
    /// shapes and dtype and `out` is [exclusive](Tensor::is_exclusive) with the result's shape
    /// and dtype; otherwise writes nothing and returns `false`.
    #[inline]
    pub fn run(&self, a: &Tensor, b: &Tensor, out: &mut Tensor) -> bool {
        let planned = |t: &Tensor, i: usize| t.dtype() == self.dtype && t.shape() == self.shapes[i];
        if !planned(a, 0) || !planned(b, 1) || out.dtype() != self.dtype || out.shape() != [self.m, self.n] {
            return false;
        }
        if !out.is_exclusive() {
            return false;
        }
        self.write(a, b, out)
    }

    #[cfg(not(feature = "gemm-crate"))]
    fn write(&self, a: &Tensor, b: &Tensor, out: &mut Tensor) -> bool {
        match self.dtype {
            DType::F32 => self.write_typed::<f32>(a, b, out),
            DType::F64 => self.write_typed::<f64>(a, b, out),
            _ => false,
        }
    }

    #[cfg(feature = "gemm-crate")]
    fn write(&self, _: &Tensor, _: &Tensor, _: &mut Tensor) -> bool {
        false // never made: `new` returns `None` on this build
    }

    /// The operand as the matrix `op(t)`: its place in its buffer, the transpose read through
    /// swapped strides.
    #[cfg(not(feature = "gemm-crate"))]
    fn matrix(&self, t: &Tensor, i: usize) -> MatRef {
        let (&[rs, cs], offset) = (t.strides(), t.layout.offset) else {
            unreachable!("the operand's shape was checked to be 2-D")
        };
        let [rows, cols] = self.shapes[i];
        match self.transposed[i] {
            false => MatRef { rows, cols, offset, row_stride: rs, col_stride: cs },
            true => MatRef { rows: cols, cols: rows, offset, row_stride: cs, col_stride: rs },
        }
    }

    #[cfg(not(feature = "gemm-crate"))]
    fn write_typed<T: crate::gemm::Kernel>(&self, a: &Tensor, b: &Tensor, out: &mut Tensor) -> bool {
        let (am, bm) = (self.matrix(a, 0), self.matrix(b, 1));
        let (sa, sb) = (a.storage_slice::<T>(), b.storage_slice::<T>());
        // Strides that do not fit `isize`, or a matrix outside its buffer (a view can be made
        // to address past its storage only through unsafe code, but the GEMM reads through raw
        // pointers, so this is checked, as the general path checks it).
        let fits = |m: &MatRef, len: usize| m.extent() <= len && m.row_stride.max(m.col_stride) <= isize::MAX as usize;
        if !fits(&am, sa.len()) || !fits(&bm, sb.len()) {
            return false;
        }
        let c = out.exclusive_slice_mut::<T>();
        // SAFETY: the GEMM is available (checked in `new`); both operands lie inside their
        // buffers (checked above) and `c` holds the `m x n` row-major result; `c` is borrowed
        // mutably, so it overlaps neither operand; `k > 0` (checked in `new`). These are the
        // arguments `try_matmul_t_into` passes for the same operands.
        unsafe {
            crate::gemm::gemm::<T>(
                self.m,
                self.k,
                self.n,
                T::ONE,
                sa.as_ptr().add(am.offset),
                am.row_stride as isize,
                am.col_stride as isize,
                sb.as_ptr().add(bm.offset),
                bm.row_stride as isize,
                bm.col_stride as isize,
                T::ZERO,
                c.as_mut_ptr(),
                self.n as isize,
                1,
            )
        };
        true
    }
}

/// Whether matmul runs on this crate's GEMM (the one the kernel calls).
fn own_gemm() -> bool {
    #[cfg(not(feature = "gemm-crate"))]
    {
        crate::gemm::available()
    }
    #[cfg(feature = "gemm-crate")]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn bits(t: &Tensor) -> Vec<u64> {
        match t.dtype() {
            DType::F32 => t.to_vec::<f32>().iter().map(|x| x.to_bits() as u64).collect(),
            _ => t.to_vec::<f64>().iter().map(|x| x.to_bits()).collect(),
        }
    }

    /// The kernel's result equals the general path's bit for bit, for each pair of transposes,
    /// on small (register-tile) and packed sizes, and on operands read through views.
    #[test]
    fn equals_try_matmul_t_into_bit_for_bit() {
        let mut rng = Rng::seed(7);
        for dtype in [DType::F32, DType::F64] {
            for (m, k, n) in [(1, 1, 1), (32, 2, 16), (7, 33, 5), (16, 32, 1), (70, 300, 90)] {
                for transposed in [[false, false], [true, false], [false, true], [true, true]] {
                    let stored = |rows: usize, cols: usize, t: bool| if t { [cols, rows] } else { [rows, cols] };
                    let (sa, sb) = (stored(m, k, transposed[0]), stored(k, n, transposed[1]));
                    // Views: `a` a window of a larger matrix (an offset, rows padded), `b` a
                    // transposed row-major matrix (its strides swapped).
                    let a =
                        Tensor::randn(&[sa[0] + 1, sa[1] + 2], dtype, &mut rng).narrow(0, 1, sa[0]).narrow(1, 1, sa[1]);
                    let b = Tensor::randn(&[sb[1], sb[0]], dtype, &mut rng).t();
                    let Some(kernel) = MatmulKernel::new(dtype, [&sa, &sb], transposed) else {
                        assert!(!own_gemm());
                        return;
                    };
                    let mut expected = Tensor::zeros(&[m, n], dtype);
                    a.try_matmul_t_into(transposed[0], &b, transposed[1], &mut expected).unwrap();
                    let mut out = Tensor::zeros(&[m, n], dtype);
                    assert!(kernel.run(&a, &b, &mut out), "{m}x{k}x{n} {transposed:?}");
                    assert_eq!(bits(&out), bits(&expected), "{m}x{k}x{n} {transposed:?} {dtype:?}");
                }
            }
        }
    }

    #[test]
    fn declines_what_it_was_not_planned_for() {
        assert!(MatmulKernel::new(DType::F32, [&[2, 3], &[4, 5]], [false, false]).is_none());
        assert!(MatmulKernel::new(DType::F32, [&[2, 3, 1], &[3, 5]], [false, false]).is_none());
        assert!(MatmulKernel::new(DType::I64, [&[2, 3], &[3, 5]], [false, false]).is_none());
        assert!(MatmulKernel::new(DType::F32, [&[2, 0], &[0, 5]], [false, false]).is_none());
        let Some(kernel) = MatmulKernel::new(DType::F32, [&[2, 3], &[3, 5]], [false, false]) else {
            assert!(!own_gemm());
            return;
        };
        let (a, b) = (Tensor::ones(&[2, 3], DType::F32), Tensor::ones(&[3, 5], DType::F32));
        let mut out = Tensor::zeros(&[2, 5], DType::F32);
        // Wrong dtype of an operand or of the output, wrong output shape, shared output.
        assert!(!kernel.run(&a.to_dtype(DType::F64), &b, &mut out));
        assert!(!kernel.run(&a, &b, &mut Tensor::zeros(&[2, 5], DType::F64)));
        assert!(!kernel.run(&a, &b, &mut Tensor::zeros(&[5, 2], DType::F32)));
        let held = out.clone();
        assert!(!kernel.run(&a, &b, &mut out));
        drop(held);
        assert!(kernel.run(&a, &b, &mut out));
        assert_eq!(out.to_vec::<f32>(), vec![3.0; 10]);
    }
}
