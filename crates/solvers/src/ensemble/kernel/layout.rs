//! Where the kernel's buffers keep what: the counters and status codes it writes per
//! trajectory, the integer settings (`ints`), the float settings, the method's coefficients and
//! the tolerances, times and initial states after them (`coef`), the record and the checkpoints.
//! The host side (`launch.rs`, `program.rs`, `backward.rs`) fills and reads the buffers by these
//! names; the kernel indexes them by the same.

/// Per-trajectory counters written to `counters` (`COUNTERS` per trajectory).
pub const STEPS: usize = 0;
/// Rejected steps.
pub const REJECTED: usize = 1;
/// Newton iterations.
pub const NEWTON: usize = 2;
/// LU factorizations.
pub const FACTORS: usize = 3;
/// Right-hand-side evaluations (all stages of one Newton iteration count once).
pub const EVALS: usize = 4;
/// Jacobian evaluations.
pub const JACOBIANS: usize = 5;
/// The trajectory's status: one of the `STATUS_*` codes.
pub const STATUS: usize = 6;
/// Counters per trajectory.
pub const COUNTERS: usize = 7;

/// Status: reached the last output time.
pub const STATUS_OK: u32 = 0;
/// Status: the step limit was reached.
pub const STATUS_MAX_STEPS: u32 = 1;
/// Status: the step size fell below the float type's resolution of `t`.
pub const STATUS_STEP_TOO_SMALL: u32 = 2;
/// Status: `f` or `J` was not finite where no retry is possible.
pub const STATUS_NON_FINITE: u32 = 3;
/// Status: the step record is full.
pub const STATUS_RECORD_FULL: u32 = 4;
/// Status: the device stopped the kernel's loops before the trajectory finished.
pub const STATUS_INTERRUPTED: u32 = 5;

/// `ints`: batch size, output times, step limit, Newton iteration limit, record capacity (steps
/// per trajectory, 0 without a record).
pub const I_BATCH: usize = 0;
/// See [`I_BATCH`].
pub const I_OUTPUTS: usize = 1;
/// See [`I_BATCH`].
pub const I_MAX_STEPS: usize = 2;
/// See [`I_BATCH`].
pub const I_MAX_ITER: usize = 3;
/// See [`I_BATCH`].
pub const I_RECORD: usize = 4;
/// 1 when the launch resumes interrupted trajectories from their checkpoints.
pub const I_RESUME: usize = 5;
/// The number 2, as data: a loop of this many iterations tells whether the device's loop
/// limiter has fired (a constant trip count would be unrolled by the shader compiler).
pub const I_TWO: usize = 6;
/// Step attempts a launch may make before it stops its trajectories as interrupted, to resume
/// in the next launch (0: no limit).
pub const I_BUDGET: usize = 7;
/// 1 when trajectories write checkpoints (a device that may stop the kernel's loops, or a
/// budget of attempts per launch); without them an interrupted trajectory cannot resume.
pub const I_CHECKPOINTS: usize = 8;
/// Length of `ints`.
pub const I_LEN: usize = 9;

/// Scalars of a checkpoint: `t`, `h`, the next output index, Jacobian held, previous `Z` held,
/// previous `h`, controller history, its last error and step, the carried Newton `η`.
pub(super) const CHECKPOINT_SCALARS: usize = 10;

/// Values per checkpoint slot: the scalars, `y`, the previous `Z`, the Jacobian. Two slots per
/// trajectory, written alternately, so that an interrupted write leaves the last one whole.
pub const fn checkpoint_width(d: usize, s: usize) -> usize {
    CHECKPOINT_SCALARS + d + s * d + d * d
}

/// Counters per trajectory in the counters buffer: the live counters are followed by two saved
/// sets (one per checkpoint slot) and the index of the current slot.
pub const fn counters_len(batch: usize) -> usize {
    batch * (3 * COUNTERS + 1)
}

/// Settings: `t0`, the first step (≤ 0: choose it), the Newton tolerance, the float type's
/// epsilon, the span to the first output time.
pub const S_T0: usize = 0;
/// See [`S_T0`].
pub const S_H0: usize = 1;
/// See [`S_T0`].
pub const S_NEWTON_TOL: usize = 2;
/// See [`S_T0`].
pub const S_EPS: usize = 3;
/// See [`S_T0`].
pub const S_SPAN: usize = 4;
/// Length of `settings`.
pub const S_LEN: usize = 5;

/// Scalars after the coefficient arrays (see [`Coefficients`](crate::ensemble::program::Coefficients)).
pub const C_F0: usize = 0;
/// `γ` of the error filter, 0 when unfiltered.
pub const C_FILTER: usize = 1;
/// Order `k = q + 1` of the error estimate.
pub const C_ERR_ORDER: usize = 2;
/// 1 for RADAU5's predictive controller, 0 for PI.
pub const C_PREDICTIVE: usize = 3;
/// Row of the real block of `Λ` (−1 without one) and its `γ`.
pub const C_REAL_ROW: usize = 4;
/// See [`C_REAL_ROW`].
pub const C_REAL_GAMMA: usize = 5;
/// Row of the complex block (−1 without one) and its eigenvalue `α + iβ`.
pub const C_COMPLEX_ROW: usize = 6;
/// See [`C_COMPLEX_ROW`].
pub const C_ALPHA: usize = 7;
/// See [`C_COMPLEX_ROW`].
pub const C_BETA: usize = 8;
/// 1 for a collocation method (starting values by extrapolation).
pub const C_COLLOCATION: usize = 9;
/// 1 when the first stage is explicit (`a_1j = 0`, `c_1 = 0`).
pub const C_EXPLICIT_FIRST: usize = 10;
/// Number of scalars.
pub const C_SCALARS: usize = 11;

/// Offsets in the coefficient buffer of an `s`-stage method: `A` (`s×s`, at 0), the solution
/// weights, the nodes `c`, the error weights, `T`, `T⁻¹`, the `s` extrapolation matrices, then
/// the scalars.
pub const fn b_at(s: usize) -> usize {
    s * s
}
/// See [`b_at`].
pub const fn c_at(s: usize) -> usize {
    s * s + s
}
/// See [`b_at`].
pub const fn e_at(s: usize) -> usize {
    s * s + 2 * s
}
/// See [`b_at`].
pub const fn t_at(s: usize) -> usize {
    s * s + 3 * s
}
/// See [`b_at`].
pub const fn t_inv_at(s: usize) -> usize {
    2 * s * s + 3 * s
}
/// See [`b_at`].
pub const fn m_at(s: usize) -> usize {
    3 * s * s + 3 * s
}
/// See [`b_at`].
pub const fn scalars_at(s: usize) -> usize {
    3 * s * s + 3 * s + s * s * s
}
/// Offset of the settings in the input buffer, after the coefficients; the tolerances (`rtol`
/// then `atol`, `d` each), the output times and the initial states (`batch·d`) follow.
pub const fn settings_at(s: usize) -> usize {
    scalars_at(s) + C_SCALARS
}
/// See [`settings_at`].
pub const fn tol_at(s: usize) -> usize {
    settings_at(s) + S_LEN
}
/// See [`settings_at`].
pub const fn times_at(d: usize, s: usize) -> usize {
    tol_at(s) + 2 * d
}

/// Values per recorded step: `t`, `h`, `t_next`, the new state and the stage values.
pub const fn record_width(d: usize, s: usize) -> usize {
    3 + d + s * d
}
