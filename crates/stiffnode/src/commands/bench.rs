//! `stiffnode bench`: ROBER on t ∈ [0, 1e5], per method, tolerance and batch size, one JSON
//! line per configuration (the batch holds copies of the same initial state). With
//! `--gradients`, forward against forward + backward (see [`super::bench_gradient`]); with
//! `--training FILE`, time per training epoch (see [`super::bench_training`]); with `--ensemble`,
//! the GPU ensemble kernel (see [`super::bench_ensemble`]).

use std::time::Instant;

use serde_json::json;
use stiffnode_chemistry::mass_action::{MassActionField, rober};
use stiffnode_solvers::{DeviceKind, Evaluation, Method, Request, SolveOptions, solve};

/// Arguments of `stiffnode bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Methods, comma-separated [default: radau5,esdirk4,bdf2; with --gradients:
    /// radau5,backward-euler].
    #[arg(long)]
    methods: Option<String>,
    /// Relative tolerances, comma-separated (atol = rtol·1e-4) [default: 1e-4,1e-6,1e-8;
    /// with --gradients: 1e-4].
    #[arg(long)]
    rtols: Option<String>,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "1,64,1024")]
    batches: String,
    /// Solves per configuration; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Device: cpu, wgpu or cuda (with the cuda feature).
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Evaluate the field as Burn tensor programs even on the CPU (no host fast path; the batch
    /// then shares one step sequence).
    #[arg(long)]
    tensor_path: bool,
    /// Take every batch through one shared step sequence (the worst trajectory's) instead of
    /// each trajectory its own.
    #[arg(long)]
    shared_steps: bool,
    /// Time gradients (forward + backward, both modes) instead of forward solves; with
    /// --ensemble, forward + backward beside the forward solve.
    #[arg(long, conflicts_with = "training")]
    gradients: bool,
    /// Solve perturbed batches with the GPU ensemble kernel (a thread per trajectory), against
    /// the CPU engine on the same batch [default methods: radau5,esdirk4,backward-euler;
    /// rtols: 1e-4,1e-6].
    #[arg(long, conflicts_with_all = ["training", "tensor_path", "shared_steps"])]
    ensemble: bool,
    /// Time training epochs of this configuration per method instead [default methods:
    /// radau5,esdirk4,backward-euler].
    #[arg(long)]
    training: Option<std::path::PathBuf>,
    /// Epochs per method with --training.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// With --training: start from this run's best model (time epochs of a trained model,
    /// whose solves take more steps than a fresh one's).
    #[arg(long, value_name = "RUN", requires = "training")]
    init: Option<std::path::PathBuf>,
}

fn list<T: std::str::FromStr<Err: std::fmt::Display>>(s: &str, what: &str) -> anyhow::Result<Vec<T>> {
    s.split(',').map(|x| x.trim().parse().map_err(|e| anyhow::anyhow!("invalid {what} '{}': {e}", x.trim()))).collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let kind = args.device;
    let batches = list::<usize>(&args.batches, "batch size")?;
    if let Some(b) = batches.iter().find(|&&b| b == 0) {
        anyhow::bail!("invalid --batches: {b} (each batch needs at least one trajectory)");
    }
    if args.epochs == 0 {
        anyhow::bail!("invalid --epochs 0: must be at least 1");
    }
    if args.repeats == 0 {
        anyhow::bail!("invalid --repeats 0: must be at least 1");
    }
    if let Some(config) = &args.training {
        let methods = list::<Method>(args.methods.as_deref().unwrap_or("radau5,esdirk4,backward-euler"), "method")?;
        let bench = super::bench_training::Bench {
            config_file: config,
            epochs: args.epochs,
            device: kind,
            init: args.init.as_deref(),
            shared_steps: args.shared_steps,
        };
        return bench.run(&methods);
    }
    if args.ensemble {
        let methods = list::<Method>(args.methods.as_deref().unwrap_or("radau5,esdirk4,backward-euler"), "method")?;
        let rtols = list::<f64>(args.rtols.as_deref().unwrap_or("1e-4,1e-6"), "rtol")?;
        let bench = super::bench_ensemble::Bench {
            device: kind,
            methods: &methods,
            rtols: &rtols,
            batches: &batches,
            repeats: args.repeats,
            gradients: args.gradients,
        };
        return bench.run();
    }
    if args.gradients {
        let methods = list::<Method>(args.methods.as_deref().unwrap_or("radau5,backward-euler"), "method")?;
        let rtols = list::<f64>(args.rtols.as_deref().unwrap_or("1e-4"), "rtol")?;
        return super::bench_gradient::run(kind, &methods, &rtols, &batches, args.repeats);
    }
    let device = kind.open()?;
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    let (t_end, reference) = rober::REFERENCE[1];
    for method in list::<Method>(args.methods.as_deref().unwrap_or("radau5,esdirk4,bdf2"), "method")? {
        for rtol in list::<f64>(args.rtols.as_deref().unwrap_or("1e-4,1e-6,1e-8"), "rtol")? {
            for &batch in &batches {
                let y0: Vec<f64> = (0..batch).flat_map(|_| mech.initial.clone()).collect();
                let opts = SolveOptions::adaptive(rtol, rtol * SolveOptions::DEFAULT_ATOL_PER_RTOL);
                let evaluation = match (args.tensor_path, args.shared_steps) {
                    (true, _) => Evaluation::Tensor,
                    (false, true) => Evaluation::SharedSteps,
                    (false, false) => Evaluation::Auto,
                };
                // Work counters count each trajectory's own steps, or the shared ones once.
                let own = !(args.shared_steps || args.tensor_path || kind != DeviceKind::Cpu);
                let lanes = if own { batch } else { 1 };
                let request =
                    Request::new(method.clone(), y0, 0.0, vec![t_end]).with_options(opts).with_evaluation(evaluation);
                let mut best = f64::INFINITY;
                let mut last = None;
                for _ in 0..args.repeats.max(1) {
                    let start = Instant::now();
                    let sol = solve(&field, &request)?;
                    best = best.min(start.elapsed().as_secs_f64());
                    last = Some(sol);
                }
                let sol = last.unwrap();
                let max_rel_err = (0..batch)
                    .flat_map(|b| {
                        sol.state(0, b).iter().zip(&reference).map(|(y, r)| ((y - r) / r).abs()).collect::<Vec<_>>()
                    })
                    .fold(0.0, f64::max);
                let s = &sol.stats;
                println!(
                    "{}",
                    json!({"bench": "rober_solve", "device": kind.name(), "tensor_path": args.tensor_path,
                           "shared_steps": !own, "method": method.name(), "rtol": rtol,
                           "atol": rtol * SolveOptions::DEFAULT_ATOL_PER_RTOL, "batch": batch, "t_end": t_end, "wall_s": best,
                           "per_trajectory_s": best / batch as f64,
                           "trajectory_steps_per_s": (s.steps * batch / lanes) as f64 / best,
                           "steps": s.steps / lanes, "rejected": s.rejected / lanes,
                           "newton_iterations": s.newton_iterations / lanes,
                           "jacobian_evaluations": s.jacobian_evaluations / lanes,
                           "factorizations": s.factorizations / lanes, "rhs_evaluations": s.rhs_evaluations / lanes,
                           "max_rel_err": max_rel_err})
                );
            }
        }
    }
    Ok(())
}
