//! The driver: walks a batch of trajectories through the requested output times with fixed or
//! adaptive steps, landing exactly on each output time, and counts the work.

use crate::error::SolveError;
use crate::field::VectorField;
use crate::methods::Method;
use crate::multistep::Bdf2Stepper;
use crate::newton::NewtonControl;
use crate::record::{StepRecord, Trajectory};
use crate::rhs::Rhs;
use crate::rk::RkStepper;
use crate::step_control::{Controller, Tolerances, weighted_norm, weights};
use crate::stepper::{Attempt, Outcome, Stepper};

/// How step sizes are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum StepControl {
    /// `substeps` equal steps in every interval between output times.
    Fixed { substeps: usize },
    /// Embedded error estimate and PI controller; `h0` overrides the automatic first step.
    Adaptive { tol: Tolerances, h0: Option<f64> },
    /// Steps ending at the given times (strictly increasing, containing every output time):
    /// repeats the step sequence of an earlier solve ([`Trajectory::grid`]).
    Grid { times: Vec<f64> },
}

/// Options of a solve.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveOptions {
    /// Step-size control.
    pub control: StepControl,
    /// Limit on step attempts (accepted and rejected).
    pub max_steps: usize,
    /// Newton iteration cap per implicit solve.
    pub newton_max_iter: usize,
    /// Tolerances that scale the Newton convergence test under fixed steps.
    pub fixed_newton_tol: Tolerances,
    /// Let fields on the f64 CPU device evaluate in their host form ([`VectorField::host`]);
    /// off, every evaluation runs as a Burn tensor program.
    pub host_fast_path: bool,
}

impl SolveOptions {
    /// Default limit on step attempts.
    pub const DEFAULT_MAX_STEPS: usize = 20_000;

    /// Adaptive steps with scalar tolerances.
    pub fn adaptive(rtol: f64, atol: f64) -> Self {
        Self::with_control(StepControl::Adaptive { tol: Tolerances::new(rtol, atol), h0: None })
    }

    /// `substeps` fixed steps per output interval.
    pub fn fixed(substeps: usize) -> Self {
        Self::with_control(StepControl::Fixed { substeps })
    }

    fn with_control(control: StepControl) -> Self {
        Self {
            control,
            max_steps: Self::DEFAULT_MAX_STEPS,
            newton_max_iter: 7,
            fixed_newton_tol: Tolerances::new(1e-12, 1e-12),
            host_fast_path: true,
        }
    }
}

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

/// Solve `y' = f(t, y)` from `y(t0) = y0` for a batch of trajectories (`y0` holds `batch·d`
/// values) and return the states at `save_at` (strictly increasing, ≥ t0).
///
/// All trajectories share one step size: the error norm is the worst trajectory's. This keeps
/// one Newton iteration and one tensor call per stage for the whole batch, and lets training
/// hold the step sequence fixed for every trajectory; the cost is that the stiffest trajectory
/// sets the step for all.
pub fn solve(
    field: &dyn VectorField,
    method: &Method,
    y0: &[f64],
    t0: f64,
    save_at: &[f64],
    opts: &SolveOptions,
) -> Result<Solution, SolveError> {
    match run(field, method, y0, t0, save_at, opts, false)? {
        Run::Plain(solution) | Run::Recorded(Trajectory { solution, .. }) => Ok(solution),
    }
}

/// [`solve`], keeping every accepted step and step point: the record that gradients replay.
pub fn solve_trajectory(
    field: &dyn VectorField,
    method: &Method,
    y0: &[f64],
    t0: f64,
    save_at: &[f64],
    opts: &SolveOptions,
) -> Result<Trajectory, SolveError> {
    match run(field, method, y0, t0, save_at, opts, true)? {
        Run::Recorded(trajectory) => Ok(trajectory),
        Run::Plain(_) => unreachable!("recording was requested"),
    }
}

enum Run {
    Plain(Solution),
    Recorded(Trajectory),
}

/// Steps and points kept by a recording solve.
#[derive(Default)]
struct Recording {
    steps: Vec<StepRecord>,
    points: Vec<Vec<f64>>,
    outputs: Vec<usize>,
}

fn run(
    field: &dyn VectorField,
    method: &Method,
    y0: &[f64],
    t0: f64,
    save_at: &[f64],
    opts: &SolveOptions,
    record: bool,
) -> Result<Run, SolveError> {
    let d = field.dim();
    validate(d, y0, t0, save_at, opts)?;
    let batch = y0.len() / d;
    let rhs = Rhs::new(field, opts.host_fast_path);
    let newton_tol = match &opts.control {
        StepControl::Adaptive { tol, .. } => tol,
        StepControl::Fixed { .. } | StepControl::Grid { .. } => &opts.fixed_newton_tol,
    };
    let adaptive = matches!(opts.control, StepControl::Adaptive { .. });
    let newton = NewtonControl::new(newton_tol.min_rtol(), rhs.epsilon, opts.newton_max_iter, !adaptive);
    let mut stepper: Box<dyn Stepper + '_> = match method {
        Method::RungeKutta(tab) => Box::new(RkStepper::new(tab, &rhs, batch, newton)),
        Method::Bdf2(_) => Box::new(Bdf2Stepper::new(&rhs, batch, newton)),
    };
    if adaptive && !stepper.estimates_error() {
        return Err(SolveError::NoErrorEstimate { method: method.name().into() });
    }
    let mut drive = Drive { stepper: stepper.as_mut(), rhs: &rhs, batch, d, opts, newton_tol, stats: Stats::default(), record: record.then(Recording::default) };
    let states = drive.run(y0, t0, save_at)?;
    let (mut stats, recording) = (drive.stats, drive.record);
    (stats.newton_iterations, stats.factorizations) = stepper.newton_counts();
    stats.rhs_evaluations = rhs.evals.get();
    stats.jacobian_evaluations = rhs.jacobians.get();
    let solution = Solution { times: save_at.to_vec(), states, batch, dim: d, stats };
    Ok(match recording {
        Some(r) => Run::Recorded(Trajectory { solution, t0, steps: r.steps, points: r.points, output_points: r.outputs }),
        None => Run::Plain(solution),
    })
}

fn validate(d: usize, y0: &[f64], t0: f64, save_at: &[f64], opts: &SolveOptions) -> Result<(), SolveError> {
    let bad = |what, why: String| Err(SolveError::InvalidOption { what, why });
    if d == 0 || y0.is_empty() || y0.len() % d != 0 {
        return Err(SolveError::InvalidInitialState(format!("{} values for dimension {d}", y0.len())));
    }
    if let Some(k) = y0.iter().position(|v| !v.is_finite()) {
        return Err(SolveError::InvalidInitialState(format!("component {k} is {}", y0[k])));
    }
    if !t0.is_finite() {
        return bad("t0", format!("{t0} is not finite"));
    }
    if save_at.is_empty() {
        return bad("output times", "none given".into());
    }
    let mut prev = t0;
    for (k, &t) in save_at.iter().enumerate() {
        if !t.is_finite() || t < prev || (k > 0 && t == prev) {
            return bad("output times", format!("time {t} at position {k} is not finite and increasing from t0 = {t0}"));
        }
        prev = t;
    }
    match &opts.control {
        StepControl::Fixed { substeps: 0 } => bad("steps", "must be at least 1".into()),
        StepControl::Grid { times } => {
            let mut prev = t0;
            for &t in times {
                if !(t > prev && t.is_finite()) {
                    return bad("step grid", format!("time {t} does not increase from {prev}"));
                }
                prev = t;
            }
            match save_at.iter().find(|t| !times.contains(t)) {
                Some(t) => bad("step grid", format!("output time {t} is not a step end")),
                None => Ok(()),
            }
        }
        StepControl::Adaptive { tol, h0 } => {
            tol.validate(d)?;
            match h0 {
                Some(h) if !(h.is_finite() && *h > 0.0) => bad("h0", format!("{h} (must be > 0)")),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

struct Drive<'s, 'r> {
    stepper: &'s mut dyn Stepper,
    rhs: &'r Rhs<'r>,
    batch: usize,
    d: usize,
    opts: &'r SolveOptions,
    newton_tol: &'r Tolerances,
    stats: Stats,
    record: Option<Recording>,
}

impl Drive<'_, '_> {
    fn run(&mut self, y0: &[f64], t0: f64, save_at: &[f64]) -> Result<Vec<Vec<f64>>, SolveError> {
        let (mut t, mut y) = (t0, y0.to_vec());
        let mut out = Vec::with_capacity(save_at.len());
        let mut h = match &self.opts.control {
            StepControl::Adaptive { tol, h0 } => h0.unwrap_or(self.initial_step(t0, &y, save_at, tol)?),
            _ => 0.0,
        };
        if let Some(r) = &mut self.record {
            r.points.push(y.clone());
        }
        let mut grid_next = 0;
        let mut controller = Controller::new();
        for &t_out in save_at {
            match &self.opts.control {
                StepControl::Fixed { substeps } => {
                    let (start, n) = (t, *substeps);
                    for k in 0..n {
                        if t >= t_out {
                            break;
                        }
                        let t_next = if k + 1 == n { t_out } else { start + (t_out - start) * (k + 1) as f64 / n as f64 };
                        y = self.fixed_step(t, &y, t_next - t, save_at[save_at.len() - 1])?;
                        t = t_next;
                    }
                }
                StepControl::Grid { times } => {
                    while t < t_out {
                        let t_next = times[grid_next];
                        grid_next += 1;
                        y = self.fixed_step(t, &y, t_next - t, save_at[save_at.len() - 1])?;
                        t = t_next;
                    }
                }
                StepControl::Adaptive { tol, .. } => {
                    while t < t_out {
                        (t, y, h) = self.adaptive_step(t, y, h, t_out, tol, &mut controller, save_at[save_at.len() - 1])?;
                    }
                }
            }
            out.push(y.clone());
            if let Some(r) = &mut self.record {
                r.outputs.push(r.points.len() - 1);
            }
        }
        Ok(out)
    }

    /// Count an accepted step, tell the stepper, and record it when recording.
    fn accept(&mut self, t: f64, h: f64, t_next: f64, a: &Attempt) {
        self.stats.steps += 1;
        self.stepper.accepted(a.theta);
        if let Some(r) = &mut self.record {
            r.steps.push(StepRecord { t, h, t_next, kind: a.kind.clone() });
            r.points.push(a.y.clone());
        }
    }

    fn count_attempt(&self, t: f64, t_end: f64) -> Result<(), SolveError> {
        if self.stats.steps + self.stats.rejected >= self.opts.max_steps {
            return Err(SolveError::MaxSteps { max_steps: self.opts.max_steps, t, t_end });
        }
        Ok(())
    }

    /// One step of the fixed grid. If Newton fails even with a fresh Jacobian, the step is
    /// split into two halves (counted as a rejection), down to `2⁻²⁰` of the grid step.
    fn fixed_step(&mut self, t: f64, y: &[f64], h: f64, t_end: f64) -> Result<Vec<f64>, SolveError> {
        self.fixed_step_split(t, y, h, t_end, 0)
    }

    fn fixed_step_split(&mut self, t: f64, y: &[f64], h: f64, t_end: f64, depth: u32) -> Result<Vec<f64>, SolveError> {
        let w = weights(self.newton_tol, y, None, self.d);
        loop {
            self.count_attempt(t, t_end)?;
            match self.stepper.attempt(t, y, h, &w, None)? {
                Outcome::Done(a) => {
                    self.accept(t, h, t + h, &a);
                    return Ok(a.y);
                }
                Outcome::NewtonFailed if self.stepper.refresh_jacobian() => continue,
                Outcome::NewtonFailed if depth < 20 => {
                    self.stats.rejected += 1;
                    let mid = self.fixed_step_split(t, y, 0.5 * h, t_end, depth + 1)?;
                    return self.fixed_step_split(t + 0.5 * h, &mid, 0.5 * h, t_end, depth + 1);
                }
                Outcome::NewtonFailed => return Err(SolveError::NewtonFailed { step: self.stats.steps + 1, t, h }),
            }
        }
    }

    /// One accepted step (after any rejections) towards `t_out`; returns the new time, state
    /// and proposed next step size.
    #[allow(clippy::too_many_arguments)]
    fn adaptive_step(
        &mut self,
        t: f64,
        y: Vec<f64>,
        mut h: f64,
        t_out: f64,
        tol: &Tolerances,
        controller: &mut Controller,
        t_end: f64,
    ) -> Result<(f64, Vec<f64>, f64), SolveError> {
        let w = weights(tol, &y, None, self.d);
        loop {
            self.count_attempt(t, t_end)?;
            // Land exactly on t_out; split a remainder below two steps evenly.
            let (step, last) = if t + h >= t_out {
                (t_out - t, true)
            } else if t + 2.0 * h > t_out {
                (0.5 * (t_out - t), false)
            } else {
                (h, false)
            };
            if step < 16.0 * f64::EPSILON * t.abs() || step <= f64::MIN_POSITIVE {
                return Err(SolveError::StepTooSmall { step: self.stats.steps + 1, t, h: step });
            }
            match self.stepper.attempt(t, &y, step, &w, Some(tol))? {
                Outcome::NewtonFailed => {
                    if !self.stepper.refresh_jacobian() {
                        self.stats.rejected += 1;
                        h = 0.5 * step;
                    }
                }
                Outcome::Done(a) => {
                    let err = a.err.expect("adaptive attempts estimate their error");
                    if err <= 1.0 {
                        let t_next = if last { t_out } else { t + step };
                        self.accept(t, step, t_next, &a);
                        let mut fac = controller.accept(err, a.err_order);
                        // Keep h (and the factorization) for small changes (RADAU5's QUOT1/2).
                        if (1.0..=1.2).contains(&fac) {
                            fac = 1.0;
                        }
                        let h_next = if last { (step * fac).max(h.min(step * 5.0)) } else { step * fac };
                        return Ok((t_next, a.y, h_next));
                    }
                    self.stats.rejected += 1;
                    h = step * controller.reject(err, a.err_order);
                }
            }
        }
    }

    /// Starting step (Hairer, Nørsett & Wanner I, II.4, "Starting step size").
    fn initial_step(&self, t0: f64, y0: &[f64], save_at: &[f64], tol: &Tolerances) -> Result<f64, SolveError> {
        let span = save_at.iter().copied().find(|&t| t > t0).unwrap_or(t0 + 1.0) - t0;
        let w = weights(tol, y0, None, self.d);
        let rows = vec![t0; self.batch];
        let f0 = self.rhs.eval(&rows, y0)?;
        let d0 = weighted_norm(y0, &w, self.batch, self.d);
        let d1 = weighted_norm(&f0, &w, self.batch, self.d);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 { 1e-6 * span } else { (0.01 * d0 / d1).min(span) };
        let y1: Vec<f64> = y0.iter().zip(&f0).map(|(y, f)| y + h0 * f).collect();
        let rows1 = vec![t0 + h0; self.batch];
        let d2 = match self.rhs.eval(&rows1, &y1) {
            Ok(f1) => {
                let diff: Vec<f64> = f1.iter().zip(&f0).map(|(a, b)| a - b).collect();
                weighted_norm(&diff, &w, self.batch, self.d) / h0
            }
            Err(_) => f64::INFINITY,
        };
        let h1 = if d1.max(d2) <= 1e-15 { (h0 * 1e-3).max(1e-6 * span) } else { (0.01 / d1.max(d2)).sqrt() };
        Ok((100.0 * h0).min(h1).min(span))
    }
}
