//! `fit.svg`: data against the trained model's prediction, one panel per species, on a log
//! time axis when the data times are log-spaced.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use stiffnode_train::Setup;
use stiffnode_train::checkpoint::RunState;

use super::{SIZE, colour, decade_label, extent, padded};

/// Points of the predicted curve per panel.
const CURVE_POINTS: usize = 200;

/// Whether `times` (after the initial one) call for a log axis: positive, over more than two
/// decades, and not evenly spaced (a log grid, or an adaptive one crowded at a front).
pub fn log_spaced(times: &[f64]) -> bool {
    let t = &times[1..];
    if t.len() < 3 || t[0] <= 0.0 || t[t.len() - 1] / t[0] < 100.0 {
        return false;
    }
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let (lo, hi) = extent(gaps.iter().copied()).unwrap_or((0.0, 0.0));
    hi > 1.01 * lo
}

/// Draw the data of trajectory 1 against `setup`'s model, titled with the best loss of `state`.
pub fn write(setup: &Setup, state: &RunState, path: &Path) -> Result<()> {
    let data = &setup.data;
    let times = &data.times[0];
    let log = log_spaced(times);
    let (t_first, t_last) = (times[1], times[times.len() - 1]);
    let curve: Vec<f64> = (0..CURVE_POINTS)
        .map(|k| {
            let s = k as f64 / (CURVE_POINTS - 1) as f64;
            if log { t_first * (t_last / t_first).powf(s) } else { t_first + s * (t_last - t_first) }
        })
        .collect();
    let pred = setup.predict_at(&[0], &curve)?;
    let x = |t: f64| if log { t.log10() } else { t };
    let d = data.species.len();
    let cols = (d as f64).sqrt().ceil() as usize;
    let rows = d.div_ceil(cols);
    let size = (SIZE.0.max(320 * cols as u32), SIZE.1.max(260 * rows as u32));
    svg_and_png!(path, size, |root| {
        root.fill(&WHITE)?;
        let title = format!(
            "{}: data (trajectory 1) and the best model (loss {:.3e}, epoch {})",
            setup.mechanism.name(),
            state.best_loss,
            state.best_epoch
        );
        let root = root.titled(&title, ("sans-serif", 22))?;
        let first_t = if log { 1 } else { 0 };
        for (k, area) in root.split_evenly((rows, cols)).iter().enumerate().take(d) {
            let points: Vec<(f64, f64)> =
                times.iter().zip(&data.states[0]).skip(first_t).map(|(&t, s)| (x(t), s[k])).collect();
            let model: Vec<(f64, f64)> = curve.iter().zip(&pred).map(|(&t, p)| (x(t), p[k])).collect();
            let (y0, y1) = extent(points.iter().chain(&model).map(|p| p.1)).unwrap_or((0.0, 1.0));
            let (x0, x1) = (x(times[first_t]), x(t_last));
            let mut chart = ChartBuilder::on(area)
                .caption(&data.species[k], ("sans-serif", 16))
                .margin(6)
                .x_label_area_size(32)
                .y_label_area_size(64)
                .build_cartesian_2d(padded(x0, x1, 0.02), padded(y0, y1, 0.08))?;
            let x_desc = if log { "time (log scale)" } else { "time" };
            let mut mesh = chart.configure_mesh();
            mesh.x_desc(x_desc)
                .y_desc("concentration")
                .y_label_formatter(&|v| format!("{v:.2e}"))
                .x_labels(6)
                .y_labels(5);
            if log {
                mesh.x_label_formatter(&decade_label);
            }
            mesh.draw()?;
            chart
                .draw_series(LineSeries::new(model, colour(0).stroke_width(2)))?
                .label("model")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(0).stroke_width(2)));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, BLACK.filled())))?
                .label("data")
                .legend(|(x, y)| Circle::new((x + 8, y), 3, BLACK.filled()));
            // The legend goes to the right-hand corner the data leave free.
            let ends_high = points.last().is_some_and(|p| p.1 > 0.5 * (y0 + y1));
            let corner = if ends_high { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperRight };
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(corner)
                .draw()?;
        }
    })
}
