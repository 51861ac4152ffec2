//! `stiffnode solve`: one solve of a built-in problem, with optional output times and CSV.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;
use stiffnode_solvers::ensemble::EnsembleDevice;
use stiffnode_solvers::problems::MassActionField;
use stiffnode_solvers::{DeviceKind, Request, Solution, VectorField, output_times, solve};

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
    let (method, mech) = args.problem.load(args.t_end)?;
    let opts = args.steps.options(&method)?;
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
    let kind = args.device;
    let device = kind.open()?;
    let field = MassActionField::new(&mech, &device);
    let request = Request::new(method.clone(), mech.initial.clone(), 0.0, times).with_options(opts);
    let start = Instant::now();
    let (sol, kernel) =
        solve_on(kind, &field, &request).with_context(|| format!("solving {} with {}", mech.name, method.name()))?;
    let wall = start.elapsed().as_secs_f64();
    if let Some(path) = &args.output {
        write_csv(path, &mech.species, &sol.times, &sol.states)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let y = sol.states.last().unwrap();
    let s = &sol.stats;
    if args.json {
        let out = json!({
            "method": method.name(), "problem": mech.name, "t_end": args.t_end, "y": y,
            "stats": {"steps": s.steps, "rejected": s.rejected, "newton_iterations": s.newton_iterations,
                      "jacobian_evaluations": s.jacobian_evaluations, "factorizations": s.factorizations,
                      "rhs_evaluations": s.rhs_evaluations},
            "device": kind.name(), "kernel": kernel, "wall_s": wall,
        });
        println!("{out}");
        return Ok(());
    }
    println!("{} with {} on {} to t = {}", mech.name, method.name(), kind.name(), args.t_end);
    for (name, v) in mech.species.iter().zip(y) {
        println!("  {name:<8} {v:.15e}");
    }
    println!(
        "steps {} (rejected {}), Newton iterations {}, Jacobians {}, factorizations {}, f evaluations {}, {:.3} s",
        s.steps, s.rejected, s.newton_iterations, s.jacobian_evaluations, s.factorizations, s.rhs_evaluations, wall
    );
    Ok(())
}

/// Solve on `kind`: on a GPU by the ensemble kernel where it runs the request (design.md §11),
/// else as tensor programs; the bool says which.
fn solve_on(kind: DeviceKind, field: &MassActionField, request: &Request) -> anyhow::Result<(Solution, bool)> {
    let tables = field.kernel().expect("mass action has a kernel form");
    match EnsembleDevice::for_request(kind, &tables, request)? {
        Some(gpu) => Ok((gpu.solve(&tables, request)?.into_result(request)?, true)),
        None => Ok((solve(field, request)?, false)),
    }
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
