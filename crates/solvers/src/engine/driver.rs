//! The driver: walks trajectories through the requested output times with fixed or adaptive
//! steps (design.md §8), landing exactly on each output time, and counts the work.
//!
//! Fields with a host form take every trajectory of a batch through its own step sequence (its
//! own error norm, controller and Jacobian reuse), the trajectories spread over the cores; the
//! results do not depend on the number of threads. Fields evaluated as tensor programs, and
//! requests for shared steps, take the batch together with one step size, the worst
//! trajectory's: one tensor call per stage for the whole batch.

use rayon::prelude::*;

use super::bdf::BdfStepper;
use super::bdf2::Bdf2Stepper;
use super::full::FullPlan;
use super::newton::NewtonControl;
use super::rk::RkStepper;
use super::rosenbrock::RosenbrockStepper;
use super::{Attempt, Outcome, Stepper};
use crate::error::SolveError;
use crate::field::VectorField;
use crate::methods::Method;
use crate::request::{Request, StepControl};
use crate::rhs::{Rhs, host_form};
use crate::solution::{Solution, SolveRecord, Stats, StepRecord, TrajectoryRecord};
use crate::step_control::{
    Controller, HOLD_MAX, INITIAL_FALLBACK, INITIAL_FLAT, INITIAL_FLAT_FACTOR, INITIAL_FRACTION, INITIAL_GROWTH,
    INITIAL_SMALL_NORM, LANDED_GROWTH, MIN_STEP_ULPS, Tolerances, inverse_weights, inverse_weights_into, weighted_norm,
};
use crate::tableau::Structure;

/// Solve `y' = f(t, y)` for the request's batch of trajectories and return the states at its
/// output times.
pub fn solve(field: &dyn VectorField, request: &Request) -> Result<Solution, SolveError> {
    run(field, request, false, None).map(SolveRecord::into_solution)
}

/// [`solve`], keeping every accepted step and step point of every trajectory: the record that
/// gradients are taken from (design.md §4).
pub fn solve_record(field: &dyn VectorField, request: &Request) -> Result<SolveRecord, SolveError> {
    run(field, request, true, None)
}

/// What [`solve_record_watched`] hands over per accepted step: the step and its stage values
/// (`s·d`; the new point for a multistep method).
pub(crate) type Watch<'w> = &'w mut dyn FnMut(&StepRecord, &[f64]);

/// [`solve_record`] that hands every accepted step of a one-trajectory request to `watch` as it
/// is accepted (the adjoint's stage Jacobians start on another core meanwhile); a batch is
/// solved without watching.
pub(crate) fn solve_record_watched(
    field: &dyn VectorField,
    request: &Request,
    watch: Watch,
) -> Result<SolveRecord, SolveError> {
    run(field, request, true, Some(watch))
}

/// What driving some trajectories produced: the states at the output times (`rows·d` each), the
/// work, and each trajectory's record when recording.
struct Lanes {
    states: Vec<Vec<f64>>,
    stats: Stats,
    records: Vec<TrajectoryRecord>,
}

fn run(
    field: &dyn VectorField,
    request: &Request,
    record: bool,
    watch: Option<Watch>,
) -> Result<SolveRecord, SolveError> {
    let d = field.dim();
    request.validate(d)?;
    let batch = request.batch(d);
    let plan = match &request.method {
        Method::RungeKutta(tab) if tab.structure() == Structure::Full => Some(FullPlan::new(tab)),
        _ => None,
    };
    let host = host_form(field, request.evaluation.host_form());
    let lanes = match host.as_deref() {
        Some(host) if batch > 1 && (request.evaluation.own_steps() || request.spans.is_some()) => {
            // One trajectory per task; collected in order, so the result is the same on any
            // number of threads.
            let autonomous = field.autonomous();
            let each: Vec<Result<Lanes, SolveError>> = (0..batch)
                .into_par_iter()
                .map(|b| {
                    let rhs = Rhs::host(host, d).autonomous(autonomous);
                    match request.spans {
                        Some(_) => alone(&rhs, &request.trajectory(b, d), plan.as_ref(), record),
                        None => drive(&rhs, request, plan.as_ref(), &request.y0[b * d..(b + 1) * d], record, None),
                    }
                })
                .collect();
            merge(each.into_iter().collect::<Result<Vec<_>, _>>()?)
        }
        host if batch > 1 && request.spans.is_some() => {
            // Trajectories with their own times cannot share steps: each alone, in turn.
            let each =
                (0..batch).map(|b| alone(&Rhs::new(field, host), &request.trajectory(b, d), plan.as_ref(), record));
            merge(each.collect::<Result<Vec<_>, _>>()?)
        }
        host => {
            let watch = watch.filter(|_| batch == 1);
            drive(&Rhs::new(field, host), request, plan.as_ref(), &request.y0, record, watch)?
        }
    };
    Ok(SolveRecord {
        solution: Solution { times: request.save_at.clone(), states: lanes.states, batch, dim: d, stats: lanes.stats },
        method: request.method.clone(),
        options: request.options.clone(),
        evaluation: request.evaluation,
        t0: request.t0,
        trajectories: lanes.records,
    })
}

/// Drive the one trajectory of `request`.
fn alone(rhs: &Rhs, request: &Request, plan: Option<&FullPlan>, record: bool) -> Result<Lanes, SolveError> {
    drive(rhs, request, plan, &request.y0, record, None)
}

/// One batch from the per-trajectory results, in order.
fn merge(parts: Vec<Lanes>) -> Lanes {
    let outputs = parts.first().map_or(0, |p| p.states.len());
    let mut all = Lanes { states: vec![Vec::new(); outputs], stats: Stats::default(), records: Vec::new() };
    for part in parts {
        for (out, s) in all.states.iter_mut().zip(part.states) {
            out.extend(s);
        }
        all.stats += &part.stats;
        all.records.extend(part.records);
    }
    all
}

/// Drive the trajectories `y0` (`rows·d` values) together through the request's output times.
fn drive(
    rhs: &Rhs,
    request: &Request,
    plan: Option<&FullPlan>,
    y0: &[f64],
    record: bool,
    watch: Option<Watch>,
) -> Result<Lanes, SolveError> {
    let (opts, d) = (&request.options, rhs.d);
    let rows = y0.len() / d;
    let newton_tol = opts.newton_tolerances();
    let newton = NewtonControl::new(newton_tol.min_rtol(), rhs.epsilon, opts.newton_max_iter, !opts.is_adaptive());
    let mut stepper: Box<dyn Stepper + '_> = match &request.method {
        Method::RungeKutta(tab) => Box::new(RkStepper::new(tab, plan, rhs, rows, newton)),
        Method::Bdf2(_) => Box::new(Bdf2Stepper::new(rhs, rows, newton)),
        Method::Bdf(b) => Box::new(BdfStepper::new(b, rhs, rows, newton)),
        Method::Rosenbrock(m) => Box::new(RosenbrockStepper::new(m, rhs, rows)),
    };
    let t_end = request.save_at[request.save_at.len() - 1];
    let mut drive = Drive {
        stepper: stepper.as_mut(),
        rhs,
        request,
        batch: rows,
        d,
        newton_tol,
        t_end,
        controller: Controller::new(request.method.controller()),
        weights: vec![0.0; rows * d],
        stats: Stats::default(),
        records: if record { vec![TrajectoryRecord::new(d); rows] } else { Vec::new() },
        record_bytes: 0,
        // Trajectories driven separately share the budget in proportion.
        record_budget: opts.max_record_bytes / request.batch(d) * rows,
        watch,
    };
    let states = drive.run(y0)?;
    let (mut stats, records) = (drive.stats, drive.records);
    (stats.newton_iterations, stats.factorizations) = stepper.newton_counts();
    stats.rhs_evaluations = rhs.evals.get();
    stats.jacobian_evaluations = rhs.jacobians.get();
    Ok(Lanes { states, stats, records })
}

struct Drive<'s, 'r, 'w> {
    stepper: &'s mut dyn Stepper,
    rhs: &'r Rhs<'r>,
    request: &'r Request,
    batch: usize,
    d: usize,
    newton_tol: &'r Tolerances,
    /// The last output time (errors name it).
    t_end: f64,
    controller: Controller,
    /// Inverse Newton weights at the current step's start.
    weights: Vec<f64>,
    stats: Stats,
    /// One record per trajectory when recording, else none.
    records: Vec<TrajectoryRecord>,
    /// Bytes recorded so far, and this drive's share of the request's limit.
    record_bytes: usize,
    record_budget: usize,
    /// Told of every accepted step of a one-trajectory drive (see [`solve_record_watched`]).
    watch: Option<Watch<'w>>,
}

impl Drive<'_, '_, '_> {
    fn run(&mut self, y0: &[f64]) -> Result<Vec<Vec<f64>>, SolveError> {
        let request = self.request;
        let (mut t, mut y) = (request.t0, y0.to_vec());
        let mut out = Vec::with_capacity(request.save_at.len());
        let mut h = match &request.options.control {
            StepControl::Adaptive { tol, h0 } => h0.unwrap_or(self.initial_step(&y, tol)?),
            _ => 0.0,
        };
        self.record_points(&y);
        let mut grid_next = 0;
        for &t_out in &request.save_at {
            match &request.options.control {
                StepControl::Fixed { substeps } => {
                    let (start, n) = (t, *substeps);
                    for k in 0..n {
                        if t >= t_out {
                            break;
                        }
                        let t_next =
                            if k + 1 == n { t_out } else { start + (t_out - start) * (k + 1) as f64 / n as f64 };
                        self.fixed_step(t, &mut y, t_next)?;
                        t = t_next;
                    }
                }
                StepControl::Grid { times, orders } => {
                    while t < t_out {
                        if let Some(&q) = orders.get(grid_next) {
                            self.stepper.hold_order(q);
                        }
                        let t_next = times[grid_next];
                        grid_next += 1;
                        self.fixed_step(t, &mut y, t_next)?;
                        t = t_next;
                    }
                }
                StepControl::Adaptive { tol, .. } => {
                    while t < t_out {
                        (t, h) = self.adaptive_step(t, &mut y, h, t_out, tol)?;
                    }
                }
            }
            out.push(y.clone());
            for r in &mut self.records {
                r.output_points.push(r.n_points() - 1);
            }
        }
        Ok(out)
    }

    /// Append each trajectory's part of `y` to its record.
    fn record_points(&mut self, y: &[f64]) {
        for (r, yb) in self.records.iter_mut().zip(y.chunks_exact(self.d)) {
            r.points.extend_from_slice(yb);
        }
    }

    /// Count an accepted step of size `h` from `t`, tell the stepper, record it when recording
    /// (within the record's memory budget), and move `y` to the new state.
    fn accept(&mut self, t: f64, h: f64, t_next: f64, a: &Attempt, y: &mut [f64]) -> Result<(), SolveError> {
        self.stats.steps += 1;
        y.copy_from_slice(self.stepper.y_new());
        if !self.records.is_empty() {
            let kind = self.stepper.step_kind();
            let (d, batch) = (self.d, self.batch);
            let stage_values = self.stepper.stage_values().map_or(0, |s| s.len() / batch);
            self.record_bytes += batch * (size_of::<StepRecord>() + (stage_values + d) * size_of::<f64>());
            if self.record_bytes > self.record_budget {
                let limit = self.request.options.max_record_bytes;
                return Err(SolveError::RecordTooLarge { limit, step: self.stats.steps, t });
            }
            for (b, r) in self.records.iter_mut().enumerate() {
                r.steps.push(StepRecord { t, h, t_next, kind: kind.clone() });
                // Stage i of trajectory b sits at (i·batch + b)·d of the stepper's buffer.
                if let Some(stages) = self.stepper.stage_values() {
                    for stage in stages.chunks_exact(batch * d) {
                        r.stages.extend_from_slice(&stage[b * d..(b + 1) * d]);
                    }
                }
            }
            self.record_points(y);
            if let (Some(watch), [r]) = (self.watch.as_mut(), self.records.as_slice()) {
                let step = r.steps.last().expect("just pushed");
                watch(step, self.stepper.stage_values().unwrap_or(y));
            }
        }
        self.stepper.accepted(h, a.theta);
        Ok(())
    }

    fn count_attempt(&self, t: f64) -> Result<(), SolveError> {
        let max_steps = self.request.options.max_steps;
        if self.stats.steps + self.stats.rejected >= max_steps {
            return Err(SolveError::MaxSteps { max_steps, t, t_end: self.t_end });
        }
        Ok(())
    }

    /// One step of the fixed grid, from `t` to `t_next`, `y` updated in place. If Newton fails
    /// even with a fresh Jacobian, the step is split into two halves (counted as a rejection),
    /// down to `2⁻²⁰` of the grid step. The record keeps `t_next` itself as the step's end:
    /// `t + (t_next − t)` can miss it by an ulp, and a frozen grid must land on the output times.
    fn fixed_step(&mut self, t: f64, y: &mut [f64], t_next: f64) -> Result<(), SolveError> {
        self.fixed_step_split(t, y, t_next, 0)
    }

    fn fixed_step_split(&mut self, t: f64, y: &mut [f64], t_next: f64, depth: u32) -> Result<(), SolveError> {
        inverse_weights_into(self.newton_tol, y, None, self.d, &mut self.weights);
        let h = t_next - t;
        loop {
            self.count_attempt(t)?;
            match self.stepper.attempt(t, y, h, &self.weights, None)? {
                Outcome::Done(a) => {
                    self.accept(t, h, t_next, &a, y)?;
                    return Ok(());
                }
                Outcome::NewtonFailed if self.stepper.refresh_jacobian() => continue,
                Outcome::NewtonFailed if depth < 20 => {
                    self.stats.rejected += 1;
                    let mid = t + 0.5 * h;
                    self.fixed_step_split(t, y, mid, depth + 1)?;
                    return self.fixed_step_split(mid, y, t_next, depth + 1);
                }
                Outcome::NewtonFailed => return Err(SolveError::NewtonFailed { step: self.stats.steps + 1, t, h }),
            }
        }
    }

    /// One accepted step (after any rejections) towards `t_out`, `y` updated in place; returns
    /// the new time and the proposed next step size.
    fn adaptive_step(
        &mut self,
        t: f64,
        y: &mut [f64],
        mut h: f64,
        t_out: f64,
        tol: &Tolerances,
    ) -> Result<(f64, f64), SolveError> {
        inverse_weights_into(tol, y, None, self.d, &mut self.weights);
        let max_iter = self.request.options.newton_max_iter;
        loop {
            self.count_attempt(t)?;
            // Land exactly on t_out; split a remainder below two steps evenly.
            let (step, last) = if t + h >= t_out {
                (t_out - t, true)
            } else if t + 2.0 * h > t_out {
                (0.5 * (t_out - t), false)
            } else {
                (h, false)
            };
            if step < MIN_STEP_ULPS * f64::EPSILON * t.abs() || step <= f64::MIN_POSITIVE {
                return Err(SolveError::StepTooSmall { step: self.stats.steps + 1, t, h: step });
            }
            match self.stepper.attempt(t, y, step, &self.weights, Some(tol))? {
                Outcome::NewtonFailed => {
                    if !self.stepper.refresh_jacobian() {
                        self.stats.rejected += 1;
                        h = 0.5 * step;
                    }
                }
                Outcome::Done(a) => {
                    let err = a.err.expect("adaptive attempts estimate their error");
                    let safety = Controller::newton_safety(a.newton_iterations, max_iter);
                    if err <= 1.0 {
                        let t_next = if last { t_out } else { t + step };
                        self.accept(t, step, t_next, &a, y)?;
                        let mut fac = match a.proposal {
                            Some(fac) => fac,
                            None => self.controller.accept(err, a.err_order, step, safety),
                        };
                        // Keep h (and the factorization) for small changes (RADAU5's QUOT1/2).
                        if (1.0..=HOLD_MAX).contains(&fac) {
                            fac = 1.0;
                        }
                        let h_next = if last { (step * fac).max(h.min(step * LANDED_GROWTH)) } else { step * fac };
                        return Ok((t_next, h_next));
                    }
                    self.stats.rejected += 1;
                    h = step * self.controller.reject(err, a.err_order, safety);
                }
            }
        }
    }

    /// Starting step (Hairer, Nørsett & Wanner I, II.4, "Starting step size").
    fn initial_step(&self, y0: &[f64], tol: &Tolerances) -> Result<f64, SolveError> {
        let t0 = self.request.t0;
        let span = self.request.save_at.iter().copied().find(|&t| t > t0).unwrap_or(t0 + 1.0) - t0;
        let w = inverse_weights(tol, y0, None, self.d);
        let rows = vec![t0; self.batch];
        let f0 = self.rhs.eval(&rows, y0)?;
        let d0 = weighted_norm(y0, &w, self.batch, self.d);
        let d1 = weighted_norm(&f0, &w, self.batch, self.d);
        let h0 = if d0 < INITIAL_SMALL_NORM || d1 < INITIAL_SMALL_NORM {
            INITIAL_FALLBACK * span
        } else {
            (INITIAL_FRACTION * d0 / d1).min(span)
        };
        let y1: Vec<f64> = y0.iter().zip(&f0).map(|(y, f)| y + h0 * f).collect();
        let rows1 = vec![t0 + h0; self.batch];
        let d2 = match self.rhs.eval(&rows1, &y1) {
            Ok(f1) => {
                let diff: Vec<f64> = f1.iter().zip(&f0).map(|(a, b)| a - b).collect();
                weighted_norm(&diff, &w, self.batch, self.d) / h0
            }
            Err(_) => f64::INFINITY,
        };
        let h1 = if d1.max(d2) <= INITIAL_FLAT {
            (h0 * INITIAL_FLAT_FACTOR).max(INITIAL_FALLBACK * span)
        } else {
            (INITIAL_FRACTION / d1.max(d2)).sqrt()
        };
        Ok((INITIAL_GROWTH * h0).min(h1).min(span))
    }
}
