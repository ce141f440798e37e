//! What each op must give: the reference's result for an op, `None` where the library must
//! refuse it. Each arm states the op's dtype rule and its refusals as the library documents
//! them (and torch behaves).

use tensor::DType;

use crate::program::{
    class_ids, gather_index, loss_target, operand, scatter_src, values, BinaryOp, Loss, OpSpec, Reduction, ScalarOp,
    Unary,
};
use crate::reference::{axis, numel, round, Nd};

impl OpSpec {
    pub fn reference(&self, x: &Nd) -> Option<Nd> {
        let rank = x.shape.len();
        match self {
            OpSpec::Unary(u) => match u {
                Unary::Neg => x.numeric_map(|v| -v),
                Unary::Abs => x.numeric_map(f64::abs),
                Unary::Square => x.numeric_map(|v| v * v),
                Unary::Exp => x.float_map(f64::exp),
                Unary::Tanh => x.float_map(f64::tanh),
                Unary::Sigmoid => x.float_map(|v| 1.0 / (1.0 + (-v).exp())),
                Unary::Relu => x.float_map(|v| if v <= 0.0 { 0.0 } else { v }),
                Unary::Sqrt => x.float_map(f64::sqrt),
                Unary::Log => x.float_map(f64::ln),
                Unary::Sign => x.numeric_map(|v| {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        v
                    }
                }),
                Unary::Sin => x.float_map(f64::sin),
                Unary::Cos => x.float_map(f64::cos),
                Unary::Log1p => x.float_map(f64::ln_1p),
                Unary::Expm1 => x.float_map(f64::exp_m1),
                Unary::Rsqrt => x.float_map(|v| 1.0 / v.sqrt()),
                Unary::Recip => x.float_map(|v| 1.0 / v),
                Unary::Floor => x.float_map(f64::floor),
                Unary::Ceil => x.float_map(f64::ceil),
                Unary::Round => x.float_map(f64::round_ties_even),
                Unary::Silu => x.float_map(|v| v / (1.0 + (-v).exp())),
                Unary::Softplus => x.float_map(|v| if v > 20.0 { v } else { v.exp().ln_1p() }),
            },
            OpSpec::Scalar(..) if !x.is_numeric() => None,
            OpSpec::Scalar(op, s) => match op {
                ScalarOp::Add => x.scalar(*s, |a, b| a + b),
                ScalarOp::Sub => x.scalar(*s, |a, b| a - b),
                ScalarOp::Mul => x.scalar(*s, |a, b| a * b),
            },
            OpSpec::Binary(op, rel, seed) => {
                let y = operand(*rel, *seed, &x.shape, x.dtype);
                match op {
                    BinaryOp::Div if x.is_float() => x.broadcast(&y, |a, b| a / b),
                    BinaryOp::Div => None,
                    _ if !x.is_numeric() && !matches!(op, BinaryOp::Lt | BinaryOp::Eq | BinaryOp::Ge) => None,
                    BinaryOp::Add => x.broadcast(&y, |a, b| a + b),
                    BinaryOp::Sub => x.broadcast(&y, |a, b| a - b),
                    BinaryOp::Mul => x.broadcast(&y, |a, b| a * b),
                    BinaryOp::Maximum => {
                        x.broadcast(&y, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) })
                    }
                    BinaryOp::Minimum => {
                        x.broadcast(&y, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) })
                    }
                    BinaryOp::Pow if x.is_float() => x.broadcast(&y, f64::powf),
                    BinaryOp::Pow => None,
                    BinaryOp::Lt => x.broadcast(&y, |a, b| (a < b) as u8 as f64).map(|r| r.as_dtype(DType::Bool)),
                    BinaryOp::Eq => x.broadcast(&y, |a, b| (a == b) as u8 as f64).map(|r| r.as_dtype(DType::Bool)),
                    BinaryOp::Ge => x.broadcast(&y, |a, b| (a >= b) as u8 as f64).map(|r| r.as_dtype(DType::Bool)),
                }
            }
            OpSpec::Reduce(Reduction::Sum, axes, keepdim) if x.dtype == DType::Bool => {
                x.as_dtype(DType::I64).reduce(axes, *keepdim, false, |v| Some(v.iter().sum()))?
            }
            OpSpec::Reduce(Reduction::Max | Reduction::Min | Reduction::Prod, ..) if !x.is_numeric() => None,
            OpSpec::Reduce(kind, axes, keepdim) => match kind {
                Reduction::Min => x.reduce(axes, *keepdim, true, |v| {
                    let first = *v.first()?;
                    Some(v.iter().fold(first, |m, &a| if m.is_nan() || a.is_nan() { f64::NAN } else { m.min(a) }))
                })?,
                Reduction::Prod => x.reduce(axes, *keepdim, false, |v| Some(v.iter().product()))?,
                Reduction::LogSumExp if x.is_float() => x.reduce(axes, *keepdim, true, |v| {
                    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let m = if m.is_infinite() { 0.0 } else { m };
                    Some(m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln())
                })?,
                Reduction::LogSumExp => None,
                Reduction::Sum => x.reduce(axes, *keepdim, false, |v| Some(v.iter().sum()))?,
                Reduction::Mean if x.is_float() => {
                    x.reduce(axes, *keepdim, false, |v| Some(v.iter().sum::<f64>() / v.len() as f64))?
                }
                Reduction::Mean => None,
                Reduction::Max => x.reduce(axes, *keepdim, true, |v| {
                    let first = *v.first()?;
                    Some(v.iter().fold(first, |m, &a| if m.is_nan() || a.is_nan() { f64::NAN } else { m.max(a) }))
                })?,
            },
            OpSpec::Transpose(a, b) => {
                let (a, b) = (axis(*a, rank)?, axis(*b, rank)?);
                let mut perm: Vec<usize> = (0..rank).collect();
                perm.swap(a, b);
                Some(x.permute(&perm))
            }
            OpSpec::Permute(axes) => {
                if axes.len() != rank {
                    return None;
                }
                let perm: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<Option<_>>()?;
                let mut seen = perm.clone();
                seen.sort_unstable();
                seen.dedup();
                (seen.len() == rank).then(|| x.permute(&perm))
            }
            OpSpec::Unsqueeze(a) => {
                let a = axis(*a, rank + 1)?;
                let mut shape = x.shape.clone();
                shape.insert(a, 1);
                Some(x.with_shape(&shape))
            }
            OpSpec::Reshape(to) => {
                let n = numel(&x.shape);
                if to.iter().filter(|&&d| d == -1).count() > 1 || to.iter().any(|&d| d < -1) {
                    return None;
                }
                let known: usize = to.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
                let mut shape: Vec<usize> = to.iter().map(|&d| d.max(0) as usize).collect();
                if let Some(i) = to.iter().position(|&d| d == -1) {
                    if known == 0 || !n.is_multiple_of(known) {
                        return None;
                    }
                    shape[i] = n / known;
                }
                (numel(&shape) == n).then(|| x.with_shape(&shape))
            }
            OpSpec::Narrow(a, start, len) => {
                let a = axis(*a, rank)?;
                (start + len <= x.shape[a]).then(|| x.narrow(a, *start, *len))
            }
            OpSpec::Softmax(a) => {
                let a = axis(*a, rank)?;
                x.is_float().then(|| x.softmax(a))
            }
            OpSpec::Matmul(n, k_off, seed) => {
                let k = x.shape.last().copied().unwrap_or(0) + k_off;
                x.matmul(&values(&[k, *n], x.dtype, *seed))
            }
            OpSpec::CatSelf(a) => {
                let a = axis(*a, rank)?;
                Some(x.cat(x, a))
            }
            OpSpec::IndexSelect(a, ids) => {
                let a = axis(*a, rank)?;
                let size = x.shape[a] as i64;
                let ids: Vec<usize> =
                    ids.iter().map(|&i| (0..size).contains(&i).then_some(i as usize)).collect::<Option<_>>()?;
                Some(x.index_select(a, &ids))
            }
            OpSpec::ToDtype(d) => Some(Nd::new(&x.shape, *d, |i| x.get(i))),
            OpSpec::Cumsum(a) => {
                let a = axis(*a, rank)?;
                let x = if x.dtype == DType::Bool { x.as_dtype(DType::I64) } else { x.clone() };
                Some(Nd::new(&x.shape, x.dtype, |i| {
                    let mut j = i.to_vec();
                    (0..=i[a])
                        .map(|k| {
                            j[a] = k;
                            x.get(&j)
                        })
                        .sum()
                }))
            }
            OpSpec::LogSoftmax(a) => {
                let a = axis(*a, rank)?;
                x.is_float().then(|| x.log_softmax(a))
            }
            OpSpec::Flatten(s, e) => {
                if rank == 0 {
                    return Some(x.with_shape(&[1]));
                }
                let (s, e) = (axis(*s, rank)?, axis(*e, rank)?);
                if s > e {
                    return None;
                }
                let shape: Vec<usize> = [&x.shape[..s], &[numel(&x.shape[s..=e])][..], &x.shape[e + 1..]].concat();
                Some(x.with_shape(&shape))
            }
            OpSpec::Squeeze(a) => {
                let a = axis(*a, rank)?;
                let mut shape = x.shape.clone();
                (shape.remove(a) == 1).then(|| x.with_shape(&shape))
            }
            OpSpec::Slice(a, start, end, step) => {
                let a = axis(*a, rank)?;
                if *step == 0 {
                    return None;
                }
                let size = x.shape[a] as isize;
                let clamp = |i: isize| if i < 0 { (i + size).max(0) } else { i.min(size) } as usize;
                let (s, e) = (clamp(*start), clamp(*end));
                let ids: Vec<usize> = (s..e.max(s)).step_by(*step).collect();
                Some(x.index_select(a, &ids))
            }
            OpSpec::Select(a, i) => {
                let a = axis(*a, rank)?;
                if *i >= x.shape[a] {
                    return None;
                }
                let picked = x.narrow(a, *i, 1);
                let mut shape = x.shape.clone();
                shape.remove(a);
                Some(picked.with_shape(&shape))
            }
            OpSpec::Clamp(lo, hi) => {
                if lo > hi
                    || !x.is_numeric()
                    || (!x.is_float() && [lo, hi].iter().any(|b| b.is_finite() && b.fract() != 0.0))
                {
                    return None;
                }
                Some(x.map(|v| {
                    if v < *lo {
                        *lo
                    } else if v > *hi {
                        *hi
                    } else {
                        v
                    }
                }))
            }
            OpSpec::Argmax(a, keepdim) => {
                let a = axis(*a, rank)?;
                if !x.is_numeric() || x.shape[a] == 0 {
                    return None;
                }
                let mut shape = x.shape.clone();
                shape[a] = 1;
                let out = Nd::new(&shape, DType::I64, |i| {
                    let mut j = i.to_vec();
                    let mut best = 0;
                    for k in 0..x.shape[a] {
                        j[a] = k;
                        let v = x.get(&j);
                        j[a] = best;
                        let b = x.get(&j);
                        if !b.is_nan() && (v.is_nan() || v > b) {
                            best = k;
                        }
                    }
                    best as f64
                });
                if !*keepdim {
                    shape.remove(a);
                }
                Some(out.with_shape(&shape))
            }
            OpSpec::Std(axes, correction, keepdim) => {
                if !x.is_float() {
                    return None;
                }
                x.reduce(axes, *keepdim, false, |v| {
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    let ss: f64 = v.iter().map(|a| (a - mean) * (a - mean)).sum();
                    Some((ss / v.len().saturating_sub(*correction) as f64).sqrt())
                })?
            }
            OpSpec::Norm(p, axes, keepdim) => {
                if !x.is_float() {
                    return None;
                }
                x.reduce(axes, *keepdim, false, |v| {
                    Some(if p.is_infinite() {
                        v.iter().fold(0.0, |m: f64, a| if m.is_nan() || a.is_nan() { f64::NAN } else { m.max(a.abs()) })
                    } else {
                        v.iter().map(|a| a.abs().powf(*p)).sum::<f64>().powf(1.0 / p)
                    })
                })?
            }
            OpSpec::Gather(a, len, shrink, seed) => {
                let a = axis(*a, rank)?;
                let index = gather_index(&x.shape, a, *len, *shrink, *seed);
                let size = x.shape[a] as f64;
                if index.data.iter().any(|&i| i < 0.0 || i >= size) {
                    return None;
                }
                Some(Nd::new(&index.shape, x.dtype, |i| {
                    let mut j = i.to_vec();
                    j[a] = index.get(i) as usize;
                    x.get(&j)
                }))
            }
            OpSpec::Repeat(reps) => {
                if reps.len() < rank {
                    return None;
                }
                let lead = reps.len() - rank;
                let shape: Vec<usize> =
                    reps.iter().enumerate().map(|(d, &r)| r * if d < lead { 1 } else { x.shape[d - lead] }).collect();
                Some(Nd::new(&shape, x.dtype, |i| {
                    let j: Vec<usize> = (0..rank).map(|d| i[lead + d] % x.shape[d]).collect();
                    x.get(&j)
                }))
            }
            OpSpec::Pad(pads, value) => {
                if pads.len() != rank || round(x.dtype, *value) != *value {
                    return None;
                }
                let shape: Vec<usize> = x.shape.iter().zip(pads).map(|(&d, &(b, e))| d + b + e).collect();
                Some(Nd::new(&shape, x.dtype, |i| {
                    let inside = i.iter().zip(pads).zip(&x.shape).all(|((&k, &(b, _)), &d)| k >= b && k < b + d);
                    if inside {
                        x.get(&i.iter().zip(pads).map(|(&k, &(b, _))| k - b).collect::<Vec<_>>())
                    } else {
                        *value
                    }
                }))
            }
            OpSpec::Expand(to) => {
                let lead = to.len().checked_sub(rank)?;
                let mut shape = Vec::new();
                for (i, &d) in to.iter().enumerate() {
                    shape.push(match d {
                        -1 if i >= lead => x.shape[i - lead],
                        d if d >= 0 => d as usize,
                        _ => return None,
                    });
                }
                if (0..rank).any(|d| x.shape[d] != shape[lead + d] && x.shape[d] != 1) {
                    return None;
                }
                Some(Nd::new(&shape, x.dtype, |i| {
                    let j: Vec<usize> = (0..rank).map(|d| if x.shape[d] == 1 { 0 } else { i[lead + d] }).collect();
                    x.get(&j)
                }))
            }
            OpSpec::OneHot(classes) => {
                if x.dtype != DType::I64 || x.data.iter().any(|&v| v < 0.0 || v >= *classes as f64) {
                    return None;
                }
                let shape = [&x.shape[..], &[*classes]].concat();
                Some(Nd::new(&shape, DType::F64, |i| (x.get(&i[..rank]) == i[rank] as f64) as u8 as f64))
            }
            OpSpec::MaskedFill(rel, seed, value) => {
                let m = operand(*rel, *seed, &x.shape, DType::F64);
                let spread = x.as_dtype(DType::F64).broadcast(&m, |_, c| c)?;
                if spread.shape != x.shape || round(x.dtype, *value) != *value {
                    return None;
                }
                Some(Nd::new(&x.shape, x.dtype, |i| if spread.get(i) > 0.0 { *value } else { x.get(i) }))
            }
            OpSpec::StackSelf(a) => {
                let a = axis(*a, rank + 1)?;
                let mut one = x.shape.clone();
                one.insert(a, 1);
                let x1 = x.with_shape(&one);
                Some(x1.cat(&x1, a))
            }
            OpSpec::WhereCond(rel, seed) => {
                let m = operand(*rel, *seed, &x.shape, DType::F64);
                let y = values(&x.shape, x.dtype, seed ^ 1);
                // where(m > 0, x, y) broadcast over the three shapes.
                let picked = m.as_dtype(x.dtype).broadcast(x, |_, a| a)?;
                let cond = m.broadcast(&picked.as_dtype(DType::F64), |c, _| c)?;
                let other = picked.broadcast(&y, |_, b| b)?;
                let cond = cond.broadcast(&other.as_dtype(DType::F64), |c, _| c)?;
                let picked = picked.broadcast(&other, |a, _| a)?;
                Some(Nd::new(&picked.shape, x.dtype, |i| if cond.get(i) > 0.0 { picked.get(i) } else { other.get(i) }))
            }
            OpSpec::Conv2d(c) => c.reference(x),
            OpSpec::MaxPool2d(p) => p.max_reference(x),
            OpSpec::AvgPool2d(p, include_pad) => p.avg_reference(x, *include_pad),
            OpSpec::ScatterAdd(a, len, shrink, seed) => {
                let a = axis(*a, rank)?;
                let index = gather_index(&x.shape, a, *len, *shrink, *seed);
                if !x.is_numeric() || index.data.iter().any(|&i| i >= x.shape[a] as f64) {
                    return None;
                }
                let src = scatter_src(&index, x.dtype, *seed);
                let mut out = x.clone();
                for (flat, &to) in index.data.iter().enumerate() {
                    let mut at = crate::reference::unravel(flat, &index.shape);
                    at[a] = to as usize;
                    let k = crate::reference::ravel(&at, &x.shape);
                    out.data[k] = round(x.dtype, out.data[k] + src.data[flat]);
                }
                Some(out)
            }
            OpSpec::Split(size, a, last) => piece(x, *size, axis(*a, rank)?, *last),
            OpSpec::Chunk(chunks, a, last) => {
                let a = axis(*a, rank)?;
                if *chunks == 0 {
                    return None;
                }
                piece(x, x.shape[a].div_ceil(*chunks).max(1), a, *last)
            }
            OpSpec::CrossEntropy(seed) => {
                if rank != 2 || !x.is_float() {
                    return None;
                }
                let ids = class_ids(&x.shape, *seed);
                let (n, c) = (x.shape[0], x.shape[1]);
                if ids.data.iter().any(|&t| t >= c as f64) {
                    return None;
                }
                let rows = x.log_softmax(1);
                let total: f64 = (0..n).map(|r| -rows.get(&[r, ids.data[r] as usize])).sum();
                Some(Nd::new(&[], x.dtype, |_| total / n as f64))
            }
            OpSpec::Loss(kind, reduction, rel, seed) => {
                let t = loss_target(*kind, *rel, *seed, &x.shape, x.dtype);
                if t.shape != x.shape || t.dtype != x.dtype || !x.is_numeric() {
                    return None;
                }
                // Integer inputs get as far as their ops allow: no relu, no halving, no mean.
                let integer = !x.is_float();
                if integer && (matches!(kind, Loss::Huber | Loss::BceWithLogits) || *reduction == nn::Reduction::Mean) {
                    return None;
                }
                let each = Nd::new(&x.shape, x.dtype, |i| {
                    let (v, y) = (x.get(i), t.get(i));
                    match kind {
                        Loss::Mse => (v - y) * (v - y),
                        Loss::L1 => (v - y).abs(),
                        Loss::Huber if (v - y).abs() < 1.0 => 0.5 * (v - y) * (v - y),
                        Loss::Huber => (v - y).abs() - 0.5,
                        Loss::BceWithLogits => v.max(0.0) - v * y + (-v.abs()).exp().ln_1p(),
                    }
                });
                let total: f64 = each.data.iter().sum();
                match reduction {
                    nn::Reduction::None => Some(each),
                    nn::Reduction::Sum => Some(Nd::new(&[], x.dtype, |_| total)),
                    nn::Reduction::Mean => Some(Nd::new(&[], x.dtype, |_| total / each.data.len() as f64)),
                }
            }
        }
    }
}

/// The first or last piece of `x` split into pieces of `size` along `a`; `x` itself where
/// there are none (an empty axis); `None` for a zero size.
fn piece(x: &Nd, size: usize, a: usize, last: bool) -> Option<Nd> {
    let n = x.shape[a];
    if size == 0 {
        return None;
    }
    if n == 0 {
        return Some(x.clone());
    }
    let start = if last { (n - 1) / size * size } else { 0 };
    Some(x.narrow(a, start, size.min(n - start)))
}
