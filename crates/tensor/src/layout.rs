//! Shapes, strides and the arithmetic of views.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};

/// A tensor shape: inline up to rank 6, so ordinary shapes never touch the heap.
pub type Shape = SmallVec<[usize; 6]>;

/// Strides in elements (not bytes), one per dimension.
pub type Strides = SmallVec<[usize; 6]>;

/// Builds a [`Shape`] from anything that lists dimensions.
pub fn shape(dims: &[usize]) -> Shape {
    Shape::from_slice(dims)
}

/// Where a tensor's elements live in its storage: shape, strides and starting offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub(crate) shape: Shape,
    pub(crate) strides: Strides,
    pub(crate) offset: usize,
}

impl Layout {
    /// A row-major contiguous layout starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout { shape: Shape::from_slice(shape), strides: contiguous_strides(shape), offset: 0 }
    }

    /// Makes this layout [`contiguous`](Self::contiguous) over `shape`, in place (a recycled
    /// tensor header's layout is rewritten, not rebuilt and moved in).
    pub(crate) fn set_contiguous(&mut self, shape: &[usize]) {
        // A recycled header usually held a tensor of the same shape. (Compared and copied
        // element by element: calls to `memcmp` and `memcpy` cost more than a few dimensions.)
        if !same_shape(&self.shape, shape) {
            self.shape.clear();
            for &d in shape {
                self.shape.push(d);
            }
        }
        write_contiguous_strides(shape, &mut self.strides);
        self.offset = 0;
    }

    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    #[inline]
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    #[inline]
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    #[inline]
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Row-major contiguous (size-1 dimensions may have any stride).
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// The storage range `[offset, offset + numel)` when the layout is contiguous.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        self.is_contiguous().then(|| self.offset..self.offset + self.numel())
    }

    /// One past the largest storage index this layout touches (0 when empty); `None` if that
    /// overflows (a layout no buffer can hold).
    pub fn checked_storage_extent(&self) -> Option<usize> {
        if self.shape.contains(&0) {
            return Some(0);
        }
        let mut end = self.offset;
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            end = end.checked_add((d - 1).checked_mul(s)?)?;
        }
        end.checked_add(1)
    }

    /// One past the largest storage index this layout touches (0 when empty; saturating).
    pub fn storage_extent(&self) -> usize {
        self.checked_storage_extent().unwrap_or(usize::MAX)
    }
}

/// The element count of `shape`, or [`TensorError::TooLarge`] when it overflows `usize`: every
/// shape a user's numbers produce goes through here before a tensor of it exists.
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| TensorError::TooLarge { op, shape: shape.to_vec() })
}

/// Row-major strides for `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Strides {
    let mut strides = Strides::new();
    write_contiguous_strides(shape, &mut strides);
    strides
}

/// Overwrites `strides` with the row-major strides of `shape`.
fn write_contiguous_strides(shape: &[usize], strides: &mut Strides) {
    if strides.len() != shape.len() {
        strides.clear();
        for _ in shape {
            strides.push(0);
        }
    }
    let mut acc = 1;
    for (stride, &d) in strides.iter_mut().zip(shape).rev() {
        *stride = acc;
        acc *= d;
    }
}

/// Resolves a possibly negative axis against `rank` (`-1` is the last axis).
pub fn normalize_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize;
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 0 || a >= rank {
        return Err(TensorError::AxisOutOfRange { op, axis, shape: shape.to_vec() });
    }
    Ok(a as usize)
}

/// Like [`normalize_axis`] but for an insertion position (`0..=rank`), as `unsqueeze` takes.
pub fn normalize_insert_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize + 1;
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 0 || a >= rank {
        return Err(TensorError::AxisOutOfRange { op, axis, shape: shape.to_vec() });
    }
    Ok(a as usize)
}

/// Resolves a set of axes; duplicates are an error. An empty list means "all axes".
pub fn normalize_axes(op: &'static str, axes: &[isize], shape: &[usize]) -> Result<SmallVec<[usize; 6]>> {
    if axes.is_empty() {
        return Ok((0..shape.len()).collect());
    }
    let mut out: SmallVec<[usize; 6]> = SmallVec::new();
    for &a in axes {
        let n = normalize_axis(op, a, shape)?;
        if out.contains(&n) {
            return Err(TensorError::DuplicateAxis { op, axis: n, axes: axes.to_vec() });
        }
        out.push(n);
    }
    out.sort_unstable();
    Ok(out)
}

/// Whether two shapes are equal, compared inline: `==` on slices calls `memcmp`, which costs
/// more than the comparison for the few dimensions a shape has (it showed in the per-node
/// overhead of small compiled programs).
#[inline(always)]
pub fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(true, |same, (x, y)| same & (x == y))
}

/// NumPy broadcasting: align trailing dimensions; each pair must be equal or contain a 1.
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Shape> {
    let rank = lhs.len().max(rhs.len());
    let mut out: Shape = smallvec::smallvec![0; rank];
    for i in 0..rank {
        let l = if i < rank - lhs.len() { 1 } else { lhs[i - (rank - lhs.len())] };
        let r = if i < rank - rhs.len() { 1 } else { rhs[i - (rank - rhs.len())] };
        out[i] = if l == r || r == 1 {
            l
        } else if l == 1 {
            r
        } else {
            return Err(TensorError::Broadcast { op, lhs: lhs.to_vec(), rhs: rhs.to_vec() });
        };
    }
    checked_numel(op, &out)?;
    Ok(out)
}

impl Layout {
    /// Strides that read this layout as if it had shape `target` (stride 0 on broadcast axes).
    pub fn broadcast_strides(&self, op: &'static str, target: &[usize]) -> Result<Strides> {
        checked_numel(op, target)?;
        let rank = target.len();
        if self.rank() > rank {
            return Err(TensorError::Broadcast { op, lhs: self.shape.to_vec(), rhs: target.to_vec() });
        }
        let lead = rank - self.rank();
        let mut strides: Strides = smallvec::smallvec![0; rank];
        for i in 0..self.rank() {
            let (d, t) = (self.shape[i], target[lead + i]);
            if d == t {
                strides[lead + i] = if d == 1 { 0 } else { self.strides[i] };
            } else if d == 1 {
                strides[lead + i] = 0;
            } else {
                return Err(TensorError::Broadcast { op, lhs: self.shape.to_vec(), rhs: target.to_vec() });
            }
        }
        Ok(strides)
    }

    /// Strides for viewing this layout with a new shape of the same size, without copying,
    /// when the memory allows it (torch's `view` rule); `None` when a copy is needed.
    pub fn view_strides(&self, new_shape: &[usize]) -> Option<Strides> {
        if self.is_contiguous() {
            return Some(contiguous_strides(new_shape));
        }
        if self.numel() == 0 {
            return Some(contiguous_strides(new_shape));
        }
        // Walk old dims from the back, grouping runs that are contiguous among themselves;
        // each group must map onto a run of new dims with the same element count.
        let mut new_strides: Strides = smallvec::smallvec![0; new_shape.len()];
        let old: Vec<(usize, usize)> =
            self.shape.iter().zip(&self.strides).filter(|(&d, _)| d != 1).map(|(&d, &s)| (d, s)).collect();
        let mut view_d = new_shape.len() as isize - 1;
        let mut chunk_base_stride = old.last().map(|&(_, s)| s).unwrap_or(1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for i in (0..old.len()).rev() {
            tensor_numel *= old[i].0;
            let boundary = i == 0 || old[i - 1].1 != tensor_numel * chunk_base_stride;
            if boundary {
                while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= new_shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if i > 0 {
                    chunk_base_stride = old[i - 1].1;
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        while view_d >= 0 {
            // Remaining new dims must all be 1.
            if new_shape[view_d as usize] != 1 {
                return None;
            }
            new_strides[view_d as usize] = 1;
            view_d -= 1;
        }
        Some(new_strides)
    }
}

/// Merges adjacent dimensions that are contiguous with each other in every operand and drops
/// size-1 dimensions, so strided loops run over as few, as long, dimensions as possible.
pub(crate) fn collapse<const N: usize>(shape: &[usize], strides: [&[usize]; N]) -> (Shape, [Strides; N]) {
    let mut out_shape = Shape::new();
    let mut out_strides: [Strides; N] = std::array::from_fn(|_| Strides::new());
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let merge = match out_shape.last() {
            Some(_) => {
                let last = out_shape.len() - 1;
                (0..N).all(|k| out_strides[k][last] == strides[k][d] * shape[d])
            }
            None => false,
        };
        if merge {
            let last = out_shape.len() - 1;
            out_shape[last] *= shape[d];
            for k in 0..N {
                out_strides[k][last] = strides[k][d];
            }
        } else {
            out_shape.push(shape[d]);
            for k in 0..N {
                out_strides[k].push(strides[k][d]);
            }
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for s in out_strides.iter_mut() {
            s.push(0);
        }
    }
    (out_shape, out_strides)
}

/// Visits the row-major positions `[start, start + len)` of `shape` in runs along the last
/// dimension. For each run, `f(pos, offsets, run_len, inner_strides)` gets the linear position
/// of the run's first element, the storage offset of that element in each operand, the run's
/// length and each operand's stride along the run.
///
/// Callers collapse the shape first (see [`collapse`]) so runs are long.
pub(crate) fn for_each_run<const N: usize>(
    shape: &[usize],
    strides: &[Strides; N],
    base: [usize; N],
    start: usize,
    len: usize,
    mut f: impl FnMut(usize, [usize; N], usize, [usize; N]),
) {
    if len == 0 {
        return;
    }
    let rank = shape.len();
    let inner = shape[rank - 1];
    let inner_strides: [usize; N] = std::array::from_fn(|k| strides[k][rank - 1]);
    // Multi-index of `start`.
    let mut idx: SmallVec<[usize; 6]> = smallvec::smallvec![0; rank];
    let mut rem = start;
    for d in (0..rank).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
    }
    let mut offsets: [usize; N] =
        std::array::from_fn(|k| base[k] + (0..rank).map(|d| idx[d] * strides[k][d]).sum::<usize>());
    let mut pos = start;
    let end = start + len;
    while pos < end {
        let run = (inner - idx[rank - 1]).min(end - pos);
        f(pos, offsets, run, inner_strides);
        pos += run;
        if pos >= end {
            break;
        }
        // Advance the multi-index past the run.
        for k in 0..N {
            offsets[k] += run * inner_strides[k];
        }
        idx[rank - 1] += run;
        let mut d = rank - 1;
        while idx[d] == shape[d] && d > 0 {
            for k in 0..N {
                offsets[k] -= shape[d] * strides[k][d];
            }
            idx[d] = 0;
            d -= 1;
            idx[d] += 1;
            for k in 0..N {
                offsets[k] += strides[k][d];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes("t", &[3, 1], &[4]).unwrap().as_slice(), &[3, 4]);
        assert_eq!(broadcast_shapes("t", &[], &[2, 2]).unwrap().as_slice(), &[2, 2]);
        let e = broadcast_shapes("add", &[3, 2], &[4]).unwrap_err();
        assert_eq!(e.to_string(), "add: cannot broadcast shapes [3, 2] and [4]");
    }

    #[test]
    fn view_strides_of_transposed() {
        // [2,3] transposed -> [3,2] strides [1,3]; flattening needs a copy.
        let l = Layout { shape: shape(&[3, 2]), strides: Strides::from_slice(&[1, 3]), offset: 0 };
        assert!(l.view_strides(&[6]).is_none());
        assert_eq!(l.view_strides(&[3, 2, 1]).unwrap().as_slice()[..2], [1, 3]);
        // A sliced row-major [4,6] -> [4,3] (stride 6,1) can split the 3 but not merge rows.
        let l = Layout { shape: shape(&[4, 3]), strides: Strides::from_slice(&[6, 1]), offset: 0 };
        assert_eq!(l.view_strides(&[2, 2, 3]).unwrap().as_slice(), &[12, 6, 1]);
        assert!(l.view_strides(&[12]).is_none());
    }

    #[test]
    fn runs_cover_range() {
        let shape = [2usize, 3];
        let strides = [Strides::from_slice(&[1, 2])];
        let mut seen = vec![];
        for_each_run(&shape, &strides, [0], 1, 4, |pos, [o], run, [s]| {
            for i in 0..run {
                seen.push((pos + i, o + i * s));
            }
        });
        assert_eq!(seen, vec![(1, 2), (2, 4), (3, 1), (4, 3)]);
    }
}
