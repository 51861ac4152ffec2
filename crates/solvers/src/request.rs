//! What a solve is asked for, as one value: the initial states of a batch of trajectories, the
//! initial and output times, the method, the options (step control, limits), the evaluation
//! path and, for gradients, the gradient mode (design.md §9). Every entry point — [`solve`],
//! [`solve_record`], [`gradient::gradient`], [`gradient::solve_on_graph`] — takes a
//! [`Request`], as diffrax's `diffeqsolve` takes its strategy objects.
//!
//! [`solve`]: crate::solve
//! [`solve_record`]: crate::solve_record
//! [`gradient::gradient`]: crate::gradient::gradient
//! [`gradient::solve_on_graph`]: crate::gradient::solve_on_graph

use crate::error::SetupError;
use crate::limits::{MAX_DIM, MAX_RECORD_BYTES, MAX_STATE, MAX_STEPS};
use crate::methods::Method;
use crate::methods::bdf::MAX_ORDER;
use crate::step_control::Tolerances;

/// How step sizes are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum StepControl {
    /// `substeps` equal steps in every interval between output times.
    Fixed {
        /// Steps per interval, at least 1.
        substeps: usize,
    },
    /// Embedded error estimate and PI controller (design.md §8).
    Adaptive {
        /// Relative and absolute tolerances.
        tol: Tolerances,
        /// Overrides the automatic first step.
        h0: Option<f64>,
    },
    /// Steps ending at the given times (strictly increasing, containing every output time):
    /// repeats the step sequence of an earlier solve ([`TrajectoryRecord::grid`]).
    ///
    /// [`TrajectoryRecord::grid`]: crate::TrajectoryRecord::grid
    Grid {
        /// The step end times.
        times: Vec<f64>,
        /// A variable-order method's order for each step ([`TrajectoryRecord::orders`]); empty,
        /// the method's own rule for fixed steps (the highest order the points allow).
        ///
        /// [`TrajectoryRecord::orders`]: crate::TrajectoryRecord::orders
        orders: Vec<usize>,
    },
}

/// Options of a solve.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveOptions {
    /// Step-size control.
    pub control: StepControl,
    /// Limit on step attempts (accepted and rejected).
    pub max_steps: usize,
    /// Limit on the memory of the record a gradient solve keeps (steps, stages and step points
    /// of all trajectories), in bytes [default: [`MAX_RECORD_BYTES`]].
    pub max_record_bytes: usize,
    /// Newton iteration cap per implicit solve.
    pub newton_max_iter: usize,
    /// Tolerances that scale the Newton convergence test under fixed steps.
    pub fixed_newton_tol: Tolerances,
}

impl SolveOptions {
    /// Default limit on step attempts.
    pub const DEFAULT_MAX_STEPS: usize = 20_000;
    /// Default relative tolerance.
    pub const DEFAULT_RTOL: f64 = 1e-6;
    /// Default absolute tolerance as a multiple of the relative one (design.md §8).
    pub const DEFAULT_ATOL_PER_RTOL: f64 = 1e-4;

    /// Adaptive steps with scalar tolerances.
    pub fn adaptive(rtol: f64, atol: f64) -> Self {
        Self::with_control(StepControl::Adaptive { tol: Tolerances::new(rtol, atol), h0: None })
    }

    /// `substeps` fixed steps per output interval.
    pub fn fixed(substeps: usize) -> Self {
        Self::with_control(StepControl::Fixed { substeps })
    }

    /// The same options with another step control.
    pub fn with_control(control: StepControl) -> Self {
        Self {
            control,
            max_steps: Self::DEFAULT_MAX_STEPS,
            max_record_bytes: MAX_RECORD_BYTES,
            newton_max_iter: 7,
            fixed_newton_tol: Tolerances::new(1e-12, 1e-12),
        }
    }

    /// The tolerances Newton converges stages to: the step tolerances with adaptive steps,
    /// [`fixed_newton_tol`](Self::fixed_newton_tol) with fixed steps or a grid.
    pub fn newton_tolerances(&self) -> &Tolerances {
        match &self.control {
            StepControl::Adaptive { tol, .. } => tol,
            StepControl::Fixed { .. } | StepControl::Grid { .. } => &self.fixed_newton_tol,
        }
    }

    /// Whether steps are chosen by error control.
    pub fn is_adaptive(&self) -> bool {
        matches!(self.control, StepControl::Adaptive { .. })
    }

    /// Whether `method` can run with these options: adaptive steps need an error estimate.
    pub fn check_method(&self, method: &Method) -> Result<(), SetupError> {
        if self.is_adaptive() && !method.info().embedded {
            return Err(SetupError::NoErrorEstimate { method: method.name().into() });
        }
        Ok(())
    }
}

impl Default for SolveOptions {
    /// Adaptive steps at `rtol = 1e-6`, `atol = rtol·1e-4`.
    fn default() -> Self {
        Self::adaptive(Self::DEFAULT_RTOL, Self::DEFAULT_RTOL * Self::DEFAULT_ATOL_PER_RTOL)
    }
}

/// Step settings as people write them, on a command line or in a configuration file:
/// tolerances or a fixed step count, and a step limit. [`StepSettings::options`] is the one place
/// their defaults and checks live.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSettings {
    /// Relative tolerance [default 1e-6].
    pub rtol: Option<f64>,
    /// Absolute tolerance [default rtol·1e-4].
    pub atol: Option<f64>,
    /// Fixed steps per output interval, instead of tolerances.
    pub steps: Option<usize>,
    /// Limit on step attempts.
    pub max_steps: usize,
}

impl StepSettings {
    /// The solve options these settings ask for.
    pub fn options(&self) -> Result<SolveOptions, SetupError> {
        let bad = |what, why: String| Err(SetupError::InvalidOption { what, why });
        let mut opts = match (self.steps, self.rtol, self.atol) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return bad("step settings", "give a fixed step count or tolerances, not both".into());
            }
            (Some(0), ..) => return bad("steps", "0 (must be at least 1)".into()),
            (Some(n), ..) => SolveOptions::fixed(n),
            (None, rtol, atol) => {
                let rtol = rtol.unwrap_or(SolveOptions::DEFAULT_RTOL);
                let atol = atol.unwrap_or(rtol * SolveOptions::DEFAULT_ATOL_PER_RTOL);
                let tol = Tolerances::new(rtol, atol);
                tol.validate(1)?;
                SolveOptions::with_control(StepControl::Adaptive { tol, h0: None })
            }
        };
        check_max_steps(self.max_steps)?;
        opts.max_steps = self.max_steps;
        Ok(opts)
    }
}

/// An initial time and output times `of` a trajectory: finite, at least one output, strictly
/// increasing from `t0`.
fn check_times(t0: f64, save_at: &[f64], of: &str) -> Result<(), SetupError> {
    let bad = |what, why: String| Err(SetupError::InvalidOption { what, why });
    if !t0.is_finite() {
        return bad("t0", format!("{t0}{of} is not finite"));
    }
    if save_at.is_empty() {
        return bad("output times", format!("none given{of}"));
    }
    let mut prev = t0;
    for (k, &t) in save_at.iter().enumerate() {
        if !t.is_finite() || t < prev || (k > 0 && t == prev) {
            return bad(
                "output times",
                format!("time {t} at position {k}{of} is not finite and increasing from t0 = {t0}"),
            );
        }
        prev = t;
    }
    Ok(())
}

/// A step limit must be at least 1 and at most [`MAX_STEPS`].
fn check_max_steps(max_steps: usize) -> Result<(), SetupError> {
    if (1..=MAX_STEPS).contains(&max_steps) {
        return Ok(());
    }
    Err(SetupError::InvalidOption { what: "max_steps", why: format!("{max_steps} (must be from 1 to {MAX_STEPS})") })
}

/// How [`gradient`](crate::gradient::gradient) differentiates the solve (design.md §4); both give
/// the gradient of the discrete solution on the forward solve's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradientMode {
    /// Replay every step on Burn's autodiff graph: memory grows with the graph of every step.
    Graph,
    /// Walk the steps backwards with the discrete adjoint in stage form: a small LU per step and
    /// one batched vector–Jacobian product of the field. `keep_steps` keeps every step's adjoint
    /// `a_{n+1}`, which the split by eigenmode reads (design.md §5).
    Adjoint {
        /// Keep the per-step adjoints in the result.
        keep_steps: bool,
    },
}

impl Default for GradientMode {
    fn default() -> Self {
        Self::Adjoint { keep_steps: false }
    }
}

/// How the engine evaluates a field and steps a batch: where the work runs, not what it computes
/// (the three agree to rounding; design.md §9). The device kernel is chosen apart from this, by
/// [`Backend`](crate::Backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Evaluation {
    /// The field's host form where it has one on the f64 CPU device
    /// ([`VectorField::host`](crate::VectorField::host)), each trajectory of a batch on its own
    /// step sequence, one task per trajectory; elsewhere Burn tensor programs.
    #[default]
    Auto,
    /// As `Auto`, but the batch goes through one shared step sequence, the worst trajectory's.
    SharedSteps,
    /// Every evaluation a Burn tensor program (the batch shares its steps).
    Tensor,
}

impl Evaluation {
    /// Whether a field may evaluate in its host form.
    pub fn host_form(self) -> bool {
        self != Evaluation::Tensor
    }

    /// Whether each trajectory of a batch takes its own steps (where the field is on the host).
    pub fn own_steps(self) -> bool {
        self == Evaluation::Auto
    }
}

/// One trajectory's own initial time and output times ([`Request::spans`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Initial time.
    pub t0: f64,
    /// Output times, strictly increasing, the first ≥ `t0`.
    pub save_at: Vec<f64>,
}

/// A solve: initial states, times, method, options, evaluation and gradient mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Initial states of the batch, row-major: `batch·d` values.
    pub y0: Vec<f64>,
    /// Initial time.
    pub t0: f64,
    /// Output times, strictly increasing, the first ≥ `t0`.
    pub save_at: Vec<f64>,
    /// Each trajectory's own initial and output times, as many outputs each (a data window of
    /// multiple shooting, a trajectory's own data grid); `t0` and `save_at` are then the first
    /// trajectory's. Output `k` of trajectory `b` is at `spans[b].save_at[k]`. `None`: every
    /// trajectory from `t0` to `save_at`.
    pub spans: Option<Vec<Span>>,
    /// The method.
    pub method: Method,
    /// Step control and limits.
    pub options: SolveOptions,
    /// Where the engine evaluates the field.
    pub evaluation: Evaluation,
    /// How gradients are taken.
    pub gradient: GradientMode,
}

impl Request {
    /// Solve from `y0` (`batch·d` values) at `t0` to the times `save_at` with `method`, default
    /// options ([`SolveOptions::default`]) and adjoint gradients.
    pub fn new(method: Method, y0: Vec<f64>, t0: f64, save_at: Vec<f64>) -> Self {
        Self {
            y0,
            t0,
            save_at,
            method,
            options: SolveOptions::default(),
            evaluation: Evaluation::default(),
            gradient: GradientMode::default(),
            spans: None,
        }
    }

    /// Solve trajectory `b` of `y0` (`batch·d` values) from `spans[b].t0` to `spans[b].save_at`
    /// with `method`, default options and adjoint gradients. `spans` must not be empty.
    pub fn with_spans(method: Method, y0: Vec<f64>, spans: Vec<Span>) -> Self {
        let first = spans.first().cloned().unwrap_or(Span { t0: 0.0, save_at: Vec::new() });
        Self { spans: Some(spans), ..Self::new(method, y0, first.t0, first.save_at) }
    }

    /// Trajectory `b`'s initial and output times.
    pub fn span(&self, b: usize) -> (f64, &[f64]) {
        match &self.spans {
            Some(spans) => (spans[b].t0, &spans[b].save_at),
            None => (self.t0, &self.save_at),
        }
    }

    /// Trajectory `b` alone (for states of dimension `d`), with its own times and its share of
    /// the request's record memory.
    pub fn trajectory(&self, b: usize, d: usize) -> Request {
        let (t0, save_at) = self.span(b);
        let mut options = self.options.clone();
        options.max_record_bytes /= self.batch(d).max(1);
        Request {
            y0: self.y0[b * d..(b + 1) * d].to_vec(),
            t0,
            save_at: save_at.to_vec(),
            spans: None,
            options,
            ..self.clone()
        }
    }

    /// The same request evaluated by `evaluation`.
    pub fn with_evaluation(mut self, evaluation: Evaluation) -> Self {
        self.evaluation = evaluation;
        self
    }

    /// The same request with `options`.
    pub fn with_options(mut self, options: SolveOptions) -> Self {
        self.options = options;
        self
    }

    /// The same request with gradients taken by `mode`.
    pub fn with_gradient(mut self, mode: GradientMode) -> Self {
        self.gradient = mode;
        self
    }

    /// Number of trajectories for state dimension `d`.
    pub fn batch(&self, d: usize) -> usize {
        self.y0.len().checked_div(d).unwrap_or(0)
    }

    /// Check the request for a field of dimension `d`: the initial states, the times, the step
    /// control and whether the method can do what the options ask of it.
    pub fn validate(&self, d: usize) -> Result<(), SetupError> {
        let bad = |what, why: String| Err(SetupError::InvalidOption { what, why });
        let y0 = &self.y0;
        if d > MAX_DIM {
            return bad(
                "dimension",
                format!("{d} components, more than the {MAX_DIM} that the dense linear algebra takes"),
            );
        }
        if d == 0 || y0.is_empty() || !y0.len().is_multiple_of(d) {
            return Err(SetupError::InvalidInitialState(format!("{} values for dimension {d}", y0.len())));
        }
        if let Some(k) = y0.iter().position(|v| !v.is_finite() || v.abs() > MAX_STATE) {
            let why = format!("component {k} is {} (values must be finite and at most {MAX_STATE:e} in size)", y0[k]);
            return Err(SetupError::InvalidInitialState(why));
        }
        check_times(self.t0, &self.save_at, "")?;
        if let Some(spans) = &self.spans {
            let batch = y0.len() / d;
            if spans.len() != batch {
                return bad("spans", format!("{} spans for {batch} trajectories", spans.len()));
            }
            if (spans[0].t0, &spans[0].save_at) != (self.t0, &self.save_at) {
                return bad("spans", "the first span is not the request's t0 and output times".into());
            }
            if matches!(self.options.control, StepControl::Grid { .. }) && batch > 1 {
                return bad("spans", "a step grid is one trajectory's: it takes no spans for several".into());
            }
            for (b, span) in spans.iter().enumerate() {
                if span.save_at.len() != self.save_at.len() {
                    let why = format!(
                        "trajectory {b} has {} output times, trajectory 0 {}",
                        span.save_at.len(),
                        self.save_at.len()
                    );
                    return bad("spans", why);
                }
                check_times(span.t0, &span.save_at, &format!(" of trajectory {b}"))?;
            }
        }
        check_max_steps(self.options.max_steps)?;
        match &self.options.control {
            StepControl::Fixed { substeps: 0 } => bad("steps", "0 (must be at least 1)".into()),
            StepControl::Fixed { .. } => Ok(()),
            StepControl::Grid { times, orders } => self.validate_grid(times, orders),
            StepControl::Adaptive { tol, h0 } => {
                self.options.check_method(&self.method)?;
                tol.validate(d)?;
                // An absolute tolerance above every value of the problem accepts any answer.
                let scale = y0.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                if let Some(a) = tol.atol.iter().find(|a| **a > scale) {
                    let why = format!(
                        "{a} is above the size of the initial state ({scale:e}): the error control would accept anything"
                    );
                    return bad("atol", why);
                }
                match h0 {
                    Some(h) if !(h.is_finite() && *h > 0.0) => bad("h0", format!("{h} (must be > 0)")),
                    _ => Ok(()),
                }
            }
        }
    }

    fn validate_grid(&self, times: &[f64], orders: &[usize]) -> Result<(), SetupError> {
        let bad = |why: String| Err(SetupError::InvalidOption { what: "step grid", why });
        if !orders.is_empty() && orders.len() != times.len() {
            return bad(format!("{} orders given for {} steps", orders.len(), times.len()));
        }
        if let Some((n, q)) = orders.iter().enumerate().find(|(_, q)| !(1..=MAX_ORDER).contains(*q)) {
            return bad(format!("order {q} of step {} (orders run from 1 to {MAX_ORDER})", n + 1));
        }
        let mut prev = self.t0;
        for &t in times {
            if !(t > prev && t.is_finite()) {
                return bad(format!("time {t} does not increase from {prev}"));
            }
            prev = t;
        }
        match self.save_at.iter().find(|t| !times.contains(t)) {
            Some(t) => bad(format!("output time {t} is not a step end")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rtol: Option<f64>, atol: Option<f64>, steps: Option<usize>) -> StepSettings {
        StepSettings { rtol, atol, steps, max_steps: 100 }
    }

    #[test]
    fn step_settings_default_to_rtol_1e_6_and_atol_rtol_times_1e_4() {
        let tol = |o: SolveOptions| match o.control {
            StepControl::Adaptive { tol, .. } => (tol.rtol[0], tol.atol[0]),
            other => panic!("{other:?}"),
        };
        assert_eq!(tol(settings(None, None, None).options().unwrap()), (1e-6, 1e-6 * 1e-4));
        assert_eq!(tol(settings(Some(1e-3), None, None).options().unwrap()), (1e-3, 1e-3 * 1e-4));
        assert_eq!(tol(settings(Some(1e-3), Some(1e-9), None).options().unwrap()), (1e-3, 1e-9));
        let fixed = settings(None, None, Some(4)).options().unwrap();
        assert_eq!((fixed.control, fixed.max_steps), (StepControl::Fixed { substeps: 4 }, 100));
    }

    #[test]
    fn bad_step_settings_name_the_setting() {
        for (s, what) in [
            (settings(None, None, Some(0)), "steps"),
            (settings(Some(0.0), None, None), "rtol"),
            (settings(Some(-1e-3), None, None), "rtol"),
            (settings(Some(1e-6), Some(f64::NAN), None), "atol"),
            (settings(Some(1e-6), None, Some(3)), "step settings"),
            (StepSettings { max_steps: 0, ..settings(None, None, None) }, "max_steps"),
            (StepSettings { max_steps: MAX_STEPS + 1, ..settings(None, None, None) }, "max_steps"),
        ] {
            match s.options() {
                Err(SetupError::InvalidOption { what: w, .. }) => assert_eq!(w, what, "{s:?}"),
                other => panic!("{s:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn adaptive_steps_need_an_error_estimate_and_fixed_steps_do_not() {
        let gauss = crate::methods::by_name("gauss2").unwrap();
        let adaptive = Request::new(gauss.clone(), vec![1.0], 0.0, vec![1.0]);
        assert!(matches!(adaptive.validate(1), Err(SetupError::NoErrorEstimate { method }) if method == "gauss2"));
        assert_eq!(adaptive.with_options(SolveOptions::fixed(3)).validate(1), Ok(()));
    }

    #[test]
    fn a_step_grid_names_its_bad_orders() {
        let bdf = crate::methods::by_name("bdf").unwrap();
        let grid = |times: Vec<f64>, orders: Vec<usize>| {
            Request::new(bdf.clone(), vec![1.0], 0.0, vec![1.0])
                .with_options(SolveOptions::with_control(StepControl::Grid { times, orders }))
                .validate(1)
        };
        assert_eq!(grid(vec![0.5, 1.0], vec![1, 2]), Ok(()));
        assert_eq!(grid(vec![0.5, 1.0], vec![]), Ok(()));
        for (orders, why) in [
            (vec![1], "1 orders given for 2 steps"),
            (vec![1, 6], "order 6 of step 2"),
            (vec![0, 1], "order 0 of step 1"),
        ] {
            match grid(vec![0.5, 1.0], orders) {
                Err(SetupError::InvalidOption { what: "step grid", why: w }) => assert!(w.starts_with(why), "{w}"),
                other => panic!("{why}: {other:?}"),
            }
        }
    }
}
