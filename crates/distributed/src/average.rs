//! Gradient averaging: every rank's gradients summed in rank order, in a few flat buckets.
//!
//! For a bucket of `L` elements on `N` ranks, rank `r` owns the `r`-th of `N` consecutive
//! chunks. One all-to-all sends each chunk to its owner; the owner adds the `N` copies it received
//! in rank order, `((g_0 + g_1) + g_2) + ...`; one all-gather returns the summed chunks to every
//! rank. Each rank sends and receives `2 (N-1)/N L` elements per step, as a ring all-reduce
//! does, but the order of the additions is fixed by rank, not by the network: repeated runs give
//! the same bits, and every rank ends with the same bits.

use autograd::{Gradients, Param};
use tensor::DType;

use crate::error::{DistError, Result};
use crate::transport::{bytes_of, bytes_of_mut, Plain, Transport};
use crate::world::World;

/// The default bucket size, as DistributedDataParallel's `bucket_cap_mb`.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// Averages the gradients of a fixed list of parameters over all ranks, between `backward` and
/// `optimizer.step`, reusing its buffers from step to step.
///
/// A parameter's averaged gradient is `sum_r w_r g_r / sum_r w_r` with each rank's weight `w_r`
/// ([`average`](Self::average): `w_r = 1`; [`average_weighted`](Self::average_weighted): for
/// instance the rank's number of examples in the step, so that ranks with uneven shards still give
/// the single-process mean). A rank without a gradient for a parameter, or with weight 0,
/// contributes zeros; a parameter no rank has a gradient for keeps none.
///
/// ```
/// use autograd::{Gradients, Param};
/// use tensor::Tensor;
/// let out = distributed::threads(2, std::time::Duration::from_secs(10), |world| {
///     let p = Param::new(Tensor::from_vec(vec![0.0f32; 2], &[2]));
///     let mut grads = Gradients::new();
///     grads.set_param(p.id(), Tensor::from_vec(vec![world.rank() as f32, 1.0], &[2]));
///     let mut averager = distributed::GradientAverager::new(vec![("p".to_string(), p.clone())]).unwrap();
///     averager.average(&world, &mut grads).unwrap();
///     grads.param(&p).unwrap().to_vec::<f32>()
/// });
/// for g in out {
///     assert_eq!(g.unwrap(), vec![0.5, 1.0]);
/// }
/// ```
pub struct GradientAverager {
    params: Vec<(String, Param)>,
    buckets: Vec<Bucket>,
}

/// Where a run of a parameter's elements sits in a bucket.
#[derive(Clone, Debug)]
struct Piece {
    param: usize,
    /// First element within the parameter.
    from: usize,
    len: usize,
    /// First element within the bucket.
    at: usize,
}

/// Gradient elements, then one presence flag per piece, then the rank's weight.
struct Bucket {
    pieces: Vec<Piece>,
    values: Values,
}

enum Values {
    F32 { data: Vec<f32>, scratch: Vec<f32> },
    F64 { data: Vec<f64>, scratch: Vec<f64> },
}

impl GradientAverager {
    /// An averager for `params` (from `module.named_parameters()`), in buckets of at most
    /// [`DEFAULT_BUCKET_BYTES`]. Every rank must pass the same list; only f32 and f64 parameters
    /// can be averaged.
    pub fn new(params: impl IntoIterator<Item = (String, Param)>) -> Result<GradientAverager> {
        GradientAverager::with_bucket_bytes(params, DEFAULT_BUCKET_BYTES)
    }

    /// [`new`](Self::new) with another bucket size (at least one element per bucket).
    pub fn with_bucket_bytes(
        params: impl IntoIterator<Item = (String, Param)>,
        bucket_bytes: usize,
    ) -> Result<GradientAverager> {
        let params: Vec<(String, Param)> = params.into_iter().collect();
        let mut buckets = Vec::new();
        for dtype in [DType::F32, DType::F64] {
            let capacity = (bucket_bytes / dtype.size_in_bytes()).max(1);
            let mut pieces: Vec<Piece> = Vec::new();
            let mut filled = 0;
            for (index, (name, p)) in params.iter().enumerate() {
                let (d, numel) = p.read(|t| (t.dtype(), t.numel()));
                if !matches!(d, DType::F32 | DType::F64) {
                    let dtype = format!("{d:?}");
                    return Err(DistError::UnsupportedDType {
                        op: "GradientAverager",
                        index,
                        name: name.clone(),
                        dtype,
                    });
                }
                if d != dtype {
                    continue;
                }
                let mut from = 0;
                while from < numel || (numel == 0 && from == 0) {
                    if filled == capacity {
                        buckets.push(Bucket::new(dtype, std::mem::take(&mut pieces), filled));
                        filled = 0;
                    }
                    let len = (numel - from).min(capacity - filled);
                    pieces.push(Piece { param: index, from, len, at: filled });
                    filled += len;
                    from += len;
                    if numel == 0 {
                        break;
                    }
                }
            }
            if !pieces.is_empty() {
                buckets.push(Bucket::new(dtype, pieces, filled));
            }
        }
        Ok(GradientAverager { params, buckets })
    }

    /// The number of buckets (messages per step are two per bucket).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Replaces each gradient in `grads` by its mean over all ranks.
    pub fn average(&mut self, world: &World, grads: &mut Gradients) -> Result<()> {
        self.average_weighted(world, grads, 1.0)
    }

    /// Replaces each gradient in `grads` by `sum_r weight_r g_r / sum_r weight_r`.
    pub fn average_weighted(&mut self, world: &World, grads: &mut Gradients, weight: f64) -> Result<()> {
        let op = "average_gradients";
        if !weight.is_finite() || weight < 0.0 {
            return Err(DistError::BadWeight { op, weight });
        }
        for (index, (_, p)) in self.params.iter().enumerate() {
            if let Some(g) = grads.param(p) {
                let shape = p.read(|t| t.shape().to_vec());
                if g.shape() != shape.as_slice() {
                    return Err(DistError::GradientShape { op, index, param: shape, grad: g.shape().to_vec() });
                }
                let dtype = p.read(|t| t.dtype());
                if g.dtype() != dtype {
                    let (param, grad) = (format!("{dtype:?}"), format!("{:?}", g.dtype()));
                    return Err(DistError::GradientDType { op, index, param, grad });
                }
            }
        }
        for bucket in &mut self.buckets {
            bucket.fill(&self.params, grads, weight);
            bucket.reduce(world.transport(), op)?;
        }
        let total = self.buckets.first().map_or(0.0, Bucket::total_weight);
        if total == 0.0 && !self.buckets.is_empty() {
            return Err(DistError::ZeroTotalWeight { op });
        }
        for bucket in &self.buckets {
            bucket.write_back(&self.params, grads, total);
        }
        // A parameter no rank has a gradient for keeps none.
        for (index, (_, p)) in self.params.iter().enumerate() {
            let present = self
                .buckets
                .iter()
                .any(|b| b.pieces.iter().enumerate().any(|(k, piece)| piece.param == index && b.flag(k) > 0.0));
            if !present {
                grads.take(p);
            }
        }
        Ok(())
    }
}

impl Bucket {
    fn new(dtype: DType, pieces: Vec<Piece>, elements: usize) -> Bucket {
        let len = elements + pieces.len() + 1;
        let values = match dtype {
            DType::F64 => Values::F64 { data: vec![0.0; len], scratch: Vec::new() },
            _ => Values::F32 { data: vec![0.0; len], scratch: Vec::new() },
        };
        Bucket { pieces, values }
    }

    /// Copies this rank's gradients, times `weight`, and its flags and weight into the bucket.
    fn fill(&mut self, params: &[(String, Param)], grads: &Gradients, weight: f64) {
        match &mut self.values {
            Values::F32 { data, .. } => fill(data, &self.pieces, params, grads, weight),
            Values::F64 { data, .. } => fill(data, &self.pieces, params, grads, weight),
        }
    }

    fn reduce(&mut self, transport: &dyn Transport, op: &'static str) -> Result<()> {
        match &mut self.values {
            Values::F32 { data, scratch } => ordered_sum(transport, op, data, scratch),
            Values::F64 { data, scratch } => ordered_sum(transport, op, data, scratch),
        }
    }

    fn flag(&self, piece: usize) -> f64 {
        let elements = self.len() - self.pieces.len() - 1;
        match &self.values {
            Values::F32 { data, .. } => f64::from(data[elements + piece]),
            Values::F64 { data, .. } => data[elements + piece],
        }
    }

    fn total_weight(&self) -> f64 {
        match &self.values {
            Values::F32 { data, .. } => data.last().map_or(0.0, |&w| f64::from(w)),
            Values::F64 { data, .. } => data.last().copied().unwrap_or(0.0),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::F32 { data, .. } => data.len(),
            Values::F64 { data, .. } => data.len(),
        }
    }

    /// Writes `sum / total` into the gradients of the pieces some rank had.
    fn write_back(&self, params: &[(String, Param)], grads: &mut Gradients, total: f64) {
        for (k, piece) in self.pieces.iter().enumerate() {
            if self.flag(k) == 0.0 {
                continue;
            }
            let p = &params[piece.param].1;
            if grads.param(p).is_none() {
                grads.set_param(p.id(), p.read(|t| tensor::Tensor::zeros(t.shape(), t.dtype())));
            }
            let Some(g) = grads.param_mut(p) else { continue };
            match &self.values {
                Values::F32 { data, .. } => divide_into(g, &data[piece.at..piece.at + piece.len], piece.from, total),
                Values::F64 { data, .. } => divide_into(g, &data[piece.at..piece.at + piece.len], piece.from, total),
            }
        }
    }
}

/// Real numbers a bucket can hold.
trait Real: Plain + tensor::Element + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> {
    fn of(x: f64) -> Self;
    fn div(self, by: f64) -> Self;
}

impl Real for f32 {
    fn of(x: f64) -> f32 {
        x as f32
    }
    fn div(self, by: f64) -> f32 {
        self / by as f32
    }
}

impl Real for f64 {
    fn of(x: f64) -> f64 {
        x
    }
    fn div(self, by: f64) -> f64 {
        self / by
    }
}

fn fill<T: Real>(data: &mut [T], pieces: &[Piece], params: &[(String, Param)], grads: &Gradients, weight: f64) {
    let elements = data.len() - pieces.len() - 1;
    let w = T::of(weight);
    for (k, piece) in pieces.iter().enumerate() {
        let out = &mut data[piece.at..piece.at + piece.len];
        let grad = grads.param(&params[piece.param].1).filter(|_| weight > 0.0);
        let present = match grad {
            None => {
                out.fill(T::default());
                false
            }
            Some(g) => {
                let owned;
                let values = match g.as_slice::<T>() {
                    Some(s) => s,
                    None => {
                        owned = g.to_vec::<T>();
                        &owned
                    }
                };
                let values = &values[piece.from..piece.from + piece.len];
                if weight == 1.0 {
                    out.copy_from_slice(values);
                } else {
                    for (o, &v) in out.iter_mut().zip(values) {
                        *o = v * w;
                    }
                }
                true
            }
        };
        data[elements + k] = T::of(if present { 1.0 } else { 0.0 });
    }
    if let Some(last) = data.last_mut() {
        *last = w;
    }
}

/// `data` becomes the element-wise sum over all ranks, added in rank order (module docs).
fn ordered_sum<T: Real>(
    transport: &dyn Transport,
    op: &'static str,
    data: &mut [T],
    scratch: &mut Vec<T>,
) -> Result<()> {
    let ranks = transport.size();
    if ranks == 1 {
        return Ok(());
    }
    let rank = transport.rank();
    let size = std::mem::size_of::<T>();
    let bound = |c: usize| data.len() * c / ranks;
    let chunks: Vec<usize> = (0..ranks).map(|c| (bound(c + 1) - bound(c)) * size).collect();
    let mine = bound(rank + 1) - bound(rank);
    scratch.resize(ranks * mine, T::default());
    transport.all_to_all(op, bytes_of(data), &chunks, bytes_of_mut(scratch), &vec![mine * size; ranks])?;
    let (sum, others) = scratch.split_at_mut(mine);
    for theirs in others.chunks_exact(mine.max(1)) {
        for (s, &x) in sum.iter_mut().zip(theirs) {
            *s = *s + x;
        }
    }
    transport.all_gather_into(op, bytes_of(sum), bytes_of_mut(data), &chunks)
}

/// `g[from..from + sum.len()] = sum / total`, in place.
fn divide_into<T: Real>(g: &mut tensor::Tensor, sum: &[T], from: usize, total: f64) {
    if let Ok(out) = g.try_as_mut_slice::<T>() {
        for (o, &s) in out[from..from + sum.len()].iter_mut().zip(sum) {
            *o = s.div(total);
        }
    }
}
