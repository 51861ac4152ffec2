//! `stiffnode gradcheck`: the solver's gradient of a fixed loss against central finite
//! differences of f64 CPU solves on the same step grid (`gradient::check`), for everything that
//! trains: a mass-action mechanism (every `log10 k`), a reactor problem (every reaction's
//! `log10` rate factor) and a trained run (its model's parameters, on one of its trajectories,
//! against its data), each with respect to the initial state too.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::module::Module;
use serde_json::json;
use stiffnode_chemistry::check::check_mechanism;
use stiffnode_chemistry::gas::{self, ReactorProblem};
use stiffnode_chemistry::mass_action;
use stiffnode_solvers::gradient::check::{Agreement, CheckReport, CheckSpec, check_field, max_rel_err};
use stiffnode_solvers::{DeviceKind, Method, Request};
use stiffnode_train::{RunDir, Setup};

use super::args::StepArgs;

/// Arguments of `stiffnode gradcheck`.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in problem (robertson, pollu), the path of a mechanism .toml file, or of a reactor
    /// problem .yaml file (a Cantera mechanism in a reactor).
    #[arg(long, required_unless_present = "run", conflicts_with = "run")]
    problem: Option<String>,
    /// Method name (see `stiffnode methods`).
    #[arg(long, required_unless_present = "run", conflicts_with = "run")]
    method: Option<Method>,
    /// A run directory written by `stiffnode train`: check its model's parameters on one of its
    /// trajectories against its data, with the run's method and step options.
    #[arg(long)]
    run: Option<PathBuf>,
    /// The run's checkpoint: best or last.
    #[arg(long, default_value = "best", requires = "run")]
    checkpoint: String,
    /// The run's trajectory (0-based) [default: its first training trajectory].
    #[arg(long, requires = "run")]
    trajectory: Option<usize>,
    /// How many of the run's parameter values to check, spread evenly over them all.
    #[arg(long, default_value_t = 24, requires = "run")]
    params: usize,
    /// End time [default: the problem file's t_end, else 1].
    #[arg(long, allow_hyphen_values = true, conflicts_with = "run")]
    t_end: Option<f64>,
    #[command(flatten)]
    steps: StepArgs,
    /// Device the gradient is computed on: cpu (f64), wgpu (f32) or cuda (f64, with the cuda feature).
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Fail (exit 1) when the largest relative error exceeds this.
    #[arg(long, default_value_t = 1e-4)]
    max_rel_err: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// What was checked, for the report's first line.
struct Checked {
    problem: String,
    method: String,
    t_end: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (checked, report) = match (&args.run, &args.problem, &args.method) {
        (Some(run), _, _) => check_run(&args, run)?,
        (None, Some(problem), Some(method)) => check_problem(&args, problem, method)?,
        _ => bail!("give --problem and --method, or --run"),
    };
    print(&args, &checked, &report);
    if report.max_rel_err.is_nan() || report.max_rel_err > args.max_rel_err {
        bail!("gradient check failed: max rel err {:.2e} > {:.0e}", report.max_rel_err, args.max_rel_err);
    }
    if let Some(diff) = report.modes_rel_diff().filter(|d| d.is_nan() || *d > args.max_rel_err) {
        bail!("gradient check failed: the graph and adjoint modes differ by {diff:.2e} > {:.0e}", args.max_rel_err);
    }
    Ok(())
}

/// A built-in problem, a mechanism file or a reactor problem.
fn check_problem(args: &Args, name: &str, method: &Method) -> anyhow::Result<(Checked, CheckReport)> {
    let reactor = if gas::is_problem_file(name) { Some(gas::load_problem(name)?) } else { None };
    let mech = if reactor.is_none() { Some(mass_action::load(name)?) } else { None };
    let file_end = reactor.as_ref().map_or_else(|| mech.as_ref().and_then(|m| m.t_end), |p| p.t_end);
    let t_end = args.t_end.or(file_end).unwrap_or(1.0);
    if !(t_end.is_finite() && t_end > 0.0) {
        bail!("invalid --t-end {t_end}: must be finite and > 0");
    }
    let opts = args.steps.options(method)?;
    let device = args.device.open()?;
    let request = |y0: Vec<f64>| Request::new(method.clone(), y0, 0.0, vec![t_end]).with_options(opts.clone());
    let context = |what: &str| format!("gradient check of {what} with {}", method.name());
    let report = match (&reactor, &mech) {
        (Some(problem), _) => check_reactor(problem, &device, request).with_context(|| context(&problem.name))?,
        (None, Some(mech)) => {
            check_mechanism(mech, &device, &request(mech.initial.clone())).with_context(|| context(&mech.name))?
        }
        (None, None) => unreachable!("one of the two was loaded"),
    };
    let problem = reactor.map_or_else(|| mech.map(|m| m.name).unwrap_or_default(), |p| p.name);
    Ok((Checked { problem, method: method.name().to_string(), t_end }, report))
}

/// A reactor problem: every reaction's `log10` rate factor and the initial state's nonzero
/// components. A species that starts at 0 is left out: on H2/air at 1000 K a perturbation of
/// `y0[H]` by even 1e-9 of the mixture sets off chain branching that no step of the finite
/// differences follows linearly (their estimates for it never settled, measured 2026-12-07).
/// The finite differences step the temperature (and a carried pressure or density) on its own
/// scale and the species on the largest initial mass fraction or concentration.
fn check_reactor(
    problem: &ReactorProblem,
    device: &burn::tensor::Device,
    request: impl Fn(Vec<f64>) -> Request,
) -> anyhow::Result<CheckReport> {
    let all: Vec<usize> = (0..problem.mechanism.reactions.len()).collect();
    let (field, y0) = problem.reactor_learning(&device.clone().autodiff(), &all);
    let (host, _) = problem.reactor_learning(&DeviceKind::Cpu.open()?, &all);
    let state_names = problem.state_names();
    let species: HashSet<&str> = problem.mechanism.species.iter().map(|s| s.name.as_str()).collect();
    let is_species = |i: usize| species.contains(state_names[i].as_str());
    let species_scale = (0..y0.len()).filter(|&i| is_species(i)).map(|i| y0[i].abs()).fold(0.0, f64::max);
    let state_steps = (0..y0.len()).map(|i| if is_species(i) { species_scale } else { y0[i].abs() }).collect();
    let params = problem.mechanism.reactions.iter().enumerate();
    let spec = CheckSpec {
        params: params.map(|(j, r)| (j, format!("log10 f[{}]", r.equation))).collect(),
        state_names,
        states: (0..y0.len()).filter(|&i| y0[i] != 0.0).collect(),
        state_steps,
        targets: Vec::new(),
    };
    Ok(check_field(&field, &host, &request(y0), &spec)?)
}

/// A trained run: `--params` of its model's parameter values and the initial state of one
/// trajectory, the loss comparing the solve with that trajectory's data (each component on its
/// data scale, which also scales its finite-difference steps).
fn check_run(args: &Args, run: &std::path::Path) -> anyhow::Result<(Checked, CheckReport)> {
    if args.steps.given() {
        bail!("--run checks with the run's own step options: remove --rtol, --atol, --steps and --max-steps");
    }
    if args.device != DeviceKind::Cpu {
        bail!("--run checks a run's gradient on the CPU (f64) only: remove --device");
    }
    if args.params == 0 {
        bail!("invalid --params 0: check at least one parameter");
    }
    let opening = || format!("opening run {}", run.display());
    let setup = Setup::from_run(&RunDir::open(run).with_context(opening)?, &args.checkpoint, Some(DeviceKind::Cpu))
        .with_context(opening)?;
    let data = &setup.data;
    let k = args.trajectory.unwrap_or(data.train[0]);
    if k >= data.states.len() {
        bail!("invalid --trajectory {k}: the run's dataset has {} trajectories", data.states.len());
    }
    let host = setup.model.valid();
    let n = stiffnode_solvers::gradient::params::values(&host).len();
    let chosen: Vec<usize> = spread(n, args.params);
    let spec = CheckSpec {
        params: chosen.into_iter().map(|p| (p, format!("θ[{p}] of {n}"))).collect(),
        state_names: data.species.clone(),
        state_steps: data.scale.clone(),
        targets: data.states[k][1..].to_vec(),
        states: Vec::new(),
    };
    let request = setup.request(&[k], &data.times[k][1..]);
    let method = setup.config.solver.method.name().to_string();
    let report = check_field(&setup.model, &host, &request, &spec)
        .with_context(|| format!("gradient check of run {} (trajectory {k}) with {method}", run.display()))?;
    let t_end = data.times[k][data.times[k].len() - 1];
    Ok((Checked { problem: format!("{} (trajectory {k})", run.display()), method, t_end }, report))
}

/// `count` indices spread evenly over `0..n` (all of them when `count ≥ n`), first and last
/// included.
fn spread(n: usize, count: usize) -> Vec<usize> {
    if count >= n || count == 1 {
        return (0..n.min(count)).collect();
    }
    let mut idx: Vec<usize> = (0..count).map(|i| i * (n - 1) / (count - 1)).collect();
    idx.dedup();
    idx
}

/// The report: a table, or one JSON object.
fn print(args: &Args, checked: &Checked, report: &CheckReport) {
    let kind = args.device;
    if args.json {
        let out = json!({"method": checked.method, "problem": checked.problem, "device": kind.name(),
                         "t_end": checked.t_end, "max_rel_err": report.max_rel_err,
                         "n_params": report.gradient.len(), "steps": report.steps, "loss": report.loss,
                         "wall_s": report.wall_s, "undecided": undecided(report, args.max_rel_err),
                         "adaptive_gradient_rel_diff": adaptive_difference(report),
                         "modes_rel_diff": report.modes_rel_diff()});
        println!("{out}");
        return;
    }
    println!(
        "{} with {} on {} to t = {} ({} steps), loss {:.6e}",
        checked.problem,
        checked.method,
        kind.name(),
        checked.t_end,
        report.steps,
        report.loss
    );
    println!("  {:<24} {:>24} {:>24} {:>10}", "parameter", "gradient", "finite difference", "rel err");
    for (k, name) in report.names.iter().enumerate() {
        let (g, fd) = (report.gradient[k], report.finite_difference[k]);
        let rel = max_rel_err(&[g], &[fd]);
        println!("  {name:<24} {g:>24.15e} {fd:>24.15e} {rel:>10.1e}");
    }
    println!(
        "max rel err {:.2e} over {} parameters, {:.2} s",
        report.max_rel_err,
        report.gradient.len(),
        report.wall_s
    );
    if let Some(diff) = report.modes_rel_diff() {
        println!("  the graph and adjoint gradient modes differ by {diff:.1e}");
    }
    if let Some(diff) = adaptive_difference(report) {
        println!(
            "  (on these steps, stages converged to 1e-12; the adaptive solve's own gradient, at stages Newton left at its step tolerance's level, differs by {diff:.1e})"
        );
    }
    for why in undecided(report, args.max_rel_err) {
        println!("  the finite difference cannot decide {why}");
    }
}

/// How far the adaptive solve's own gradient is from the one checked, on the check's scale.
fn adaptive_difference(report: &CheckReport) -> Option<f64> {
    report.adaptive_gradient.as_ref().map(|own| max_rel_err(own, &report.gradient))
}

/// The components above `tolerance` whose finite difference measurably cannot decide, with why
/// (`CheckReport::component`).
fn undecided(report: &CheckReport, tolerance: f64) -> Vec<String> {
    let verdicts = (0..report.names.len()).map(|k| report.component(k, tolerance));
    verdicts.filter_map(|v| if let Agreement::Undecided(why) = v { Some(why) } else { None }).collect()
}
