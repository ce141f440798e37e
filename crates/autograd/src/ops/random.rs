//! Random ops on `Var`: dropout, with its seed an input of the graph so that a replay draws a
//! new mask for each new seed (and the same mask for the same seed).

use crate::error::Result;
use crate::macros::panicking;
use crate::op::Op;
use crate::var::{AsVar, Var};

impl Var {
    /// Dropout's keep-mask for this Var's shape and dtype: `0` with probability `p`, else
    /// `1 / (1 - p)`, drawn from `seed` (a one-element i64 `Tensor` or `Var`). With a recorded
    /// seed (a placeholder fed a new value each step) the mask is a `dropout_mask` node without
    /// gradient, drawn anew by each replay; with a constant seed it is a constant of the graph,
    /// the same in every replay.
    pub fn try_dropout_mask(&self, p: f64, seed: &impl AsVar) -> Result<Var> {
        let op = Op::DropoutMask { p, shape: self.shape().into(), dtype: self.dtype() };
        Var::apply(&[&seed.as_var(self)], op)
    }
    panicking!(
        /// Dropout's keep-mask for this Var's shape and dtype, drawn from `seed`.
        dropout_mask => try_dropout_mask(p: f64, seed: &impl AsVar) -> Var
    );

    /// Inverted dropout in training mode (`torch.nn.functional.dropout`): `self * mask` with
    /// the mask of [`try_dropout_mask`](Self::try_dropout_mask). The gradient is `g * mask`.
    ///
    /// ```
    /// use autograd::Tape;
    /// use tensor::{DType, Tensor};
    /// let tape = Tape::new();
    /// let x = tape.var(Tensor::ones(&[1000], DType::F64));
    /// let y = x.dropout(0.5, &Tensor::scalar(7i64));
    /// let kept = y.value().to_vec::<f64>().iter().filter(|&&v| v == 2.0).count();
    /// assert!((400..600).contains(&kept));
    /// ```
    pub fn try_dropout(&self, p: f64, seed: &impl AsVar) -> Result<Var> {
        self.try_mul(&self.try_dropout_mask(p, seed)?)
    }
    panicking!(
        /// Inverted dropout in training mode: `self * mask`.
        dropout => try_dropout(p: f64, seed: &impl AsVar) -> Var
    );
}
