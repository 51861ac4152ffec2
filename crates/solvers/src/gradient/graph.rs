//! The graph mode ([`GradientMode::Graph`](crate::GradientMode::Graph)): the whole solve on
//! Burn's autodiff graph.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::Gradient;
use super::replay::Replay;
use crate::error::SolveError;
use crate::field::{VectorField, from_host, to_host};
use crate::request::Request;
use crate::solution::SolveRecord;
use crate::solve_record;

/// A solve whose output states are recorded for autodiff.
pub struct OnGraph {
    /// The initial states as a leaf tensor `[batch, d]` (its gradient is `∂L/∂y0`).
    pub y0: Tensor<2>,
    /// States at the output times, `[batch, d]` each, on the field's device.
    pub states: Vec<Tensor<2>>,
    /// The forward solve's record.
    pub record: SolveRecord,
}

/// Solve `request` and return the output states recorded on Burn's autodiff graph: the gradient
/// of any scalar loss of them reaches the initial states ([`OnGraph::y0`]) and the field's
/// parameters. `field` should live on an autodiff device (`Device::autodiff()`).
pub fn solve_on_graph<F: VectorField + Module>(field: &F, request: &Request) -> Result<OnGraph, SolveError> {
    let plain = field.valid();
    let record = solve_record(&plain, request)?;
    let (batch, d) = (record.solution.batch, record.solution.dim);
    let y0 = from_host(request.y0.clone(), [batch, d], &field.device()).require_grad();
    let replay = Replay::new(field, &plain, &record);
    // Each trajectory's own steps, replayed on its row of y0; the outputs stacked by row.
    let mut rows: Vec<Vec<Tensor<2>>> = Vec::with_capacity(batch);
    for (b, traj) in record.trajectories.iter().enumerate() {
        let mut points = vec![y0.clone().slice([b..b + 1, 0..d])];
        for (n, rec) in traj.steps.iter().enumerate() {
            let inputs: Vec<Tensor<2>> = (0..rec.kind.inputs()).map(|k| points[n - k].clone()).collect();
            let next = replay.step(rec, &inputs, traj.stage_values(n))?;
            // The forward solve's value with the replay's derivative: every step is linearized at
            // the stored points, exactly as the adjoint mode does, and the recorded states equal
            // the solution's.
            let stored = from_host(traj.point(n + 1).to_vec(), [1, d], &next.device());
            points.push(next.clone() - next.detach() + stored);
        }
        rows.push(traj.output_points.iter().map(|&p| points[p].clone()).collect());
    }
    let states =
        (0..record.solution.times.len()).map(|k| Tensor::cat(rows.iter().map(|r| r[k].clone()).collect(), 0)).collect();
    drop(replay);
    Ok(OnGraph { y0, states, record })
}

/// The graph mode of [`gradient`](super::gradient): `loss` of the recorded states, `backward()`.
pub(super) fn gradient<F: VectorField + Module>(
    field: &F,
    request: &Request,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
) -> Result<Gradient, SolveError> {
    let on = solve_on_graph(field, request)?;
    let value = loss(&on.states);
    let loss_value = to_host(value.clone().without_autodiff())[0];
    let grads = value.backward();
    let y0 = on.y0.grad(&grads).map_or_else(|| vec![0.0; request.y0.len()], to_host);
    let params = GradientsParams::from_grads(grads, field);
    Ok(Gradient { loss: loss_value, y0, params, record: on.record, step_adjoints: None })
}
