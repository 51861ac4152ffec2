//! `stiffnode predict`: a trained model's states at chosen times, from every trajectory's
//! initial state in the run's dataset, as CSV in the dataset format.

use std::path::PathBuf;

use anyhow::{Context, bail};
use stiffnode_solvers::dataset::{Dataset, Trajectory};
use stiffnode_solvers::output_times;
use stiffnode_train::Trainer;

/// Arguments of `stiffnode predict`.
#[derive(clap::Args)]
pub struct Args {
    /// A run directory written by `stiffnode train`.
    #[arg(long)]
    run: PathBuf,
    /// Times: logspace:A:B:N, linspace:A:B:N or a comma list (the data's initial time may be
    /// included; all others must follow it).
    #[arg(long, allow_hyphen_values = true)]
    times: String,
    /// Checkpoint: best or last.
    #[arg(long, default_value = "best")]
    checkpoint: String,
    /// CSV file (default: standard output).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Device: cpu (f64) or wgpu (f32) [default: the run's].
    #[arg(long)]
    device: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !["best", "last"].contains(&args.checkpoint.as_str()) {
        bail!("invalid --checkpoint '{}' (known: best, last)", args.checkpoint);
    }
    let trainer = Trainer::open(&args.run, &args.checkpoint, None, args.device.clone()).with_context(|| format!("opening run {}", args.run.display()))?;
    let times = output_times::parse(&args.times).context("--times")?;
    let t0 = trainer.data.times[0];
    if let Some(t) = times.iter().find(|&&t| t < t0) {
        bail!("invalid --times: {t} is before the data's initial time {t0}");
    }
    let after: Vec<f64> = times.iter().copied().filter(|&t| t > t0).collect();
    let all: Vec<usize> = (0..trainer.data.states.len()).collect();
    let pred = if after.is_empty() { Vec::new() } else { trainer.predict_at(&all, &after).context("solving the trained model")? };
    let d = trainer.data.species.len();
    let trajectories = all
        .iter()
        .map(|&k| {
            let start = (times[0] == t0).then(|| trainer.data.states[k][0].clone());
            let states = start.into_iter().chain(pred.iter().map(|p| p[k * d..(k + 1) * d].to_vec())).collect();
            Trajectory { times: times.clone(), states }
        })
        .collect();
    let csv = Dataset { species: trainer.data.species.clone(), trajectories }.to_csv();
    match &args.output {
        Some(path) => std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))?,
        None => print!("{csv}"),
    }
    Ok(())
}
