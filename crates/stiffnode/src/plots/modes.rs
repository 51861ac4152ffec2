//! The views of `stiffnode inspect` (design.md §5): (a) the gradient per decade of `|z| = |hλ|`
//! beside the method's `|R'(z)|` on the negative real axis and guide slopes (Fronk & Petzold
//! 2025: a mode's sensitivity decays like `R'(z)`); (b) each mode's gradient norm over the logged
//! epochs; (c) the spectrum `|Re λ|` along the trajectory; (d) each mode's share and each
//! decade's share of the gradient over the epochs; (e) several runs overlaid.

use std::ops::Range;
use std::path::Path;

use anyhow::Result;
use num_complex::Complex64;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use stiffnode_solvers::{Method, stability};
use stiffnode_train::modes::ModeRecord;

use super::{SIZE, colour, decade_label, decades, extent, padded};

fn legend_line(i: usize) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(i).stroke_width(2))
}

/// Ranks drawn as curves of their own in (a); more would hide the total.
const RANK_CURVES: usize = 6;

/// A line through `points` with a marker at each, in series colour `k`, with its legend entry.
fn marked_line<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    points: &[(f64, f64)],
    k: usize,
    label: impl Into<String>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart.draw_series(LineSeries::new(points.to_vec(), colour(k).stroke_width(2)))?.label(label).legend(legend_line(k));
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour(k).filled())))?;
    Ok(())
}

/// A white plot of `log10 |hλ|` (x) against a log10 gradient (y), decade ticks on both axes.
fn z_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: &str,
    (xr, x_labels): (Range<f64>, usize),
    (yr, y_labels): (Range<f64>, usize),
    y_desc: &str,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(xr, yr)?;
    chart
        .configure_mesh()
        .x_desc("|z| = |hλ| (dimensionless; per step and mode)")
        .y_desc(y_desc)
        .x_labels(x_labels)
        .y_labels(y_labels)
        .x_label_formatter(&decade_label)
        .y_label_formatter(&decade_label)
        .draw()?;
    Ok(chart)
}

/// (a) The gradient per decade of `|z| = |hλ|` (its sample counts beside it, and per rank where
/// there are few), with the method's `|R'(z)|` scaled to meet the data at its slowest decade and
/// guide lines of slope −1, −2, −3 from there; each mode's median as a dot.
pub fn gradient_vs_z(record: &ModeRecord, method: &Method, path: &Path) -> Result<()> {
    let total = record.decay(None);
    let dots: Vec<(usize, f64, f64)> = record
        .modes
        .iter()
        .map(|m| (m.rank, Complex64::new(m.z.median[0], m.z.median[1]).norm(), m.grad_norm))
        // Zero eigenvalues (conservation laws) have no place on a log |z| axis; the table lists them.
        .filter(|&(_, z, g)| z > 1e-12 && g > 0.0)
        .map(|(rank, z, g)| (rank, z.log10(), g.log10()))
        .collect();
    let xs = total.iter().map(|p| p.log_z).chain(dots.iter().map(|d| d.1));
    let (x0, x1) = extent(xs).unwrap_or((-2.0, 2.0));
    let (xr, x_labels) = decades(x0 - 0.5, x1 + 0.5);
    let r_prime =
        |lx: f64| stability::evaluate(method, Complex64::new(-(10f64.powf(lx)), 0.0)).dr.norm().max(1e-300).log10();
    // |R'(z)| → 1 as |z| → 0: scaled to the largest gradient of the slow decades (|hλ| < 3), or
    // of all where none is slow; the guides start where |hλ| = 1 on it.
    let slow = total.iter().filter(|p| p.log_z < 0.5).map(|p| p.log_grad).fold(f64::NEG_INFINITY, f64::max);
    let level = if slow.is_finite() { Some(slow) } else { total.iter().map(|p| p.log_grad).reduce(f64::max) };
    let grid: Vec<f64> = (0..=200).map(|k| xr.start + (xr.end - xr.start) * k as f64 / 200.0).collect();
    let curve: Vec<(f64, f64)> = level.map(|l| grid.iter().map(|&x| (x, r_prime(x) + l)).collect()).unwrap_or_default();
    let anchor = level.map(|l| (0.0, r_prime(0.0) + l));
    let ys = total.iter().map(|p| p.log_grad).chain(dots.iter().map(|d| d.2));
    let (y0, y1) = extent(ys).unwrap_or((-6.0, 0.0));
    let (yr, y_labels) = decades(y0 - 0.3, y1 + 0.3);
    svg_and_png!(path, SIZE, |root| {
        let caption = format!("Gradient against |hλ| — epoch {}, {}", record.epoch, record.method);
        let x = (xr.clone(), x_labels);
        let mut chart = z_chart(&root, &caption, x, (yr.clone(), y_labels), "‖G‖ (gradient norm)")?;
        let grey = RGBColor(150, 150, 150);
        if let Some((ax, ay)) = anchor {
            for slope in [-1.0, -2.0, -3.0] {
                // Plotters clamps points to the plot instead of clipping lines: end on its edge.
                let end = xr.end.min(ax + (yr.start - ay) / slope);
                let line = [(ax, ay), (end, ay + slope * (end - ax))];
                chart.draw_series(DashedLineSeries::new(line, 4, 4, grey.stroke_width(1)))?;
                let (lx, ly) = (ax + 1.0, ay + slope);
                if xr.contains(&lx) && yr.contains(&ly) {
                    chart.draw_series(std::iter::once(Text::new(
                        format!("slope {slope}"),
                        (lx, ly),
                        ("sans-serif", 13),
                    )))?;
                }
            }
            // Drawn where it is inside the plot (not along its floor), in pieces between the dips.
            let pieces = curve.split(|p| !yr.contains(&p.1)).filter(|piece| piece.len() > 1);
            for piece in pieces.clone().skip(1) {
                chart.draw_series(DashedLineSeries::new(piece.to_vec(), 8, 4, BLACK.stroke_width(2)))?;
            }
            let first = pieces.clone().next().map(<[(f64, f64)]>::to_vec).unwrap_or_default();
            chart
                .draw_series(DashedLineSeries::new(first, 8, 4, BLACK.stroke_width(2)))?
                .label(format!("|R'(z)| of {} at z = −|z|, scaled to the slow decades' gradient", record.method))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
        }
        let blue = RGBColor(20, 60, 160);
        let line: Vec<(f64, f64)> = total.iter().map(|p| (p.log_z, p.log_grad)).collect();
        chart
            .draw_series(LineSeries::new(line.clone(), blue.stroke_width(3)))?
            .label("‖G‖ per decade of |hλ| (all modes)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], blue.stroke_width(3)));
        chart.draw_series(line.iter().map(|&p| Circle::new(p, 4, blue.filled())))?;
        chart.draw_series(
            total
                .iter()
                .map(|p| Text::new(format!("n={}", p.samples), (p.log_z, p.log_grad + 0.15), ("sans-serif", 12))),
        )?;
        if record.modes.len() <= RANK_CURVES {
            for m in &record.modes {
                let ranked: Vec<(f64, f64)> =
                    record.decay(Some(m.rank)).iter().map(|p| (p.log_z, p.log_grad)).collect();
                if ranked.len() > 1 {
                    chart.draw_series(LineSeries::new(ranked, colour(m.rank).stroke_width(1)))?;
                }
            }
        }
        for &(rank, x, y) in &dots {
            let m = &record.modes[rank];
            chart
                .draw_series(std::iter::once(Circle::new((x, y), 6, colour(rank).filled())))?
                .label(format!(
                    "mode {rank} at its median |hλ| (thin: its decades): λ ≈ {:.2e}, share {:.1e}",
                    m.eigenvalue[0], m.share
                ))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour(rank).filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    })
}

/// (b) `‖G_i‖` per mode over the logged epochs.
pub fn gradient_over_epochs(records: &[ModeRecord], path: &Path) -> Result<()> {
    let ranks = records.iter().map(|r| r.modes.len()).max().unwrap_or(0);
    let series: Vec<Vec<(f64, f64)>> = (0..ranks)
        .map(|k| {
            records
                .iter()
                .filter_map(|r| {
                    r.modes.get(k).filter(|m| m.grad_norm > 0.0).map(|m| (r.epoch as f64, m.grad_norm.log10()))
                })
                .collect()
        })
        .collect();
    let (x0, x1) = extent(records.iter().map(|r| r.epoch as f64)).unwrap_or((0.0, 1.0));
    let (y0, y1) = extent(series.iter().flatten().map(|p| p.1)).unwrap_or((-6.0, 0.0));
    svg_and_png!(path, SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Gradient norm per mode over training — {}", records[0].method), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(padded(x0, x1, 0.03), padded(y0, y1, 0.1))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("‖G_i‖ (gradient norm of mode i)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&decade_label)
            .draw()?;
        for (k, s) in series.clone().into_iter().enumerate() {
            let label = format!(
                "mode {k} ({})",
                if k == 0 {
                    "fastest"
                } else if k + 1 == ranks {
                    "slowest"
                } else {
                    "middle"
                }
            );
            marked_line(&mut chart, &s, k, label)?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    })
}

/// (c) `|Re λ|` of each mode along the first trajectory at the epoch of `record`.
pub fn spectrum(record: &ModeRecord, path: &Path) -> Result<()> {
    let sp = &record.spectrum;
    let log_t = sp.t.iter().all(|&t| t > 0.0) && extent(sp.t.iter().copied()).is_some_and(|(a, b)| b / a > 100.0);
    let tx = |t: f64| if log_t { t.log10() } else { t };
    let ranks = sp.abs_re.iter().map(Vec::len).max().unwrap_or(0);
    let series: Vec<Vec<(f64, f64)>> = (0..ranks)
        .map(|k| {
            sp.t.iter()
                .zip(&sp.abs_re)
                // |Re λ| at rounding level of the step's largest one is a zero eigenvalue.
                .filter_map(|(&t, v)| {
                    v.get(k).filter(|x| **x > 1e-10 * v.iter().copied().fold(0.0, f64::max)).map(|x| (tx(t), x.log10()))
                })
                .collect()
        })
        .collect();
    let (x0, x1) = extent(sp.t.iter().map(|&t| tx(t))).unwrap_or((0.0, 1.0));
    let (y0, y1) = extent(series.iter().flatten().map(|p| p.1)).unwrap_or((-3.0, 3.0));
    svg_and_png!(path, SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Jacobian spectrum along trajectory 1 — epoch {}", record.epoch), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(padded(x0, x1, 0.02), padded(y0, y1, 0.1))?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(if log_t { "time (log scale, model time units)" } else { "time (model time units)" })
            .y_desc("|Re λ| (1 / time unit)")
            .y_label_formatter(&decade_label);
        if log_t {
            mesh.x_label_formatter(&decade_label);
        }
        mesh.draw()?;
        for (k, s) in series.clone().into_iter().enumerate() {
            let label = if s.is_empty() {
                format!("mode {k}: λ = 0 (conservation law), not drawn")
            } else {
                format!("mode {k}")
            };
            chart.draw_series(LineSeries::new(s, colour(k).stroke_width(2)))?.label(label).legend(legend_line(k));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    })
}

/// Size of the two-panel plot (d).
const WIDE: (u32, u32) = (1300, 600);

/// A colour from white (`v = 0`) to dark blue (`v = 1`).
fn ramp(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
}

/// (d) Over the logged epochs: each mode's share `‖G_i‖/‖∇L‖` of the gradient (left), and the
/// share of each decade of `|hλ|` as a heat map (right; white 1e-8 or less, dark blue 1).
pub fn shares_over_epochs(records: &[ModeRecord], path: &Path) -> Result<()> {
    svg_and_png!(path, WIDE, |root| {
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(WIDE.0 / 2);
        let epochs: Vec<f64> = records.iter().map(|r| r.epoch as f64).collect();
        let (x0, x1) = extent(epochs.iter().copied()).unwrap_or((0.0, 1.0));
        let ranks = records.iter().map(|r| r.modes.len()).max().unwrap_or(0);
        let share = |v: f64| v.max(1e-8).log10();
        let series: Vec<Vec<(f64, f64)>> = (0..ranks)
            .map(|k| records.iter().filter_map(|r| r.modes.get(k).map(|m| (r.epoch as f64, share(m.share)))).collect())
            .collect();
        let (y0, y1) = extent(series.iter().flatten().map(|p| p.1)).unwrap_or((-6.0, 0.0));
        let (yr, y_labels) = decades(y0, y1.max(y0 + 1.0));
        let mut chart = ChartBuilder::on(&left)
            .caption(format!("Share of the gradient per mode — {}", records[0].method), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(padded(x0, x1, 0.03), yr)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("‖G_i‖ / ‖∇L‖ (1e-8 or less at the floor)")
            .y_labels(y_labels)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&decade_label)
            .draw()?;
        for (k, s) in series.clone().into_iter().enumerate() {
            let label = if k == 0 { "mode 0 (fastest)".to_string() } else { format!("mode {k}") };
            marked_line(&mut chart, &s, k, label)?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;

        let decades_seen: Vec<i32> = {
            let mut d: Vec<i32> = records.iter().flat_map(|r| r.bins.iter().map(|b| b.decade)).collect();
            d.sort_unstable();
            d.dedup();
            d
        };
        let (d0, d1) = (decades_seen.first().copied().unwrap_or(0), decades_seen.last().copied().unwrap_or(0) + 1);
        let columns = records.len();
        let mut heat = ChartBuilder::on(&right)
            .caption("Share per decade of |hλ| (white ≤ 1e-8 … dark blue ≥ 1)", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..columns as f64, f64::from(d0)..f64::from(d1))?;
        let every = columns.div_ceil(10).max(1);
        heat.configure_mesh()
            .disable_mesh()
            .x_desc("epoch")
            .y_desc("|z| = |hλ|")
            .x_labels(columns.min(10) + 1)
            .y_labels((d1 - d0) as usize + 1)
            .x_label_formatter(&|v| {
                let k = v.floor() as usize;
                if k < columns && k.is_multiple_of(every) { records[k].epoch.to_string() } else { String::new() }
            })
            .y_label_formatter(&decade_label)
            .draw()?;
        heat.draw_series(records.iter().enumerate().flat_map(|(k, r)| {
            r.bins.iter().map(move |b| {
                let v = (b.share.max(1e-8).log10() + 8.0) / 8.0;
                let (x, y) = (k as f64, f64::from(b.decade));
                Rectangle::new([(x, y), (x + 1.0, y + 1.0)], ramp(v).filled())
            })
        }))?;
    })
}

/// (e) Several runs: each one's gradient per decade of `|hλ|` (at its shown epoch).
pub fn runs_vs_z(runs: &[(String, &ModeRecord)], path: &Path) -> Result<()> {
    let curves: Vec<Vec<(f64, f64)>> =
        runs.iter().map(|(_, r)| r.decay(None).iter().map(|p| (p.log_z, p.log_grad)).collect()).collect();
    let (x0, x1) = extent(curves.iter().flatten().map(|p| p.0)).unwrap_or((-2.0, 2.0));
    let (y0, y1) = extent(curves.iter().flatten().map(|p| p.1)).unwrap_or((-6.0, 0.0));
    let ((xr, x_labels), (yr, y_labels)) = (decades(x0 - 0.5, x1 + 0.5), decades(y0 - 0.3, y1 + 0.3));
    svg_and_png!(path, SIZE, |root| {
        let (x, y) = ((xr.clone(), x_labels), (yr.clone(), y_labels));
        let mut chart = z_chart(&root, "Gradient against |hλ| — runs compared", x, y, "‖G‖ per decade of |hλ|")?;
        for (k, ((name, r), c)) in runs.iter().zip(curves.clone()).enumerate() {
            marked_line(&mut chart, &c, k, format!("{name} (epoch {}, {})", r.epoch, r.method))?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    })
}

/// (e) Several runs: each one's fastest mode's share of the gradient over its logged epochs.
pub fn runs_fast_share(runs: &[(String, &[ModeRecord])], path: &Path) -> Result<()> {
    let curves: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|(_, rs)| {
            rs.iter().filter_map(|r| r.modes.first().map(|m| (r.epoch as f64, m.share.max(1e-12).log10()))).collect()
        })
        .collect();
    let (x0, x1) = extent(curves.iter().flatten().map(|p| p.0)).unwrap_or((0.0, 1.0));
    let (y0, y1) = extent(curves.iter().flatten().map(|p| p.1)).unwrap_or((-6.0, 0.0));
    let (yr, y_labels) = decades(y0, y1.max(y0 + 1.0));
    svg_and_png!(path, SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Fastest mode's share of the gradient — runs compared", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(padded(x0, x1, 0.03), yr.clone())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("‖G_0‖ / ‖∇L‖")
            .y_labels(y_labels)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&decade_label)
            .draw()?;
        for (k, ((name, _), c)) in runs.iter().zip(curves.clone()).enumerate() {
            marked_line(&mut chart, &c, k, name.clone())?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    })
}
