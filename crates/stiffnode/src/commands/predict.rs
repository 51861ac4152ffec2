//! `stiffnode predict`: a trained model's states at chosen times, as CSV in the dataset format:
//! from every trajectory's initial state in the run's dataset, in another dataset with the run's
//! species (`--data`), or — for a run on a reactor problem — from initial conditions a user gives
//! (`--T0 K --phi X --P "1 atm"`: the problem's mixture at that temperature, equivalence ratio
//! and pressure).

use std::path::PathBuf;

use anyhow::{Context, bail};
use stiffnode_chemistry::gas::units::Units;
use stiffnode_solvers::output_times;
use stiffnode_train::Problem;

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
    /// Predict from the initial states of this dataset (the run's species) instead.
    #[arg(long, conflicts_with_all = ["t0", "phi", "p"])]
    data: Option<PathBuf>,
    /// Predict from this initial temperature, K (a run on a reactor problem) [default: the
    /// problem's].
    #[arg(long = "T0", allow_hyphen_values = true)]
    t0: Option<f64>,
    /// … this equivalence ratio (a problem given by fuel and oxidizer) [default: the problem's].
    #[arg(long, allow_hyphen_values = true)]
    phi: Option<f64>,
    /// … this pressure, "<number> <unit>" (Pa, bar, atm, …) [default: the problem's].
    #[arg(long = "P")]
    p: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut setup = args.model.open()?;
    if let Some(dir) = &args.data {
        setup = setup.with_dataset(dir).with_context(|| format!("--data {}", dir.display()))?;
    }
    if args.t0.is_some() || args.phi.is_some() || args.p.is_some() {
        let y0 = from_conditions(&setup, &args)?;
        setup = setup.with_initial_states(vec![y0])?;
    }
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

/// The reactor problem's initial state at the conditions given (the others the problem's own).
fn from_conditions(setup: &stiffnode_train::Setup, args: &Args) -> anyhow::Result<Vec<f64>> {
    let Problem::Reactor(problem) = &setup.mechanism else {
        bail!("--T0, --phi and --P need a run on a reactor problem (.yaml); this one is a mechanism");
    };
    let t = args.t0.unwrap_or(problem.t);
    if !(t.is_finite() && t > 0.0) {
        bail!("invalid --T0 {t}: a temperature in K must be finite and > 0");
    }
    problem.mechanism.check_temperature(t).map_err(|e| anyhow::anyhow!("invalid --T0: {e}"))?;
    let p = match &args.p {
        Some(s) => Units::pressure_string(s).map_err(|e| anyhow::anyhow!("invalid --P: {e}"))?,
        None => problem.p,
    };
    if !(p.is_finite() && p > 0.0) {
        bail!("invalid --P: {p} Pa must be finite and > 0");
    }
    let phi = match (args.phi, &problem.mixture) {
        (Some(_), None) => bail!("--phi needs a problem given by fuel, oxidizer and equivalence ratio"),
        (Some(phi), Some(_)) if !(phi.is_finite() && phi > 0.0) => bail!("invalid --phi {phi}: must be finite and > 0"),
        (phi, mixture) => phi.or(mixture.as_ref().map(|m| m.phi)),
    };
    let (_, y0) = problem.at(t, p, phi).reactor(&stiffnode_solvers::DeviceKind::Cpu.open()?);
    Ok(y0)
}
