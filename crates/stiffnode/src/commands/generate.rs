//! `stiffnode generate`: a dataset from a mechanism, solved at reference accuracy (radau5,
//! rtol 1e-10, atol 1e-14, CPU f64), written as `DIR/data.csv` and `DIR/meta.json`
//! (`stiffnode_solvers::dataset::generate`).

use std::path::PathBuf;

use anyhow::Context;
use stiffnode_solvers::dataset::{Generation, generate};
use stiffnode_solvers::problems::{self, mechanism_file};
use stiffnode_solvers::{SolveError, output_times};

use super::args::with_flag;

/// Arguments of `stiffnode generate`.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in mechanism (robertson, pollu) or a mechanism .toml file.
    #[arg(long)]
    mechanism: String,
    /// Output times: logspace:A:B:N, linspace:A:B:N or a comma list; t = 0 is always included.
    #[arg(long)]
    times: String,
    /// Output directory (created).
    #[arg(long)]
    output: PathBuf,
    /// Number of trajectories.
    #[arg(long, default_value_t = 1)]
    trajectories: usize,
    /// With several trajectories, initial values are scaled by log-uniform factors in [1/F, F].
    #[arg(long, default_value_t = 2.0)]
    perturb: f64,
    /// Seed of the perturbations and of the train/validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of trajectories held out for validation (with several trajectories).
    #[arg(long, default_value_t = 0.2)]
    validation: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (text, file) = problems::source(&args.mechanism)?;
    let mechanism = mechanism_file::parse(&text, &file)?;
    let times = output_times::parse(&args.times).context("--times")?;
    let command =
        std::iter::once("stiffnode".to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ");
    let spec = Generation {
        mechanism: &mechanism,
        source: &args.mechanism,
        text: &text,
        times,
        trajectories: args.trajectories,
        perturb: args.perturb,
        seed: args.seed,
        validation: args.validation,
        command,
    };
    let (data, meta) = generate(&spec).map_err(|e| match e {
        SolveError::Setup(e) => with_flag(e),
        e => e.into(),
    })?;
    data.write(&args.output, &meta).with_context(|| format!("writing the dataset to {}", args.output.display()))?;
    println!("wrote {} trajectories × {} times to {}", meta.trajectories, meta.times.len(), args.output.display());
    Ok(())
}
