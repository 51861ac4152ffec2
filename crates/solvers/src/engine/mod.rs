//! The forward integrator: the driver walks a batch through its output times with fixed or
//! adaptive steps ([`driver`]); a stepper takes one step of a method ([`rk`] for every
//! Runge–Kutta tableau, [`bdf2`], [`bdf`], [`rosenbrock`]); [`newton`] solves the implicit stages, [`full_newton`] finishes
//! all stages together by Newton's method proper under fixed steps. Nothing outside the
//! engine calls into it except through [`solve`] and [`solve_record`] (and, for the adjoint's
//! early stage Jacobians, `solve_record_watched`, which hands over each accepted step);
//! gradients read the [`SolveRecord`](crate::SolveRecord) it returns (design.md §9).
//!
//! This module holds what the driver needs from a method: attempt a step, hear that it was
//! accepted, and refresh the Jacobian after a failed Newton solve.

mod bdf;
mod bdf2;
mod driver;
pub(crate) mod full;
mod full_newton;
mod newton;
mod rk;
pub(crate) mod rosenbrock;

pub(crate) use driver::solve_record_watched;
pub use driver::{solve, solve_record};

use crate::error::SolveError;
use crate::solution::StepKind;
use crate::step_control::Tolerances;

/// A step that ran to completion (its error may still reject it); the new state is the
/// stepper's [`y_new`](Stepper::y_new).
pub(crate) struct Attempt {
    /// Scaled error norm (≤ 1 accepts), when tolerances were given and the method estimates.
    pub err: Option<f64>,
    /// Order `k = q+1` of the error estimate, for the controller's exponent.
    pub err_order: f64,
    /// Largest Newton contraction rate of the step (0 for explicit steps).
    pub theta: f64,
    /// Newton iterations the step took.
    pub newton_iterations: usize,
    /// The factor for the next step that the method proposes itself (a variable-order method
    /// picks its order and step together), in place of the controller's.
    pub proposal: Option<f64>,
}

pub(crate) enum Outcome {
    Done(Attempt),
    /// Newton diverged or converged too slowly: retry with a fresh Jacobian or a smaller step.
    NewtonFailed,
}

/// A one-step or multistep method as the driver sees it. Steppers own their buffers: an attempt
/// allocates nothing.
pub(crate) trait Stepper {
    /// Try the step from `(t, y)` of size `h`. `w` holds the inverse Newton weights at `y`; `tol` is
    /// given for adaptive steps.
    fn attempt(
        &mut self,
        t: f64,
        y: &[f64],
        h: f64,
        w: &[f64],
        tol: Option<&Tolerances>,
    ) -> Result<Outcome, SolveError>;

    /// The state at `t + h` of the last completed attempt.
    fn y_new(&self) -> &[f64];

    /// What differentiating the last completed attempt needs besides its stage values (for the
    /// record).
    fn step_kind(&self) -> StepKind;

    /// The converged stage values of the last completed attempt, stage-major `[s][batch][d]`,
    /// for methods that have stages besides the new state.
    fn stage_values(&self) -> Option<&[f64]>;

    /// The last attempt, of size `h`, was accepted; `theta` is its largest Newton contraction
    /// rate.
    fn accepted(&mut self, h: f64, theta: f64);

    /// Take the next step at `order` (a replayed grid repeats a variable-order solve's orders).
    fn hold_order(&mut self, _order: usize) {}

    /// After a Newton failure: if the Jacobian was not fresh, drop it and return true (retry
    /// with the same step); false if it was fresh (the step must shrink).
    fn refresh_jacobian(&mut self) -> bool;

    /// Newton iterations, factorizations so far.
    fn newton_counts(&self) -> (usize, usize);
}
