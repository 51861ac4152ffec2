//! `stiffnode bench --gradients`: forward solve alone against forward + backward in both
//! gradient modes (autodiff graph, step-by-step adjoint) on ROBER, with peak heap memory.

use std::time::Instant;

use burn::tensor::Tensor;
use serde_json::json;
use stiffnode_chemistry::mass_action::{MassActionField, rober};
use stiffnode_solvers::field::to_host;
use stiffnode_solvers::gradient::{gradient, solve_on_graph};
use stiffnode_solvers::{DeviceKind, GradientMode, Method, Request, SolveOptions, solve_record};

use crate::alloc;

/// `L = Σ |y(t_end)|²` over the batch.
fn loss(states: &[Tensor<2>]) -> Tensor<1> {
    states[states.len() - 1].clone().powi_scalar(2).sum()
}

/// Best wall time over `repeats` runs of `f`, and the peak heap growth of the last run.
fn measure<T>(repeats: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(f64, usize, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let base = alloc::reset_peak();
        let start = Instant::now();
        let out = f()?;
        best = best.min(start.elapsed().as_secs_f64());
        last = Some((alloc::peak() - base, out));
    }
    let (peak, out) = last.unwrap();
    Ok((best, peak, out))
}

pub fn run(
    kind: DeviceKind,
    methods: &[Method],
    rtols: &[f64],
    batches: &[usize],
    repeats: usize,
) -> anyhow::Result<()> {
    let device = kind.open()?;
    let ad = device.clone().autodiff();
    let mech = rober::robertson();
    let plain = MassActionField::new(&mech, &device);
    let field = MassActionField::with_learnable(&mech, &ad, &[0, 1, 2]);
    let (t_end, _) = rober::REFERENCE[1];
    for method in methods {
        for &rtol in rtols {
            let opts = SolveOptions::adaptive(rtol, rtol * SolveOptions::DEFAULT_ATOL_PER_RTOL);
            for &batch in batches {
                let y0: Vec<f64> = (0..batch).flat_map(|_| mech.initial.clone()).collect();
                let request = Request::new(method.clone(), y0, 0.0, vec![t_end]).with_options(opts.clone());
                let (fwd_s, fwd_mem, traj) = measure(repeats, || Ok(solve_record(&plain, &request)?))?;
                let (graph_s, graph_mem, g_graph) = measure(repeats, || {
                    let rec = solve_on_graph(&field, &request.clone().with_gradient(GradientMode::Graph))?;
                    let grads = loss(&rec.states).backward();
                    Ok(to_host(field.log10_rates.as_ref().unwrap().val().grad(&grads).unwrap()))
                })?;
                let (adjoint_s, adjoint_mem, g_adjoint) = measure(repeats, || {
                    let g = gradient(&field, &request, loss)?;
                    Ok(to_host(g.params.get::<1>(field.log10_rates.as_ref().unwrap().id).unwrap()))
                })?;
                let agree = g_graph
                    .iter()
                    .zip(&g_adjoint)
                    .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()))
                    .fold(0.0, f64::max);
                println!(
                    "{}",
                    json!({"bench": "rober_gradient", "device": kind.name(), "method": method.name(), "rtol": rtol,
                           "atol": rtol * SolveOptions::DEFAULT_ATOL_PER_RTOL, "batch": batch, "t_end": t_end, "steps": traj.solution().stats.steps,
                           "forward_s": fwd_s, "graph_s": graph_s, "adjoint_s": adjoint_s,
                           "graph_over_forward": graph_s / fwd_s, "adjoint_over_forward": adjoint_s / fwd_s,
                           "forward_peak_bytes": fwd_mem, "graph_peak_bytes": graph_mem, "adjoint_peak_bytes": adjoint_mem,
                           "modes_max_rel_diff": agree})
                );
            }
        }
    }
    Ok(())
}
