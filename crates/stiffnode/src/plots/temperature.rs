//! `temperature.svg`: `T(t)` of a trained model and of the reactor for every trajectory, on a
//! dense log-time grid (not only at the data points), one small panel each, held-out
//! trajectories marked in their titles.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use stiffnode_train::ignition::TemperatureCurve;

use super::{colour, decade_label, extent, padded};

/// Width and height of one panel.
const PANEL: (u32, u32) = (300, 220);

/// Draw `curves`, titled `title`.
pub fn write(curves: &[TemperatureCurve], title: &str, path: &Path) -> Result<()> {
    let cols = (curves.len() as f64).sqrt().ceil().max(1.0) as usize;
    let rows = curves.len().div_ceil(cols).max(1);
    let size = (PANEL.0 * cols as u32, PANEL.1 * rows as u32 + 40);
    svg_and_png!(path, size, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 22))?;
        for (c, area) in curves.iter().zip(root.split_evenly((rows, cols)).iter()) {
            let x: Vec<f64> = c.times.iter().map(|t| t.log10()).collect();
            let (x0, x1) = extent(x.iter().copied()).unwrap_or((-6.0, -1.0));
            let (y0, y1) = extent(c.model.iter().chain(&c.reference).copied()).unwrap_or((0.0, 1.0));
            let name = format!("{} {}", c.trajectory + 1, if c.held_out { "(held out)" } else { "" });
            let mut chart = ChartBuilder::on(area)
                .caption(name.trim_end(), ("sans-serif", 13))
                .margin(4)
                .x_label_area_size(22)
                .y_label_area_size(40)
                .build_cartesian_2d(padded(x0, x1, 0.02), padded(y0, y1, 0.05))?;
            chart
                .configure_mesh()
                .x_labels(4)
                .y_labels(4)
                .x_label_formatter(&decade_label)
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style(("sans-serif", 10))
                .draw()?;
            let line = |v: &[f64]| x.iter().copied().zip(v.iter().copied()).collect::<Vec<_>>();
            chart.draw_series(LineSeries::new(line(&c.reference), BLACK.stroke_width(2)))?;
            chart.draw_series(LineSeries::new(line(&c.model), colour(0).stroke_width(2)))?;
        }
    })
}
