//! The example's SVG plots: the loss curves of the spiral runs, and the path each optimizer takes
//! on three 2-D surfaces whose shapes are the textbook reasons optimizers differ.
//!
//! Plotters' SVG backend needs no fonts or system libraries; the contour lines are traced here by
//! marching squares.

use backprop::prelude::*;
use plotters::prelude::*;

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// A 2-D function to descend, with where to start and what to show.
pub struct Surface {
    /// The file stem (`valley` writes `valley.svg`).
    pub file: &'static str,
    title: &'static str,
    /// The function on the tape (for the gradients) ...
    on_tape: fn(Var, Var) -> Var,
    /// ... and on plain numbers (for the contours).
    at: fn(f64, f64) -> f64,
    start: (f64, f64),
    x_range: (f64, f64),
    y_range: (f64, f64),
    steps: usize,
    /// Learning rates for SGD (plain, momentum and Nesterov share it) and for the adaptive methods.
    sgd_lr: f64,
    adaptive_lr: f64,
}

/// Rosenbrock's banana valley, x² − y² + y⁴/4's saddle, and a ravine 100 times steeper across
/// than along.
pub const SURFACES: [Surface; 3] = [
    Surface {
        file: "valley",
        title: "Rosenbrock valley (1 - x)² + 100 (y - x²)²",
        on_tape: |x, y| x.rsub_scalar(1.0).square() + (y - x.square()).square() * 100.0,
        at: |x, y| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
        start: (-1.5, 2.0),
        x_range: (-2.0, 2.0),
        y_range: (-1.0, 3.0),
        steps: 1000,
        sgd_lr: 4e-4,
        adaptive_lr: 0.05,
    },
    Surface {
        file: "saddle",
        title: "saddle x² - y² + y⁴/4, starting almost on the ridge",
        on_tape: |x, y| x.square() - y.square() + y.square().square() * 0.25,
        at: |x, y| x * x - y * y + 0.25 * y.powi(4),
        start: (1.8, 0.01),
        x_range: (-2.0, 2.0),
        y_range: (-2.0, 2.0),
        steps: 120,
        sgd_lr: 0.02,
        adaptive_lr: 0.05,
    },
    Surface {
        file: "ravine",
        title: "ravine 0.05 x² + 5 y²",
        on_tape: |x, y| x.square() * 0.05 + y.square() * 5.0,
        at: |x, y| 0.05 * x * x + 5.0 * y * y,
        start: (-4.5, 1.0),
        x_range: (-5.0, 5.0),
        y_range: (-1.5, 1.5),
        steps: 100,
        sgd_lr: 0.13,
        adaptive_lr: 0.3,
    },
];

/// The spiral runs' losses against the step, on a log scale.
pub fn loss_curves(path: &str, curves: &[(&str, &[f64])]) -> PlotResult {
    let steps = curves.iter().map(|(_, l)| l.len()).max().unwrap_or(1).max(2);
    // Log scale: a loss of exactly zero (or a diverged NaN) is clamped into the plot's floor.
    let finite = curves.iter().flat_map(|(_, l)| l.iter().copied()).filter(|l| l.is_finite() && *l > 0.0);
    let (lo, hi) = finite.fold((f64::INFINITY, 0.0f64), |(lo, hi), l| (lo.min(l), hi.max(l)));
    let (lo, hi) = if lo < hi { (lo.max(1e-8) * 0.8, hi * 1.25) } else { (1e-3, 10.0) };

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("two spirals: training loss (cross-entropy)", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..steps - 1, (lo..hi).log_scale())?;
    chart.configure_mesh().x_desc("step").y_desc("loss").draw()?;
    for (i, (name, losses)) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = losses.iter().enumerate().map(|(s, &l)| (s, if l.is_finite() { l.clamp(lo, hi) } else { hi }));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Each optimizer's path on `surface`, over the surface's contour lines.
pub fn paths(path: &str, surface: &Surface) -> PlotResult {
    let (sgd, adaptive) = (surface.sgd_lr, surface.adaptive_lr);
    let runs = [
        ("SGD", descend(surface, Sgd { lr: sgd, ..Sgd::default() })?),
        ("Momentum", descend(surface, Sgd { lr: sgd, momentum: 0.9, ..Sgd::default() })?),
        ("Nesterov", descend(surface, Sgd { lr: sgd, momentum: 0.9, nesterov: true, ..Sgd::default() })?),
        ("Adagrad", descend(surface, Adagrad { lr: 4.0 * adaptive, ..Adagrad::default() })?),
        ("RMSprop", descend(surface, RmsProp { lr: 0.2 * adaptive, ..RmsProp::default() })?),
        ("Adam", descend(surface, Adam { lr: adaptive, ..Adam::default() })?),
    ];

    let root = SVGBackend::new(path, (760, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let (x0, x1) = surface.x_range;
    let (y0, y1) = surface.y_range;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{} steps on the {}", surface.steps, surface.title), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart.configure_mesh().disable_mesh().draw()?;

    let contour_color = RGBColor(170, 170, 170);
    let segments = contours(surface.at, surface.x_range, surface.y_range, 80, 14);
    chart.draw_series(segments.into_iter().map(|(a, b)| PathElement::new([a, b], contour_color)))?;

    // Paths that leave the window are cut at its edge rather than stretching the axes.
    let inside =
        |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
    for (i, (name, points)) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let shown: Vec<(f64, f64)> = points.iter().copied().take_while(inside).collect();
        chart
            .draw_series(LineSeries::new(shown, color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart.draw_series(std::iter::once(Circle::new(surface.start, 4, BLACK.filled())))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The points an optimizer visits from the surface's start, one per step (start included).
fn descend<A: Algorithm>(surface: &Surface, config: A) -> Result<Vec<(f64, f64)>, Box<dyn std::error::Error>> {
    let point = Param::new(Tensor::from(vec![surface.start.0, surface.start.1]));
    let mut opt = Optim::new([point.clone()], config)?;
    let tape = Tape::new();
    let mut visited = vec![surface.start];
    for _ in 0..surface.steps {
        tape.clear();
        let p = tape.param(&point);
        let loss = (surface.on_tape)(p.select(0, 0), p.select(0, 1));
        opt.step(&loss.backward()?)?;
        let xy = point.value().to_vec::<f64>();
        visited.push((xy[0], xy[1]));
    }
    Ok(visited)
}

/// Contour lines of `f` by marching squares on an `n` x `n` grid, at `levels` levels spaced by
/// the grid values' quantiles (so a valley 1000 times deeper than it is wide still gets lines
/// near its floor). Returns line segments.
fn contours(
    f: fn(f64, f64) -> f64,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    n: usize,
    levels: usize,
) -> Vec<Segment> {
    let coord = |i: usize, lo: f64, hi: f64| lo + (hi - lo) * i as f64 / (n - 1) as f64;
    let grid: Vec<Vec<f64>> = (0..n).map(|j| (0..n).map(|i| f(coord(i, x0, x1), coord(j, y0, y1))).collect()).collect();
    let mut sorted: Vec<f64> = grid.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut segments = Vec::new();
    for k in 1..=levels {
        // Quantiles weighted towards the low values, where the minima are.
        let q = (k as f64 / (levels + 1) as f64).powi(2);
        let level = sorted[((sorted.len() - 1) as f64 * q) as usize];
        for j in 0..n - 1 {
            for i in 0..n - 1 {
                let corners = [
                    ((coord(i, x0, x1), coord(j, y0, y1)), grid[j][i]),
                    ((coord(i + 1, x0, x1), coord(j, y0, y1)), grid[j][i + 1]),
                    ((coord(i + 1, x0, x1), coord(j + 1, y0, y1)), grid[j + 1][i + 1]),
                    ((coord(i, x0, x1), coord(j + 1, y0, y1)), grid[j + 1][i]),
                ];
                segments.extend(cell_segments(&corners, level));
            }
        }
    }
    segments
}

type Point = (f64, f64);
type Segment = (Point, Point);

/// Where the level crosses one grid cell's edges: zero, one or (at a saddle cell) two segments.
fn cell_segments(corners: &[(Point, f64); 4], level: f64) -> Vec<Segment> {
    let mut crossings = Vec::with_capacity(4);
    for e in 0..4 {
        let ((pa, va), (pb, vb)) = (corners[e], corners[(e + 1) % 4]);
        if (va < level) != (vb < level) {
            let t = (level - va) / (vb - va);
            crossings.push((pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1)));
        }
    }
    // Two crossings make one segment; four (a saddle cell) pair up edge-wise.
    crossings.chunks_exact(2).map(|c| (c[0], c[1])).collect()
}
