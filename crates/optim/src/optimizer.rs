//! The driver every algorithm shares: param groups, per-parameter state, the checks that make
//! a failed step change nothing, and skipping parameters without a gradient.

use std::borrow::Cow;
use std::fmt;

use autograd::{Gradients, Param, ParamId, ParamMap};
use rayon::prelude::*;
use smallvec::SmallVec;
use tensor::{DType, Element, Tensor};

use crate::checkpoint::{Checkpoint, Reader, Record, Writer};
use crate::error::{OptimError, Result};

/// What a training loop calls: one step from the gradients of a backward pass, and the
/// learning rate of each param group (what schedulers drive).
pub trait Optimizer {
    /// Updates every parameter that has a gradient in `grads`; parameters without one are
    /// skipped and their state does not advance (as in torch). On error nothing changes.
    fn step(&mut self, grads: &Gradients) -> Result<()>;

    /// Number of param groups.
    fn num_groups(&self) -> usize;

    /// The learning rate of group `group`.
    fn lr(&self, group: usize) -> Result<f64>;

    /// Sets the learning rate of group `group` (validated at the next step).
    fn set_lr(&mut self, group: usize, lr: f64) -> Result<()>;

    /// The learning rate a scheduler started group `group` from (torch's `initial_lr`), once
    /// the first scheduler on this optimizer recorded it.
    fn initial_lr(&self, group: usize) -> Result<Option<f64>>;

    /// Records group `group`'s `initial_lr` (the first scheduler does).
    fn set_initial_lr(&mut self, group: usize, lr: f64) -> Result<()>;

    /// Group `group`'s momentum (`momentum`, or `betas.0`), if its algorithm has one.
    fn momentum(&self, group: usize) -> Result<Option<f64>>;

    /// Sets group `group`'s momentum (what momentum-cycling schedulers drive).
    fn set_momentum(&mut self, group: usize, momentum: f64) -> Result<()>;

    /// Checks every group's hyperparameters, as [`step`](Self::step) does before it changes
    /// anything. A compiled step calls it before its run, then [`step_param`](Self::step_param)
    /// once per parameter during it: an optimizer that implements `step_param` implements this
    /// too, so that a bad hyperparameter is refused before the first parameter changes.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Updates one parameter from its gradient, as [`step`](Self::step) does with gradients of
    /// that parameter alone; `Ok(false)` if the parameter is not in this optimizer (it is left
    /// alone). A compiled training step with its optimizer
    /// ([`with_optimizer`](crate::WithOptimizer::with_optimizer)) calls it as each gradient
    /// completes. Optimizers that need every gradient at once do not implement it.
    fn step_param(&mut self, param: ParamId, _grad: &Tensor) -> Result<bool> {
        Err(OptimError::NoParamStep { param: param.0 })
    }
}

/// One optimization algorithm: its hyperparameters are the value itself (torch.optim's names,
/// `Default` = torch's defaults), and it updates one parameter at a time. Implement it for your
/// own algorithm and [`Optim`] gives you param groups, state and the checks.
pub trait Algorithm: Clone + fmt::Debug + Send + Sync + Record + 'static {
    /// Per-parameter state (moments, step count), created at a parameter's first step.
    type State: Send + Clone + Record;

    /// The name errors use (`"Adam"`).
    const NAME: &'static str;

    /// Rejects hyperparameters torch would reject, naming the offending one.
    fn validate(&self) -> Result<()>;

    fn lr(&self) -> f64;
    fn set_lr(&mut self, lr: f64);

    /// The momentum a scheduler may cycle (`momentum`, or `betas.0` for the Adam family), if
    /// the algorithm has one.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets that momentum (ignored by algorithms without one).
    fn set_momentum(&mut self, _momentum: f64) {}

    /// The state of a parameter before its first update.
    fn init_state(&self, param: &Tensor) -> Result<Self::State>;

    /// One update of `param` (f32 or f64, same dtype and shape as the contiguous `grad`), in
    /// place.
    fn update(&self, state: &mut Self::State, param: &mut Tensor, grad: &Tensor) -> Result<()>;
}

/// Parameters sharing hyperparameters (e.g. no weight decay on biases).
#[derive(Clone, Debug)]
pub struct ParamGroup<A> {
    pub params: Vec<Param>,
    pub config: A,
    /// The learning rate schedulers start from, set by the first one (torch's `initial_lr`).
    pub initial_lr: Option<f64>,
}

/// An optimizer: param groups of algorithm `A` and each parameter's state.
///
/// ```
/// use autograd::{Param, Tape};
/// use optim::{Optim, Optimizer, Sgd};
/// use tensor::{DType, Tensor};
/// let w = Param::new(Tensor::ones(&[2], DType::F64));
/// let mut opt = Optim::new([w.clone()], Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() }).unwrap();
/// let tape = Tape::new();
/// let grads = tape.param(&w).square().sum_all().backward().unwrap();
/// opt.step(&grads).unwrap();
/// assert_eq!(w.value().to_vec::<f64>(), vec![0.8, 0.8]); // 1 - 0.1 * 2
/// ```
pub struct Optim<A: Algorithm> {
    groups: Vec<ParamGroup<A>>,
    state: ParamMap<A::State>,
    /// Where each parameter is: its group, and its place in the group.
    group_of: ParamMap<(usize, usize)>,
}

impl<A: Algorithm> Optim<A> {
    /// One group of `params` with hyperparameters `config`.
    pub fn new(params: impl IntoIterator<Item = Param>, config: A) -> Result<Optim<A>> {
        let mut opt = Optim { groups: Vec::new(), state: ParamMap::default(), group_of: ParamMap::default() };
        opt.add_param_group(params, config)?;
        Ok(opt)
    }

    /// Adds a group (torch's `add_param_group`). A parameter already in a group is an error.
    pub fn add_param_group(&mut self, params: impl IntoIterator<Item = Param>, config: A) -> Result<()> {
        config.validate()?;
        let params: Vec<Param> = params.into_iter().collect();
        for (k, p) in params.iter().enumerate() {
            let earlier = self.group_of.get(&p.id()).map(|&(group, _)| group);
            let here = params[..k].iter().any(|q| q.id() == p.id()).then_some(self.groups.len());
            if let Some(group) = earlier.or(here) {
                return Err(OptimError::DuplicateParam { optimizer: A::NAME, param: p.id().0, group });
            }
            float_dtype::<A>(p, p.value().dtype())?;
        }
        self.group_of.extend(params.iter().enumerate().map(|(k, p)| (p.id(), (self.groups.len(), k))));
        self.groups.push(ParamGroup { params, config, initial_lr: None });
        Ok(())
    }

    /// The param groups.
    pub fn groups(&self) -> &[ParamGroup<A>] {
        &self.groups
    }

    /// A group's hyperparameters, to change between steps (validated at the next step).
    pub fn config_mut(&mut self, group: usize) -> Result<&mut A> {
        let groups = self.groups.len();
        match self.groups.get_mut(group) {
            Some(g) => Ok(&mut g.config),
            None => Err(OptimError::NoSuchGroup { optimizer: A::NAME, group, groups }),
        }
    }

    /// A parameter's state, once it has taken a step.
    pub fn state(&self, p: &Param) -> Option<&A::State> {
        self.state.get(&p.id())
    }

    fn group(&self, group: usize) -> Result<&ParamGroup<A>> {
        let groups = self.groups.len();
        self.groups.get(group).ok_or(OptimError::NoSuchGroup { optimizer: A::NAME, group, groups })
    }
}

/// `g` as a parameter's gradient: of its shape and dtype (else an error naming both), and
/// contiguous (borrowed when it is already, as gradients from `backward` are).
fn checked_grad<'g, A: Algorithm>(p: &Param, g: &'g Tensor) -> Result<Cow<'g, Tensor>> {
    let (shape_ok, dtype) = p.read(|v| (v.has_shape(g.shape()), v.dtype()));
    float_dtype::<A>(p, dtype)?;
    if !shape_ok || g.dtype() != dtype {
        return Err(OptimError::GradientMismatch {
            optimizer: A::NAME,
            param: p.id().0,
            shape: p.shape(),
            param_dtype: dtype,
            grad: g.shape().to_vec(),
            grad_dtype: g.dtype(),
        });
    }
    Ok(if g.is_contiguous() { Cow::Borrowed(g) } else { Cow::Owned(g.contiguous()) })
}

/// One parameter's update, creating its state at its first step.
fn update_one<A: Algorithm>(state: &mut ParamMap<A::State>, config: &A, p: &Param, g: &Tensor) -> Result<()> {
    let state = match state.entry(p.id()) {
        indexmap::map::Entry::Occupied(e) => e.into_mut(),
        indexmap::map::Entry::Vacant(e) => e.insert(p.read(|v| config.init_state(v))?),
    };
    p.update(|v| config.update(state, v, g))
}

fn float_dtype<A: Algorithm>(p: &Param, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        return Ok(());
    }
    Err(OptimError::UnsupportedDType { optimizer: A::NAME, param: p.id().0, dtype })
}

impl<A: Algorithm> Optimizer for Optim<A> {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        // Every check first, so an error leaves parameters and state as they were.
        let mut work: SmallVec<[_; 8]> = SmallVec::new();
        let mut elements = 0;
        for group in &self.groups {
            group.config.validate()?;
            for p in &group.params {
                let Some(g) = grads.param(p) else { continue };
                let g = checked_grad::<A>(p, g)?;
                elements += g.numel();
                work.push((&group.config, p, g));
            }
        }
        if work.len() > 1 && tensor::parallel::should_parallelize(elements) {
            // Many parameters: one task each (each may split further). Each parameter's state
            // leaves the map for its update, so the updates can run side by side.
            let mut items = Vec::with_capacity(work.len());
            for (config, p, g) in work {
                let state = match self.state.swap_remove(&p.id()) {
                    Some(state) => state,
                    None => config.init_state(&p.value())?,
                };
                items.push((config, p, g, state));
            }
            let results: Vec<Result<()>> =
                items.par_iter_mut().map(|(config, p, g, state)| p.update(|v| config.update(state, v, g))).collect();
            for (_, p, _, state) in items {
                self.state.insert(p.id(), state);
            }
            return results.into_iter().collect();
        }
        for (config, p, g) in work {
            update_one(&mut self.state, config, p, &g)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        self.groups.iter().try_for_each(|g| g.config.validate())
    }

    fn step_param(&mut self, param: ParamId, grad: &Tensor) -> Result<bool> {
        let Some(&(group, k)) = self.group_of.get(&param) else { return Ok(false) };
        let (group, p) = (&self.groups[group], &self.groups[group].params[k]);
        group.config.validate()?;
        let g = checked_grad::<A>(p, grad)?;
        update_one(&mut self.state, &group.config, p, &g)?;
        Ok(true)
    }

    fn num_groups(&self) -> usize {
        self.groups.len()
    }

    fn lr(&self, group: usize) -> Result<f64> {
        Ok(self.group(group)?.config.lr())
    }

    fn set_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        self.config_mut(group)?.set_lr(lr);
        Ok(())
    }

    fn initial_lr(&self, group: usize) -> Result<Option<f64>> {
        Ok(self.group(group)?.initial_lr)
    }

    fn momentum(&self, group: usize) -> Result<Option<f64>> {
        Ok(self.group(group)?.config.momentum())
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) -> Result<()> {
        self.config_mut(group)?.set_momentum(momentum);
        Ok(())
    }

    fn set_initial_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        let groups = self.groups.len();
        let g = self.groups.get_mut(group).ok_or(OptimError::NoSuchGroup { optimizer: A::NAME, group, groups })?;
        g.initial_lr = Some(lr);
        Ok(())
    }
}

/// The accessors every algorithm with an `lr` field shares: `lr`/`set_lr`, and with
/// `momentum: <place>` the momentum schedulers cycle (`momentum`, or `betas.0`).
macro_rules! lr_and_momentum {
    () => {
        fn lr(&self) -> f64 {
            self.lr
        }
        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
    };
    (momentum: $($place:tt)+) => {
        $crate::optimizer::lr_and_momentum!();
        fn momentum(&self) -> Option<f64> {
            Some(self.$($place)+)
        }
        fn set_momentum(&mut self, momentum: f64) {
            self.$($place)+ = momentum;
        }
    };
}

pub(crate) use lr_and_momentum;

/// The checks the Adam family shares: `lr`, `eps`, `weight_decay` non-negative, betas in [0, 1).
pub(crate) fn check_adam_like(
    name: &'static str,
    lr: f64,
    eps: f64,
    betas: (f64, f64),
    weight_decay: f64,
) -> Result<()> {
    crate::error::check(name, "lr", lr, lr >= 0.0, "must be >= 0")?;
    crate::error::check(name, "eps", eps, eps >= 0.0, "must be >= 0")?;
    crate::error::check(name, "betas.0", betas.0, (0.0..1.0).contains(&betas.0), "must be in [0, 1)")?;
    crate::error::check(name, "betas.1", betas.1, (0.0..1.0).contains(&betas.1), "must be in [0, 1)")?;
    crate::error::check(name, "weight_decay", weight_decay, weight_decay >= 0.0, "must be >= 0")
}

/// `a·b + c` with one rounding, as ATen's CPU kernels compute `c.add_(b, alpha=a)` (an FMA),
/// which is what makes trajectories match torch's bit for bit.
#[inline(always)]
pub(crate) fn fma<T: tensor::Float>(a: T, b: T, c: T) -> T {
    a.mul_add(b, c)
}

/// A state buffer shaped like `param`, filled with `value`.
pub(crate) fn buffer_like(param: &Tensor, value: f64) -> Tensor {
    Tensor::full(param.shape(), value, param.dtype())
}

/// The elements of a contiguous tensor (gradients are made contiguous before `update`).
pub(crate) fn elements<'a, T: Element>(t: &'a Tensor, what: &'static str) -> Result<&'a [T]> {
    t.as_slice::<T>().ok_or_else(|| {
        OptimError::Tensor(tensor::TensorError::invalid(what, format!("expected a contiguous {} tensor", T::DTYPE)))
    })
}

/// Runs `$body` with `$T` the element type of `$dtype` (f32 or f64).
macro_rules! float_kernel {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            other => Err($crate::error::OptimError::Tensor(tensor::TensorError::UnsupportedDType {
                op: "optimizer step",
                dtype: other,
                expected: "f32 or f64",
            })),
        }
    };
}

pub(crate) use float_kernel;

impl<A: Algorithm> Checkpoint for Optim<A> {
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new("optimizer", A::NAME);
        w.meta("groups".into(), self.groups.len());
        for (gi, group) in self.groups.iter().enumerate() {
            w.meta(format!("group.{gi}.params"), group.params.len());
            if let Some(lr) = group.initial_lr {
                w.meta(format!("group.{gi}.initial_lr"), lr);
            }
            w.fields(&format!("group.{gi}"), group.config.clone().fields())?;
            for (pi, p) in group.params.iter().enumerate() {
                if let Some(state) = self.state.get(&p.id()) {
                    w.meta(format!("state.{gi}.{pi}"), "present");
                    w.fields(&format!("state.{gi}.{pi}"), state.clone().fields())?;
                }
            }
        }
        w.finish()
    }

    fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let r = Reader::open(bytes, "optimizer", A::NAME)?;
        let groups: usize = r.parse("groups")?;
        let bad = |msg: String| OptimError::Checkpoint { msg };
        if groups != self.groups.len() {
            return Err(bad(format!("the file has {groups} param groups, this optimizer {}", self.groups.len())));
        }
        // Everything is read and checked into new values first; they replace the old at the end.
        let mut configs = Vec::with_capacity(groups);
        let mut states = ParamMap::default();
        for (gi, group) in self.groups.iter().enumerate() {
            let n: usize = r.parse(&format!("group.{gi}.params"))?;
            if n != group.params.len() {
                return Err(bad(format!("group {gi} has {n} parameters in the file, {} here", group.params.len())));
            }
            let mut config = group.config.clone();
            r.fill(&format!("group.{gi}"), config.fields(), None)?;
            config.validate()?;
            let key = format!("group.{gi}.initial_lr");
            let initial_lr = if r.has(&key) { Some(r.parse(&key)?) } else { None };
            for (pi, p) in group.params.iter().enumerate() {
                if !r.has(&format!("state.{gi}.{pi}")) {
                    continue;
                }
                let value = p.value();
                let mut state = config.init_state(&value)?;
                r.fill(&format!("state.{gi}.{pi}"), state.fields(), Some(&value))?;
                states.insert(p.id(), state);
            }
            configs.push((config, initial_lr));
        }
        for (group, (config, initial_lr)) in self.groups.iter_mut().zip(configs) {
            (group.config, group.initial_lr) = (config, initial_lr);
        }
        self.state = states;
        Ok(())
    }
}
