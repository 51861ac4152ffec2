//! What a solve returns: the states at the output times with the work counters ([`Solution`]),
//! and, for gradients, the record of every accepted step with its converged stages
//! ([`SolveRecord`], design.md §4). Step sizes are chosen in the forward solve and held fixed
//! when the steps are differentiated, as diffrax does: the gradient is that of the discrete
//! solution on this step sequence.

use std::ops::AddAssign;

use crate::methods::Method;
use crate::request::SolveOptions;

/// Work counters of a solve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Accepted steps.
    pub steps: usize,
    /// Rejected steps (error too large or Newton failure with a fresh Jacobian).
    pub rejected: usize,
    /// Newton iterations.
    pub newton_iterations: usize,
    /// Jacobian evaluations.
    pub jacobian_evaluations: usize,
    /// LU factorizations (batched: one per matrix set).
    pub factorizations: usize,
    /// Right-hand-side evaluations (batched calls).
    pub rhs_evaluations: usize,
}

impl AddAssign<&Stats> for Stats {
    fn add_assign(&mut self, other: &Stats) {
        self.steps += other.steps;
        self.rejected += other.rejected;
        self.newton_iterations += other.newton_iterations;
        self.jacobian_evaluations += other.jacobian_evaluations;
        self.factorizations += other.factorizations;
        self.rhs_evaluations += other.rhs_evaluations;
    }
}

/// States at the output times.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Output times.
    pub times: Vec<f64>,
    /// One `batch·d` row-major state per output time.
    pub states: Vec<Vec<f64>>,
    /// Number of trajectories.
    pub batch: usize,
    /// State dimension.
    pub dim: usize,
    /// Work counters.
    pub stats: Stats,
}

impl Solution {
    /// State of trajectory `b` at output index `k`.
    pub fn state(&self, k: usize, b: usize) -> &[f64] {
        &self.states[k][b * self.dim..(b + 1) * self.dim]
    }
}

/// What differentiating an accepted step needs besides its start state(s).
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// A Runge–Kutta step; `stages` holds its converged stage values `Y_i`, stage-major
    /// (`s·batch·d` values: stage `i` of trajectory `b` at `(i·batch + b)·d`).
    RungeKutta {
        /// The converged stage values.
        stages: Vec<f64>,
    },
    /// `y_{n+1} = α₁y_n + α₀y_{n−1} + hβ f(t_{n+1}, y_{n+1})`: BDF2, or backward Euler
    /// (`α₁ = 1, α₀ = 0, β = 1`) while BDF2 starts.
    Bdf {
        /// Weight of `y_n`.
        alpha1: f64,
        /// Weight of `y_{n−1}`.
        alpha0: f64,
        /// Weight of `h f(t_{n+1}, y_{n+1})`.
        beta: f64,
    },
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

/// A solve with its steps: the [`Solution`], the method and options that made it, and what
/// differentiating it needs. Only the engine builds one, so its steps always belong to its method.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveRecord {
    pub(crate) solution: Solution,
    pub(crate) method: Method,
    pub(crate) options: SolveOptions,
    pub(crate) t0: f64,
    pub(crate) steps: Vec<StepRecord>,
    pub(crate) points: Vec<Vec<f64>>,
    pub(crate) output_points: Vec<usize>,
}

impl SolveRecord {
    /// States at the output times and counters.
    pub fn solution(&self) -> &Solution {
        &self.solution
    }

    /// The solution, without the record.
    pub fn into_solution(self) -> Solution {
        self.solution
    }

    /// The method that took the steps.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The options of the solve.
    pub fn options(&self) -> &SolveOptions {
        &self.options
    }

    /// Initial time.
    pub fn t0(&self) -> f64 {
        self.t0
    }

    /// Accepted steps in order; step `n` goes from point `n` to point `n+1`.
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    /// State at every step point (`batch·d` values each; point 0 is the initial state).
    pub fn points(&self) -> &[Vec<f64>] {
        &self.points
    }

    /// Point index of each output time.
    pub fn output_points(&self) -> &[usize] {
        &self.output_points
    }

    /// End times of the steps: a grid for [`StepControl::Grid`](crate::StepControl::Grid) that
    /// repeats this step sequence (finite-difference checks with frozen steps use it).
    pub fn grid(&self) -> Vec<f64> {
        self.steps.iter().map(|s| s.t_next).collect()
    }
}
