//! `stiffnode bench --ensemble`: ROBER batches to t = 1e5 solved by the GPU ensemble kernel
//! (design.md §11), one JSON line per method, tolerance and batch size, against the CPU f64
//! engine on the same batch (initial states perturbed ±10 %, each trajectory its own steps).
//! With `--gradients`, forward + backward (both kernels, the parameter product on the host) too.

use std::time::Instant;

use burn::tensor::Tensor;
use serde_json::json;
use stiffnode_chemistry::mass_action::{MassActionField, rober};
use stiffnode_solvers::ensemble::{EnsembleDevice, Walk};
use stiffnode_solvers::gradient::gradient;
use stiffnode_solvers::{DeviceKind, GradientMode, Method, Request, Solution, SolveOptions, VectorField, solve};

/// What to measure.
pub struct Bench<'a> {
    pub device: DeviceKind,
    pub methods: &'a [Method],
    pub rtols: &'a [f64],
    pub batches: &'a [usize],
    pub repeats: usize,
    pub gradients: bool,
}

/// `L = Σ |y(t_end)|²` over the batch.
fn loss(states: &[Tensor<2>]) -> Tensor<1> {
    states[states.len() - 1].clone().powi_scalar(2).sum()
}

/// Best wall time of `repeats` runs of `f`, and the last result.
fn best<T>(repeats: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(f64, T)> {
    let (mut best, mut last) = (f64::INFINITY, None);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        last = Some(f()?);
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok((best, last.expect("at least one run")))
}

/// `batch` ROBER initial states, each component scaled by a factor in [0.9, 1.1].
fn initial_states(initial: &[f64], batch: usize) -> Vec<f64> {
    (0..batch)
        .flat_map(|b| {
            initial.iter().enumerate().map(move |(i, y)| {
                let u = ((b * 7919 + i * 104729) % 1000) as f64 / 999.0;
                y * (1.0 + 0.1 * (2.0 * u - 1.0))
            })
        })
        .collect()
}

/// Largest `|a − b|/|b|` over components above `atol`, and largest `|a − b|/(atol + rtol|b|)`.
fn differences(a: &Solution, b: &Solution, rtol: f64, atol: f64) -> (f64, f64) {
    let pairs = a.states.iter().flatten().zip(b.states.iter().flatten());
    pairs.fold((0.0, 0.0), |(rel, units), (x, y)| {
        let r = if y.abs() > atol { (x - y).abs() / y.abs() } else { 0.0 };
        (f64::max(rel, r), f64::max(units, (x - y).abs() / (atol + rtol * y.abs())))
    })
}

impl Bench<'_> {
    pub fn run(&self) -> anyhow::Result<()> {
        let gpu = EnsembleDevice::open(self.device)?.with_walk(Walk::Device);
        let cpu = DeviceKind::Cpu.open()?;
        let mech = rober::robertson();
        let field = MassActionField::with_learnable(&mech, &cpu.clone().autodiff(), &[0, 1, 2]);
        let tables = field.kernel().expect("mass action has a kernel form");
        let t_end = rober::REFERENCE[1].0;
        for method in self.methods {
            for &rtol in self.rtols {
                let atol = rtol * SolveOptions::DEFAULT_ATOL_PER_RTOL;
                for &batch in self.batches {
                    let y0 = initial_states(&mech.initial, batch);
                    let request = Request::new(method.clone(), y0, 0.0, vec![t_end])
                        .with_options(SolveOptions::adaptive(rtol, atol))
                        .with_gradient(GradientMode::Adjoint { keep_steps: false });
                    // The first solve compiles the kernel.
                    let start = Instant::now();
                    gpu.solve(&tables, &request)?;
                    let first = start.elapsed().as_secs_f64();
                    let (wall, ens) = best(self.repeats, || Ok(gpu.solve(&tables, &request)?))?;
                    let (cpu_wall, reference) = best(1, || Ok(solve(&field, &request)?))?;
                    let (max_rel, units) = differences(&ens.solution, &reference, rtol, atol);
                    let steps: usize = ens.trajectories.iter().map(|t| t.stats.steps).sum();
                    let mut line = json!({"bench": "rober_ensemble", "device": self.device.name(),
                        "method": method.name(), "rtol": rtol, "atol": atol, "batch": batch, "t_end": t_end,
                        "wall_s": wall, "compile_s": first - wall, "per_trajectory_s": wall / batch as f64,
                        "trajectory_steps_per_s": steps as f64 / wall, "steps_per_trajectory": steps as f64 / batch as f64,
                        "host_syncs": ens.host_syncs, "max_rel_err": max_rel, "max_tolerance_units": units,
                        "cpu_per_trajectory_s": cpu_wall / batch as f64, "cpu_over_device": cpu_wall / wall});
                    if self.gradients {
                        // The record holds the forward solve's steps: the same solve takes them again.
                        let capacity = ens.trajectories.iter().map(|t| t.stats.steps).max().unwrap_or(1);
                        let (grad_wall, _) =
                            best(self.repeats, || Ok(gpu.gradient(&field, &request, loss, capacity)?))?;
                        let (cpu_grad_wall, _) = best(1, || Ok(gradient(&field, &request, loss)?))?;
                        line["forward_backward_s"] = json!(grad_wall);
                        line["cpu_forward_backward_s"] = json!(cpu_grad_wall);
                    }
                    println!("{line}");
                }
            }
        }
        Ok(())
    }
}
