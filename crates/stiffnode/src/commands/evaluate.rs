//! `stiffnode evaluate`: a trained model on a dataset with the run's species — its own, or one
//! held out (`generate … --seed 1234`): per trajectory and overall, the normalized MAE (and that
//! of T), the ignition delays of model and reactor with their relative error, and how far the
//! prediction moves the problem's invariants; an ignition-delay parity plot.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;
use stiffnode_train::evaluation::{TrajectoryScore, delay_error};

use super::args::RunArgs;

/// Arguments of `stiffnode evaluate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: RunArgs,
    /// A dataset directory with the run's species [default: the run's own].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The parity plot (SVG, and a PNG beside it) [default: RUN/parity-<dataset>.svg].
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print JSON lines (one per trajectory, then the summary) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut setup = args.model.open()?;
    let data_dir = args.data.clone().unwrap_or_else(|| setup.config.data.dataset.clone());
    if let Some(dir) = &args.data {
        setup = setup.with_dataset(dir).with_context(|| format!("--data {}", dir.display()))?;
    }
    let scores = setup.scores().context("solving the trained model")?;
    let summary = summarize(&scores);
    if args.json {
        for s in &scores {
            println!("{}", score_json(s));
        }
        println!("{}", json!({"data": data_dir.display().to_string(), "summary": summary}));
    } else {
        print_table(&scores, &summary);
    }
    if scores.iter().any(|s| s.ignition.is_some()) {
        let name = data_dir.file_name().map_or("data".into(), |n| n.to_string_lossy().into_owned());
        let plot = args.plot.clone().unwrap_or_else(|| args.model.run.join(format!("parity-{name}.svg")));
        let title = format!("ignition delays on {name}: model against reactor");
        crate::plots::parity::write(&scores, &title, &plot).with_context(|| format!("writing {}", plot.display()))?;
        if !args.json {
            println!("parity plot: {}", plot.display());
        }
    }
    Ok(())
}

/// Mean and worst of the scores, over all trajectories.
fn summarize(scores: &[TrajectoryScore]) -> serde_json::Value {
    let mean = |v: &[f64]| if v.is_empty() { None } else { Some(v.iter().sum::<f64>() / v.len() as f64) };
    let worst = |v: &[f64]| v.iter().copied().reduce(f64::max);
    let mae: Vec<f64> = scores.iter().map(|s| s.mae).collect();
    let mae_t: Vec<f64> = scores.iter().filter_map(|s| s.mae_t).collect();
    let delays: Vec<f64> = scores.iter().filter_map(|s| s.ignition.as_ref().and_then(delay_error)).collect();
    let ignited = scores.iter().filter(|s| s.ignition.is_some_and(|d| d.model.is_some())).count();
    let drift: Vec<f64> = scores.iter().filter_map(|s| s.invariant_drift).collect();
    json!({
        "trajectories": scores.len(),
        "mae": mean(&mae), "mae_t": mean(&mae_t),
        "ignition_delay_error_mean": mean(&delays), "ignition_delay_error_max": worst(&delays),
        "ignited": scores.iter().any(|s| s.ignition.is_some()).then_some(ignited),
        "invariant_drift_max": worst(&drift),
    })
}

fn score_json(s: &TrajectoryScore) -> serde_json::Value {
    json!({
        "trajectory": s.trajectory, "held_out": s.held_out, "mae": s.mae, "mae_t": s.mae_t,
        "ignition_delay_model": s.ignition.and_then(|d| d.model),
        "ignition_delay_reference": s.ignition.and_then(|d| d.reference),
        "ignition_delay_error": s.ignition.as_ref().and_then(delay_error),
        "invariant_drift": s.invariant_drift,
    })
}

fn print_table(scores: &[TrajectoryScore], summary: &serde_json::Value) {
    let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$e}"));
    println!("trajectory  set         MAE        MAE(T)     delay model  delay ref    error      invariants");
    for s in scores {
        println!(
            "{:>10}  {:<10}  {:.3e}  {:>9}  {:>11}  {:>11}  {:>9}  {:>9}",
            s.trajectory,
            if s.held_out { "held out" } else { "trained on" },
            s.mae,
            opt(s.mae_t, 3),
            opt(s.ignition.and_then(|d| d.model), 4),
            opt(s.ignition.and_then(|d| d.reference), 4),
            opt(s.ignition.as_ref().and_then(delay_error), 2),
            opt(s.invariant_drift, 1),
        );
    }
    let get = |k: &str| summary[k].as_f64();
    println!(
        "all {} trajectories: MAE {}, MAE(T) {}, ignition delay error mean {} max {}, ignited {}, invariant drift max {}",
        scores.len(),
        opt(get("mae"), 3),
        opt(get("mae_t"), 3),
        opt(get("ignition_delay_error_mean"), 2),
        opt(get("ignition_delay_error_max"), 2),
        summary["ignited"].as_u64().map_or("-".into(), |n| format!("{n} of {}", scores.len())),
        opt(get("invariant_drift_max"), 1),
    );
}
