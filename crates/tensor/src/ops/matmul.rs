//! Matrix multiplication with `numpy.matmul` semantics on our own GEMM where the CPU has AVX2
//! and FMA (`crate::gemm`), on matrixmultiply's sgemm/dgemm elsewhere.
//!
//! Operands are passed to GEMM with their row and column strides, so a transposed (or otherwise
//! strided) matrix is never copied. Batch dimensions broadcast; a batch of small products runs
//! in parallel over the batch; a large product is shared between rayon's threads, by our GEMM
//! itself, or, on matrixmultiply, as blocks of `C` (see `for_blocks`).

use rayon::prelude::*;
use smallvec::SmallVec;

use crate::dtype::Float;
use crate::error::{Result, TensorError};
use crate::layout::{broadcast_shapes, checked_numel, collapse, for_each_run, Shape, Strides};
use crate::macros::{float_dispatch, panicking};
#[cfg(not(feature = "gemm-crate"))]
use crate::parallel::Shared;
use crate::Tensor;

/// A strided matrix inside a buffer: `rows x cols`, element `(i, j)` at
/// `offset + i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatRef {
    pub rows: usize,
    pub cols: usize,
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl MatRef {
    /// A row-major contiguous matrix at `offset`.
    pub fn contiguous(rows: usize, cols: usize, offset: usize) -> MatRef {
        MatRef { rows, cols, offset, row_stride: cols, col_stride: 1 }
    }

    /// The transposed view (no data moves).
    pub fn t(self) -> MatRef {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            offset: self.offset,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// One past the last element touched (0 when empty; saturating, so an absurd layout can
    /// never pass a bounds check by wrapping around).
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return 0;
        }
        let rows = (self.rows - 1).saturating_mul(self.row_stride);
        let cols = (self.cols - 1).saturating_mul(self.col_stride);
        self.offset.saturating_add(rows).saturating_add(cols).saturating_add(1)
    }
}

/// Element types with a GEMM kernel.
pub(crate) trait Gemm: Float {
    /// `c = alpha * a @ b + beta * c`. Panics (never UB) if a matrix does not fit its buffer.
    #[allow(clippy::too_many_arguments)] // BLAS-shaped on purpose: each matrix is (buffer, layout)
    fn gemm(alpha: Self, a: &[Self], am: MatRef, b: &[Self], bm: MatRef, beta: Self, c: &mut [Self], cm: MatRef);
}

fn check_fit(a: &MatRef, alen: usize, b: &MatRef, blen: usize, c: &MatRef, clen: usize) {
    assert!(a.cols == b.rows && a.rows == c.rows && b.cols == c.cols, "gemm: inconsistent shapes");
    assert!(a.extent() <= alen && b.extent() <= blen && c.extent() <= clen, "gemm: matrix outside its buffer");
    let max = isize::MAX as usize;
    assert!([a, b, c].iter().all(|m| m.row_stride <= max && m.col_stride <= max), "gemm: stride does not fit isize");
}

macro_rules! gemm_impl {
    ($t:ty, $f:path) => {
        impl Gemm for $t {
            #[allow(clippy::too_many_arguments)]
            fn gemm(
                alpha: Self,
                a: &[Self],
                am: MatRef,
                b: &[Self],
                bm: MatRef,
                beta: Self,
                c: &mut [Self],
                cm: MatRef,
            ) {
                check_fit(&am, a.len(), &bm, b.len(), &cm, c.len());
                if cm.rows == 0 || cm.cols == 0 {
                    return;
                }
                if am.cols == 0 {
                    // Empty inner dimension: the product is zero.
                    for i in 0..cm.rows {
                        for j in 0..cm.cols {
                            let x = &mut c[cm.offset + i * cm.row_stride + j * cm.col_stride];
                            *x = if beta == 0.0 { 0.0 } else { beta * *x };
                        }
                    }
                    return;
                }
                #[cfg(not(feature = "gemm-crate"))]
                {
                    let cptr = Shared(c.as_mut_ptr());
                    // Our GEMM shares a large product between threads itself (one packed panel
                    // of `B` for all); matrixmultiply's blocks are cut here.
                    let own = crate::gemm::takes(cm.rows.saturating_mul(cm.cols).saturating_mul(am.cols));
                    for_blocks(am, bm, cm, !own, |am, bm, cm| {
                        // SAFETY: check_fit proved every element each matrix addresses lies
                        // inside its slice; `for_blocks` hands out sub-matrices of `cm` that are
                        // disjoint, so concurrent blocks never write the same element, and `c`
                        // is borrowed mutably so it cannot alias `a` or `b`.
                        unsafe {
                            let kernel = if own { crate::gemm::gemm::<$t> } else { $f };
                            kernel(
                                cm.rows,
                                am.cols,
                                cm.cols,
                                alpha,
                                a.as_ptr().add(am.offset),
                                am.row_stride as isize,
                                am.col_stride as isize,
                                b.as_ptr().add(bm.offset),
                                bm.row_stride as isize,
                                bm.col_stride as isize,
                                beta,
                                cptr.get().add(cm.offset),
                                cm.row_stride as isize,
                                cm.col_stride as isize,
                            )
                        }
                    });
                }
                // SAFETY: as above. The gemm crate computes dst := alpha dst + beta lhs rhs,
                // so the scale factors swap names.
                #[cfg(feature = "gemm-crate")]
                unsafe {
                    let work = cm.rows * cm.cols * am.cols;
                    let parallelism =
                        if work >= 1 << 18 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
                    gemm::gemm(
                        cm.rows,
                        cm.cols,
                        am.cols,
                        c.as_mut_ptr().add(cm.offset),
                        cm.col_stride as isize,
                        cm.row_stride as isize,
                        beta != 0.0,
                        a.as_ptr().add(am.offset),
                        am.col_stride as isize,
                        am.row_stride as isize,
                        b.as_ptr().add(bm.offset),
                        bm.col_stride as isize,
                        bm.row_stride as isize,
                        beta,
                        alpha,
                        false,
                        false,
                        false,
                        parallelism,
                    )
                }
            }
        }
    };
}

/// matrixmultiply's products of at least this many multiply-adds are cut into blocks run on
/// rayon (ours share their work themselves, from the same size).
#[cfg(all(not(miri), not(feature = "gemm-crate")))]
const SPLIT_GEMM: usize = crate::parallel::PARALLEL_GEMM;
/// Under Miri, small products split too, so its data-race detector sees the blocks' writes
/// through the `Shared` pointer to `c` (tests/miri.rs).
#[cfg(all(miri, not(feature = "gemm-crate")))]
const SPLIT_GEMM: usize = 1 << 9;

/// Blocks of columns are multiples of this, and blocks of rows of [`ROW_ALIGN`]: whole
/// micro-kernel tiles (16 or 8 columns, 6 rows), so no block boundary cuts tiles into edge tiles,
/// while the blocks stay nearly equal.
#[cfg(all(not(miri), not(feature = "gemm-crate")))]
const COL_ALIGN: usize = 16;
#[cfg(all(not(miri), not(feature = "gemm-crate")))]
const ROW_ALIGN: usize = 6;
#[cfg(all(miri, not(feature = "gemm-crate")))]
const COL_ALIGN: usize = 4;
#[cfg(all(miri, not(feature = "gemm-crate")))]
const ROW_ALIGN: usize = 4;

/// Runs `f(a, b, c)` on the blocks of `c = a @ b`: the whole product, or, when `split` is set,
/// the product is large and rayon has several threads, `c`'s columns (or rows, whichever is
/// longer) cut into one block per thread, run in parallel. GEMM threads only on rayon's pool
/// (this way for matrixmultiply, whose own threads are off, and inside `crate::gemm` for ours),
/// so it never contends with the rest of the crate's parallel loops. The blocks partition `c`
/// and every element's sum over `k` runs in the same order whatever the cut, so the result is
/// bit-identical for any thread count.
#[cfg(not(feature = "gemm-crate"))]
fn for_blocks(am: MatRef, bm: MatRef, cm: MatRef, split: bool, f: impl Fn(MatRef, MatRef, MatRef) + Sync + Send) {
    let (m, k, n) = (cm.rows, am.cols, cm.cols);
    // Small products first, without asking rayon for its thread count (a thread-local lookup
    // that cost as much as a small compiled model's product).
    if !split || m.saturating_mul(n).saturating_mul(k) < SPLIT_GEMM {
        return f(am, bm, cm);
    }
    let threads = rayon::current_num_threads();
    let long = m.max(n);
    let align = if n >= m { COL_ALIGN } else { ROW_ALIGN };
    // At least two tiles' worth per block (the old rule, 32, for columns).
    let parts = threads.min(long / (2 * align));
    if parts < 2 || m.saturating_mul(n).saturating_mul(k) < SPLIT_GEMM {
        return f(am, bm, cm);
    }
    let size = long.div_ceil(parts).next_multiple_of(align);
    (0..long.div_ceil(size)).into_par_iter().for_each(|i| {
        let (lo, len) = (i * size, size.min(long - i * size));
        if n >= m {
            let b = MatRef { cols: len, offset: bm.offset + lo * bm.col_stride, ..bm };
            let c = MatRef { cols: len, offset: cm.offset + lo * cm.col_stride, ..cm };
            f(am, b, c)
        } else {
            let a = MatRef { rows: len, offset: am.offset + lo * am.row_stride, ..am };
            let c = MatRef { rows: len, offset: cm.offset + lo * cm.row_stride, ..cm };
            f(a, bm, c)
        }
    });
}

gemm_impl!(f32, matrixmultiply::sgemm);
gemm_impl!(f64, matrixmultiply::dgemm);

/// Products below this many multiply-adds are too small for matrixmultiply to thread, so a
/// batch of them is spread over rayon instead.
const SMALL_GEMM: usize = 1 << 18;

impl Tensor {
    /// Matrix product with `numpy.matmul` semantics:
    /// - 1-D @ 1-D is a dot product (0-d result);
    /// - 2-D @ 2-D is the matrix product;
    /// - a 1-D left (right) operand is treated as a row (column) vector, that dimension removed
    ///   from the result;
    /// - higher ranks are stacks of matrices whose batch dimensions broadcast.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// let b = Tensor::ones(&[3], tensor::DType::F32);
    /// assert_eq!(a.matmul(&b).to_vec::<f32>(), vec![6.0, 15.0]);
    /// assert_eq!(a.try_matmul(&a).unwrap_err().to_string(),
    ///            "matmul: [2, 3] @ [2, 3]: inner dimensions 3 and 2 differ");
    /// ```
    pub fn try_matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.same_dtype("matmul", rhs)?;
        if self.rank() == 0 || rhs.rank() == 0 {
            return Err(TensorError::invalid(
                "matmul",
                format!("both operands need at least 1 dimension, got {:?} @ {:?}", self.shape(), rhs.shape()),
            ));
        }
        let a = if self.rank() == 1 { self.unsqueeze(0) } else { self.clone() };
        let b = if rhs.rank() == 1 { rhs.unsqueeze(-1) } else { rhs.clone() };
        let (m, k) = (a.shape()[a.rank() - 2], a.shape()[a.rank() - 1]);
        let (k2, n) = (b.shape()[b.rank() - 2], b.shape()[b.rank() - 1]);
        if k != k2 {
            return Err(TensorError::MatmulInner {
                op: "matmul",
                lhs: self.shape_vec(),
                rhs: rhs.shape_vec(),
                lhs_inner: k,
                rhs_inner: k2,
            });
        }
        let batch = broadcast_shapes("matmul", &a.shape()[..a.rank() - 2], &b.shape()[..b.rank() - 2]).map_err(
            |e| match e {
                TensorError::Broadcast { .. } => {
                    TensorError::Broadcast { op: "matmul", lhs: self.shape_vec(), rhs: rhs.shape_vec() }
                }
                other => other,
            },
        )?;
        // Operands already of the full shape (every 2-D product) are used as they are: a
        // broadcast view of them would be the same view, at the cost of two allocations.
        let mut full: Shape = batch.clone();
        full.extend([m, k]);
        let a = if a.shape() == full.as_slice() { a } else { a.try_broadcast_to(&full)? };
        full.truncate(batch.len());
        full.extend([k, n]);
        let b = if b.shape() == full.as_slice() { b } else { b.try_broadcast_to(&full)? };
        let mut out_shape: Shape = batch.clone();
        if self.rank() > 1 {
            out_shape.push(m);
        }
        if rhs.rank() > 1 {
            out_shape.push(n);
        }
        full.truncate(batch.len());
        full.extend([m, n]);
        let numel = checked_numel("matmul", &full)?;
        float_dispatch!("matmul", self.dtype(), T => {
            crate::pool::ensure_alloc("matmul", numel, self.dtype())?;
            Ok(Tensor::from_data(batched_gemm::<T>(&a, &b, &batch, m, k, n), &out_shape))
        })
    }

    panicking!(
        /// Matrix product with `numpy.matmul` semantics.
        matmul => try_matmul(rhs: &Tensor) -> Tensor
    );

    /// The product of two matrices (`[m, k] @ [k, n]`, any strides) written into `out`, an
    /// [exclusive](Self::is_exclusive) `[m, n]` tensor of their dtype whose buffer is reused:
    /// what a compiled program's planned buffers take. The values are those of
    /// [`try_matmul`](Self::try_matmul), bit for bit.
    ///
    /// ```
    /// use tensor::{DType, Tensor};
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// let mut out = Tensor::zeros(&[2, 2], DType::F32);
    /// a.try_matmul_into(&a.t(), &mut out).unwrap();
    /// assert_eq!(out.to_vec::<f32>(), vec![5.0, 11.0, 11.0, 25.0]);
    /// assert_eq!(a.try_matmul_into(&a, &mut Tensor::zeros(&[2, 3], DType::F32)).unwrap_err().to_string(),
    ///            "matmul_into: [2, 2] @ [2, 2] is [2, 2], but the output is [2, 3]");
    /// ```
    pub fn try_matmul_into(&self, rhs: &Tensor, out: &mut Tensor) -> Result<()> {
        self.try_matmul_t_into(false, rhs, false, out)
    }

    /// [`try_matmul_into`](Self::try_matmul_into) of `op(self) @ op(rhs)`, where `op` transposes
    /// the matrices whose flag is set (BLAS's `transa`, `transb`): the transpose is read in
    /// place, without building its view, with the values of the product of the views bit for
    /// bit.
    ///
    /// ```
    /// use tensor::{DType, Tensor};
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// let mut out = Tensor::zeros(&[3, 3], DType::F32);
    /// a.try_matmul_t_into(true, &a, false, &mut out).unwrap();
    /// assert_eq!(out.to_vec::<f32>(), a.t().matmul(&a).to_vec::<f32>());
    /// assert_eq!(a.try_matmul_t_into(false, &a, false, &mut out).unwrap_err().to_string(),
    ///            "matmul_into: [2, 3] @ [2, 3]: inner dimensions 3 and 2 differ");
    /// ```
    pub fn try_matmul_t_into(
        &self,
        transpose_self: bool,
        rhs: &Tensor,
        transpose_rhs: bool,
        out: &mut Tensor,
    ) -> Result<()> {
        let op = "matmul_into";
        self.same_dtype(op, rhs)?;
        self.same_dtype(op, out)?;
        let matrix = |t: &Tensor, transposed: bool| match (t.shape(), t.strides()) {
            (&[r, c], &[rs, cs]) if !transposed => Some((r, c, rs, cs)),
            (&[r, c], &[rs, cs]) => Some((c, r, cs, rs)),
            _ => None,
        };
        let (Some((m, k, rsa, csa)), Some((k2, n, rsb, csb))) =
            (matrix(self, transpose_self), matrix(rhs, transpose_rhs))
        else {
            return Err(TensorError::invalid(
                op,
                format!("both operands must be matrices, got {:?} @ {:?}", self.shape(), rhs.shape()),
            ));
        };
        let shown = |t: &Tensor, transposed: bool| {
            let s = t.shape_vec();
            if transposed {
                s.into_iter().rev().collect()
            } else {
                s
            }
        };
        if k != k2 {
            return Err(TensorError::MatmulInner {
                op,
                lhs: shown(self, transpose_self),
                rhs: shown(rhs, transpose_rhs),
                lhs_inner: k,
                rhs_inner: k2,
            });
        }
        if out.shape() != [m, n] {
            return Err(TensorError::invalid(
                op,
                format!(
                    "{:?} @ {:?} is [{m}, {n}], but the output is {:?}",
                    shown(self, transpose_self),
                    shown(rhs, transpose_rhs),
                    out.shape()
                ),
            ));
        }
        if !out.is_exclusive() {
            return Err(TensorError::invalid(op, "the output buffer is shared or not contiguous".to_string()));
        }
        let am = MatRef { rows: m, cols: k, offset: self.layout.offset, row_stride: rsa, col_stride: csa };
        let bm = MatRef { rows: k, cols: n, offset: rhs.layout.offset, row_stride: rsb, col_stride: csb };
        float_dispatch!(op, out.dtype(), T => {
            gemm_into::<T>(self.storage_slice::<T>(), am, rhs.storage_slice::<T>(), bm, out.exclusive_slice_mut::<T>());
            Ok(())
        })
    }

    /// `x Wᵀ + b` (`torch.nn.functional.linear`): `self [.., in]`, `weight [out, in]` (torch's
    /// layout), `bias [out]`; the result is `[.., out]`. The transpose is read in place and the
    /// bias added into the product's fresh buffer.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2]);
    /// let w = Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 2.0], &[3, 2]);
    /// let b = Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]);
    /// assert_eq!(x.linear(&w, Some(&b)).to_vec::<f64>(), vec![1.5, 3.5, 4.5]);
    /// assert_eq!(x.try_linear(&w.t(), None).unwrap_err().to_string(),
    ///            "linear: input [1, 2] needs weight [out, 2], got weight [2, 3]");
    /// ```
    pub fn try_linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let op = "linear";
        let Some(&in_features) = self.shape().last() else {
            return Err(TensorError::invalid(op, "input must have at least 1 dimension, got a scalar"));
        };
        if weight.rank() != 2 || weight.shape()[1] != in_features {
            return Err(TensorError::invalid(
                op,
                format!("input {:?} needs weight [out, {in_features}], got weight {:?}", self.shape(), weight.shape()),
            ));
        }
        self.same_dtype(op, weight)?;
        let mut y = self.try_matmul(&weight.t())?;
        if let Some(b) = bias {
            if b.shape() != [weight.shape()[0]] {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "bias must be [{}] for weight {:?}, got {:?}",
                        weight.shape()[0],
                        weight.shape(),
                        b.shape()
                    ),
                ));
            }
            self.same_dtype(op, b)?;
            y.try_add_assign(b)?;
        }
        Ok(y)
    }
    panicking!(
        /// `x Wᵀ + b` (`torch.nn.functional.linear`).
        linear => try_linear(weight: &Tensor, bias: Option<&Tensor>) -> Tensor
    );
}

/// `c = a @ b` for matrices `a` and `b` inside their buffers, `c` a row-major buffer of its own.
fn gemm_into<T: Gemm>(a: &[T], am: MatRef, b: &[T], bm: MatRef, c: &mut [T]) {
    if am.cols == 0 {
        c.fill(T::ZERO);
        return;
    }
    T::gemm(T::ONE, a, am, b, bm, T::ZERO, c, MatRef::contiguous(am.rows, bm.cols, 0));
}

/// Runs one GEMM per batch element of `a: [batch.., m, k]` and `b: [batch.., k, n]` (already
/// broadcast views) into a fresh row-major `[batch.., m, n]` buffer.
fn batched_gemm<T: Gemm>(a: &Tensor, b: &Tensor, batch: &[usize], m: usize, k: usize, n: usize) -> Vec<T> {
    let (sa, sb) = (a.storage_slice::<T>(), b.storage_slice::<T>());
    let nb: usize = batch.iter().product();
    if nb * m * n == 0 {
        return Vec::new();
    }
    // GEMM with beta = 0 writes every element of C without reading it (`gemm_into` fills it
    // with zeros when `k` is 0).
    let mut out = crate::pool::for_overwrite::<T>(nb * m * n);
    let r = a.rank();
    let am =
        |off| MatRef { rows: m, cols: k, offset: off, row_stride: a.strides()[r - 2], col_stride: a.strides()[r - 1] };
    let bm =
        |off| MatRef { rows: k, cols: n, offset: off, row_stride: b.strides()[r - 2], col_stride: b.strides()[r - 1] };
    // Storage offsets of each batch element's matrices.
    let mut offsets: SmallVec<[(usize, usize); 4]> = SmallVec::with_capacity(nb);
    if batch.is_empty() {
        offsets.push((a.layout.offset, b.layout.offset));
    } else {
        let (bshape, st): (Shape, [Strides; 2]) = collapse(batch, [&a.strides()[..r - 2], &b.strides()[..r - 2]]);
        for_each_run(&bshape, &st, [a.layout.offset, b.layout.offset], 0, nb, |_, [oa, ob], run, [ia, ib]| {
            offsets.extend((0..run).map(|i| (oa + i * ia, ob + i * ib)));
        });
    }
    let run_one = |(oa, ob): (usize, usize), c: &mut [T]| gemm_into(sa, am(oa), sb, bm(ob), c);
    if nb > 1 && m * n * k < SMALL_GEMM && crate::parallel::should_parallelize(nb * m * n * k) {
        out.par_chunks_mut(m * n).zip(offsets.par_iter()).for_each(|(c, &o)| run_one(o, c));
    } else {
        for (c, &o) in out.chunks_mut(m * n).zip(&offsets) {
            run_one(o, c);
        }
    }
    out
}
