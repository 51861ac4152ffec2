//! `stiffnode generate`: a dataset from a mechanism (`stiffnode_chemistry::dataset::generate`) or
//! a reactor problem with its sweep of initial conditions
//! (`stiffnode_chemistry::dataset::reactor::generate`), solved at reference accuracy (radau5,
//! rtol 1e-10, atol 1e-14, CPU f64), written as `DIR/data.csv` and `DIR/meta.json`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use stiffnode_chemistry::dataset::{Contents, Dataset, Generation, TimeGrid, Times, generate};
use stiffnode_chemistry::mass_action::{self, mechanism_file};
use stiffnode_chemistry::{dataset::reactor::ReactorGeneration, gas};
use stiffnode_solvers::SolveError;

use super::args::with_flag;

/// Arguments of `stiffnode generate`.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in mechanism (robertson, pollu) or a mechanism .toml file.
    #[arg(long, required_unless_present = "problem", conflicts_with = "problem")]
    mechanism: Option<String>,
    /// A reactor problem .yaml file: trajectories from the initial conditions its `sweep`
    /// ranges give (with --trajectories above 1).
    #[arg(long)]
    problem: Option<String>,
    /// Output times: logspace:A:B:N, linspace:A:B:N or a comma list, the same for every
    /// trajectory; or adaptive:A:B:N, N times per trajectory from 10^A to 10^B placed at equal
    /// steps of arc length in (log t, scaled state) on its own reference solution, so that
    /// ignition fronts get points. t = 0 is always included.
    #[arg(long)]
    times: String,
    /// Output directory (created).
    #[arg(long)]
    output: PathBuf,
    /// Number of trajectories.
    #[arg(long, default_value_t = 1)]
    trajectories: usize,
    /// With several trajectories of a mechanism, initial values are scaled by log-uniform
    /// factors in [1/F, F] [default: 2]. (A reactor problem's vary by its sweep.)
    #[arg(long)]
    perturb: Option<f64>,
    /// Seed of the perturbations and of the train/validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of trajectories held out for validation (with several trajectories).
    #[arg(long, default_value_t = 0.2)]
    validation: f64,
}

/// `--perturb` of a mechanism's dataset when not given.
const DEFAULT_PERTURB: f64 = 2.0;

pub fn run(args: Args) -> anyhow::Result<()> {
    let times = TimeGrid::parse(&args.times).context("--times")?;
    let command =
        std::iter::once("stiffnode".to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ");
    let Some(source) = &args.mechanism else {
        let path = args.problem.as_deref().expect("clap requires --mechanism or --problem");
        if args.perturb.is_some() {
            anyhow::bail!(
                "--perturb applies to --mechanism datasets: a reactor problem's trajectories vary by its sweep"
            );
        }
        return run_reactor(&args, path, times, command);
    };
    let (text, file) = mass_action::source(source)?;
    let mechanism = mechanism_file::parse(&text, &file)?;
    let spec = Generation {
        mechanism: &mechanism,
        source,
        text: &text,
        times,
        trajectories: args.trajectories,
        perturb: args.perturb.unwrap_or(DEFAULT_PERTURB),
        seed: args.seed,
        validation: args.validation,
        command,
    };
    let (data, meta) = generate(&spec).map_err(flagged)?;
    write(&data, &meta, &meta.contents, &args.output)
}

/// A reactor problem's dataset.
fn run_reactor(args: &Args, path: &str, times: TimeGrid, command: String) -> anyhow::Result<()> {
    let problem = gas::load_problem(path)?;
    let read = |p: &str| std::fs::read_to_string(p).with_context(|| format!("reading {p}"));
    let (problem_text, mechanism_text) = (read(path)?, read(&problem.mechanism_path)?);
    let spec = ReactorGeneration {
        problem: &problem,
        source: path,
        texts: [&problem_text, &mechanism_text],
        times,
        trajectories: args.trajectories,
        seed: args.seed,
        validation: args.validation,
        command,
    };
    let (data, meta) = stiffnode_chemistry::dataset::reactor::generate(&spec).map_err(flagged)?;
    write(&data, &meta, &meta.contents, &args.output)
}

/// Write `data` with its `meta` (whose common part is `contents`) into `output`, and say so.
fn write(data: &Dataset, meta: &impl Serialize, contents: &Contents, output: &Path) -> anyhow::Result<()> {
    data.write(output, meta).with_context(|| format!("writing the dataset to {}", output.display()))?;
    let times = match &contents.times {
        Times::Shared(t) => format!("{} times", t.len()),
        Times::PerTrajectory(_) => format!("{} times each (its own grid)", contents.times.most()),
    };
    println!("wrote {} trajectories × {times} to {}", contents.trajectories, output.display());
    Ok(())
}

/// A set-up error with the flag that sets what it names.
fn flagged(e: SolveError) -> anyhow::Error {
    match e {
        SolveError::Setup(e) => with_flag(e),
        e => e.into(),
    }
}
