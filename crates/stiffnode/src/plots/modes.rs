//! The three views of `stiffnode inspect` (design.md §5): (a) each mode's gradient norm against
//! its `|z| = |hλ|`, beside the method's `|R'(z)|` and `‖β(z)‖` on the negative real axis
//! (Fronk & Petzold 2025: a mode's sensitivity decays like `R'(z)`); (b) each mode's gradient
//! norm over the logged epochs; (c) the spectrum `|Re λ|` along the trajectory.

use std::path::Path;

use anyhow::Result;
use num_complex::Complex64;
use plotters::prelude::*;
use stiffnode_solvers::{Method, stability};
use stiffnode_train::modes::ModeRecord;

use super::{SIZE, colour, decade_label, extent, padded};

fn legend_line(i: usize) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(i).stroke_width(2))
}

/// (a) `‖G_i‖` against the median `|z|` of each mode, with `|R'(z)|` and `‖β(z)‖`.
pub fn gradient_vs_z(record: &ModeRecord, method: &Method, path: &Path) -> Result<()> {
    let points: Vec<(usize, f64, f64)> = record
        .modes
        .iter()
        .map(|m| (m.rank, Complex64::new(m.z.median[0], m.z.median[1]).norm(), m.grad_norm))
        // Zero eigenvalues (conservation laws) have no place on a log |z| axis; the table lists them.
        .filter(|&(_, z, g)| z > 1e-12 && g > 0.0)
        .map(|(rank, z, g)| (rank, z.log10(), g.log10()))
        .collect();
    let (x0, x1) = extent(points.iter().map(|p| p.1)).unwrap_or((-2.0, 2.0));
    let (x0, x1) = ((x0 - 1.0).floor().min(-2.0), (x1 + 1.0).ceil().max(2.0));
    let (y0, y1) = extent(points.iter().map(|p| p.2)).unwrap_or((-6.0, 0.0));
    let curve: Vec<(f64, f64, f64)> = (0..=200)
        .map(|k| {
            let lx = x0 + (x1 - x0) * k as f64 / 200.0;
            let p = stability::evaluate(method, Complex64::new(-(10f64.powf(lx)), 0.0));
            let beta = p.beta.map(|b| b.iter().map(|v| v.norm_sqr()).sum::<f64>().sqrt());
            (lx, p.dr.norm().max(1e-300).log10(), beta.map_or(f64::NAN, |b| b.max(1e-300).log10()))
        })
        .collect();
    let (c0, c1) = extent(curve.iter().flat_map(|c| [c.1, c.2])).unwrap_or((-6.0, 0.0));
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Gradient per mode against |hλ| — epoch {}, {}", record.epoch, record.method),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(x0..x1, padded(y0, y1, 0.15))?
        .set_secondary_coord(x0..x1, padded(c0.max(-30.0), c1, 0.05));
    chart
        .configure_mesh()
        .x_desc("|z| = |hλ| (dimensionless, median over steps)")
        .y_desc("‖G_i‖ (gradient norm of mode i)")
        .x_label_formatter(&decade_label)
        .y_label_formatter(&decade_label)
        .draw()?;
    chart.configure_secondary_axes().y_desc("|R'(z)|, ‖β(z)‖ at z = −|z|").y_label_formatter(&decade_label).draw()?;
    chart
        .draw_secondary_series(LineSeries::new(curve.iter().map(|c| (c.0, c.1)), BLACK.stroke_width(2)))?
        .label(format!("|R'(z)| of {}", record.method))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
    if curve.iter().any(|c| c.2.is_finite()) {
        let grey = RGBColor(140, 140, 140);
        chart
            .draw_secondary_series(LineSeries::new(
                curve.iter().filter(|c| c.2.is_finite()).map(|c| (c.0, c.2)),
                grey.stroke_width(2),
            ))?
            .label("‖β(z)‖ (per-stage weights)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], grey.stroke_width(2)));
    }
    for &(rank, x, y) in &points {
        let m = &record.modes[rank];
        chart
            .draw_series(std::iter::once(Circle::new((x, y), 6, colour(rank).filled())))?
            .label(format!("mode {rank}: λ ≈ {:.3e}, share {:.1e}", m.eigenvalue[0], m.share))
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour(rank).filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()?;
    root.present()?;
    Ok(())
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
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
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
    for (k, s) in series.into_iter().enumerate() {
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
        chart.draw_series(LineSeries::new(s.clone(), colour(k).stroke_width(2)))?.label(label).legend(legend_line(k));
        chart.draw_series(s.into_iter().map(|p| Circle::new(p, 3, colour(k).filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
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
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
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
    for (k, s) in series.into_iter().enumerate() {
        let label =
            if s.is_empty() { format!("mode {k}: λ = 0 (conservation law), not drawn") } else { format!("mode {k}") };
        chart.draw_series(LineSeries::new(s, colour(k).stroke_width(2)))?.label(label).legend(legend_line(k));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
