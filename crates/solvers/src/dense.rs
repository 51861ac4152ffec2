//! Dense output: the state of a recorded solve at any time within it, by the method's continuous
//! extension over the step that holds the time (Hairer, Nørsett & Wanner I, II.6). The Rosenbrock
//! methods have one ([`Rosenbrock::dense`](crate::methods::Rosenbrock)): from the step's start
//! `y_n`, end `y_{n+1}` and stages `u_i`,
//! `y(t_n + θh) = (1−θ)y_n + θ(y_{n+1} + (1−θ)(D_1 + θ(D_2 + …)))`, `D_r = Σ_i H_ri u_i`. It is a
//! value, not differentiated: gradients are taken at the output times, where the steps land.

use crate::error::{SetupError, SolveError};
use crate::methods::Method;
use crate::solution::SolveRecord;

impl SolveRecord {
    /// The state of trajectory `trajectory` at time `t` (between the solve's start and its last
    /// output time) by the method's dense output; an error for a method without one, or a time
    /// outside the solve.
    pub fn dense(&self, trajectory: usize, t: f64) -> Result<Vec<f64>, SolveError> {
        let bad = |why: String| -> SolveError { SetupError::InvalidOption { what: "dense output", why }.into() };
        let rows = match &self.method {
            Method::Rosenbrock(m) if !m.dense.is_empty() => &m.dense,
            m => return Err(bad(format!("'{}' has none (rodas4, rodas5p and rosenbrock23 have)", m.name()))),
        };
        let traj = self
            .trajectories
            .get(trajectory)
            .ok_or_else(|| bad(format!("no trajectory {trajectory} (the solve has {})", self.trajectories.len())))?;
        let end = traj.steps.last().map_or(self.t0, |s| s.t_next);
        if !(self.t0..=end).contains(&t) {
            return Err(bad(format!("time {t} is outside the solve, [{}, {end}]", self.t0)));
        }
        // The step whose interval [t, t_next] holds t (the first one at a step boundary).
        let n = traj.steps.partition_point(|s| s.t_next < t).min(traj.steps.len().saturating_sub(1));
        let Some(step) = traj.steps.get(n) else {
            return Ok(traj.point(0).to_vec());
        };
        let d = traj.d;
        let theta = ((t - step.t) / (step.t_next - step.t)).clamp(0.0, 1.0);
        let (y0, y1, u) = (traj.point(n), traj.point(n + 1), traj.stage_values(n));
        let combination =
            |row: &[f64], i: usize| -> f64 { row.iter().enumerate().map(|(j, h)| h * u[j * d + i]).sum() };
        Ok((0..d)
            .map(|i| {
                let inner = rows.iter().rev().fold(0.0, |acc, row| combination(row, i) + theta * acc);
                (1.0 - theta) * y0[i] + theta * (y1[i] + (1.0 - theta) * inner)
            })
            .collect())
    }
}
