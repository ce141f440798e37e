//! Recurrent layers: `LstmCell`, `GruCell` (one step) and `Lstm`, `Gru` (a single-layer,
//! unidirectional run over a sequence), with torch's weight layouts, gate order and init.

use autograd::{Param, Result, Var};
use tensor::{DType, Rng, Tensor, TensorError};

use crate::init;
use crate::module::child;

/// The four (LSTM) or three (GRU) stacked gate weights of a cell, torch's names and layouts:
/// `weight_ih [gates·hidden, input]`, `weight_hh [gates·hidden, hidden]`, biases `[gates·hidden]`.
pub struct RecurrentWeights {
    pub weight_ih: Param,
    pub weight_hh: Param,
    pub bias_ih: Option<Param>,
    pub bias_hh: Option<Param>,
    pub hidden_size: usize,
}

impl RecurrentWeights {
    /// torch's init: every weight and bias `U(-1/√hidden, 1/√hidden)`.
    fn new(gates: usize, input_size: usize, hidden_size: usize, bias: bool, dtype: DType, rng: &mut Rng) -> Self {
        let k = 1.0 / (hidden_size.max(1) as f64).sqrt();
        let mut draw = |shape: &[usize]| match init::uniform(shape, -k, k, dtype, rng) {
            Ok(t) => Param::new(t),
            Err(e) => panic!("{e}"),
        };
        let g = gates * hidden_size;
        let (weight_ih, weight_hh) = (draw(&[g, input_size]), draw(&[g, hidden_size]));
        let (bias_ih, bias_hh) = if bias { (Some(draw(&[g])), Some(draw(&[g]))) } else { (None, None) };
        RecurrentWeights { weight_ih, weight_hh, bias_ih, bias_hh, hidden_size }
    }

    /// `x W_ihᵀ + b_ih` and `h W_hhᵀ + b_hh`, all gates stacked along the last dimension.
    fn projections(&self, x: &Var, h: &Var) -> Result<(Var, Var)> {
        let tape = x.tape();
        let (bi, bh) = (self.bias_ih.as_ref().map(|b| tape.param(b)), self.bias_hh.as_ref().map(|b| tape.param(b)));
        Ok((
            x.try_linear(&tape.param(&self.weight_ih), bi.as_ref())?,
            h.try_linear(&tape.param(&self.weight_hh), bh.as_ref())?,
        ))
    }

    /// Gate `k` of a stacked projection.
    fn gate(&self, stacked: &Var, k: usize) -> Result<Var> {
        stacked.try_narrow(-1, k * self.hidden_size, self.hidden_size)
    }

    fn visit(&self, prefix: &str, suffix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, &format!("weight_ih{suffix}")), &self.weight_ih);
        f(&child(prefix, &format!("weight_hh{suffix}")), &self.weight_hh);
        if let (Some(bi), Some(bh)) = (&self.bias_ih, &self.bias_hh) {
            f(&child(prefix, &format!("bias_ih{suffix}")), bi);
            f(&child(prefix, &format!("bias_hh{suffix}")), bh);
        }
    }

    fn zeros(&self, x: &Var) -> Var {
        let batch = x.shape().first().copied().unwrap_or(0);
        x.constant(Tensor::zeros(&[batch, self.hidden_size], x.dtype()))
    }

    fn check_step(&self, op: &'static str, x: &Var, h: &Var) -> Result<()> {
        let input = self.weight_ih.shape()[1];
        if x.rank() != 2 || x.shape()[1] != input || h.shape() != [x.shape()[0], self.hidden_size] {
            return Err(TensorError::invalid(
                op,
                format!(
                    "expected input [N, {input}] and hidden state [N, {}], got {:?} and {:?}",
                    self.hidden_size,
                    x.shape(),
                    h.shape()
                ),
            )
            .into());
        }
        Ok(())
    }
}

/// One LSTM step (`nn.LSTMCell`), gates in torch's order i, f, g, o:
/// `c' = σ(f) c + σ(i) tanh(g)`, `h' = σ(o) tanh(c')`.
pub struct LstmCell {
    pub weights: RecurrentWeights,
}

impl LstmCell {
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> LstmCell {
        LstmCell { weights: RecurrentWeights::new(4, input_size, hidden_size, true, DType::F32, rng) }
    }

    pub fn with_options(input_size: usize, hidden_size: usize, bias: bool, dtype: DType, rng: &mut Rng) -> LstmCell {
        LstmCell { weights: RecurrentWeights::new(4, input_size, hidden_size, bias, dtype, rng) }
    }

    /// `(h', c')` from input `x [N, input]` and state `(h, c)` (`None`: zeros).
    pub fn step(&self, x: &Var, state: Option<(&Var, &Var)>) -> Result<(Var, Var)> {
        let w = &self.weights;
        let (h, c) = match state {
            Some((h, c)) => (h.clone(), c.clone()),
            None => (w.zeros(x), w.zeros(x)),
        };
        w.check_step("lstm_cell", x, &h)?;
        let (xi, hh) = w.projections(x, &h)?;
        let gates = xi.try_add(&hh)?;
        let (i, f) = (w.gate(&gates, 0)?.try_sigmoid()?, w.gate(&gates, 1)?.try_sigmoid()?);
        let (g, o) = (w.gate(&gates, 2)?.try_tanh()?, w.gate(&gates, 3)?.try_sigmoid()?);
        let c_next = f.try_mul(&c)?.try_add(&i.try_mul(&g)?)?;
        let h_next = o.try_mul(&c_next.try_tanh()?)?;
        Ok((h_next, c_next))
    }

    /// Parameters as torch names them (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`).
    pub fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.weights.visit(prefix, "", f);
    }
}

/// One GRU step (`nn.GRUCell`), gates in torch's order r, z, n:
/// `n = tanh(x W_inᵀ + b_in + σ(r) (h W_hnᵀ + b_hn))`, `h' = (1 - σ(z)) n + σ(z) h`.
pub struct GruCell {
    pub weights: RecurrentWeights,
}

impl GruCell {
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> GruCell {
        GruCell { weights: RecurrentWeights::new(3, input_size, hidden_size, true, DType::F32, rng) }
    }

    pub fn with_options(input_size: usize, hidden_size: usize, bias: bool, dtype: DType, rng: &mut Rng) -> GruCell {
        GruCell { weights: RecurrentWeights::new(3, input_size, hidden_size, bias, dtype, rng) }
    }

    /// `h'` from input `x [N, input]` and state `h` (`None`: zeros).
    pub fn step(&self, x: &Var, h: Option<&Var>) -> Result<Var> {
        let w = &self.weights;
        let h = h.cloned().unwrap_or_else(|| w.zeros(x));
        w.check_step("gru_cell", x, &h)?;
        let (xi, hh) = w.projections(x, &h)?;
        let r = w.gate(&xi, 0)?.try_add(&w.gate(&hh, 0)?)?.try_sigmoid()?;
        let z = w.gate(&xi, 1)?.try_add(&w.gate(&hh, 1)?)?.try_sigmoid()?;
        let n = w.gate(&xi, 2)?.try_add(&r.try_mul(&w.gate(&hh, 2)?)?)?.try_tanh()?;
        // h' = n + z (h - n)
        n.try_add(&z.try_mul(&h.try_sub(&n)?)?)
    }

    /// Parameters as torch names them.
    pub fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.weights.visit(prefix, "", f);
    }
}

/// The time steps of `x`: `[T, N, input]`, or `[N, T, input]` with `batch_first`.
fn steps(op: &'static str, x: &Var, batch_first: bool) -> Result<Vec<Var>> {
    if x.rank() != 3 {
        return Err(TensorError::invalid(op, format!("expected a sequence of rank 3, got {:?}", x.shape())).into());
    }
    let axis = if batch_first { 1 } else { 0 };
    (0..x.shape()[axis]).map(|t| x.try_select(axis as isize, t)).collect()
}

/// The outputs `h_t` stacked back along the time axis.
fn stack(outputs: &[Var], batch_first: bool) -> Result<Var> {
    Var::try_stack(outputs, if batch_first { 1 } else { 0 })
}

/// A single-layer, unidirectional LSTM over a sequence (`nn.LSTM(num_layers=1)`); parameters
/// named as torch's (`weight_ih_l0`, ...), so state files interchange.
pub struct Lstm {
    pub cell: LstmCell,
    pub batch_first: bool,
}

impl Lstm {
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> Lstm {
        Lstm { cell: LstmCell::new(input_size, hidden_size, rng), batch_first: false }
    }

    /// The outputs `[T, N, hidden]` (or `[N, T, hidden]`) and the final `(h, c)`, each
    /// `[N, hidden]` (torch adds a leading layers dimension of 1).
    pub fn run(&self, x: &Var, state: Option<(&Var, &Var)>) -> Result<(Var, (Var, Var))> {
        let xs = steps("lstm", x, self.batch_first)?;
        let Some(first) = xs.first() else {
            return Err(TensorError::invalid("lstm", "the sequence is empty").into());
        };
        let (mut h, mut c) = self.cell.step(first, state)?;
        let mut outputs = vec![h.clone()];
        for xt in &xs[1..] {
            (h, c) = self.cell.step(xt, Some((&h, &c)))?;
            outputs.push(h.clone());
        }
        Ok((stack(&outputs, self.batch_first)?, (h, c)))
    }
}

impl crate::Module for Lstm {
    /// The outputs at every step.
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.run(x, None)?.0)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.cell.weights.visit(prefix, "_l0", f);
    }
}

/// A single-layer, unidirectional GRU over a sequence (`nn.GRU(num_layers=1)`).
pub struct Gru {
    pub cell: GruCell,
    pub batch_first: bool,
}

impl Gru {
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> Gru {
        Gru { cell: GruCell::new(input_size, hidden_size, rng), batch_first: false }
    }

    /// The outputs `[T, N, hidden]` (or `[N, T, hidden]`) and the final `h [N, hidden]`.
    pub fn run(&self, x: &Var, h0: Option<&Var>) -> Result<(Var, Var)> {
        let xs = steps("gru", x, self.batch_first)?;
        let Some(first) = xs.first() else {
            return Err(TensorError::invalid("gru", "the sequence is empty").into());
        };
        let mut h = self.cell.step(first, h0)?;
        let mut outputs = vec![h.clone()];
        for xt in &xs[1..] {
            h = self.cell.step(xt, Some(&h))?;
            outputs.push(h.clone());
        }
        Ok((stack(&outputs, self.batch_first)?, h))
    }
}

impl crate::Module for Gru {
    /// The outputs at every step.
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.run(x, None)?.0)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.cell.weights.visit(prefix, "_l0", f);
    }
}
