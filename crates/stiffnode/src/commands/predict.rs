//! `stiffnode predict`: a trained model's states at chosen times, from every trajectory's
//! initial state in the run's dataset, as CSV in the dataset format.

use std::path::PathBuf;

use anyhow::{Context, bail};
use stiffnode_solvers::{DeviceKind, output_times};
use stiffnode_train::{RunDir, Setup};

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
    /// Device: cpu (f64), wgpu (f32) or cuda (f64, with the cuda feature) [default: the run's].
    #[arg(long)]
    device: Option<DeviceKind>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !["best", "last"].contains(&args.checkpoint.as_str()) {
        bail!("invalid --checkpoint '{}' (known: best, last)", args.checkpoint);
    }
    let opening = || format!("opening run {}", args.run.display());
    let run = RunDir::open(&args.run).with_context(opening)?;
    let setup = Setup::from_run(&run, &args.checkpoint, args.device).with_context(opening)?;
    let times = output_times::parse(&args.times).context("--times")?;
    let t0 = setup.data.t0();
    if let Some(t) = times.iter().find(|&&t| t < t0) {
        bail!("invalid --times: {t} is before the data's initial time {t0}");
    }
    let csv = setup.predictions(|_| &times).context("solving the trained model")?.to_csv();
    match &args.output {
        Some(path) => std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))?,
        None => print!("{csv}"),
    }
    Ok(())
}
