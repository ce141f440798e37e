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
    /// Each parameter's dtype and size when the layout was made.
    sizes: Vec<(DType, usize)>,
    buckets: Vec<Bucket>,
    /// The world size the parameter lists were last compared across (once per world).
    checked: Option<usize>,
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

/// Gradient elements, then one presence flag per piece, then the rank's weight; the first bucket
/// ends with two status slots per rank (an error code and a parameter index), so that a rank's
/// local failure reaches every rank with the same messages, without a message of its own.
struct Bucket {
    pieces: Vec<Piece>,
    elements: usize,
    values: Values,
}

enum Values {
    F32 { data: Vec<f32>, scratch: Vec<f32> },
    F64 { data: Vec<f64>, scratch: Vec<f64> },
}

/// What a rank found wrong with its own input, as status codes.
const BAD_WEIGHT: f64 = 1.0;
const PARAMETER_CHANGED: f64 = 2.0;
const GRADIENT_SHAPE: f64 = 3.0;
const GRADIENT_DTYPE: f64 = 4.0;

impl GradientAverager {
    /// An averager for `params` (from `module.named_parameters()`), in buckets of at most
    /// [`DEFAULT_BUCKET_BYTES`]. Every rank must pass the same list (checked on the first
    /// average); only f32 and f64 parameters can be averaged.
    pub fn new(params: impl IntoIterator<Item = (String, Param)>) -> Result<GradientAverager> {
        GradientAverager::with_bucket_bytes(params, DEFAULT_BUCKET_BYTES)
    }

    /// [`new`](Self::new) with another bucket size: at least one element, at most 1 GiB (MPI
    /// counts messages in 32 bits).
    pub fn with_bucket_bytes(
        params: impl IntoIterator<Item = (String, Param)>,
        bucket_bytes: usize,
    ) -> Result<GradientAverager> {
        let params: Vec<(String, Param)> = params.into_iter().collect();
        let bucket_bytes = bucket_bytes.min(1 << 30);
        let mut sizes = Vec::with_capacity(params.len());
        for (index, (name, p)) in params.iter().enumerate() {
            let (d, numel) = p.read(|t| (t.dtype(), t.numel()));
            if !matches!(d, DType::F32 | DType::F64) {
                let dtype = format!("{d:?}");
                return Err(DistError::UnsupportedDType { op: "GradientAverager", index, name: name.clone(), dtype });
            }
            sizes.push((d, numel));
        }
        let mut buckets = Vec::new();
        for dtype in [DType::F32, DType::F64] {
            let capacity = (bucket_bytes / dtype.size_in_bytes()).max(1);
            let mut pieces: Vec<Piece> = Vec::new();
            let mut filled = 0;
            for (index, &(d, numel)) in sizes.iter().enumerate() {
                if d != dtype {
                    continue;
                }
                let mut from = 0;
                loop {
                    if filled == capacity {
                        buckets.push(Bucket::new(dtype, std::mem::take(&mut pieces), filled));
                        filled = 0;
                    }
                    let len = (numel - from).min(capacity - filled);
                    pieces.push(Piece { param: index, from, len, at: filled });
                    filled += len;
                    from += len;
                    if from == numel {
                        break;
                    }
                }
            }
            if !pieces.is_empty() {
                buckets.push(Bucket::new(dtype, pieces, filled));
            }
        }
        Ok(GradientAverager { params, sizes, buckets, checked: None })
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
    ///
    /// Collective: every rank calls it, and when one rank's input is wrong (a bad weight, a
    /// gradient of the wrong shape) every rank returns an error, that rank its own and the others
    /// [`DistError::RankFailed`] naming it.
    pub fn average_weighted(&mut self, world: &World, grads: &mut Gradients, weight: f64) -> Result<()> {
        let op = "average_gradients";
        if self.checked != Some(world.size()) {
            world.check_signatures(op, &self.params)?;
            if let Some(first) = self.buckets.first_mut() {
                first.set_status_slots(2 * world.size());
            }
            self.checked = Some(world.size());
        }
        let local = self.validate(grads, weight).err();
        let rank = world.rank();
        let status = local.as_ref().map_or((0.0, 0.0), |(code, index, _)| (*code, *index as f64));
        let weight = if local.is_some() { 0.0 } else { weight };
        for (b, bucket) in self.buckets.iter_mut().enumerate() {
            bucket.fill(&self.params, grads, weight);
            if b == 0 {
                bucket.set_status(rank, status);
            }
            bucket.reduce(world.transport(), op)?;
        }
        if let Some(first) = self.buckets.first() {
            if let Some((failed, code, index)) = first.first_failure(world.size()) {
                return Err(match local {
                    Some((_, _, e)) if failed == rank => e,
                    _ => DistError::RankFailed { op, rank: failed, msg: describe(code, index) },
                });
            }
        }
        if self.buckets.iter().any(|b| b.total_weight() == 0.0) {
            return Err(DistError::ZeroTotalWeight { op });
        }
        let mut present = vec![false; self.params.len()];
        for bucket in &self.buckets {
            bucket.write_back(&self.params, grads, &mut present);
        }
        // A parameter no rank has a gradient for keeps none.
        for ((_, p), present) in self.params.iter().zip(present) {
            if !present {
                grads.take(p);
            }
        }
        Ok(())
    }

    /// This rank's own input, checked: `(code, parameter index, error)` for the first problem.
    fn validate(&self, grads: &Gradients, weight: f64) -> std::result::Result<(), (f64, usize, DistError)> {
        let op = "average_gradients";
        let as_f32 = weight as f32;
        if !weight.is_finite() || weight < 0.0 || as_f32.is_infinite() || (weight > 0.0 && as_f32 == 0.0) {
            return Err((BAD_WEIGHT, 0, DistError::BadWeight { op, weight }));
        }
        for (index, ((_, p), &(dtype, numel))) in self.params.iter().zip(&self.sizes).enumerate() {
            let (now_dtype, now_numel) = p.read(|t| (t.dtype(), t.numel()));
            if (now_dtype, now_numel) != (dtype, numel) {
                let was = format!("{dtype:?} with {numel} elements");
                let now = format!("{now_dtype:?} with {now_numel} elements");
                return Err((PARAMETER_CHANGED, index, DistError::ParameterChanged { op, index, was, now }));
            }
            let Some(g) = grads.param(p) else { continue };
            // Compared in place: no shape is copied on a step that passes.
            if !p.read(|t| t.shape() == g.shape()) {
                let e = DistError::GradientShape { op, index, param: p.shape(), grad: g.shape().to_vec() };
                return Err((GRADIENT_SHAPE, index, e));
            }
            if g.dtype() != dtype {
                let (param, grad) = (format!("{dtype:?}"), format!("{:?}", g.dtype()));
                return Err((GRADIENT_DTYPE, index, DistError::GradientDType { op, index, param, grad }));
            }
        }
        Ok(())
    }
}

/// What another rank's status code says.
fn describe(code: f64, index: usize) -> String {
    match code {
        BAD_WEIGHT => "its weight is not a finite number at least 0".to_string(),
        PARAMETER_CHANGED => format!("its parameter {index} changed size or dtype since the averager was made"),
        GRADIENT_SHAPE => format!("its gradient for parameter {index} does not have the parameter's shape"),
        GRADIENT_DTYPE => format!("its gradient for parameter {index} does not have the parameter's dtype"),
        _ => format!("status {code} at parameter {index}"),
    }
}

impl Bucket {
    fn new(dtype: DType, pieces: Vec<Piece>, elements: usize) -> Bucket {
        let len = elements + pieces.len() + 1;
        let values = match dtype {
            DType::F64 => Values::F64 { data: vec![0.0; len], scratch: Vec::new() },
            _ => Values::F32 { data: vec![0.0; len], scratch: Vec::new() },
        };
        Bucket { pieces, elements, values }
    }

    /// Where the rank's weight sits; the status slots follow it.
    fn weight_at(&self) -> usize {
        self.elements + self.pieces.len()
    }

    fn set_status_slots(&mut self, slots: usize) {
        let len = self.weight_at() + 1 + slots;
        match &mut self.values {
            Values::F32 { data, .. } => data.resize(len, 0.0),
            Values::F64 { data, .. } => data.resize(len, 0.0),
        }
    }

    /// Writes this rank's status (zeros elsewhere, so the sum holds every rank's own).
    fn set_status(&mut self, rank: usize, (code, index): (f64, f64)) {
        let at = self.weight_at() + 1;
        match &mut self.values {
            Values::F32 { data, .. } => {
                data[at..].fill(0.0);
                data[at + 2 * rank] = code as f32;
                data[at + 2 * rank + 1] = index as f32;
            }
            Values::F64 { data, .. } => {
                data[at..].fill(0.0);
                data[at + 2 * rank] = code;
                data[at + 2 * rank + 1] = index;
            }
        }
    }

    /// The lowest rank that reported a problem: `(rank, code, parameter index)`.
    fn first_failure(&self, ranks: usize) -> Option<(usize, f64, usize)> {
        let at = self.weight_at() + 1;
        (0..ranks).find_map(|r| {
            let (code, index) = (self.get(at + 2 * r), self.get(at + 2 * r + 1));
            (code != 0.0).then_some((r, code, index as usize))
        })
    }

    fn get(&self, i: usize) -> f64 {
        match &self.values {
            Values::F32 { data, .. } => data.get(i).map_or(0.0, |&v| f64::from(v)),
            Values::F64 { data, .. } => data.get(i).copied().unwrap_or(0.0),
        }
    }

    /// Copies this rank's gradients, times `weight`, and its flags and weight into the bucket.
    fn fill(&mut self, params: &[(String, Param)], grads: &Gradients, weight: f64) {
        match &mut self.values {
            Values::F32 { data, .. } => fill(data, self.elements, &self.pieces, params, grads, weight),
            Values::F64 { data, .. } => fill(data, self.elements, &self.pieces, params, grads, weight),
        }
    }

    fn reduce(&mut self, transport: &dyn Transport, op: &'static str) -> Result<()> {
        match &mut self.values {
            Values::F32 { data, scratch } => ordered_sum(transport, op, data, scratch),
            Values::F64 { data, scratch } => ordered_sum(transport, op, data, scratch),
        }
    }

    fn flag(&self, piece: usize) -> f64 {
        self.get(self.elements + piece)
    }

    fn total_weight(&self) -> f64 {
        self.get(self.weight_at())
    }

    /// Writes `sum / total` into the gradients of the pieces some rank had, marking their
    /// parameters present.
    fn write_back(&self, params: &[(String, Param)], grads: &mut Gradients, present: &mut [bool]) {
        let total = self.total_weight();
        for (k, piece) in self.pieces.iter().enumerate() {
            if self.flag(k) == 0.0 {
                continue;
            }
            present[piece.param] = true;
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

fn fill<T: Real>(
    data: &mut [T],
    elements: usize,
    pieces: &[Piece],
    params: &[(String, Param)],
    grads: &Gradients,
    weight: f64,
) {
    let w = T::of(weight);
    // A strided gradient is copied once, not once per piece.
    let mut strided: Option<(usize, Vec<T>)> = None;
    for (k, piece) in pieces.iter().enumerate() {
        let out = &mut data[piece.at..piece.at + piece.len];
        let grad = grads.param(&params[piece.param].1).filter(|_| weight > 0.0);
        let present = match grad {
            None => {
                out.fill(T::default());
                false
            }
            Some(g) => {
                let values = match g.as_slice::<T>() {
                    Some(s) => s,
                    None => {
                        if !matches!(&strided, Some((p, _)) if *p == piece.param) {
                            strided = Some((piece.param, g.to_vec::<T>()));
                        }
                        strided.as_ref().map_or(&[][..], |(_, v)| v.as_slice())
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
    data[elements + pieces.len()] = w;
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
