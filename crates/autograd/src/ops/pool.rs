//! Pooling on `Var` and its rules.

use smallvec::smallvec;

use crate::backward::{Ctx, Grads};
use crate::error::Result;
use crate::op::Op;
use crate::var::{AsVar, Var};

impl Var {
    /// 2-D max pooling over `[N, C, H, W]`; the argmax indices the kernel returns are kept for
    /// the backward pass.
    pub fn try_max_pool2d(&self, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Result<Var> {
        Var::apply(&[self], Op::MaxPool2d { kernel, stride, padding })
    }

    /// 2-D max pooling.
    ///
    /// # Panics
    /// As [`try_max_pool2d`](Self::try_max_pool2d) errors.
    #[track_caller]
    pub fn max_pool2d(&self, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Var {
        crate::error::ok(self.try_max_pool2d(kernel, stride, padding))
    }

    /// 2-D max pooling, also returning the i64 argmax indices (flat in each `H*W` plane) as
    /// their own node (`max_pool2d_indices`, no gradient). The indices node evaluates the
    /// pooling kernel a second time.
    pub fn try_max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<(Var, Var)> {
        Ok((self.try_max_pool2d(kernel, stride, padding)?, self.try_max_pool2d_indices(kernel, stride, padding)?))
    }

    /// Max pooling's i64 argmax indices alone (recorded, no gradient).
    pub fn try_max_pool2d_indices(&self, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Result<Var> {
        Var::apply(&[self], Op::MaxPool2dIndices { kernel, stride, padding })
    }

    /// Scatters `self` (a pooled gradient) back to the argmax positions.
    pub fn try_max_pool2d_backward(&self, indices: &impl AsVar, input_shape: &[usize]) -> Result<Var> {
        Var::apply(&[self, &indices.as_var(self)], Op::MaxPool2dBackward { input_shape: input_shape.into() })
    }

    /// 2-D average pooling over `[N, C, H, W]`.
    pub fn try_avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Result<Var> {
        Var::apply(&[self], Op::AvgPool2d { kernel, stride, padding, count_include_pad })
    }

    /// 2-D average pooling.
    ///
    /// # Panics
    /// As [`try_avg_pool2d`](Self::try_avg_pool2d) errors.
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Var {
        crate::error::ok(self.try_avg_pool2d(kernel, stride, padding, count_include_pad))
    }

    /// Spreads `self` (a pooled gradient) evenly back over each window.
    pub fn try_avg_pool2d_backward(
        &self,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Result<Var> {
        let op = Op::AvgPool2dBackward {
            kernel,
            stride,
            padding,
            count_include_pad,
            input_shape: Box::new(input_shape.into()),
        };
        Var::apply(&[self], op)
    }
}

/// Max pooling routes each output's gradient to its argmax input. A plain backward pass
/// reuses the indices the forward kernel returned; a recorded one records them as a node
/// computed from the input, so that a replay on new data routes by the new argmax.
pub(crate) fn d_max_pool2d(c: &Ctx, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Result<Grads> {
    let x = c.input(0)?;
    let indices = match &c.extra {
        Some(kept) if !x.is_recorded() => c.constant(kept.clone()),
        _ => x.try_max_pool2d_indices(kernel, stride, padding)?,
    };
    Ok(smallvec![Some(c.g().try_max_pool2d_backward(&indices, c.shape(0))?)])
}

/// max_pool2d_backward(g) is linear in g; its adjoint gathers the argmax positions.
pub(crate) fn d_max_pool2d_backward(c: &Ctx) -> Result<Grads> {
    let indices = c.input(1)?;
    let g_shape = c.shape(0);
    let (n, ch) = (g_shape[0], g_shape[1]);
    let flat = c.g().try_reshape(&[n as isize, ch as isize, -1])?;
    let idx = indices.try_reshape(&[n as isize, ch as isize, -1])?;
    let picked = flat.try_gather(2, &idx)?;
    let shape: Vec<isize> = g_shape.iter().map(|&d| d as isize).collect();
    Ok(smallvec![Some(picked.try_reshape(&shape)?), None])
}

/// Average pooling spreads each output's gradient evenly over its window.
pub(crate) fn d_avg_pool2d(
    c: &Ctx,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    count_include_pad: bool,
) -> Result<Grads> {
    Ok(smallvec![Some(c.g().try_avg_pool2d_backward(c.shape(0), kernel, stride, padding, count_include_pad)?)])
}

/// avg_pool2d_backward is avg_pool2d's adjoint, so its own adjoint is avg_pool2d.
pub(crate) fn d_avg_pool2d_backward(
    c: &Ctx,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    count_include_pad: bool,
) -> Result<Grads> {
    Ok(smallvec![Some(c.g().try_avg_pool2d(kernel, stride, padding, count_include_pad)?)])
}
