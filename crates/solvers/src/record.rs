//! The record of a forward solve that gradients are built from: every accepted step with its
//! size and converged stage values, and the state at every step point (DESIGN §4). Step sizes
//! are chosen in the forward solve and held fixed when the steps are replayed for gradients,
//! as diffrax does: the gradient is that of the discrete solution on this step sequence.

use crate::solver::Solution;

/// What replaying an accepted step needs besides its start state(s).
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// A Runge–Kutta step; `stages` holds its converged stage values `Y_i`, stage-major
    /// (`s·batch·d` values: stage `i` of trajectory `b` at `(i·batch + b)·d`).
    RungeKutta { stages: Vec<f64> },
    /// `y_{n+1} = α₁y_n + α₀y_{n−1} + hβ f(t_{n+1}, y_{n+1})`: BDF2, or backward Euler
    /// (`α₁ = 1, α₀ = 0, β = 1`) while BDF2 starts.
    Bdf { alpha1: f64, alpha0: f64, beta: f64 },
}

impl StepKind {
    /// Number of past points the step reads (`y_n`, and `y_{n−1}` for a BDF2 step).
    pub fn inputs(&self) -> usize {
        match self {
            Self::Bdf { alpha0, .. } if *alpha0 != 0.0 => 2,
            _ => 1,
        }
    }
}

/// One accepted step from point `n` to point `n+1`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Start time `t_n`.
    pub t: f64,
    /// Step size used.
    pub h: f64,
    /// End time (exactly the output time when the step lands on one).
    pub t_next: f64,
    /// Method-specific data.
    pub kind: StepKind,
}

/// A solve with its steps: [`Solution`] plus what gradient replays need.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// States at the output times and counters.
    pub solution: Solution,
    /// Initial time.
    pub t0: f64,
    /// Accepted steps in order; step `n` goes from point `n` to point `n+1`.
    pub steps: Vec<StepRecord>,
    /// State at every step point (`batch·d` values each; point 0 is the initial state).
    pub points: Vec<Vec<f64>>,
    /// Point index of each output time.
    pub output_points: Vec<usize>,
}

impl Trajectory {
    /// End times of the steps: a grid for [`StepControl::Grid`](crate::StepControl::Grid) that
    /// repeats this step sequence (finite-difference checks with frozen steps use it).
    pub fn grid(&self) -> Vec<f64> {
        self.steps.iter().map(|s| s.t_next).collect()
    }
}
