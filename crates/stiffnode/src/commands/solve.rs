//! `stiffnode solve`: one solve of a built-in problem, a mechanism file or a reactor problem,
//! with optional output times and CSV; reactor problems also report their ignition delay.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;
use stiffnode_chemistry::gas::ReactorProblem;
use stiffnode_chemistry::mass_action::MassActionField;
use stiffnode_solvers::{Backend, DeviceKind, Request, Solution, output_times, solve_record};

use super::args::{ProblemArgs, StepArgs};

/// Arguments of `stiffnode solve`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    problem: ProblemArgs,
    /// End time (> 0; the solve starts at t = 0).
    #[arg(long, allow_hyphen_values = true)]
    t_end: f64,
    #[command(flatten)]
    steps: StepArgs,
    /// Device: cpu (f64), wgpu (f32) or cuda (f64, with the cuda feature).
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Output times: logspace:A:B:N, linspace:A:B:N or a comma list (t_end is added).
    #[arg(long)]
    save_at: Option<String>,
    /// CSV file for the states at the output times.
    #[arg(long)]
    output: Option<std::path::PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(problem) = args.problem.reactor()? {
        return run_reactor(&args, &problem);
    }
    let (method, mech) = args.problem.load(args.t_end)?;
    let opts = args.steps.options(&method)?;
    let times = output_times(&args)?;
    let kind = args.device;
    let device = kind.open()?;
    let field = MassActionField::new(&mech, &device);
    let request = Request::new(method.clone(), mech.initial.clone(), 0.0, times).with_options(opts);
    let start = Instant::now();
    let (sol, kernel) =
        solve_on(kind, &field, &request).with_context(|| format!("solving {} with {}", mech.name, method.name()))?;
    let wall = start.elapsed().as_secs_f64();
    let extra = json!({"device": kind.name(), "kernel": kernel});
    report(&args, &mech.name, method.name(), &mech.species, &sol, wall, extra)
}

/// A reactor problem, solved on the CPU engine with its step record: the ignition delay is the
/// time of the largest dT/dt among the step points.
fn run_reactor(args: &Args, problem: &ReactorProblem) -> anyhow::Result<()> {
    let method = args.problem.method();
    let opts = args.steps.options(method)?;
    if !(args.t_end.is_finite() && args.t_end > 0.0) {
        bail!("invalid --t-end {}: must be finite and > 0", args.t_end);
    }
    let times = output_times(args)?;
    let device = args.device.open()?;
    let (reactor, y0) = problem.reactor(&device);
    let request = Request::new(method.clone(), y0, 0.0, times).with_options(opts);
    let start = Instant::now();
    let record =
        solve_record(&reactor, &request).with_context(|| format!("solving {} with {}", problem.name, method.name()))?;
    let wall = start.elapsed().as_secs_f64();
    let delay = reactor.ignition_delay(&record.trajectories()[0], 0.0);
    if !args.json {
        match delay {
            Some(tau) => println!("ignition delay (time of maximum dT/dt) {tau:.6e} s"),
            None if reactor.has_temperature() => {
                println!("no ignition before t = {} (dT/dt is largest at an end)", args.t_end)
            }
            None => {}
        }
    }
    let extra = json!({"device": args.device.name(), "kernel": false, "ignition_delay": delay});
    report(args, &problem.name, method.name(), &reactor.state_names(), record.solution(), wall, extra)
}

/// The output times: `--save-at` (checked to lie in `[0, t_end]`) and `t_end`.
fn output_times(args: &Args) -> anyhow::Result<Vec<f64>> {
    let mut times = match &args.save_at {
        Some(spec) => output_times::parse(spec).context("--save-at")?,
        None => Vec::new(),
    };
    if let Some(&t) = times.iter().find(|&&t| t < 0.0 || t > args.t_end) {
        bail!("invalid --save-at: time {t} is outside [0, t_end = {}]", args.t_end);
    }
    if times.last() != Some(&args.t_end) {
        times.push(args.t_end);
    }
    if args.output.is_some() != args.save_at.is_some() {
        bail!("--output and --save-at go together: the CSV file holds the states at the --save-at times");
    }
    Ok(times)
}

/// Print the final state (or one JSON object with `extra` merged in) and write the CSV.
fn report(
    args: &Args,
    problem: &str,
    method: &str,
    names: &[String],
    sol: &Solution,
    wall: f64,
    extra: serde_json::Value,
) -> anyhow::Result<()> {
    if let Some(path) = &args.output {
        write_csv(path, names, &sol.times, &sol.states).with_context(|| format!("writing {}", path.display()))?;
    }
    let y = sol.states.last().unwrap();
    let s = &sol.stats;
    if args.json {
        let mut out = json!({
            "method": method, "problem": problem, "t_end": args.t_end, "y": y,
            "stats": {"steps": s.steps, "rejected": s.rejected, "newton_iterations": s.newton_iterations,
                      "jacobian_evaluations": s.jacobian_evaluations, "factorizations": s.factorizations,
                      "rhs_evaluations": s.rhs_evaluations},
            "wall_s": wall,
        });
        out.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        println!("{out}");
        return Ok(());
    }
    println!("{problem} with {method} on {} to t = {}", args.device.name(), args.t_end);
    for (name, v) in names.iter().zip(y) {
        println!("  {name:<8} {v:.15e}");
    }
    println!(
        "steps {} (rejected {}), Newton iterations {}, Jacobians {}, factorizations {}, f evaluations {}, {:.3} s",
        s.steps, s.rejected, s.newton_iterations, s.jacobian_evaluations, s.factorizations, s.rhs_evaluations, wall
    );
    Ok(())
}

/// Solve on `kind` where the library's [`Backend`] says (design.md §11); the bool says whether
/// that was the ensemble kernel.
fn solve_on(kind: DeviceKind, field: &MassActionField, request: &Request) -> anyhow::Result<(Solution, bool)> {
    let backend = Backend::choose(kind, field, request)?;
    Ok((backend.solve(field, request)?, backend.is_kernel()))
}

fn write_csv(path: &std::path::Path, species: &[String], times: &[f64], states: &[Vec<f64>]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "t,{}", species.join(","))?;
    for (t, y) in times.iter().zip(states) {
        let row: Vec<String> = y.iter().map(|v| format!("{v:e}")).collect();
        writeln!(out, "{t:e},{}", row.join(","))?;
    }
    out.flush()
}
