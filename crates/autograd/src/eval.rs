//! `Op::eval`: the one forward of every primitive.
//!
//! Eager `Var` ops and [`Function::run`](crate::Function::run) both compute a node's value
//! here, from its input values and the op's static parameters, so a replay computes exactly
//! what the eager run did. Validation lives here too: a replay on new data checks what the
//! eager call checked (class ids in range, masks of the right dtype, ...).

use tensor::{ConvTranspose2dParams, Tensor, TensorError};

use crate::error::{AutogradError, Result};
use crate::op::Op;

/// A node's value, and the second tensor some kernels return with it (max pooling's argmax
/// indices), which a plain backward pass reuses instead of recomputing.
pub(crate) type Evaluated = (Tensor, Option<Tensor>);

impl Op {
    /// How many inputs the op takes (`None`: any number, or a choice checked by its kernel).
    fn arity(&self) -> Option<usize> {
        Some(match self {
            Op::Leaf | Op::Param(_) | Op::Input | Op::Const => 0,
            Op::Binary(_) | Op::Compare(_) | Op::ProdExclusiveBackward { .. } => 2,
            Op::IndexSelect { .. } | Op::Gather { .. } | Op::MaskedFill { .. } | Op::Matmul => 2,
            Op::Conv2dBackwardInput { .. } | Op::Conv2dBackwardWeight { .. } | Op::MaxPool2dBackward { .. } => 2,
            Op::SoftmaxCrossEntropy | Op::ClampBackward { .. } => 2,
            Op::ScatterAdd { .. } | Op::WhereCond | Op::SoftmaxCrossEntropyBackward => 3,
            Op::ExtremumBackward { .. } => 3,
            Op::Cat { .. } | Op::Custom(_) | Op::Fused { .. } => return None,
            Op::Conv2d { .. } | Op::ConvTranspose2d { .. } | Op::Linear => return None,
            _ => 1,
        })
    }

    /// Computes the op's output from its inputs' values (a leaf has no forward: its value is
    /// bound, not computed).
    #[inline]
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        self.check_arity(inputs)?;
        Ok(self.kernel(inputs)?)
    }

    /// [`eval`](Self::eval), plus the second tensor some kernels return (max pooling's argmax
    /// indices).
    pub(crate) fn eval_with_extra(&self, x: &[&Tensor]) -> Result<Evaluated> {
        self.check_arity(x)?;
        if let Op::MaxPool2d { kernel, stride, padding } = self {
            let (values, indices) = x[0].try_max_pool2d(*kernel, *stride, *padding)?;
            return Ok((values, Some(indices)));
        }
        Ok((self.kernel(x)?, None))
    }

    #[inline]
    fn check_arity(&self, x: &[&Tensor]) -> Result<()> {
        let ok = match self.arity() {
            Some(n) => x.len() == n,
            None => match self {
                Op::Conv2d { .. } | Op::ConvTranspose2d { .. } | Op::Linear => x.len() == 2 || x.len() == 3,
                _ => !x.is_empty(),
            },
        };
        if ok {
            return Ok(());
        }
        Err(AutogradError::Invalid { op: "eval", msg: format!("`{self}` cannot take {} inputs", x.len()) })
    }

    /// The forward kernel of every op, on inputs of the right number.
    fn kernel(&self, x: &[&Tensor]) -> tensor::Result<Tensor> {
        match self {
            Op::Leaf | Op::Param(_) | Op::Input | Op::Const => Err(TensorError::invalid(
                "eval",
                format!("`{}` is a leaf: its value is bound, not computed", self.name()),
            )),
            Op::Unary(u) => u.eval(x[0]),
            Op::Binary(b) => b.eval(x[0], x[1]),
            Op::Compare(c) => c.eval(x[0], x[1]),
            Op::CompareScalar { cmp, scalar } => cmp.eval_scalar(x[0], *scalar),
            Op::Scalar { op, scalar } => op.eval(x[0], *scalar),
            Op::Clamp { min, max } => x[0].try_clamp(*min, *max),
            Op::ClampBackward { min, max } => x[0].try_clamp_backward(x[1], *min, *max),
            Op::ToDType { dtype } => x[0].try_to_dtype(*dtype),
            Op::StopGradient => Ok(x[0].clone()),
            Op::Reduce { op, axes, keepdim } => op.eval(x[0], axes, *keepdim),
            Op::Argmax { axis, keepdim } => x[0].try_argmax(*axis, *keepdim),
            Op::Argmin { axis, keepdim } => x[0].try_argmin(*axis, *keepdim),
            Op::Softmax { axis } => x[0].try_softmax(*axis),
            Op::LogSoftmax { axis } => x[0].try_log_softmax(*axis),
            Op::Cumsum { axis } => x[0].try_cumsum(*axis),
            Op::ProdExclusive { axes } => x[0].try_prod_exclusive(axes),
            Op::ProdExclusiveBackward { axes } => x[0].try_prod_exclusive_backward(x[1], axes),
            Op::ExtremumBackward { axes, keepdim } => x[0].try_extremum_backward(x[1], x[2], axes, *keepdim),
            Op::Reshape { shape } => {
                let to: smallvec::SmallVec<[isize; 6]> = shape.iter().map(|&d| d as isize).collect();
                x[0].try_reshape(&to)
            }
            Op::Permute { axes } => x[0].try_permute(axes),
            Op::BroadcastTo { shape } => x[0].try_broadcast_to(shape),
            Op::Slice { axis, start, len, step } => {
                // The recorded (normalised) slice as a Python slice: `len` elements from `start`.
                let end = match len {
                    0 => Some(*start),
                    _ => (len - 1).checked_mul(*step).and_then(|d| d.checked_add(start + 1)),
                };
                let end =
                    end.filter(|&e| e <= isize::MAX as usize && *start <= isize::MAX as usize).ok_or_else(|| {
                        TensorError::invalid("slice", format!("start {start}, {len} elements of step {step} overflow"))
                    })?;
                let got = x[0].try_slice(*axis as isize, *start as isize, end as isize, *step)?;
                // Python slicing clamps; a recorded slice must be exactly what it says.
                if got.shape().get(*axis) != Some(len) {
                    return Err(TensorError::invalid(
                        "slice",
                        format!("{len} elements from {start} step {step} do not fit axis {axis} of {:?}", x[0].shape()),
                    ));
                }
                Ok(got)
            }
            Op::Pad { pads, value } => x[0].try_pad(pads, *value),
            Op::Repeat { reps } => x[0].try_repeat(reps),
            Op::Cat { axis } => {
                let parts: Vec<Tensor> = x.iter().map(|&t| t.clone()).collect();
                Tensor::try_cat(&parts, *axis as isize)
            }
            Op::IndexSelect { axis } => x[0].try_index_select(*axis as isize, x[1]),
            Op::Gather { axis } => x[0].try_gather(*axis as isize, x[1]),
            Op::ScatterAdd { axis } => x[0].try_scatter_add(*axis as isize, x[1], x[2]),
            Op::WhereCond => x[0].try_where_cond(x[1], x[2]),
            Op::MaskedFill { value } => x[0].try_masked_fill(x[1], *value),
            Op::OneHot { classes, dtype } => x[0].try_one_hot(*classes, *dtype),
            Op::Matmul => x[0].try_matmul(x[1]),
            Op::Linear => x[0].try_linear(x[1], x.get(2).copied()),
            Op::Conv2d { params } => x[0].try_conv2d(x[1], x.get(2).copied(), *params),
            Op::ConvTranspose2d { params, output_padding } => {
                let p = ConvTranspose2dParams {
                    stride: params.stride,
                    padding: params.padding,
                    output_padding: *output_padding,
                    dilation: params.dilation,
                    groups: params.groups,
                };
                x[0].try_conv_transpose2d(x[1], x.get(2).copied(), p)
            }
            Op::MaxPool2d { kernel, stride, padding } => Ok(x[0].try_max_pool2d(*kernel, *stride, *padding)?.0),
            Op::MaxPool2dIndices { kernel, stride, padding } => {
                x[0].try_max_pool2d(*kernel, *stride, *padding).map(|(_, indices)| indices)
            }
            Op::AvgPool2d { kernel, stride, padding, count_include_pad } => {
                x[0].try_avg_pool2d(*kernel, *stride, *padding, *count_include_pad)
            }
            Op::Conv2dBackwardInput { params, input_shape } => {
                Tensor::try_conv2d_backward_input(x[0], x[1], input_shape, **params)
            }
            Op::Conv2dBackwardWeight { params, weight_shape } => {
                Tensor::try_conv2d_backward_weight(x[0], x[1], weight_shape, **params)
            }
            Op::MaxPool2dBackward { input_shape } => Tensor::try_max_pool2d_backward(x[0], x[1], input_shape),
            Op::AvgPool2dBackward { kernel, stride, padding, count_include_pad, input_shape } => {
                Tensor::try_avg_pool2d_backward(x[0], input_shape, *kernel, *stride, *padding, *count_include_pad)
            }
            Op::SoftmaxCrossEntropy => x[0].try_softmax_cross_entropy(x[1]),
            Op::SoftmaxCrossEntropyBackward => x[0].try_softmax_cross_entropy_backward(x[1], x[2]),
            Op::DropoutMask { p, shape, dtype } => {
                let seed = seed_of(x[0])?;
                Tensor::try_dropout_mask(shape, *p, *dtype, seed)
            }
            Op::Custom(c) => c.forward(x),
            Op::Fused { program } => Ok(Tensor::try_fused(x, program)?),
        }
    }
}

/// A random op's seed: a one-element i64 tensor.
fn seed_of(t: &Tensor) -> tensor::Result<u64> {
    if t.dtype() != tensor::DType::I64 || t.numel() != 1 {
        return Err(TensorError::invalid(
            "dropout",
            format!("the seed must be a one-element i64 tensor, got {} {:?}", t.dtype(), t.shape()),
        ));
    }
    Ok(t.to_vec::<i64>()[0] as u64)
}
