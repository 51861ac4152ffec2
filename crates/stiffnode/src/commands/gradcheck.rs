//! `stiffnode gradcheck`: the solver's gradient of a fixed loss (sum of squares of the final
//! state, scaled per species) with respect to the log10 rate constants and the initial state,
//! against central finite differences of f64 CPU solves on the same step grid.

use anyhow::{Context, bail};
use serde_json::json;
use stiffnode_solvers::gradient::check::check_mechanism;
use stiffnode_solvers::{DeviceKind, Request};

use super::args::{ProblemArgs, StepArgs};

/// Arguments of `stiffnode gradcheck`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    problem: ProblemArgs,
    /// End time [default: 1].
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    t_end: f64,
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

pub fn run(args: Args) -> anyhow::Result<()> {
    let (method, mech) = args.problem.load(args.t_end)?;
    let opts = args.steps.options(&method)?;
    let kind = args.device;
    let device = kind.open()?;
    let request = Request::new(method.clone(), mech.initial.clone(), 0.0, vec![args.t_end]).with_options(opts);
    let report = check_mechanism(&mech, &device, &request)
        .with_context(|| format!("gradient check of {} with {}", mech.name, method.name()))?;
    if args.json {
        let out = json!({"method": method.name(), "problem": mech.name, "device": kind.name(),
                         "max_rel_err": report.max_rel_err, "n_params": report.gradient.len(),
                         "steps": report.steps, "loss": report.loss, "wall_s": report.wall_s});
        println!("{out}");
    } else {
        println!(
            "{} with {} on {} to t = {} ({} steps), loss {:.6e}",
            mech.name,
            method.name(),
            kind.name(),
            args.t_end,
            report.steps,
            report.loss
        );
        println!("  {:<24} {:>24} {:>24} {:>10}", "parameter", "gradient", "finite difference", "rel err");
        for (k, name) in report.names.iter().enumerate() {
            let (g, fd) = (report.gradient[k], report.finite_difference[k]);
            let rel = stiffnode_solvers::gradient::check::max_rel_err(&[g], &[fd]);
            println!("  {name:<24} {g:>24.15e} {fd:>24.15e} {rel:>10.1e}");
        }
        println!(
            "max rel err {:.2e} over {} parameters, {:.2} s",
            report.max_rel_err,
            report.gradient.len(),
            report.wall_s
        );
    }
    if report.max_rel_err.is_nan() || report.max_rel_err > args.max_rel_err {
        bail!("gradient check failed: max rel err {:.2e} > {:.0e}", report.max_rel_err, args.max_rel_err);
    }
    Ok(())
}
