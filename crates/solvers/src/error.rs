//! Typed errors of the solver library: [`SetupError`] for what is wrong with a request before
//! anything runs (an unknown method, an option out of range, a device that is not there), and
//! [`SolveError`] for a solve or gradient that failed while running, naming the step and time.
//! Messages say what and where; they never name command-line flags (the binary adds those).

use thiserror::Error;

/// What is wrong with a request, found before anything runs.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SetupError {
    /// No method has this name.
    #[error("unknown method '{name}' (known: {known})")]
    UnknownMethod {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A method without an error estimate was asked for adaptive steps.
    #[error("method '{method}' has no error estimate: adaptive steps need one; give a fixed step count instead")]
    NoErrorEstimate {
        /// The method's name.
        method: String,
    },
    /// An option is out of its range.
    #[error("invalid {what}: {why}")]
    InvalidOption {
        /// The option.
        what: &'static str,
        /// Why it is invalid.
        why: String,
    },
    /// The initial state has the wrong size or is not finite.
    #[error("invalid initial state: {0}")]
    InvalidInitialState(String),
    /// The device could not be used.
    #[error("device '{name}' is not available: {why}")]
    Device {
        /// The device's name.
        name: String,
        /// What went wrong when it was opened.
        why: String,
    },
}

/// Why a solve or a gradient failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SolveError {
    /// The request was invalid; nothing ran.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The adaptive step size fell below its floor.
    #[error(
        "step size {h:.3e} too small in step {step} at t = {t:.6e}: the problem is too stiff or the tolerances too tight for this method"
    )]
    StepTooSmall {
        /// The step (1-based) that failed.
        step: usize,
        /// Its start time.
        t: f64,
        /// The step size tried.
        h: f64,
    },
    /// The step limit was reached before the end time.
    #[error(
        "maximum number of steps ({max_steps}) reached at t = {t:.6e} before t = {t_end:.6e}: raise the limit, loosen the tolerances, or (for a stiff problem) use an implicit method"
    )]
    MaxSteps {
        /// The limit.
        max_steps: usize,
        /// The time reached.
        t: f64,
        /// The end time.
        t_end: f64,
    },
    /// The record kept for the gradient outgrew its memory limit.
    #[error(
        "the record kept for the gradient passed its limit of {} MiB in step {step} at t = {t:.6e}: too many steps for the trajectories solved together; loosen the tolerances, lower the step limit or solve fewer trajectories at a time",
        limit >> 20
    )]
    RecordTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The step (1-based) that passed it.
        step: usize,
        /// Its start time.
        t: f64,
    },
    /// A fixed-step Newton solve did not converge.
    #[error("Newton iteration did not converge in step {step} from t = {t:.6e} with h = {h:.3e}: use smaller steps")]
    NewtonFailed {
        /// The step (1-based) that failed.
        step: usize,
        /// Its start time.
        t: f64,
        /// Its size.
        h: f64,
    },
    /// The vector field returned NaN or infinity.
    #[error("vector field returned a non-finite value at t = {t:.6e}")]
    NonFinite {
        /// The time of the evaluation.
        t: f64,
    },
    /// A gradient produced NaN or infinity.
    #[error("non-finite gradient: {0}")]
    NonFiniteGradient(String),
    /// The Jacobian at a step point has no usable eigendecomposition (mode decomposition).
    #[error("eigendecomposition of the Jacobian after step {step} (t = {t:.6e}) failed: {why}")]
    Eigen {
        /// The step after which the Jacobian was taken.
        step: usize,
        /// Its end time.
        t: f64,
        /// What failed.
        why: String,
    },
    /// One trajectory of an ensemble solve failed; the others' results stand.
    #[error("trajectory {index}: {source}")]
    Trajectory {
        /// Its index in the batch.
        index: usize,
        /// Why it failed.
        source: Box<SolveError>,
    },
    /// The device stopped a kernel's loops before the solve finished.
    #[error(
        "the device stopped the solve at t = {t:.6e} before its end (software Vulkan ends a kernel's loops after 65,535 iterations in all): run on a hardware GPU driver, or solve to an earlier time"
    )]
    Interrupted {
        /// The time reached.
        t: f64,
    },
    /// A trajectory took more steps than the device's step record holds.
    #[error(
        "the step record holds {capacity} steps per trajectory; more were needed by t = {t:.6e}: give a larger record"
    )]
    RecordFull {
        /// Steps per trajectory the record holds.
        capacity: usize,
        /// The time reached.
        t: f64,
    },
    /// The compute device failed while running or reading back a kernel.
    #[error("device error: {0}")]
    Device(String),
    /// The vector field returned a tensor of the wrong shape.
    #[error("vector field returned shape {got:?}, expected {expected:?}")]
    Shape {
        /// The shape returned.
        got: Vec<usize>,
        /// The shape expected.
        expected: Vec<usize>,
    },
}

impl SolveError {
    /// Whether the solve ran and failed on the field as it is (too stiff, blowing up, Newton
    /// failing): a different field, e.g. a smaller training update, may succeed. Set-up errors
    /// and a wrongly shaped field are not.
    pub fn is_run_failure(&self) -> bool {
        matches!(
            self,
            Self::StepTooSmall { .. }
                | Self::MaxSteps { .. }
                | Self::RecordTooLarge { .. }
                | Self::RecordFull { .. }
                | Self::Interrupted { .. }
                | Self::NewtonFailed { .. }
                | Self::NonFinite { .. }
                | Self::NonFiniteGradient(_)
        ) || matches!(self, Self::Trajectory { source, .. } if source.is_run_failure())
    }
}
