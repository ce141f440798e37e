//! Pooling layers (`torch.nn.MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`).

use autograd::{Param, Result, Var};

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
        crate::functional::adaptive_avg_pool2d(x, self.output_size)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}
