//! The strong-Wolfe line search of torch's L-BFGS (after minFunc's, Schmidt 2005): bracket a
//! step satisfying the sufficient-decrease and curvature conditions, then zoom in by cubic
//! interpolation.

use tensor::Tensor;

use super::{Closure, Lbfgs};
use crate::error::Result;

/// The minimiser of the cubic through `(x1, f1, g1)` and `(x2, f2, g2)`, clamped to `bounds`
/// (the interval between the points by default); the midpoint when the cubic has none.
fn cubic_interpolate(x1: f64, f1: f64, g1: f64, x2: f64, f2: f64, g2: f64, bounds: Option<(f64, f64)>) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// One end of a bracket: step, loss, gradient, directional derivative.
#[derive(Clone)]
struct Point {
    t: f64,
    f: f64,
    g: Vec<f64>,
    gtd: f64,
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const MAX_LS: usize = 25;

impl Lbfgs {
    /// Returns the loss and gradient at the accepted step, the step, and the evaluations used.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn strong_wolfe(
        &self,
        closure: &mut Closure,
        x: &[Tensor],
        t: f64,
        d: &[f64],
        f: f64,
        g: &[f64],
        gtd: f64,
    ) -> Result<(f64, Vec<f64>, f64, usize)> {
        let tolerance_change = self.config.tolerance_change;
        let d_norm = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let mut t = t;
        let (mut f_new, mut g_new) = self.directional(closure, x, t, d)?;
        let mut evals = 1;
        let mut gtd_new = self.dot(&g_new, d);
        let mut prev = Point { t: 0.0, f, g: g.to_vec(), gtd };
        let mut done = false;
        let mut ls_iter = 0;
        // Bracketing phase.
        let mut bracket: Vec<Point> = loop {
            if ls_iter >= MAX_LS {
                break vec![
                    Point { t: 0.0, f, g: g.to_vec(), gtd },
                    Point { t, f: f_new, g: g_new.clone(), gtd: gtd_new },
                ];
            }
            let here = Point { t, f: f_new, g: g_new.clone(), gtd: gtd_new };
            if f_new > f + C1 * t * gtd || (ls_iter > 1 && f_new >= prev.f) {
                break vec![prev, here];
            }
            if gtd_new.abs() <= -C2 * gtd {
                done = true;
                break vec![here];
            }
            if gtd_new >= 0.0 {
                break vec![prev, here];
            }
            let (min_step, max_step) = (t + 0.01 * (t - prev.t), t * 10.0);
            let next = cubic_interpolate(prev.t, prev.f, prev.gtd, t, f_new, gtd_new, Some((min_step, max_step)));
            prev = here;
            t = next;
            (f_new, g_new) = self.directional(closure, x, t, d)?;
            evals += 1;
            gtd_new = self.dot(&g_new, d);
            ls_iter += 1;
        };
        // Zoom phase.
        let mut insuf_progress = false;
        let order = |b: &[Point]| if b[0].f <= b[b.len() - 1].f { (0, 1) } else { (1, 0) };
        let (mut low, mut high) = order(&bracket);
        while !done && ls_iter < MAX_LS {
            if (bracket[1].t - bracket[0].t).abs() * d_norm < tolerance_change {
                break;
            }
            let (b0, b1) = (&bracket[0], &bracket[1]);
            t = cubic_interpolate(b0.t, b0.f, b0.gtd, b1.t, b1.f, b1.gtd, None);
            let (bmax, bmin) = (b0.t.max(b1.t), b0.t.min(b1.t));
            let eps = 0.1 * (bmax - bmin);
            if (bmax - t).min(t - bmin) < eps {
                if insuf_progress || t >= bmax || t <= bmin {
                    t = if (t - bmax).abs() < (t - bmin).abs() { bmax - eps } else { bmin + eps };
                    insuf_progress = false;
                } else {
                    insuf_progress = true;
                }
            } else {
                insuf_progress = false;
            }
            (f_new, g_new) = self.directional(closure, x, t, d)?;
            evals += 1;
            gtd_new = self.dot(&g_new, d);
            ls_iter += 1;
            let here = Point { t, f: f_new, g: g_new.clone(), gtd: gtd_new };
            if f_new > f + C1 * t * gtd || f_new >= bracket[low].f {
                bracket[high] = here;
                (low, high) = order(&bracket);
            } else {
                if gtd_new.abs() <= -C2 * gtd {
                    done = true;
                } else if gtd_new * (bracket[high].t - bracket[low].t) >= 0.0 {
                    bracket[high] = bracket[low].clone();
                }
                bracket[low] = here;
            }
        }
        let best = bracket.swap_remove(low);
        Ok((best.f, best.g, best.t, evals))
    }
}
