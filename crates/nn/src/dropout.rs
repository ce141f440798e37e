//! `Dropout` (`torch.nn.Dropout`), with a seed per call so runs are reproducible.

use std::sync::atomic::{AtomicU64, Ordering};

use autograd::{AsVar, Param, Result, Var};
use tensor::Tensor;

use crate::module::Module;

/// Inverted dropout in training mode (zero with probability `p`, scale the rest by
/// `1 / (1 - p)`), the identity in evaluation mode. Each call draws its mask from the next seed
/// of the module's own counter, so a run is reproducible from the seed it started with. The
/// mask is a recorded `dropout_mask` node; to replay a recorded step with a new mask each time,
/// use [`forward_with_seed`](Self::forward_with_seed) with a placeholder seed.
pub struct Dropout {
    pub p: f64,
    pub training: bool,
    next_seed: AtomicU64,
}

impl Dropout {
    /// In training mode, seeded with `seed`.
    pub fn new(p: f64, seed: u64) -> Dropout {
        Dropout { p, training: true, next_seed: AtomicU64::new(seed) }
    }

    /// Dropout with an explicit seed (a one-element i64 `Tensor` or `Var`).
    pub fn forward_with_seed(&self, x: &Var, seed: &impl AsVar) -> Result<Var> {
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        x.try_dropout(self.p, seed)
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Var) -> Result<Var> {
        let seed = self.next_seed.fetch_add(1, Ordering::Relaxed);
        self.forward_with_seed(x, &Tensor::scalar(seed as i64))
    }

    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
