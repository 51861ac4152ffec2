//! The variable-step BDF2 stepper. It starts with backward Euler steps until it has the past
//! points that its formula and its error estimate need; its error estimate is the local error
//! constant times the third divided difference of the solution (HNW I, III.5 and III.7).

use super::newton::{ImplicitStage, IterationMatrix, NewtonControl, StageWork, solve_stage};
use super::{Attempt, Outcome, Stepper};
use crate::error::SolveError;
use crate::methods::Bdf2;
use crate::methods::bdf::MAX_INPUTS;
use crate::rhs::Rhs;
use crate::solution::StepKind;
use crate::step_control::{Tolerances, inverse_weights_into, weighted_norm};

pub(crate) struct Bdf2Stepper<'a> {
    rhs: &'a Rhs<'a>,
    batch: usize,
    matrix: IterationMatrix,
    newton: NewtonControl,
    /// Accepted points before the current one: `past[0]` the older, `past[1]` the newer; `n_past`
    /// of them are valid (at most two).
    past: [(f64, Vec<f64>); 2],
    n_past: usize,
    /// The point the last attempt started from.
    current: (f64, Vec<f64>),
    /// The formula of the last attempt.
    kind: StepKind,
    v: Vec<f64>,
    y_new: Vec<f64>,
    err: Vec<f64>,
    err_inv_weights: Vec<f64>,
    /// Divided-difference table, one row of `batch·d` per point (at most four).
    table: Vec<Vec<f64>>,
    stage: StageWork,
}

impl<'a> Bdf2Stepper<'a> {
    pub fn new(rhs: &'a Rhs<'a>, batch: usize, newton: NewtonControl) -> Self {
        let n = batch * rhs.d;
        Self {
            rhs,
            batch,
            matrix: IterationMatrix::new(batch, rhs.d, !newton.tight),
            newton,
            past: [(0.0, vec![0.0; n]), (0.0, vec![0.0; n])],
            n_past: 0,
            current: (0.0, vec![0.0; n]),
            kind: bdf_kind(1.0, 0.0, 1.0),
            v: vec![0.0; n],
            y_new: vec![0.0; n],
            err: vec![0.0; n],
            err_inv_weights: vec![0.0; n],
            table: vec![vec![0.0; n]; 4],
            stage: StageWork::new(batch, rhs.d),
        }
    }

    /// `c·y[τ_0, …, τ_m]` into `err`: the Newton divided difference of the points, by the
    /// recursive table.
    fn divided_difference(&mut self, points: &[(f64, &[f64])], c: f64) {
        let m = points.len();
        for (row, (_, v)) in self.table.iter_mut().zip(points) {
            row.copy_from_slice(v);
        }
        for level in 1..m {
            for i in 0..m - level {
                let dt = points[i + level].0 - points[i].0;
                let (lo, hi) = self.table.split_at_mut(i + 1);
                lo[i].iter_mut().zip(&hi[0]).for_each(|(a, b)| *a = (b - *a) / dt);
            }
        }
        self.err.iter_mut().zip(&self.table[0]).for_each(|(e, x)| *e = c * x);
    }
}

/// The record of a BDF2 step `y_{n+1} = α₁y_n + α₀y_{n−1} + hβ f(y_{n+1})`, or of a starting
/// backward Euler step (`α₀ = 0`).
fn bdf_kind(alpha1: f64, alpha0: f64, beta: f64) -> StepKind {
    let mut alpha = [0.0; MAX_INPUTS];
    (alpha[0], alpha[1]) = (alpha1, alpha0);
    let (order, inputs) = if alpha0 != 0.0 { (2, 2) } else { (1, 1) };
    StepKind::Bdf { order, alpha, inputs, beta }
}

impl Stepper for Bdf2Stepper<'_> {
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
        // Two backward Euler steps start, fixed or adaptive alike, so that a solve on a given
        // step grid repeats an adaptive solve's formulas exactly (gradient checks rely on it).
        // y_{n+1} = v + hγ f(y_{n+1}), from a predictor by extrapolation through past points.
        let (alpha1, alpha0, g) = if self.n_past >= 2 {
            let (t1, y1) = (self.past[1].0, &self.past[1].1);
            let k = Bdf2::coefficients(h / (t - t1));
            for (((v, p), &yi), &y1i) in self.v.iter_mut().zip(self.y_new.iter_mut()).zip(y).zip(y1) {
                *v = k.alpha1 * yi + k.alpha0 * y1i;
                *p = yi + h * (yi - y1i) / (t - t1);
            }
            (k.alpha1, k.alpha0, k.beta)
        } else {
            self.v.copy_from_slice(y);
            self.y_new.copy_from_slice(y);
            (1.0, 0.0, 1.0)
        };
        self.kind = bdf_kind(alpha1, alpha0, g);
        self.matrix.ensure(self.rhs, t, y)?;
        let stage = ImplicitStage { t: t + h, v: &self.v, h, gamma: g };
        let Some(theta) =
            solve_stage(self.rhs, &mut self.matrix, &mut self.newton, stage, &mut self.y_new, wt, &mut self.stage)?
        else {
            return Ok(Outcome::NewtonFailed);
        };
        let (err, err_order) = match tol {
            None => (None, 3.0),
            Some(tol) => {
                let new = std::mem::take(&mut self.y_new);
                let k = match self.n_past {
                    // BDF2: LTE = C·y[t_{n+1}, t_n, t_{n−1}, t_{n−2}].
                    2 => {
                        let (p0, p1) = (std::mem::take(&mut self.past[0].1), std::mem::take(&mut self.past[1].1));
                        let (t2, t1) = (self.past[0].0, self.past[1].0);
                        let c = Bdf2::error_constant(h, t - t1);
                        self.divided_difference(&[(t + h, &new), (t, y), (t1, &p1), (t2, &p0)], c);
                        (self.past[0].1, self.past[1].1) = (p0, p1);
                        3.0
                    }
                    // Backward Euler: LTE = −h²/2·y'' ≈ −h²·y[t_{n+1}, t_n, t_{n−1}].
                    1 => {
                        let p1 = std::mem::take(&mut self.past[1].1);
                        self.divided_difference(&[(t + h, &new), (t, y), (self.past[1].0, &p1)], -h * h);
                        self.past[1].1 = p1;
                        2.0
                    }
                    // First step: LTE ≈ (y_1 − y_0 − h f(y_0))/2.
                    _ => {
                        self.stage.times.fill(t);
                        self.rhs.eval_into(&self.stage.times, y, &mut self.err)?;
                        for ((e, &yn), &y0) in self.err.iter_mut().zip(&new).zip(y) {
                            *e = 0.5 * (yn - y0 - h * *e);
                        }
                        2.0
                    }
                };
                inverse_weights_into(tol, y, Some(&new), self.rhs.d, &mut self.err_inv_weights);
                self.y_new = new;
                (Some(weighted_norm(&self.err, &self.err_inv_weights, self.batch, self.rhs.d)), k)
            }
        };
        let newton_iterations = self.newton.iterations - iterations;
        Ok(Outcome::Done(Attempt { err, err_order, theta, newton_iterations, proposal: None }))
    }

    fn y_new(&self) -> &[f64] {
        &self.y_new
    }

    fn step_kind(&self) -> StepKind {
        self.kind.clone()
    }

    fn stage_values(&self) -> Option<&[f64]> {
        None
    }

    fn accepted(&mut self, _h: f64, theta: f64) {
        // The current point becomes the newer past point; the newer one the older.
        self.past.swap(0, 1);
        std::mem::swap(&mut self.past[1].1, &mut self.current.1);
        self.past[1].0 = self.current.0;
        self.n_past = (self.n_past + 1).min(2);
        self.matrix.step_accepted(theta, Some(self.newton.longest));
    }

    fn refresh_jacobian(&mut self) -> bool {
        self.matrix.refresh()
    }

    fn newton_counts(&self) -> (usize, usize) {
        (self.newton.iterations, self.matrix.factorizations)
    }
}
