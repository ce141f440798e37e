//! The primitive ops of the graph IR, as data.
//!
//! A node's `Op` names what it computes and carries its static parameters (axes, shapes,
//! strides...). Ops print as `name[param=value ...]` in the graph listing. The backward rule of
//! every variant is one arm of the `match` in `backward.rs`, so a variant without a rule does
//! not compile.

use std::fmt;
use std::rc::Rc;

use smallvec::SmallVec;
use tensor::{Conv2dParams, DType, Shape};

use crate::custom::CustomOp;
use crate::param::ParamId;

/// Axes of a reduction or permutation, inline for ordinary ranks.
pub type Axes = SmallVec<[isize; 6]>;

/// A primitive op of the IR.
#[derive(Clone)]
#[non_exhaustive]
pub enum Op {
    // Leaves.
    /// A leaf that requires grad, made by `Tape::var`.
    Input,
    /// A leaf bound to a long-lived parameter.
    Param(ParamId),
    /// A value that needs no gradient, recorded where a tracked op consumes it.
    Const,

    // Elementwise unary.
    Neg,
    Abs,
    Exp,
    Log,
    Log1p,
    Expm1,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    LeakyRelu {
        negative_slope: f64,
    },
    Elu {
        alpha: f64,
    },
    Gelu,
    GeluTanh,
    Silu,
    Softplus,
    Sign,
    Floor,
    Ceil,
    Round,
    Recip,
    Square,
    Powf {
        exponent: f64,
    },
    Clamp {
        min: f64,
        max: f64,
    },
    AddScalar {
        scalar: f64,
    },
    MulScalar {
        scalar: f64,
    },
    ToDType {
        dtype: DType,
    },

    // Elementwise binary (broadcasting).
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,

    // Reductions and normalisations.
    Sum {
        axes: Axes,
        keepdim: bool,
    },
    Mean {
        axes: Axes,
        keepdim: bool,
    },
    Prod {
        axes: Axes,
        keepdim: bool,
    },
    Max {
        axes: Axes,
        keepdim: bool,
    },
    Min {
        axes: Axes,
        keepdim: bool,
    },
    LogSumExp {
        axes: Axes,
        keepdim: bool,
    },
    Softmax {
        axis: isize,
    },
    LogSoftmax {
        axis: isize,
    },
    Cumsum {
        axis: isize,
    },

    // Movement.
    Reshape {
        shape: Shape,
    },
    Permute {
        axes: Axes,
    },
    BroadcastTo {
        shape: Shape,
    },
    Slice {
        axis: usize,
        start: usize,
        len: usize,
        step: usize,
    },
    Pad {
        pads: SmallVec<[(usize, usize); 6]>,
        value: f64,
    },
    Repeat {
        reps: Shape,
    },
    Cat {
        axis: usize,
    },

    // Indexing (index and mask inputs are constants).
    IndexSelect {
        axis: usize,
    },
    Gather {
        axis: usize,
    },
    ScatterAdd {
        axis: usize,
    },
    WhereCond,
    MaskedFill {
        value: f64,
    },

    // Linear algebra, convolution, pooling.
    Matmul,
    Conv2d {
        params: Conv2dParams,
    },
    ConvTranspose2d {
        params: Conv2dParams,
        output_padding: [usize; 2],
    },
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    AvgPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    },

    // Fused backward kernels, primitives with rules of their own so higher order works.
    TanhBackward,
    SigmoidBackward,
    GeluBackward,
    Conv2dBackwardInput {
        params: Conv2dParams,
        input_shape: Shape,
    },
    Conv2dBackwardWeight {
        params: Conv2dParams,
        weight_shape: Shape,
    },
    MaxPool2dBackward {
        input_shape: Shape,
    },
    AvgPool2dBackward {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
        input_shape: Shape,
    },

    // Losses.
    /// Mean over the batch of `-log_softmax(logits)[target]`; inputs `[logits [N, C], target i64 [N]]`.
    SoftmaxCrossEntropy,

    /// A user-defined op.
    Custom(Rc<dyn CustomOp>),
}

/// Which values a node's backward rule reads: a bit per input, and the output.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Saves {
    pub inputs: u8,
    pub output: bool,
}

impl Saves {
    const NONE: Saves = Saves { inputs: 0, output: false };
    const OUTPUT: Saves = Saves { inputs: 0, output: true };
    const fn inputs(mask: u8) -> Saves {
        Saves { inputs: mask, output: false }
    }
    pub fn input(&self, k: usize) -> bool {
        k < 8 && self.inputs & (1 << k) != 0
    }
}

impl Op {
    /// The op's name as printed in the graph.
    pub fn name(&self) -> &str {
        match self {
            Op::Input => "input",
            Op::Param(_) => "param",
            Op::Const => "const",
            Op::Neg => "neg",
            Op::Abs => "abs",
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Log1p => "log1p",
            Op::Expm1 => "expm1",
            Op::Sqrt => "sqrt",
            Op::Rsqrt => "rsqrt",
            Op::Sin => "sin",
            Op::Cos => "cos",
            Op::Tanh => "tanh",
            Op::Sigmoid => "sigmoid",
            Op::Relu => "relu",
            Op::LeakyRelu { .. } => "leaky_relu",
            Op::Elu { .. } => "elu",
            Op::Gelu => "gelu",
            Op::GeluTanh => "gelu_tanh",
            Op::Silu => "silu",
            Op::Softplus => "softplus",
            Op::Sign => "sign",
            Op::Floor => "floor",
            Op::Ceil => "ceil",
            Op::Round => "round",
            Op::Recip => "recip",
            Op::Square => "square",
            Op::Powf { .. } => "powf",
            Op::Clamp { .. } => "clamp",
            Op::AddScalar { .. } => "add_scalar",
            Op::MulScalar { .. } => "mul_scalar",
            Op::ToDType { .. } => "to_dtype",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Pow => "pow",
            Op::Maximum => "maximum",
            Op::Minimum => "minimum",
            Op::Sum { .. } => "sum",
            Op::Mean { .. } => "mean",
            Op::Prod { .. } => "prod",
            Op::Max { .. } => "max",
            Op::Min { .. } => "min",
            Op::LogSumExp { .. } => "logsumexp",
            Op::Softmax { .. } => "softmax",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Cumsum { .. } => "cumsum",
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::BroadcastTo { .. } => "broadcast_to",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Repeat { .. } => "repeat",
            Op::Cat { .. } => "cat",
            Op::IndexSelect { .. } => "index_select",
            Op::Gather { .. } => "gather",
            Op::ScatterAdd { .. } => "scatter_add",
            Op::WhereCond => "where_cond",
            Op::MaskedFill { .. } => "masked_fill",
            Op::Matmul => "matmul",
            Op::Conv2d { .. } => "conv2d",
            Op::ConvTranspose2d { .. } => "conv_transpose2d",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::TanhBackward => "tanh_backward",
            Op::SigmoidBackward => "sigmoid_backward",
            Op::GeluBackward => "gelu_backward",
            Op::Conv2dBackwardInput { .. } => "conv2d_backward_input",
            Op::Conv2dBackwardWeight { .. } => "conv2d_backward_weight",
            Op::MaxPool2dBackward { .. } => "max_pool2d_backward",
            Op::AvgPool2dBackward { .. } => "avg_pool2d_backward",
            Op::SoftmaxCrossEntropy => "softmax_cross_entropy",
            Op::Custom(c) => c.name(),
        }
    }

    /// Whether this is a leaf (no inputs, no rule).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Input | Op::Param(_) | Op::Const)
    }

    /// The values the backward rule reads (everything else is dropped at record time).
    pub(crate) fn saves(&self) -> Saves {
        match self {
            Op::Input | Op::Param(_) | Op::Const => Saves::NONE,
            Op::Neg | Op::AddScalar { .. } | Op::MulScalar { .. } | Op::ToDType { .. } => Saves::NONE,
            Op::Sign | Op::Floor | Op::Ceil | Op::Round => Saves::NONE,
            Op::Exp | Op::Expm1 | Op::Sqrt | Op::Rsqrt | Op::Tanh | Op::Sigmoid | Op::Recip => Saves::OUTPUT,
            Op::Abs
            | Op::Log
            | Op::Log1p
            | Op::Sin
            | Op::Cos
            | Op::Relu
            | Op::LeakyRelu { .. }
            | Op::Gelu
            | Op::GeluTanh
            | Op::Silu
            | Op::Softplus
            | Op::Square
            | Op::Powf { .. }
            | Op::Clamp { .. } => Saves::inputs(1),
            Op::Elu { .. } => Saves { inputs: 1, output: true },
            Op::Add | Op::Sub => Saves::NONE,
            Op::Mul | Op::Div | Op::Maximum | Op::Minimum => Saves::inputs(0b11),
            Op::Pow => Saves { inputs: 0b11, output: true },
            Op::Sum { .. } | Op::Mean { .. } => Saves::NONE,
            Op::Prod { .. } | Op::Max { .. } | Op::Min { .. } | Op::LogSumExp { .. } => {
                Saves { inputs: 1, output: true }
            }
            Op::Softmax { .. } | Op::LogSoftmax { .. } => Saves::OUTPUT,
            Op::Cumsum { .. } => Saves::NONE,
            Op::Reshape { .. }
            | Op::Permute { .. }
            | Op::BroadcastTo { .. }
            | Op::Slice { .. }
            | Op::Pad { .. }
            | Op::Repeat { .. }
            | Op::Cat { .. } => Saves::NONE,
            Op::IndexSelect { .. } | Op::Gather { .. } | Op::ScatterAdd { .. } => Saves::inputs(0b10),
            Op::WhereCond => Saves::inputs(0b1),
            Op::MaskedFill { .. } => Saves::inputs(0b10),
            Op::Matmul => Saves::inputs(0b11),
            Op::Conv2d { .. } | Op::ConvTranspose2d { .. } => Saves::inputs(0b11),
            // Max pooling keeps its argmax indices as the node's extra saved tensor instead.
            Op::MaxPool2d { .. } => Saves::NONE,
            Op::AvgPool2d { .. } => Saves::NONE,
            Op::TanhBackward | Op::SigmoidBackward | Op::GeluBackward => Saves::inputs(0b11),
            Op::Conv2dBackwardInput { .. } | Op::Conv2dBackwardWeight { .. } => Saves::inputs(0b11),
            Op::MaxPool2dBackward { .. } => Saves::inputs(0b10),
            Op::AvgPool2dBackward { .. } => Saves::NONE,
            Op::SoftmaxCrossEntropy => Saves::inputs(0b11),
            Op::Custom(_) => Saves { inputs: u8::MAX, output: true },
        }
    }
}

fn tuple(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    if v.len() == 1 {
        format!("({},)", v[0])
    } else {
        format!("({})", v.join(", "))
    }
}

fn pair(p: [usize; 2]) -> String {
    format!("({}, {})", p[0], p[1])
}

fn conv(p: &Conv2dParams) -> String {
    let mut s = format!("stride={} padding={}", pair(p.stride), pair(p.padding));
    if p.dilation != [1, 1] {
        s += &format!(" dilation={}", pair(p.dilation));
    }
    if p.groups != 1 {
        s += &format!(" groups={}", p.groups);
    }
    s
}

impl Op {
    /// Static parameters as printed between brackets (empty when there are none).
    pub fn params(&self) -> String {
        let axes = |a: &Axes, keepdim: bool| {
            let s = format!("axes={}", tuple(a.iter().map(|x| x.to_string())));
            if keepdim {
                s + " keepdim=true"
            } else {
                s
            }
        };
        let shape = |s: &[usize]| tuple(s.iter().map(|x| x.to_string()));
        match self {
            Op::Param(id) => format!("id={}", id.0),
            Op::LeakyRelu { negative_slope } => format!("negative_slope={negative_slope}"),
            Op::Elu { alpha } => format!("alpha={alpha}"),
            Op::Powf { exponent } => format!("exponent={exponent}"),
            Op::Clamp { min, max } => format!("min={min} max={max}"),
            Op::AddScalar { scalar } | Op::MulScalar { scalar } => format!("scalar={scalar}"),
            Op::ToDType { dtype } => format!("dtype={dtype}"),
            Op::Sum { axes: a, keepdim }
            | Op::Mean { axes: a, keepdim }
            | Op::Prod { axes: a, keepdim }
            | Op::Max { axes: a, keepdim }
            | Op::Min { axes: a, keepdim }
            | Op::LogSumExp { axes: a, keepdim } => axes(a, *keepdim),
            Op::Softmax { axis } | Op::LogSoftmax { axis } | Op::Cumsum { axis } => format!("axis={axis}"),
            Op::Reshape { shape: s } | Op::BroadcastTo { shape: s } => format!("shape={}", shape(s)),
            Op::Permute { axes: a } => format!("axes={}", tuple(a.iter().map(|x| x.to_string()))),
            Op::Slice { axis, start, len, step } => format!("axis={axis} start={start} len={len} step={step}"),
            Op::Pad { pads, value } => {
                format!("pads={} value={value}", tuple(pads.iter().map(|(a, b)| format!("({a}, {b})"))))
            }
            Op::Repeat { reps } => format!("reps={}", shape(reps)),
            Op::Cat { axis } | Op::IndexSelect { axis } | Op::Gather { axis } | Op::ScatterAdd { axis } => {
                format!("axis={axis}")
            }
            Op::MaskedFill { value } => format!("value={value}"),
            Op::Conv2d { params } => conv(params),
            Op::ConvTranspose2d { params, output_padding } => {
                format!("{} output_padding={}", conv(params), pair(*output_padding))
            }
            Op::MaxPool2d { kernel, stride, padding } => {
                format!("kernel={} stride={} padding={}", pair(*kernel), pair(*stride), pair(*padding))
            }
            Op::AvgPool2d { kernel, stride, padding, count_include_pad }
            | Op::AvgPool2dBackward { kernel, stride, padding, count_include_pad, .. } => format!(
                "kernel={} stride={} padding={} count_include_pad={count_include_pad}",
                pair(*kernel),
                pair(*stride),
                pair(*padding)
            ),
            Op::Conv2dBackwardInput { params, input_shape } => {
                format!("{} input_shape={}", conv(params), shape(input_shape))
            }
            Op::Conv2dBackwardWeight { params, weight_shape } => {
                format!("{} weight_shape={}", conv(params), shape(weight_shape))
            }
            Op::MaxPool2dBackward { input_shape } => format!("input_shape={}", shape(input_shape)),
            _ => String::new(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.params();
        if p.is_empty() {
            f.write_str(self.name())
        } else {
            write!(f, "{}[{}]", self.name(), p)
        }
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
