//! One generic Runge–Kutta step for every tableau: explicit stages, diagonally implicit stages
//! solved one by one, or all stages solved together by the transformed Newton iteration of
//! [`full`](super::full) (Hairer & Wanner II, IV.8). Every buffer is sized once per solve.

use num_complex::Complex64;

use super::full::{Block, FullPlan};
use super::full_newton::{self, StageSystem};
use super::newton::{ImplicitStage, IterationMatrix, NewtonControl, StageWork, Verdict, shift, solve_stage};
use super::{Attempt, Outcome, Stepper};
use crate::error::SolveError;
use crate::linalg::zero;
use crate::rhs::Rhs;
use crate::short::{each, zip_with, zip2_with};
use crate::solution::StepKind;
use crate::step_control::{Tolerances, inverse_weights_into, weighted_norm};
use crate::tableau::{Structure, Tableau};

/// Runs one [`Tableau`] on a batch of `batch` trajectories of dimension `d`. Stage buffers are
/// stage-major, `[s][batch][d]` (`n = batch·d` values per stage).
pub(crate) struct RkStepper<'a> {
    tab: &'a Tableau,
    full: Option<&'a FullPlan>,
    rhs: &'a Rhs<'a>,
    batch: usize,
    matrix: IterationMatrix,
    newton: NewtonControl,
    /// `f(t_n, y_n)`, kept while the step is retried.
    f0: Vec<f64>,
    f0_valid: bool,
    /// First-same-as-last: the last stage of an explicit stiffly accurate step is
    /// `f(t + h, y_new)`, the next step's `f0` if this one is accepted.
    fsal: bool,
    /// Stage values `Y_i` and stage derivatives `F_i`.
    stage_y: Vec<f64>,
    stage_f: Vec<f64>,
    /// Transformed increments `W`, their correction, and `(T⁻¹⊗I)F` (fully implicit methods).
    w: Vec<f64>,
    dw: Vec<f64>,
    g: Vec<f64>,
    /// A complex block's right-hand side and correction.
    wc: Vec<Complex64>,
    /// The increments `Z` of the last accepted step and its size (starting values).
    z_prev: Vec<f64>,
    h_prev: Option<f64>,
    /// Extrapolation weights, `s×s`.
    extrapolation: Vec<f64>,
    stage: StageWork,
    times: Vec<f64>,
    y_new: Vec<f64>,
    err: Vec<f64>,
    err_inv_weights: Vec<f64>,
}

impl<'a> RkStepper<'a> {
    /// A stepper for `tab` (`full` is its plan when it is fully implicit).
    pub fn new(
        tab: &'a Tableau,
        full: Option<&'a FullPlan>,
        rhs: &'a Rhs<'a>,
        batch: usize,
        newton: NewtonControl,
    ) -> Self {
        let (s, n) = (tab.stages(), batch * rhs.d);
        let structure = tab.structure();
        let fsal = structure == Structure::Explicit && tab.stiffly_accurate();
        let full_n = if full.is_some() { s * n } else { 0 };
        Self {
            tab,
            full,
            rhs,
            batch,
            matrix: IterationMatrix::new(batch, rhs.d, !newton.tight),
            newton,
            f0: vec![0.0; n],
            f0_valid: false,
            fsal,
            stage_y: vec![0.0; s * n],
            stage_f: vec![0.0; s * n],
            w: vec![0.0; full_n],
            dw: vec![0.0; full_n],
            g: vec![0.0; full_n],
            wc: vec![Complex64::new(0.0, 0.0); if full.is_some() { n } else { 0 }],
            z_prev: vec![0.0; full_n],
            h_prev: None,
            extrapolation: vec![0.0; s * s],
            stage: StageWork::new(batch, rhs.d),
            times: vec![0.0; s * batch],
            y_new: vec![0.0; n],
            err: vec![0.0; n],
            err_inv_weights: vec![0.0; n],
        }
    }

    fn ensure_f0(&mut self, t: f64, y: &[f64]) -> Result<(), SolveError> {
        if !self.f0_valid {
            self.times[..self.batch].fill(t);
            self.rhs.eval_into(&self.times[..self.batch], y, &mut self.f0)?;
            self.f0_valid = true;
        }
        Ok(())
    }

    /// Stage values and derivatives into the stage buffers; the largest contraction rate, or
    /// `None` when Newton failed.
    fn stages(&mut self, t: f64, y: &[f64], h: f64, wt: &[f64]) -> Result<Option<f64>, SolveError> {
        match self.full {
            Some(plan) => self.full_stages(plan, t, y, h, wt),
            None => self.sequential_stages(t, y, h, wt),
        }
    }

    /// Explicit and diagonally implicit stages, one after another.
    fn sequential_stages(&mut self, t: f64, y: &[f64], h: f64, wt: &[f64]) -> Result<Option<f64>, SolveError> {
        let (n, s, batch) = (y.len(), self.tab.stages(), self.batch);
        let mut theta: f64 = 0.0;
        for i in 0..s {
            let known = &mut self.stage_y[i * n..(i + 1) * n];
            known.copy_from_slice(y);
            for j in 0..i {
                let c = h * self.tab.a[i][j];
                if c != 0.0 {
                    known.iter_mut().zip(&self.stage_f[j * n..(j + 1) * n]).for_each(|(k, f)| *k += c * f);
                }
            }
            let g = self.tab.a[i][i];
            let ti = t + self.tab.c[i] * h;
            if g == 0.0 {
                let fi = &mut self.stage_f[i * n..(i + 1) * n];
                if i == 0 && self.tab.c[0] == 0.0 && self.f0_valid {
                    fi.copy_from_slice(&self.f0);
                } else {
                    self.times[..batch].fill(ti);
                    self.rhs.eval_into(&self.times[..batch], known, fi)?;
                }
                continue;
            }
            // Solve W = known + hγ f(W) from W = known: an explicit predictor overshoots on stiff
            // components and Newton then fails at large steps. `known` is kept in `y_new` while
            // the stage value takes its place.
            self.matrix.ensure(self.rhs, t, y)?;
            self.y_new.copy_from_slice(known);
            let stage = ImplicitStage { t: ti, v: &self.y_new, h, gamma: g };
            let wv = &mut self.stage_y[i * n..(i + 1) * n];
            let Some(th) = solve_stage(self.rhs, &mut self.matrix, &mut self.newton, stage, wv, wt, &mut self.stage)?
            else {
                return Ok(None);
            };
            theta = theta.max(th);
            let inv = 1.0 / (h * g);
            let fi = &mut self.stage_f[i * n..(i + 1) * n];
            for ((f, w), k) in fi.iter_mut().zip(&self.stage_y[i * n..(i + 1) * n]).zip(&self.y_new) {
                *f = (w - k) * inv;
            }
        }
        Ok(Some(theta))
    }

    /// All stages together by the transformed simplified Newton iteration on `W`, from the
    /// extrapolated collocation polynomial where the method has one; then `Z = (T⊗I)W` (left in
    /// `dw`) and `Y = y_n + Z`. The stage derivatives are not formed: the new state and the error
    /// estimate are combinations of `Z` ([`FullPlan::b_z`], [`FullPlan::e_z`]).
    fn full_stages(
        &mut self,
        plan: &FullPlan,
        t: f64,
        y: &[f64],
        h: f64,
        wt: &[f64],
    ) -> Result<Option<f64>, SolveError> {
        let (n, batch, d) = (y.len(), self.batch, self.rhs.d);
        self.matrix.ensure(self.rhs, t, y)?;
        for (i, rows) in self.times.chunks_exact_mut(batch).enumerate() {
            rows.fill(t + self.tab.c[i] * h);
        }
        // Starting values: W = (T⁻¹⊗I)Z₀.
        let extrapolated = match self.h_prev {
            Some(h_prev) => plan.extrapolate(&self.z_prev, h_prev, h, &mut self.extrapolation, &mut self.w),
            None => false,
        };
        if !extrapolated {
            zero(&mut self.w);
        }
        let mut run = self.newton.start();
        loop {
            // Y = y_n + (T⊗I)W, F = f(Y), G = (T⁻¹⊗I)F.
            plan.apply_plus(&plan.t, &self.w, y, &mut self.stage_y);
            match self.rhs.eval_into(&self.times, &self.stage_y, &mut self.stage_f) {
                Ok(()) => {}
                Err(SolveError::NonFinite { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
            plan.apply(&plan.t_inv, &self.stage_f, &mut self.g);
            // (λ/h·I − J)ΔW_k = G_k − (λ/h)W_k per block (complex blocks as u + iv); W_k += ΔW_k.
            for block in &plan.blocks {
                match *block {
                    Block::Real { k, gamma } => {
                        let sigma = shift(gamma, h);
                        let (dw, w, g) =
                            (&mut self.dw[k * n..(k + 1) * n], &mut self.w[k * n..(k + 1) * n], &self.g[k * n..]);
                        zip2_with(dw, w, g, |dw, w, g| *dw = g - sigma * w);
                        if !self.matrix.solve_real(sigma, dw) {
                            return Ok(None);
                        }
                        zip_with(w, dw, |w, dw| *w += dw);
                    }
                    Block::Complex { k, lambda } => {
                        let sigma = lambda / h;
                        let (wu, wv) = self.w[k * n..(k + 2) * n].split_at_mut(n);
                        let (gu, gv) = self.g[k * n..(k + 2) * n].split_at(n);
                        let (du, dv) = self.dw[k * n..(k + 2) * n].split_at_mut(n);
                        let wc = &mut self.wc[..n];
                        each(n, |p| wc[p] = Complex64::new(gu[p], gv[p]) - sigma * Complex64::new(wu[p], wv[p]));
                        if !self.matrix.solve_complex(sigma, wc) {
                            return Ok(None);
                        }
                        each(n, |p| {
                            (du[p], dv[p]) = (wc[p].re, wc[p].im);
                            (wu[p], wv[p]) = (wu[p] + wc[p].re, wv[p] + wc[p].im);
                        });
                    }
                }
            }
            match self.newton.check(&mut run, weighted_norm(&self.dw, wt, batch, d)) {
                Verdict::Continue => {}
                Verdict::Converged => break,
                Verdict::Diverged if !self.newton.tight => return Ok(None),
                // Tight mode: Newton's method proper, each stage with its own Jacobian in the
                // untransformed system (full_newton.rs): to finish a converged iteration, or
                // from `Z = 0` after simplified Newton diverged.
                verdict => {
                    if verdict == Verdict::Diverged {
                        zero(&mut self.w);
                    }
                    plan.apply(&plan.t, &self.w, &mut self.dw);
                    let sys = StageSystem { tab: self.tab, t, y, h };
                    let Some(k) = full_newton::finish(self.rhs, &sys, &mut self.dw, wt, self.newton.tol)? else {
                        return Ok(None);
                    };
                    // One batched factorization of the dense system per iteration.
                    self.newton.iterations += k;
                    self.matrix.factorizations += k;
                    plan.apply(&plan.t_inv, &self.dw, &mut self.w);
                    break;
                }
            }
        }
        // Z = (T⊗I)W (kept for the new state, the error and the next step's starting values),
        // Y = y_n + Z.
        plan.apply(&plan.t, &self.w, &mut self.dw);
        for (yi, zi) in self.stage_y.chunks_exact_mut(n).zip(self.dw.chunks_exact(n)) {
            zip2_with(yi, y, zi, |v, y, z| *v = y + z);
        }
        Ok(Some(run.theta))
    }

    /// `err = h(f0·f(y_n) + Σ e_j F_j)`, filtered if the method says so, in the weighted norm.
    fn error(&mut self, t: f64, y: &[f64], h: f64, tol: &Tolerances) -> Result<Option<f64>, SolveError> {
        let tab = self.tab;
        let est = tab.error.as_ref().expect("adaptive requests are validated to have an estimate");
        let n = y.len();
        zero(&mut self.err);
        if est.f0 != 0.0 {
            self.ensure_f0(t, y)?;
            zip_with(&mut self.err, &self.f0, |e, v| *e += h * est.f0 * v);
        }
        // h Σ e_j F_j, from the stage derivatives or, for a fully implicit method, from Z.
        let (weights, scale, terms) = match self.full {
            Some(plan) => (plan.e_z.as_slice(), 1.0, &self.dw),
            None => (est.e.as_slice(), h, &self.stage_f),
        };
        for (j, ej) in weights.iter().enumerate() {
            let c = scale * ej;
            zip_with(&mut self.err, &terms[j * n..(j + 1) * n], |e, v| *e += c * v);
        }
        if let Some(g) = est.filter {
            // (I − hγJ)⁻¹e = (σI − J)⁻¹σe, σ = 1/(hγ).
            self.matrix.ensure(self.rhs, t, y)?;
            let sigma = shift(g, h);
            self.err.iter_mut().for_each(|e| *e *= sigma);
            if !self.matrix.solve_real(sigma, &mut self.err) {
                return Ok(None);
            }
        }
        inverse_weights_into(tol, y, Some(&self.y_new), self.rhs.d, &mut self.err_inv_weights);
        Ok(Some(weighted_norm(&self.err, &self.err_inv_weights, self.batch, self.rhs.d)))
    }
}

impl Stepper for RkStepper<'_> {
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
        if self.tab.explicit_first_stage() {
            self.ensure_f0(t, y)?;
        }
        let Some(theta) = self.stages(t, y, h, wt)? else {
            return Ok(Outcome::NewtonFailed);
        };
        // y_{n+1} = y_n + h Σ b_i F_i (= y_n + Σ_j (bᵀA⁻¹)_j Z_j for a fully implicit method).
        let n = y.len();
        let (weights, scale, terms) = match self.full {
            Some(plan) => (plan.b_z.as_slice(), 1.0, &self.dw),
            None => (self.tab.b.as_slice(), h, &self.stage_f),
        };
        self.y_new.copy_from_slice(y);
        for (i, bi) in weights.iter().enumerate() {
            let c = scale * bi;
            if c != 0.0 {
                zip_with(&mut self.y_new, &terms[i * n..(i + 1) * n], |x, v| *x += c * v);
            }
        }
        let err = match (tol, &self.tab.error) {
            (Some(tol), Some(_)) => match self.error(t, y, h, tol)? {
                Some(err) => Some(err),
                None => return Ok(Outcome::NewtonFailed),
            },
            _ => None,
        };
        let err_order = self.tab.error.as_ref().map_or(1.0, |e| e.order.min(self.tab.order) as f64 + 1.0);
        let newton_iterations = self.newton.iterations - iterations;
        Ok(Outcome::Done(Attempt { err, err_order, theta, newton_iterations, proposal: None }))
    }

    fn y_new(&self) -> &[f64] {
        &self.y_new
    }

    fn step_kind(&self) -> StepKind {
        StepKind::RungeKutta
    }

    fn stage_values(&self) -> Option<&[f64]> {
        Some(&self.stage_y)
    }

    fn accepted(&mut self, h: f64, theta: f64) {
        let n = self.y_new.len();
        // FSAL: the last stage derivative is f(t + h, y_new), the next step's f0.
        self.f0_valid = self.fsal;
        if self.fsal {
            let s = self.tab.stages();
            self.f0.copy_from_slice(&self.stage_f[(s - 1) * n..s * n]);
        }
        if self.full.is_some() {
            // The increments Z of this step (in `dw` since convergence), for the next step's
            // starting values.
            self.z_prev.copy_from_slice(&self.dw);
            self.h_prev = Some(h);
        }
        // One Newton solve per step (fully implicit) follows RADAU5's reuse rule.
        let iterations = self.full.map(|_| self.newton.longest);
        self.matrix.step_accepted(theta, iterations);
    }

    fn refresh_jacobian(&mut self) -> bool {
        self.matrix.refresh()
    }

    fn newton_counts(&self) -> (usize, usize) {
        (self.newton.iterations, self.matrix.factorizations)
    }
}
