//! The variable-order BDF stepper ([`Bdf`]: fixed-leading-coefficient formulas on the accepted
//! points). One implicit solve per step from the predictor; the error estimate is the formula's
//! error weight times the corrector's distance from the predictor.
//!
//! The order starts at 1 and rises as past points accumulate. With adaptive steps it is chosen
//! after `k+1` steps at order `k` from the estimates at `k−1`, `k` and `k+1`, for the largest
//! next step `h·err_q^{−1/(q+1)}` (Shampine & Reichelt's `ode15s` and SciPy's `BDF`; Hairer &
//! Wanner II, III.7); with fixed steps it is the highest the points equally spaced at `h` allow
//! (a split step restarts at order 1), or on a replayed grid the recorded one, so that a frozen
//! grid repeats an adaptive solve's formulas exactly.

use super::newton::{ImplicitStage, IterationMatrix, NewtonControl, StageWork, solve_stage};
use super::{Attempt, Outcome, Stepper};
use crate::error::SolveError;
use crate::methods::bdf::{Bdf, BdfFormula, MAX_INPUTS};
use crate::rhs::Rhs;
use crate::solution::StepKind;
use crate::step_control::{Tolerances, inverse_weights_into, weighted_norm};

/// Largest growth of the step from one step to the next (CVODE's `ETAMX3`).
const MAX_GROWTH: f64 = 10.0;
/// A proposed factor below this keeps the step (CVODE's `THRESH`).
const KEEP_BELOW: f64 = 1.5;

pub(crate) struct BdfStepper<'a> {
    rhs: &'a Rhs<'a>,
    batch: usize,
    max_order: usize,
    matrix: IterationMatrix,
    newton: NewtonControl,
    /// Accepted points before the current one, newest first; `n_past` of them are valid.
    past: Vec<(f64, Vec<f64>)>,
    n_past: usize,
    /// The point the last attempt started from.
    current: (f64, Vec<f64>),
    /// Order of the next adaptive attempt; accepted steps to wait before other orders are
    /// weighed again (CVODE's `qwait`); the order the last completed attempt proposes, and
    /// whether it weighed others.
    order: usize,
    wait: usize,
    proposed: usize,
    weighed: bool,
    /// The order a replayed grid prescribes for the next step.
    held: Option<usize>,
    /// The formula of the last attempt.
    formula: BdfFormula,
    v: Vec<f64>,
    y_new: Vec<f64>,
    err: Vec<f64>,
    err_inv_weights: Vec<f64>,
    stage: StageWork,
}

impl<'a> BdfStepper<'a> {
    pub fn new(method: &Bdf, rhs: &'a Rhs<'a>, batch: usize, newton: NewtonControl) -> Self {
        let n = batch * rhs.d;
        Self {
            rhs,
            batch,
            max_order: method.max_order(),
            matrix: IterationMatrix::new(batch, rhs.d, !newton.tight),
            newton,
            past: (0..MAX_INPUTS - 1).map(|_| (0.0, vec![0.0; n])).collect(),
            n_past: 0,
            current: (0.0, vec![0.0; n]),
            order: 1,
            wait: 2,
            proposed: 1,
            weighed: false,
            held: None,
            formula: Bdf::formula(1, &[1.0]),
            v: vec![0.0; n],
            y_new: vec![0.0; n],
            err: vec![0.0; n],
            err_inv_weights: vec![0.0; n],
            stage: StageWork::new(batch, rhs.d),
        }
    }

    /// Point `j` of the history: 0 the step's start `y`, then the past points.
    fn point<'y>(&'y self, y: &'y [f64], j: usize) -> &'y [f64] {
        if j == 0 { y } else { &self.past[j - 1].1 }
    }

    /// `Σ_j c_j y_{n−j}` into `out`.
    fn combine(&self, y: &[f64], c: &[f64], out: &mut [f64]) {
        out.iter_mut().zip(y).for_each(|(o, y)| *o = c[0] * y);
        for (j, &cj) in c.iter().enumerate().skip(1) {
            out.iter_mut().zip(self.point(y, j)).for_each(|(o, p)| *o += cj * p);
        }
    }

    /// The weighted norm of the local error estimate of `formula` for the new point `y_new`
    /// from `y`, by `formula.error_weight·(y_{n+1} − p(t_{n+1}))`.
    fn estimate(&mut self, formula: &BdfFormula, y: &[f64]) -> f64 {
        let mut err = std::mem::take(&mut self.err);
        self.combine(y, &formula.predictor[..formula.nodes], &mut err);
        err.iter_mut().zip(&self.y_new).for_each(|(e, y)| *e = formula.error_weight * (y - *e));
        let norm = weighted_norm(&err, &self.err_inv_weights, self.batch, self.rhs.d);
        self.err = err;
        norm
    }

    /// After an accepted estimate `err` at order `k`: the order among `k−1, k, k+1` that allows
    /// the largest next step and that step's factor `η_q = 1/((b_q·err_q)^{1/(q+1)} + 10⁻⁶)`,
    /// with CVODE's biases `b = 6, 6, 10` against changes of order on noisy estimates; the other
    /// orders are weighed once every `k+1` steps at `k`. A factor below 1.5 keeps `h` and `k`
    /// (CVODE's `THRESH`: BDF is happiest, and its factorization reused, on constant steps).
    fn select_order(&mut self, y: &[f64], s: &[f64], k: usize, err: f64) -> (usize, f64) {
        self.weighed = self.wait == 0;
        // η_k < 1.5 ⟺ 6·err > (1/1.5 − 10⁻⁶)^{k+1}: the common case, without a power.
        if !self.weighed && 6.0 * err > (1.0 / KEEP_BELOW - 1e-6).powi(k as i32 + 1) {
            return (k, 1.0);
        }
        let eta = |bias: f64, e: f64, q: usize| 1.0 / ((bias * e).powf(1.0 / (q + 1) as f64) + 1e-6);
        let mut best = (k, eta(6.0, err, k));
        if self.weighed {
            let lower = (k > 1).then(|| (k - 1, 6.0));
            let higher = (k < self.max_order && s.len() > k + 1).then_some((k + 1, 10.0));
            for (q, bias) in lower.into_iter().chain(higher) {
                let f = Bdf::formula(q, &s[..(q + 1).max(2)]);
                let fac = eta(bias, self.estimate(&f, y), q);
                if fac > best.1 {
                    best = (q, fac);
                }
            }
        }
        if best.1 < KEEP_BELOW { (k, 1.0) } else { (best.0, best.1.min(MAX_GROWTH)) }
    }
}

impl Stepper for BdfStepper<'_> {
    fn attempt(
        &mut self,
        t: f64,
        y: &[f64],
        h: f64,
        wt: &[f64],
        tol: Option<&Tolerances>,
    ) -> Result<Outcome, SolveError> {
        let iterations = self.newton.iterations;
        self.newton.longest = 0;
        self.current.0 = t;
        self.current.1.copy_from_slice(y);
        // s_j = t_{n+1} − τ_j.
        let points = self.n_past + 1;
        let mut s = [0.0; MAX_INPUTS];
        s[0] = h;
        for (sj, (tj, _)) in s[1..].iter_mut().zip(&self.past[..self.n_past]) {
            *sj = t + h - tj;
        }
        let s = &s[..points.min(MAX_INPUTS)];
        // Order k ≥ 2 reads k+1 points; the estimates at k+1 one more. Fixed steps count only
        // the points equally spaced at h: variable-step BDF loses zero-stability at step ratios
        // far above 1 (Hairer, Nørsett & Wanner I, III.5), and a split step (or a longer interval
        // to the next output time) would otherwise be followed by a higher order at twice the step
        // or more. Such a step restarts at order 1.
        let limit = |points: usize| if points >= 3 { (points - 1).min(self.max_order) } else { 1 };
        let k = match (self.held, tol) {
            (Some(q), _) => q.min(limit(points)),
            (None, None) => {
                let equal = s.iter().enumerate().take_while(|(j, sj)| (**sj - (j + 1) as f64 * h).abs() <= 1e-9 * h);
                limit(equal.count())
            }
            (None, Some(_)) => self.order.min(limit(points)),
        };
        let formula = Bdf::formula(k, s);
        self.formula = formula;
        // v = Σ α_j y_{n−j}; Newton starts from the predictor.
        let (mut v, mut y_new) = (std::mem::take(&mut self.v), std::mem::take(&mut self.y_new));
        self.combine(y, &formula.alpha[..formula.inputs], &mut v);
        self.combine(y, &formula.predictor[..formula.nodes], &mut y_new);
        self.y_new = y_new;
        self.matrix.ensure(self.rhs, t, y)?;
        let stage = ImplicitStage { t: t + h, v: &v, h, gamma: formula.gamma };
        let solved =
            solve_stage(self.rhs, &mut self.matrix, &mut self.newton, stage, &mut self.y_new, wt, &mut self.stage);
        self.v = v;
        let Some(theta) = solved? else {
            return Ok(Outcome::NewtonFailed);
        };
        let newton_iterations = self.newton.iterations - iterations;
        let Some(tol) = tol else {
            let attempt = Attempt { err: None, err_order: (k + 1) as f64, theta, newton_iterations, proposal: None };
            return Ok(Outcome::Done(attempt));
        };
        inverse_weights_into(tol, y, Some(&self.y_new), self.rhs.d, &mut self.err_inv_weights);
        let err = if formula.error_weight.is_finite() {
            self.estimate(&formula, y)
        } else {
            // First step: LTE ≈ (y_1 − y_0 − h f(y_0))/2.
            self.stage.times.fill(t);
            self.rhs.eval_into(&self.stage.times, y, &mut self.err)?;
            for ((e, &yn), &y0) in self.err.iter_mut().zip(&self.y_new).zip(y) {
                *e = 0.5 * (yn - y0 - h * *e);
            }
            weighted_norm(&self.err, &self.err_inv_weights, self.batch, self.rhs.d)
        };
        let mut proposal = None;
        if err <= 1.0 {
            let (q, fac) = self.select_order(y, s, k, err);
            self.proposed = q;
            proposal = Some(fac);
        }
        Ok(Outcome::Done(Attempt { err: Some(err), err_order: (k + 1) as f64, theta, newton_iterations, proposal }))
    }

    fn y_new(&self) -> &[f64] {
        &self.y_new
    }

    fn step_kind(&self) -> StepKind {
        let f = &self.formula;
        StepKind::Bdf { order: f.order, alpha: f.alpha, inputs: f.inputs, beta: f.gamma }
    }

    fn stage_values(&self) -> Option<&[f64]> {
        None
    }

    fn hold_order(&mut self, order: usize) {
        self.held = Some(order);
    }

    fn accepted(&mut self, _h: f64, theta: f64) {
        // The current point becomes the newest past point; the oldest is dropped.
        self.past.rotate_right(1);
        std::mem::swap(&mut self.past[0].1, &mut self.current.1);
        self.past[0].0 = self.current.0;
        self.n_past = (self.n_past + 1).min(self.past.len());
        if std::mem::take(&mut self.weighed) {
            (self.order, self.wait) = (self.proposed, self.proposed + 1);
        } else {
            self.wait = self.wait.saturating_sub(1);
        }
        self.held = None;
        self.matrix.step_accepted(theta, Some(self.newton.longest));
    }

    fn refresh_jacobian(&mut self) -> bool {
        self.matrix.refresh()
    }

    fn newton_counts(&self) -> (usize, usize) {
        (self.newton.iterations, self.matrix.factorizations)
    }
}
