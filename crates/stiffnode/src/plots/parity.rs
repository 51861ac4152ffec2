//! `parity.svg`: a trained model's ignition delays against the reactor's, one point per
//! trajectory (those trained on and those held out marked), on log axes with the line of equality.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use stiffnode_train::evaluation::TrajectoryScore;

use super::{SIZE, colour, decade_label, extent, padded};

/// Draw the ignition-delay parity plot of `scores` (those where both ignite), titled `title`.
pub fn write(scores: &[TrajectoryScore], title: &str, path: &Path) -> Result<()> {
    let points: Vec<(bool, f64, f64)> = scores
        .iter()
        .filter_map(|s| {
            let d = s.ignition?;
            Some((s.held_out, d.reference?.log10(), d.model?.log10()))
        })
        .collect();
    let (lo, hi) = extent(points.iter().flat_map(|p| [p.1, p.2])).unwrap_or((-5.0, -3.0));
    let range = padded(lo, hi, 0.05);
    svg_and_png!(path, SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(range.clone(), range.clone())?;
        chart
            .configure_mesh()
            .x_desc("reference ignition delay, s")
            .y_desc("model ignition delay, s")
            .x_label_formatter(&decade_label)
            .y_label_formatter(&decade_label)
            .draw()?;
        chart.draw_series(LineSeries::new([(range.start, range.start), (range.end, range.end)], BLACK.mix(0.5)))?;
        for (k, (held_out, label)) in [(false, "trained on"), (true, "held out")].into_iter().enumerate() {
            let style = colour(k).filled();
            chart
                .draw_series(points.iter().filter(|p| p.0 == held_out).map(move |p| Circle::new((p.1, p.2), 4, style)))?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, style));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    })
}
