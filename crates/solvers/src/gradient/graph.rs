//! Solves on Burn's autodiff graph ([`solve_on_graph`]) and the graph mode of
//! [`gradient`](super::gradient).
//!
//! By the request's [`GradientMode`]: `Graph` replays every step as tensor operations; `Adjoint`
//! puts the whole solve on the graph as one operation whose backward pass is the adjoint walk
//! over the record ([`operation`](super::operation)), which the GPU ensemble kernel uses too.

use std::sync::Arc;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::Gradient;
use super::adjoint::StepAdjoint;
use super::operation::{BackwardStatus, Pullback, Pulled, attach, flat_params};
use super::params::flatten;
use super::replay::Replay;
use crate::error::SolveError;
use crate::field::{VectorField, from_host, to_host};
use crate::request::{GradientMode, Request};
use crate::solution::SolveRecord;
use crate::solve_record;

/// A solve whose output states are recorded for autodiff.
pub struct OnGraph {
    /// The initial states as a leaf tensor `[batch, d]` (its gradient is `∂L/∂y0`).
    pub y0: Tensor<2>,
    /// States at the output times, `[batch, d]` each, on the field's device.
    pub states: Vec<Tensor<2>>,
    /// The forward solve's record.
    pub record: Arc<SolveRecord>,
    /// How the backward pass through the solve went, where it is one adjoint operation (a
    /// replayed solve is plain Burn operations and leaves it empty).
    pub backward: BackwardStatus,
}

/// Solve `request` and return the output states recorded on Burn's autodiff graph: the gradient
/// of any scalar loss of them reaches the initial states ([`OnGraph::y0`]) and the field's
/// parameters. `field` should live on an autodiff device (`Device::autodiff()`). With
/// [`GradientMode::Graph`] every step is replayed on the graph; with [`GradientMode::Adjoint`]
/// the solve is one operation whose backward pass walks the record (Rosenbrock steps of a field
/// without second derivatives on the host are replayed in either mode).
pub fn solve_on_graph<F: VectorField + Module + 'static>(field: &F, request: &Request) -> Result<OnGraph, SolveError> {
    super::differentiable(request, field)?;
    let plain = field.valid();
    let record = Arc::new(solve_record(&plain, request)?);
    match request.gradient {
        GradientMode::Graph => replayed(field, &plain, request, record),
        // Rosenbrock steps of a field without host second derivatives: replayed in either mode.
        GradientMode::Adjoint { .. } if !super::walkable(field, request) => replayed(field, &plain, request, record),
        GradientMode::Adjoint { .. } => {
            let pullback = host_pullback(field, record.clone());
            attached(field, request, record, pullback)
        }
    }
}

/// The adjoint walk over `record` on the host cores as the pullback of its solve.
pub(crate) fn host_pullback<F: VectorField + Module + 'static>(field: &F, record: Arc<SolveRecord>) -> Pullback {
    let field = detached(field);
    Box::new(move |outputs, want_params| {
        let walked = StepAdjoint::new(&field, &record).walk(&outputs, false)?;
        Ok(Pulled { y0: walked.y0, params: want_params.then(|| flatten(&field, &walked.params)), host_syncs: 0 })
    })
}

/// `field` with its parameters as fresh leaves of a graph of their own (the same parameter ids).
/// A pullback runs inside Burn's backward pass, which holds the graph the solve is on; where the
/// parameter product takes Burn's backward of the field's tensor program, it must run on
/// another graph.
fn detached<F: VectorField + Module>(field: &F) -> F {
    field.clone().fork(&field.device())
}

/// `record`'s output states on the graph as one operation of `y0` and the field's parameters,
/// with `pullback` as its backward pass.
pub(crate) fn attached<F: VectorField + Module>(
    field: &F,
    request: &Request,
    record: Arc<SolveRecord>,
    pullback: Pullback,
) -> Result<OnGraph, SolveError> {
    let (batch, d) = (record.solution.batch, record.solution.dim);
    let y0 = from_host(request.y0.clone(), [batch, d], &field.device()).require_grad();
    let (all, backward) = attach(&y0, flat_params(field), &record.solution.states, pullback)?;
    let states =
        (0..record.solution.times.len()).map(|k| all.clone().slice([k..k + 1, 0..batch, 0..d]).reshape([batch, d]));
    Ok(OnGraph { y0, states: states.collect(), record, backward })
}

/// Every step of `record` replayed on the graph.
fn replayed<F: VectorField + Module>(
    field: &F,
    plain: &F,
    request: &Request,
    record: Arc<SolveRecord>,
) -> Result<OnGraph, SolveError> {
    let (batch, d) = (record.solution.batch, record.solution.dim);
    let y0 = from_host(request.y0.clone(), [batch, d], &field.device()).require_grad();
    let replay = Replay::new(field, plain, &record);
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
    Ok(OnGraph { y0, states, record, backward: BackwardStatus::default() })
}

/// The graph mode of [`gradient`](super::gradient): `loss` of the replayed states, `backward()`.
pub(super) fn gradient<F: VectorField + Module + 'static>(
    field: &F,
    request: &Request,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
) -> Result<Gradient, SolveError> {
    gradient_through(field, solve_on_graph(field, request)?, loss)
}

/// `loss` of a solve on the graph, `backward()`: `L`, `∂L/∂y0`, `∂L/∂θ`; the adjoint's error if
/// the backward pass through the solve failed.
pub(crate) fn gradient_through<F: VectorField + Module>(
    field: &F,
    on: OnGraph,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
) -> Result<Gradient, SolveError> {
    let value = loss(&on.states);
    let loss_value = to_host(value.clone().without_autodiff())[0];
    let grads = value.backward();
    if let Some(Err(e)) = on.backward.result() {
        return Err(e);
    }
    let y0 = on.y0.grad(&grads).map_or_else(|| vec![0.0; on.y0.shape().num_elements()], to_host);
    let params = GradientsParams::from_grads(grads, field);
    // The pullback held the record with the graph; after the backward pass (or with the states
    // dropped) the record is this one's alone.
    let OnGraph { record, states, .. } = on;
    drop(states);
    let record = Arc::try_unwrap(record).unwrap_or_else(|shared| (*shared).clone());
    Ok(Gradient { loss: loss_value, y0, params, record, step_adjoints: None })
}
