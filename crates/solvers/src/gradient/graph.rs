//! Mode (a): the whole solve on Burn's autodiff graph.

use burn::module::Module;
use burn::tensor::Tensor;

use super::replay::Replay;
use crate::error::SolveError;
use crate::field::{VectorField, from_host, to_host};
use crate::methods::Method;
use crate::record::Trajectory;
use crate::solver::{SolveOptions, solve_trajectory};

/// A solve whose output states are recorded for autodiff.
pub struct Recorded {
    /// States at the output times, `[batch, d]` each, on the field's device.
    pub states: Vec<Tensor<2>>,
    /// The forward solve's record.
    pub trajectory: Trajectory,
}

/// Solve from `y0` (`[batch, d]` on the field's device; mark it `require_grad` for its
/// gradient) and return the output states recorded on Burn's autodiff graph: the gradient of
/// any scalar loss of them reaches `y0` and the field's parameters. `field` should live on an
/// autodiff device (`Device::autodiff()`).
pub fn solve_recorded<F: VectorField + Module>(
    field: &F,
    method: &Method,
    y0: Tensor<2>,
    t0: f64,
    save_at: &[f64],
    opts: &SolveOptions,
) -> Result<Recorded, SolveError> {
    let plain = field.valid();
    let [batch, _] = y0.dims();
    let trajectory = solve_trajectory(&plain, method, &to_host(y0.clone().without_autodiff()), t0, save_at, opts)?;
    let replay = Replay::new(field, &plain, method, batch, opts.host_fast_path);
    let mut points = vec![y0];
    for (n, rec) in trajectory.steps.iter().enumerate() {
        let inputs: Vec<Tensor<2>> = (0..rec.kind.inputs()).map(|k| points[n - k].clone()).collect();
        let next = replay.step(rec, &inputs, &trajectory.points[n + 1])?;
        // The forward solve's value with the replay's derivative: every step is linearized at
        // the stored points, exactly as the adjoint mode does, and the recorded states equal
        // the solution's.
        let stored = from_host(trajectory.points[n + 1].clone(), next.dims(), &next.device());
        points.push(next.clone() - next.detach() + stored);
    }
    let states = trajectory.output_points.iter().map(|&p| points[p].clone()).collect();
    Ok(Recorded { states, trajectory })
}
