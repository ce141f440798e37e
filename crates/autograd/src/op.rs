//! The primitive ops of the graph IR, as data.
//!
//! A node's `Op` names what it computes and carries its static parameters (axes, shapes,
//! strides...). Ops print as `name[param=value ...]` in the graph listing. Every op evaluates
//! itself (`Op::eval` in `eval.rs`): eager `Var` ops and replay both call it, so they cannot
//! drift apart. The backward rule of every variant is one arm of the `match` in `backward.rs`
//! (a family's arm dispatches to its table), so a variant without a rule does not compile.

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;
use tensor::ops::fused::ElementwiseProgram;
use tensor::{Conv2dParams, DType, Shape};

use crate::custom::CustomOp;
pub use crate::ops::binary::{BinaryOp, CompareOp};
pub use crate::ops::reduce::ReduceOp;
pub use crate::ops::unary::{ScalarOp, UnaryOp};
use crate::param::Param;

/// Axes of a reduction or permutation, inline for ordinary ranks.
pub type Axes = SmallVec<[isize; 6]>;

/// A primitive op of the IR.
///
/// Elementwise ops and reductions come in families ([`UnaryOp`], [`ScalarOp`], [`BinaryOp`],
/// [`CompareOp`], [`ReduceOp`]), each declared by one table in its `ops/<family>.rs` together
/// with its kernel, saved values and backward rule; the other ops are variants here.
#[derive(Clone)]
#[non_exhaustive]
pub enum Op {
    // Leaves.
    /// A leaf that requires grad, made by `Tape::var`.
    Leaf,
    /// A leaf bound to a long-lived parameter; replay reads its current value.
    Param(Param),
    /// A placeholder for data, made by `Tape::input`: recorded, never differentiated, and
    /// given a new value each time a [`Function`](crate::Function) runs.
    Input,
    /// A value that needs no gradient, recorded (with its value) where a recorded op consumes it.
    Const,

    // Elementwise.
    /// `f(x)`, elementwise.
    Unary(UnaryOp),
    /// `f(a, b)`, elementwise with broadcasting.
    Binary(BinaryOp),
    /// `a <cmp> b` as a bool mask (no gradient).
    Compare(CompareOp),
    /// `x <cmp> scalar` as a bool mask (no gradient).
    CompareScalar {
        cmp: CompareOp,
        scalar: f64,
    },
    /// `f(x; scalar)`, elementwise (`leaky_relu`, `elu`, `powf`, `add_scalar`, `mul_scalar`).
    Scalar {
        op: ScalarOp,
        scalar: f64,
    },
    Clamp {
        min: f64,
        max: f64,
    },
    /// `g` where `min < x < max`, zero elsewhere (inputs `x`, `g`): clamp's fused backward.
    ClampBackward {
        min: f64,
        max: f64,
    },
    /// A dtype conversion; differentiable between float dtypes.
    ToDType {
        dtype: DType,
    },
    /// The identity, with no gradient (`jax.lax.stop_gradient`, what `Var::detach` records).
    StopGradient,

    // Reductions and normalisations.
    /// A reduction over `axes` (empty: all): `sum`, `mean`, `prod`, `max`, `min`, `logsumexp`.
    Reduce {
        op: ReduceOp,
        axes: Axes,
        keepdim: bool,
    },
    /// Index of the first maximum (no gradient).
    Argmax {
        axis: isize,
        keepdim: bool,
    },
    /// Index of the first minimum (no gradient).
    Argmin {
        axis: isize,
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
    /// For each element, the product of the others in its group over `axes` (`prod`'s rule).
    ProdExclusive {
        axes: Axes,
    },
    /// The vector-Jacobian product of `prod_exclusive` (inputs `x`, `h`); it has no rule.
    ProdExclusiveBackward {
        axes: Axes,
    },
    /// `max`/`min`'s gradient over `axes` (inputs `x`, the extremum `y`, its cotangent `g`):
    /// `g` split equally between the elements equal to `y`.
    ExtremumBackward {
        axes: Axes,
        keepdim: bool,
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
        pads: Box<[(usize, usize)]>,
        value: f64,
    },
    Repeat {
        reps: Shape,
    },
    Cat {
        axis: usize,
    },

    // Indexing (index and mask inputs are nodes like any other, without gradient).
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
    /// i64 class ids to a one-hot tensor of `dtype` with a trailing axis of `classes` (no gradient).
    OneHot {
        classes: usize,
        dtype: DType,
    },

    // Linear algebra, convolution, pooling.
    Matmul,
    /// `x Wᵀ + b` (`F.linear`): inputs x, weight [out, in] and an optional bias.
    Linear,
    Conv2d {
        params: Conv2dParams,
    },
    ConvTranspose2d {
        params: Box<Conv2dParams>,
        output_padding: [usize; 2],
    },
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    /// Max pooling's argmax indices, i64, flat in each `H*W` plane (no gradient).
    MaxPool2dIndices {
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
    Conv2dBackwardInput {
        params: Box<Conv2dParams>,
        input_shape: Box<[usize]>,
    },
    Conv2dBackwardWeight {
        params: Box<Conv2dParams>,
        weight_shape: Box<[usize]>,
    },
    MaxPool2dBackward {
        input_shape: Shape,
    },
    AvgPool2dBackward {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
        input_shape: Box<Shape>,
    },

    // Losses.
    /// Mean over the batch of `-log_softmax(logits)[target]`; inputs `[logits [N, C], target i64 [N]]`.
    SoftmaxCrossEntropy,
    /// `(softmax(logits) - one_hot(target)) * g / N` (inputs logits, target, the loss's `g`):
    /// cross-entropy's fused backward.
    SoftmaxCrossEntropyBackward,

    // Randomness, with the seed an input so that a replay can draw a new mask.
    /// Dropout's keep-mask of `shape` (0 or `1 / (1 - p)`), drawn from the i64 seed input.
    DropoutMask {
        p: f64,
        shape: Box<[usize]>,
        dtype: DType,
    },

    /// A user-defined op.
    Custom(Arc<dyn CustomOp>),

    /// Elementwise ops fused into one pass by the compiler (made after differentiation, so it
    /// has no rule of its own: a compiled program is never differentiated again).
    Fused {
        program: Arc<ElementwiseProgram>,
    },
}

/// Which values a node's backward rule reads: a bit per input, and the output.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Saves {
    pub inputs: u8,
    pub output: bool,
    /// Every input, however many (custom ops).
    pub all_inputs: bool,
}

impl Saves {
    pub(crate) const NONE: Saves = Saves::inputs(0);
    pub(crate) const OUTPUT: Saves = Saves { output: true, ..Saves::NONE };
    pub(crate) const INPUT0: Saves = Saves::inputs(1);
    pub(crate) const BOTH: Saves = Saves::inputs(0b11);
    pub(crate) const INPUT0_OUTPUT: Saves = Saves { output: true, ..Saves::INPUT0 };
    pub(crate) const BOTH_OUTPUT: Saves = Saves { output: true, ..Saves::BOTH };
    const ALL: Saves = Saves { inputs: 0, output: true, all_inputs: true };
    const fn inputs(mask: u8) -> Saves {
        Saves { inputs: mask, output: false, all_inputs: false }
    }
    pub fn input(&self, k: usize) -> bool {
        self.all_inputs || (k < 8 && self.inputs & (1 << k) != 0)
    }
}

impl Op {
    /// The op's name as printed in the graph.
    pub fn name(&self) -> &str {
        match self {
            Op::Leaf => "leaf",
            Op::Param(_) => "param",
            Op::Input => "input",
            Op::Const => "const",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Compare(c) => c.name(),
            Op::CompareScalar { cmp, .. } => cmp.scalar_name(),
            Op::Scalar { op, .. } => op.name(),
            Op::Clamp { .. } => "clamp",
            Op::ClampBackward { .. } => "clamp_backward",
            Op::ToDType { .. } => "to_dtype",
            Op::StopGradient => "stop_gradient",
            Op::Reduce { op, .. } => op.name(),
            Op::Argmax { .. } => "argmax",
            Op::Argmin { .. } => "argmin",
            Op::Softmax { .. } => "softmax",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Cumsum { .. } => "cumsum",
            Op::ProdExclusive { .. } => "prod_exclusive",
            Op::ProdExclusiveBackward { .. } => "prod_exclusive_backward",
            Op::ExtremumBackward { .. } => "extremum_backward",
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
            Op::OneHot { .. } => "one_hot",
            Op::Matmul => "matmul",
            Op::Linear => "linear",
            Op::Conv2d { .. } => "conv2d",
            Op::ConvTranspose2d { .. } => "conv_transpose2d",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::MaxPool2dIndices { .. } => "max_pool2d_indices",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::Conv2dBackwardInput { .. } => "conv2d_backward_input",
            Op::Conv2dBackwardWeight { .. } => "conv2d_backward_weight",
            Op::MaxPool2dBackward { .. } => "max_pool2d_backward",
            Op::AvgPool2dBackward { .. } => "avg_pool2d_backward",
            Op::SoftmaxCrossEntropy => "softmax_cross_entropy",
            Op::SoftmaxCrossEntropyBackward => "softmax_cross_entropy_backward",
            Op::DropoutMask { .. } => "dropout_mask",
            Op::Custom(c) => c.name(),
            Op::Fused { .. } => "fused",
        }
    }

    /// Whether the op's value may be a view of an input's buffer (or the input itself): the
    /// movement ops, `stop_gradient`, dtype conversion, and custom ops, whose forward is the
    /// user's. The value of any other op is a buffer of its own. (A memory plan keeps an input's
    /// buffer alive while such a value lives.)
    pub(crate) fn may_alias_input(&self) -> bool {
        matches!(
            self,
            Op::Reshape { .. }
                | Op::Permute { .. }
                | Op::BroadcastTo { .. }
                | Op::Slice { .. }
                | Op::Pad { .. }
                | Op::Repeat { .. }
                | Op::Cat { .. }
                | Op::StopGradient
                | Op::ToDType { .. }
                | Op::Custom(_)
        )
    }

    /// Whether this is a leaf (no inputs, no rule).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Leaf | Op::Param(_) | Op::Input | Op::Const)
    }

    /// Whether a gradient can pass through the op. Comparisons, indices, masks, one-hot
    /// encodings, random masks and `stop_gradient` are recorded but never differentiated
    /// (and an output that is not a float never is).
    pub fn is_differentiable(&self) -> bool {
        !matches!(
            self,
            Op::Input
                | Op::Const
                | Op::Compare(_)
                | Op::CompareScalar { .. }
                | Op::StopGradient
                | Op::Argmax { .. }
                | Op::Argmin { .. }
                | Op::OneHot { .. }
                | Op::MaxPool2dIndices { .. }
                | Op::DropoutMask { .. }
        )
    }

    /// The values the backward rule reads (everything else is dropped at record time).
    pub(crate) fn saves(&self) -> Saves {
        match self {
            Op::Leaf | Op::Param(_) | Op::Input | Op::Const => Saves::NONE,
            Op::Unary(u) => u.saves(),
            Op::Binary(b) => b.saves(),
            Op::Compare(_) | Op::CompareScalar { .. } | Op::StopGradient => Saves::NONE,
            Op::Scalar { op, .. } => op.saves(),
            Op::Reduce { op, .. } => op.saves(),
            Op::ToDType { .. } | Op::Cumsum { .. } => Saves::NONE,
            Op::Clamp { .. } => Saves::INPUT0,
            Op::ClampBackward { .. } => Saves::INPUT0,
            Op::Argmax { .. } | Op::Argmin { .. } => Saves::NONE,
            Op::Softmax { .. } | Op::LogSoftmax { .. } => Saves::OUTPUT,
            Op::ProdExclusive { .. } => Saves::INPUT0,
            Op::ProdExclusiveBackward { .. } => Saves::NONE,
            Op::ExtremumBackward { .. } => Saves::BOTH,
            Op::Reshape { .. }
            | Op::Permute { .. }
            | Op::BroadcastTo { .. }
            | Op::Slice { .. }
            | Op::Pad { .. }
            | Op::Repeat { .. }
            | Op::Cat { .. } => Saves::NONE,
            Op::IndexSelect { .. } | Op::Gather { .. } | Op::ScatterAdd { .. } => Saves::inputs(0b10),
            Op::WhereCond => Saves::INPUT0,
            Op::MaskedFill { .. } => Saves::inputs(0b10),
            Op::OneHot { .. } => Saves::NONE,
            Op::Matmul | Op::Linear => Saves::BOTH,
            Op::Conv2d { .. } | Op::ConvTranspose2d { .. } => Saves::BOTH,
            // The input, to record the argmax as a node when the backward pass is recorded;
            // a plain backward uses the indices the forward kernel returned (the node's extra).
            Op::MaxPool2d { .. } => Saves::INPUT0,
            Op::MaxPool2dIndices { .. } => Saves::NONE,
            Op::AvgPool2d { .. } => Saves::NONE,
            Op::Conv2dBackwardInput { .. } | Op::Conv2dBackwardWeight { .. } => Saves::BOTH,
            Op::MaxPool2dBackward { .. } => Saves::inputs(0b10),
            Op::AvgPool2dBackward { .. } => Saves::NONE,
            Op::SoftmaxCrossEntropy => Saves::BOTH,
            Op::SoftmaxCrossEntropyBackward => Saves::inputs(0b111),
            Op::DropoutMask { .. } => Saves::NONE,
            Op::Custom(_) => Saves::ALL,
            Op::Fused { .. } => Saves::NONE,
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
            Op::Param(p) => format!("id={}", p.id().0),
            Op::CompareScalar { scalar, .. } => format!("scalar={scalar}"),
            Op::Argmax { axis, keepdim } | Op::Argmin { axis, keepdim } => {
                if *keepdim {
                    format!("axis={axis} keepdim=true")
                } else {
                    format!("axis={axis}")
                }
            }
            Op::ProdExclusive { axes: a } | Op::ProdExclusiveBackward { axes: a } => {
                format!("axes={}", tuple(a.iter().map(|x| x.to_string())))
            }
            Op::OneHot { classes, dtype } => format!("classes={classes} dtype={dtype}"),
            Op::MaxPool2dIndices { kernel, stride, padding } => {
                format!("kernel={} stride={} padding={}", pair(*kernel), pair(*stride), pair(*padding))
            }
            Op::DropoutMask { p, shape: s, dtype } => format!("p={p} shape={} dtype={dtype}", shape(s)),
            Op::Scalar { op, scalar } => format!("{}={scalar}", op.param_name()),
            Op::Clamp { min, max } | Op::ClampBackward { min, max } => format!("min={min} max={max}"),
            Op::ToDType { dtype } => format!("dtype={dtype}"),
            Op::Reduce { axes: a, keepdim, .. } | Op::ExtremumBackward { axes: a, keepdim } => axes(a, *keepdim),
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
            Op::Fused { program } => format!("{program}"),
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
