//! Pooling layers (`torch.nn.MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`).

use autograd::{Param, Result, Var};
use tensor::TensorError;

use crate::module::Module;

/// Max pooling over `[N, C, H, W]`; `MaxPool2d::new(k)` uses stride `k`, as torch does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxPool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl MaxPool2d {
    /// A square window of `kernel`, stride `kernel`, no padding.
    pub fn new(kernel: usize) -> MaxPool2d {
        MaxPool2d { kernel: [kernel; 2], stride: [kernel; 2], padding: [0; 2] }
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        x.try_max_pool2d(self.kernel, self.stride, self.padding)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// Average pooling over `[N, C, H, W]`; `AvgPool2d::new(k)` uses stride `k` and counts padding,
/// as torch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AvgPool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub count_include_pad: bool,
}

impl AvgPool2d {
    pub fn new(kernel: usize) -> AvgPool2d {
        AvgPool2d { kernel: [kernel; 2], stride: [kernel; 2], padding: [0; 2], count_include_pad: true }
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        x.try_avg_pool2d(self.kernel, self.stride, self.padding, self.count_include_pad)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// Average pooling to a fixed output size (`nn.AdaptiveAvgPool2d`): output cell `(i, j)`
/// averages input rows `⌊i·H/h⌋..⌈(i+1)·H/h⌉` and the same for columns, as torch does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveAvgPool2d {
    pub output_size: [usize; 2],
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        if x.rank() != 4 || self.output_size.contains(&0) {
            return Err(TensorError::invalid(
                "adaptive_avg_pool2d",
                format!(
                    "expected [N, C, H, W] input and a non-zero output size, got {:?} and {:?}",
                    x.shape(),
                    self.output_size
                ),
            )
            .into());
        }
        let (h, w) = (x.shape()[2], x.shape()[3]);
        let [oh, ow] = self.output_size;
        if h % oh == 0 && w % ow == 0 {
            // Equal windows: one pooling op.
            let k = [h / oh, w / ow];
            return x.try_avg_pool2d(k, k, [0, 0], true);
        }
        let mut rows = Vec::with_capacity(oh);
        for i in 0..oh {
            let (r0, r1) = (i * h / oh, ((i + 1) * h).div_ceil(oh));
            let mut cells = Vec::with_capacity(ow);
            for j in 0..ow {
                let (c0, c1) = (j * w / ow, ((j + 1) * w).div_ceil(ow));
                let window = x.try_narrow(2, r0, r1 - r0)?.try_narrow(3, c0, c1 - c0)?;
                cells.push(window.try_mean(&[2, 3], false)?);
            }
            rows.push(Var::try_stack(&cells, -1)?);
        }
        Var::try_stack(&rows, -2)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}
