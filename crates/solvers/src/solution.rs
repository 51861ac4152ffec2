//! What a solve returns: the states at the output times with the work counters ([`Solution`]),
//! and, for gradients, the record of every accepted step with its converged stages
//! ([`SolveRecord`], design.md §4). Step sizes are chosen in the forward solve and held fixed
//! when the steps are differentiated, as diffrax does: the gradient is that of the discrete
//! solution on this step sequence.

use std::ops::AddAssign;

use crate::methods::Method;
use crate::methods::bdf::MAX_INPUTS;
use crate::request::{Evaluation, SolveOptions};

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

/// What differentiating an accepted step needs besides its start state(s) and its stage values
/// ([`TrajectoryRecord::stage_values`]).
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// A Runge–Kutta step.
    RungeKutta,
    /// `y_{n+1} = Σ_j α_j y_{n−j} + hβ f(t_{n+1}, y_{n+1})` over `inputs` past points: a step of
    /// BDF2 (backward Euler while it starts) or of the variable-order BDF. Its one stage value is
    /// `y_{n+1}`.
    Bdf {
        /// The formula's order.
        order: usize,
        /// `α_j`, weight of `y_{n−j}` (the first `inputs`).
        alpha: [f64; MAX_INPUTS],
        /// Number of past points read.
        inputs: usize,
        /// Weight of `h f(t_{n+1}, y_{n+1})`.
        beta: f64,
    },
}

impl StepKind {
    /// Number of past points the step reads (`y_n`, and earlier ones for a BDF step).
    pub fn inputs(&self) -> usize {
        match self {
            Self::Bdf { inputs, .. } => *inputs,
            Self::RungeKutta => 1,
        }
    }

    /// The formula's order, for a BDF step.
    pub fn order(&self) -> Option<usize> {
        match self {
            Self::Bdf { order, .. } => Some(*order),
            Self::RungeKutta => None,
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

/// The accepted steps of one trajectory, with the state at every step point and the converged
/// stage values of every Runge–Kutta step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrajectoryRecord {
    pub(crate) d: usize,
    pub(crate) steps: Vec<StepRecord>,
    /// `d` values per point; point 0 is the initial state.
    pub(crate) points: Vec<f64>,
    /// `s·d` values per Runge–Kutta step (stage-major); empty for BDF2.
    pub(crate) stages: Vec<f64>,
    pub(crate) output_points: Vec<usize>,
}

impl TrajectoryRecord {
    pub(crate) fn new(d: usize) -> Self {
        Self { d, ..Self::default() }
    }

    /// Accepted steps in order; step `n` goes from point `n` to point `n+1`.
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    /// Number of step points (steps + 1).
    pub fn n_points(&self) -> usize {
        self.points.len() / self.d
    }

    /// The state at step point `k` (`d` values).
    pub fn point(&self, k: usize) -> &[f64] {
        &self.points[k * self.d..(k + 1) * self.d]
    }

    /// The converged stage values `Y_i` of step `n`, stage-major (`s·d` values; a BDF step's
    /// one stage is `y_{n+1}`).
    pub fn stage_values(&self, n: usize) -> &[f64] {
        if self.stages.is_empty() {
            return self.point(n + 1);
        }
        let sd = self.stages.len() / self.steps.len();
        &self.stages[n * sd..(n + 1) * sd]
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

    /// The order of every step, for a variable-order method's record (empty otherwise): with
    /// [`grid`](Self::grid), the step sequence that [`StepControl::Grid`](crate::StepControl::Grid)
    /// repeats.
    pub fn orders(&self) -> Vec<usize> {
        self.steps.iter().map_while(|s| s.kind.order()).collect()
    }
}

/// A solve with its steps: the [`Solution`], the method and options that made it, and each
/// trajectory's record. Only the engine builds one, so its steps always belong to its method.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveRecord {
    pub(crate) solution: Solution,
    pub(crate) method: Method,
    pub(crate) options: SolveOptions,
    pub(crate) evaluation: Evaluation,
    pub(crate) t0: f64,
    pub(crate) trajectories: Vec<TrajectoryRecord>,
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

    /// The record of each trajectory of the batch.
    pub fn trajectories(&self) -> &[TrajectoryRecord] {
        &self.trajectories
    }
}
