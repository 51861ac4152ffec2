//! `stiffnode predict`: a trained model's states at chosen times, from every trajectory's
//! initial state in the run's dataset, as CSV in the dataset format.

use std::path::PathBuf;

use anyhow::{Context, bail};
use stiffnode_solvers::output_times;

use super::args::RunArgs;

/// Arguments of `stiffnode predict`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: RunArgs,
    /// Times: logspace:A:B:N, linspace:A:B:N or a comma list (the data's initial time may be
    /// included; all others must follow it).
    #[arg(long, allow_hyphen_values = true)]
    times: String,
    /// CSV file (default: standard output).
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let setup = args.model.open()?;
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
