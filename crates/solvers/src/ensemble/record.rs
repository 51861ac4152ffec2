//! The kernel's step record as the [`SolveRecord`] the host engine returns: per trajectory its
//! accepted steps, the state after each (point 0 is the initial state), the stage values of each
//! step and the point of each output time (design.md §4), so that the host's gradients run on it
//! unchanged.

use super::EnsembleSolution;
use super::kernel::record_width;
use super::launch::Raw;
use crate::request::Request;
use crate::solution::{SolveRecord, StepKind, StepRecord, TrajectoryRecord};

/// The record of a solve whose trajectories all succeeded.
pub(super) fn build(request: &Request, ensemble: &EnsembleSolution, raw: &Raw) -> SolveRecord {
    let (d, s) = (raw.d, raw.s);
    let width = record_width(d, s);
    let trajectories = ensemble
        .trajectories
        .iter()
        .enumerate()
        .map(|(b, outcome)| {
            let mut rec = TrajectoryRecord::new(d);
            rec.points.extend_from_slice(&request.y0[b * d..(b + 1) * d]);
            for n in 0..outcome.stats.steps {
                let row = &raw.record[(b * raw.capacity + n) * width..][..width];
                let (t, h, t_next) = (row[0], row[1], row[2]);
                rec.steps.push(StepRecord { t, h, t_next, kind: StepKind::RungeKutta });
                rec.points.extend_from_slice(&row[3..3 + d]);
                rec.stages.extend_from_slice(&row[3 + d..]);
            }
            rec.output_points = request
                .save_at
                .iter()
                .map(|&t_out| rec.steps.iter().take_while(|st| st.t_next <= t_out).count())
                .collect();
            rec
        })
        .collect();
    SolveRecord {
        solution: ensemble.solution.clone(),
        method: request.method.clone(),
        options: request.options.clone(),
        evaluation: request.evaluation,
        t0: request.t0,
        trajectories,
    }
}
