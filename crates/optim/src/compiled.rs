//! [`WithOptimizer`]: a compiled training step with its optimizer.

use autograd::{Compiled, Outputs, Step, Var};
use tensor::Tensor;

use crate::error::Result;
use crate::optimizer::Optimizer;

/// A compiled training step with its optimizer: forward, loss, backward and the update as one
/// replayed program.
///
/// [`with_optimizer`](WithOptimizer::with_optimizer) turns a function compiled by
/// [`autograd::compile`] into a [`TrainStep`]: each [`run`](TrainStep::run) replays the traced
/// program and updates every parameter in the middle of it, as soon as the parameter's gradient
/// is complete and the program has read its value for the last time
/// ([`Compiled::run_updating`]). The update reads a gradient that is still in cache and writes
/// the parameter's buffer in place, and the parameters end bit for bit where `run` and then
/// [`Optimizer::step`] would have left them.
///
/// Gradient clipping needs every gradient before the first update: clip with
/// [`Compiled::run_into`] and [`Optimizer::step`] instead.
///
/// ```
/// use autograd::{compile, Param, Var};
/// use optim::{Optim, Sgd, WithOptimizer};
/// use tensor::{DType, Tensor};
/// let w = Param::new(Tensor::from_vec(vec![0.5f64, -0.5], &[2, 1]));
/// let mut opt = Optim::new([w.clone()], Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() }).unwrap();
/// let mut step = compile(|xs: &[Var]| {
///     let pred = xs[0].matmul(&xs[0].tape().param(&w));
///     Ok((pred - &xs[1]).square().mean_all())
/// })
/// .with_optimizer(&mut opt);
/// let (x, y) = (Tensor::ones(&[4, 2], DType::F64), Tensor::ones(&[4, 1], DType::F64));
/// let first = step.run(&[x.clone(), y.clone()]).unwrap().outputs[0].item();
/// for _ in 0..20 {
///     step.run(&[x.clone(), y.clone()]).unwrap();
/// }
/// assert!(step.run(&[x, y]).unwrap().outputs[0].item() < first);
/// ```
pub trait WithOptimizer<F>: Sized {
    /// The training step that updates the parameters with `optimizer` during each run (the
    /// function's first output is the loss). Its gradients are added
    /// ([`with_grads`](Compiled::with_grads)) if they were not.
    fn with_optimizer<O: Optimizer + ?Sized>(self, optimizer: &mut O) -> TrainStep<'_, F, O>;
}

impl<F, Out> WithOptimizer<F> for Compiled<F>
where
    F: Fn(&[Var]) -> autograd::Result<Out>,
    Out: Outputs,
{
    fn with_optimizer<O: Optimizer + ?Sized>(self, optimizer: &mut O) -> TrainStep<'_, F, O> {
        TrainStep { compiled: self.with_grads(), optimizer, step: Step::default() }
    }
}

/// A compiled training step with its optimizer, made by [`WithOptimizer::with_optimizer`].
pub struct TrainStep<'o, F, O: ?Sized> {
    compiled: Compiled<F>,
    optimizer: &'o mut O,
    /// The last run's outputs and gradients; refilled in place by the next run.
    step: Step,
}

impl<F, Out, O> TrainStep<'_, F, O>
where
    F: Fn(&[Var]) -> autograd::Result<Out>,
    Out: Outputs,
    O: Optimizer + ?Sized,
{
    /// One training step on `inputs`: the function's outputs (the loss first) and the
    /// gradients the update used, until the next run. The optimizer's hyperparameters are
    /// checked first ([`Optimizer::validate`]), so an error there changes nothing. An error
    /// during the run (a kernel's, or the optimizer's own for one parameter) stops it where it
    /// is: the parameters updated before it stay updated, as their optimizer state does.
    pub fn run(&mut self, inputs: &[Tensor]) -> Result<&Step> {
        self.optimizer.validate()?;
        let optimizer = &mut *self.optimizer;
        let mut update = |param, grad: &Tensor| optimizer.step_param(param, grad).map(drop);
        self.compiled.run_updating(inputs, &mut self.step, &mut update)?;
        Ok(&self.step)
    }

    /// The optimizer, e.g. for a scheduler to set its learning rate between runs.
    pub fn optimizer(&mut self) -> &mut O {
        self.optimizer
    }

    /// The compiled function: its plans, their programs and memory plans.
    pub fn compiled(&self) -> &Compiled<F> {
        &self.compiled
    }
}
