//! Sliding-window ops: conv2d, max_pool2d and avg_pool2d, their parameters as the fuzzer draws
//! them, and the naive reference of each (one loop per output element, as the torch docs
//! define it). Inputs of rank below 4 are lifted to `[1, .., 1, ...]` by leading size-1 axes,
//! on the library's side and the reference's alike, so the rank 0-3 programs reach these ops.

use tensor::{Conv2dParams, DType};

use crate::program::values;
use crate::reference::Nd;

/// A convolution: `cout` output channels, a `kernel` (a 0 is an empty kernel, refused), the
/// window parameters, and whether a bias is added; the weight's values come from `seed`.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub cout: usize,
    pub kernel: [usize; 2],
    pub params: Conv2dParams,
    pub bias: bool,
    pub seed: u64,
}

/// A pooling window: `kernel`, `stride`, `padding` (refused past half the kernel).
#[derive(Clone, Copy, Debug)]
pub struct PoolSpec {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

/// How many leading size-1 axes lift a rank-`rank` value to rank 4 (none past 4: refused).
pub fn lift(rank: usize) -> usize {
    4usize.saturating_sub(rank)
}

impl ConvSpec {
    /// The weight `[cout, C / groups, kH, kW]` for an input of `channels` channels (a `groups`
    /// that does not divide `C` makes a weight the op must refuse).
    pub fn weight(&self, channels: usize, dtype: DType) -> Nd {
        let per_group = channels / self.params.groups.max(1);
        values(&[self.cout, per_group, self.kernel[0], self.kernel[1]], dtype, self.seed)
    }

    pub fn bias_values(&self, dtype: DType) -> Option<Nd> {
        self.bias.then(|| values(&[self.cout], dtype, self.seed ^ 7))
    }

    /// `y[n, o, i, j] = b[o] + sum_{c, ki, kj} x[n, g*C_g + c, i*s - p + ki*d, j*s - p + kj*d]
    /// * w[o, c, ki, kj]` over the input channels of `o`'s group `g`, zero outside the input.
    pub fn reference(&self, x: &Nd) -> Option<Nd> {
        let x = lifted(x)?;
        if !x.is_float() {
            return None;
        }
        let Conv2dParams { stride, padding, dilation, groups } = self.params;
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        if stride.contains(&0) || dilation.contains(&0) || groups == 0 || self.kernel.contains(&0) {
            return None;
        }
        if !c.is_multiple_of(groups) || !self.cout.is_multiple_of(groups) {
            return None;
        }
        let weight = self.weight(c, x.dtype);
        let out = |size: usize, d: usize| {
            let reach = dilation[d] * (self.kernel[d] - 1) + 1;
            (size + 2 * padding[d] >= reach).then(|| (size + 2 * padding[d] - reach) / stride[d] + 1)
        };
        let (ho, wo) = (out(h, 0)?, out(w, 1)?);
        let bias = self.bias_values(x.dtype);
        let (cg, og) = (c / groups, self.cout / groups);
        Some(Nd::new(&[n, self.cout, ho, wo], x.dtype, |i| {
            let (b, o, oy, ox) = (i[0], i[1], i[2], i[3]);
            let g = o / og;
            let mut acc = bias.as_ref().map_or(0.0, |bv| bv.data[o]);
            for ci in 0..cg {
                for ky in 0..self.kernel[0] {
                    for kx in 0..self.kernel[1] {
                        let iy = (oy * stride[0] + ky * dilation[0]) as isize - padding[0] as isize;
                        let ix = (ox * stride[1] + kx * dilation[1]) as isize - padding[1] as isize;
                        if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                            let v = x.get(&[b, g * cg + ci, iy as usize, ix as usize]);
                            acc += v * weight.get(&[o, ci, ky, kx]);
                        }
                    }
                }
            }
            acc
        }))
    }
}

impl PoolSpec {
    /// Every output's window: the in-bounds input positions, row-major, and the window's full
    /// size clipped to the padded input (torch's `count_include_pad` divisor). `None` where the
    /// op must refuse.
    fn windows(&self, x: &Nd) -> Option<(Nd, [usize; 2])> {
        let x = lifted(x)?;
        if !x.is_float() || self.kernel.contains(&0) || self.stride.contains(&0) {
            return None;
        }
        if (0..2).any(|d| self.padding[d] > self.kernel[d] / 2) {
            return None;
        }
        let (h, w) = (x.shape[2], x.shape[3]);
        let out = |size: usize, d: usize| {
            let padded = size + 2 * self.padding[d];
            (padded >= self.kernel[d]).then(|| (padded - self.kernel[d]) / self.stride[d] + 1)
        };
        Some((x.clone(), [out(h, 0)?, out(w, 1)?]))
    }

    /// The window of output `(oy, ox)` along axis `d`: `[start, end)` in padded coordinates.
    fn span(&self, d: usize, o: usize) -> (isize, isize) {
        let start = (o * self.stride[d]) as isize - self.padding[d] as isize;
        (start, start + self.kernel[d] as isize)
    }

    /// The maximum of each window's in-bounds elements, the first one winning ties and any
    /// NaN winning (torch's rule); `-inf` for a window with none.
    pub fn max_reference(&self, x: &Nd) -> Option<Nd> {
        let (x, [ho, wo]) = self.windows(x)?;
        let (h, w) = (x.shape[2] as isize, x.shape[3] as isize);
        Some(Nd::new(&[x.shape[0], x.shape[1], ho, wo], x.dtype, |i| {
            let ((y0, y1), (x0, x1)) = (self.span(0, i[2]), self.span(1, i[3]));
            let mut best = f64::NEG_INFINITY;
            for iy in y0.max(0)..y1.min(h) {
                for ix in x0.max(0)..x1.min(w) {
                    let v = x.get(&[i[0], i[1], iy as usize, ix as usize]);
                    if v > best || v.is_nan() {
                        best = v;
                    }
                }
            }
            best
        }))
    }

    /// The sum of each window's in-bounds elements over its size: the kernel's area clipped to
    /// the padded input (`count_include_pad`) or the number of in-bounds elements.
    pub fn avg_reference(&self, x: &Nd, count_include_pad: bool) -> Option<Nd> {
        let (x, [ho, wo]) = self.windows(x)?;
        let (h, w) = (x.shape[2] as isize, x.shape[3] as isize);
        let (ph, pw) = (self.padding[0] as isize, self.padding[1] as isize);
        Some(Nd::new(&[x.shape[0], x.shape[1], ho, wo], x.dtype, |i| {
            let ((y0, y1), (x0, x1)) = (self.span(0, i[2]), self.span(1, i[3]));
            let mut sum = 0.0;
            let mut inside = 0;
            for iy in y0.max(0)..y1.min(h) {
                for ix in x0.max(0)..x1.min(w) {
                    sum += x.get(&[i[0], i[1], iy as usize, ix as usize]);
                    inside += 1;
                }
            }
            let padded = (y1.min(h + ph) - y0.max(-ph)) * (x1.min(w + pw) - x0.max(-pw));
            sum / if count_include_pad { padded as f64 } else { inside as f64 }
        }))
    }
}

/// `x` with leading size-1 axes up to rank 4; `None` past rank 4.
fn lifted(x: &Nd) -> Option<Nd> {
    if x.shape.len() > 4 {
        return None;
    }
    let shape: Vec<usize> = std::iter::repeat_n(1, lift(x.shape.len())).chain(x.shape.iter().copied()).collect();
    Some(x.with_shape(&shape))
}
