//! Typed errors of the solver library. Each names the problem and, for failed solves, the time
//! at which it happened.

use thiserror::Error;

/// Why a solve (or its set-up) failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SolveError {
    /// No method has this name.
    #[error("unknown method '{name}' (known: {known})")]
    UnknownMethod { name: String, known: String },
    /// A method without an error estimate was asked for adaptive steps.
    #[error("method '{method}' has no error estimate: give fixed steps (--steps N) instead of tolerances")]
    NoErrorEstimate { method: String },
    /// An option is out of its range.
    #[error("invalid {what}: {why}")]
    InvalidOption { what: &'static str, why: String },
    /// The initial state has the wrong size or is not finite.
    #[error("invalid initial state: {0}")]
    InvalidInitialState(String),
    /// The adaptive step size fell below its floor.
    #[error("step size {h:.3e} too small in step {step} at t = {t:.6e}: the problem is too stiff or the tolerances too tight for this method")]
    StepTooSmall { step: usize, t: f64, h: f64 },
    /// The step limit was reached before the end time.
    #[error("maximum number of steps ({max_steps}) reached at t = {t:.6e} before t = {t_end:.6e} (a stiff problem needs an implicit method)")]
    MaxSteps { max_steps: usize, t: f64, t_end: f64 },
    /// A fixed-step Newton solve did not converge.
    #[error("Newton iteration did not converge in step {step} from t = {t:.6e} with h = {h:.3e}: use smaller steps")]
    NewtonFailed { step: usize, t: f64, h: f64 },
    /// The vector field returned NaN or infinity.
    #[error("vector field returned a non-finite value at t = {t:.6e}")]
    NonFinite { t: f64 },
    /// A gradient replay produced NaN or infinity.
    #[error("non-finite gradient: {0}")]
    NonFiniteGradient(String),
    /// The Jacobian at a step point has no usable eigendecomposition (mode decomposition).
    #[error("eigendecomposition of the Jacobian after step {step} (t = {t:.6e}) failed: {why}")]
    Eigen { step: usize, t: f64, why: String },
    /// The vector field returned a tensor of the wrong shape.
    #[error("vector field returned shape {got:?}, expected {expected:?}")]
    Shape { got: Vec<usize>, expected: Vec<usize> },
    /// The device could not be used.
    #[error("device '{name}' is not available: {why}")]
    Device { name: String, why: String },
}
