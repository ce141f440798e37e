//! `Module`: a layer or model, and `Sequential`, a chain of them.

use indexmap::IndexMap;

use autograd::{Param, Result, Var};

/// A layer or a model: a forward pass on `Var`s, and its parameters by hierarchical name.
///
/// A module brings its [`Param`]s onto the input's tape itself (`x.tape().param(&self.weight)`),
/// so there is no global tape. Models are plain structs holding modules; their `visit` names
/// each child's parameters under the child's field name, giving names like `layers.0.weight`
/// (the keys checkpoints and optimizer groups use).
pub trait Module {
    /// The output for input `x`, recorded on `x`'s tape.
    fn forward(&self, x: &Var) -> Result<Var>;

    /// Calls `f(name, param)` for every parameter in declaration order, names prefixed by
    /// `prefix` (empty at the top).
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param));

    /// Calls `f(name, buffer)` for every buffer (state that is not trained, such as running
    /// statistics), named like parameters.
    fn visit_buffers(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}

    /// Switches between training and evaluation behaviour (dropout, batch statistics); passed
    /// on to children. Modules that behave the same in both ignore it.
    fn set_training(&mut self, _training: bool) {}

    /// Every parameter by hierarchical name, in declaration order.
    fn named_parameters(&self) -> IndexMap<String, Param> {
        let mut out = IndexMap::new();
        self.visit("", &mut |name, p| {
            out.insert(name.to_string(), p.clone());
        });
        out
    }

    /// Every parameter, in declaration order.
    fn parameters(&self) -> Vec<Param> {
        self.named_parameters().into_values().collect()
    }

    /// Every buffer by hierarchical name.
    fn named_buffers(&self) -> IndexMap<String, Param> {
        let mut out = IndexMap::new();
        self.visit_buffers("", &mut |name, b| {
            out.insert(name.to_string(), b.clone());
        });
        out
    }
}

/// `prefix.name`, or `name` at the top.
pub fn child(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Modules applied one after another; children are named `0`, `1`, ... as in torch.
///
/// ```
/// use autograd::Tape;
/// use nn::{Linear, Module, Relu, Sequential};
/// use tensor::{DType, Rng, Tensor};
/// let mut rng = Rng::seed(0);
/// let model = Sequential::new().add(Linear::new(4, 8, &mut rng)).add(Relu).add(Linear::new(8, 2, &mut rng));
/// let names: Vec<String> = model.named_parameters().into_keys().collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// let tape = Tape::new();
/// let y = model.forward(&tape.constant(Tensor::ones(&[3, 4], DType::F32))).unwrap();
/// assert_eq!(y.shape(), &[3, 2]);
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a module.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, m: impl Module + 'static) -> Sequential {
        self.layers.push(Box::new(m));
        self
    }

    pub fn len(&self) -> usize {
        self.layers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h)?;
        }
        Ok(h)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.visit(&child(prefix, &i.to_string()), f);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.visit_buffers(&child(prefix, &i.to_string()), f);
        }
    }

    fn set_training(&mut self, training: bool) {
        for layer in &mut self.layers {
            layer.set_training(training);
        }
    }
}
