//! `Embedding`: rows of a table looked up by index (`torch.nn.Embedding`).

use autograd::{AsVar, Param, Result, Var};
use tensor::{DType, Rng};

use crate::init;
use crate::module::{child, Module};

/// A `[num_embeddings, embedding_dim]` table initialised `N(0, 1)` as torch does. The forward
/// takes i64 indices of any shape (as a `Var` whose value holds them: use [`Embedding::lookup`]
/// with a `Tensor` or placeholder) and returns `indices.shape ++ [embedding_dim]`.
pub struct Embedding {
    pub weight: Param,
}

impl Embedding {
    pub fn new(num_embeddings: usize, embedding_dim: usize, rng: &mut Rng) -> Embedding {
        match init::normal(&[num_embeddings, embedding_dim], 0.0, 1.0, DType::F32, rng) {
            Ok(w) => Embedding { weight: Param::new(w) },
            Err(e) => panic!("{e}"),
        }
    }

    /// The rows at `indices` (i64, any shape), recorded on `like`'s tape.
    pub fn lookup(&self, like: &Var, indices: &impl AsVar) -> Result<Var> {
        crate::functional::embedding(&indices.as_var(like), &like.tape().param(&self.weight))
    }
}

impl Module for Embedding {
    /// `x` holds the i64 indices.
    fn forward(&self, x: &Var) -> Result<Var> {
        self.lookup(x, x)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&child(prefix, "weight"), &self.weight);
    }
}
