//! `loss.svg`: the training and validation loss over the epochs of a run (`metrics.jsonl`), on a
//! log loss axis.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::{SIZE, colour, decade_label, decades, extent, padded};

/// The losses of a run: `(epoch, loss, validation loss)` per epoch.
pub fn write(name: &str, epochs: &[(f64, f64, Option<f64>)], path: &Path) -> Result<()> {
    let log = |v: f64| (v > 0.0).then(|| v.log10());
    let train: Vec<(f64, f64)> = epochs.iter().filter_map(|&(e, l, _)| log(l).map(|l| (e, l))).collect();
    let val: Vec<(f64, f64)> = epochs.iter().filter_map(|&(e, _, v)| v.and_then(log).map(|v| (e, v))).collect();
    let (x0, x1) = extent(train.iter().chain(&val).map(|p| p.0)).unwrap_or((0.0, 1.0));
    let (y0, y1) = extent(train.iter().chain(&val).map(|p| p.1)).unwrap_or((-3.0, 0.0));
    let (yr, y_labels) = decades(y0, y1.max(y0 + 1.0));
    svg_and_png!(path, SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Loss over training — {name}"), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(padded(x0, x1, 0.02), yr.clone())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss (the configuration's)")
            .y_labels(y_labels)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&decade_label)
            .draw()?;
        for (k, (label, s)) in
            [("training loss", train.clone()), ("validation loss", val.clone())].into_iter().enumerate()
        {
            if !s.is_empty() {
                chart
                    .draw_series(LineSeries::new(s, colour(k).stroke_width(2)))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(k).stroke_width(2)));
            }
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    })
}
