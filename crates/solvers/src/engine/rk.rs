//! One generic Runge–Kutta step for every tableau: explicit stages, diagonally implicit stages
//! solved one by one, or all stages solved together (Hairer & Wanner II, IV.8).

use super::newton::{ImplicitStage, IterationMatrix, NewtonControl, Verdict, solve_stage};
use super::{Attempt, Outcome, Stepper};
use crate::error::SolveError;
use crate::linalg::invert;
use crate::rhs::Rhs;
use crate::solution::StepKind;
use crate::step_control::{Tolerances, weighted_norm, weights};
use crate::tableau::{Structure, Tableau};

/// Stage derivatives, stage values and the largest Newton contraction rate of a step.
type Stages = (Vec<Vec<f64>>, Vec<f64>, f64);

/// Runs one [`Tableau`] on a batch of `batch` trajectories of dimension `d`.
pub(crate) struct RkStepper<'a> {
    tab: &'a Tableau,
    structure: Structure,
    rhs: &'a Rhs<'a>,
    batch: usize,
    matrix: IterationMatrix,
    newton: NewtonControl,
    /// `A⁻¹` (fully implicit methods: stage derivatives from stage increments).
    a_inv: Vec<Vec<f64>>,
    /// `f(t_n, y_n)`, kept while the step is retried.
    f0: Option<Vec<f64>>,
    /// First-same-as-last: the last stage of an explicit stiffly accurate step is
    /// `f(t + h, y_new)`, the next step's `f0` if this one is accepted.
    fsal: bool,
    fsal_next: Option<Vec<f64>>,
}

impl<'a> RkStepper<'a> {
    pub fn new(tab: &'a Tableau, rhs: &'a Rhs<'a>, batch: usize, newton: NewtonControl) -> Self {
        let structure = tab.structure();
        let a_inv = if structure == Structure::Full { invert(&tab.a) } else { Vec::new() };
        let fsal = structure == Structure::Explicit && tab.stiffly_accurate();
        Self {
            tab,
            structure,
            rhs,
            batch,
            matrix: IterationMatrix::new(batch, rhs.d, !newton.tight),
            newton,
            a_inv,
            f0: None,
            fsal,
            fsal_next: None,
        }
    }

    fn f0(&mut self, t: f64, y: &[f64]) -> Result<Vec<f64>, SolveError> {
        if self.f0.is_none() {
            self.f0 = Some(self.rhs.eval(&vec![t; self.batch], y)?);
        }
        Ok(self.f0.clone().unwrap())
    }

    /// Stage derivatives `F_i` (`[s][batch][d]`), stage values `Y_i` (stage-major) and the
    /// largest contraction rate, or `None` when Newton failed.
    fn stages(&mut self, t: f64, y: &[f64], h: f64, w: &[f64]) -> Result<Option<Stages>, SolveError> {
        match self.structure {
            Structure::Full => self.full_stages(t, y, h, w),
            _ => self.sequential_stages(t, y, h, w),
        }
    }

    /// Explicit and diagonally implicit stages, one after another.
    fn sequential_stages(&mut self, t: f64, y: &[f64], h: f64, w: &[f64]) -> Result<Option<Stages>, SolveError> {
        let (n, s) = (y.len(), self.tab.stages());
        let mut f: Vec<Vec<f64>> = Vec::with_capacity(s);
        let mut values = Vec::with_capacity(s * n);
        let mut theta: f64 = 0.0;
        for i in 0..s {
            let mut known = y.to_vec();
            for (j, fj) in f.iter().enumerate() {
                let c = h * self.tab.a[i][j];
                if c != 0.0 {
                    known.iter_mut().zip(fj).for_each(|(k, v)| *k += c * v);
                }
            }
            let g = self.tab.a[i][i];
            if g == 0.0 {
                let fi = if i == 0 && self.tab.c[0] == 0.0 && self.f0.is_some() {
                    self.f0.clone().unwrap()
                } else {
                    self.rhs.eval(&vec![t + self.tab.c[i] * h; self.batch], &known)?
                };
                f.push(fi);
                values.extend_from_slice(&known);
                continue;
            }
            // Solve W = known + hγ f(W) from W = known: an explicit predictor overshoots on
            // stiff components and Newton then fails at large steps.
            self.matrix.ensure(self.rhs, t, y)?;
            let ti = t + self.tab.c[i] * h;
            let stage = ImplicitStage { t: ti, v: &known, hg: h * g };
            let Some((wv, th)) = solve_stage(self.rhs, &mut self.matrix, &mut self.newton, stage, known.clone(), w)?
            else {
                return Ok(None);
            };
            theta = theta.max(th);
            f.push((0..n).map(|k| (wv[k] - known[k]) / (h * g)).collect());
            values.extend_from_slice(&wv);
        }
        Ok(Some((f, values, theta)))
    }

    /// All stages together: simplified Newton on the increments `Z = Y − y_n` with the matrix
    /// `I − h(A⊗J)`; then `F = A⁻¹Z/h`.
    fn full_stages(&mut self, t: f64, y: &[f64], h: f64, w: &[f64]) -> Result<Option<Stages>, SolveError> {
        let (s, d, batch, n) = (self.tab.stages(), self.rhs.d, self.batch, y.len());
        self.matrix.ensure(self.rhs, t, y)?;
        let times: Vec<f64> = (0..s).flat_map(|i| vec![t + self.tab.c[i] * h; batch]).collect();
        let mut z = vec![0.0; s * n];
        let mut run = self.newton.start();
        let mut stacked = vec![0.0; s * n];
        loop {
            let ys: Vec<f64> = (0..s * n).map(|k| y[k % n] + z[k]).collect();
            let f = match self.rhs.eval(&times, &ys) {
                Ok(v) => v,
                Err(SolveError::NonFinite { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            // Residual −G = −(Z − h(A⊗I)F), laid out per trajectory as [b][i][p] for the solve.
            for b in 0..batch {
                for i in 0..s {
                    for p in 0..d {
                        let k = b * d + p;
                        let af: f64 = (0..s).map(|j| self.tab.a[i][j] * f[j * n + k]).sum();
                        stacked[(b * s + i) * d + p] = -(z[i * n + k] - h * af);
                    }
                }
            }
            self.matrix.full(h, &self.tab.a).solve_in_place(&mut stacked);
            let mut delta = vec![0.0; s * n];
            for b in 0..batch {
                for i in 0..s {
                    for p in 0..d {
                        delta[i * n + b * d + p] = stacked[(b * s + i) * d + p];
                    }
                }
            }
            z.iter_mut().zip(&delta).for_each(|(x, dx)| *x += dx);
            match self.newton.check(&mut run, weighted_norm(&delta, w, batch, d)) {
                Verdict::Continue => {}
                Verdict::Converged => break,
                Verdict::Diverged => return Ok(None),
            }
        }
        let f = (0..s)
            .map(|i| (0..n).map(|k| (0..s).map(|j| self.a_inv[i][j] * z[j * n + k]).sum::<f64>() / h).collect())
            .collect();
        let values = (0..s * n).map(|k| y[k % n] + z[k]).collect();
        Ok(Some((f, values, run.theta)))
    }

    /// `err = h(f0·f(y_n) + Σ e_j F_j)`, filtered if the method says so, in the weighted norm.
    fn error(
        &mut self,
        t: f64,
        y: &[f64],
        y_new: &[f64],
        h: f64,
        f: &[Vec<f64>],
        tol: &Tolerances,
    ) -> Result<f64, SolveError> {
        let tab = self.tab;
        let est = tab.error.as_ref().expect("adaptive requests are validated to have an estimate");
        let mut err = vec![0.0; y.len()];
        if est.f0 != 0.0 {
            let f0 = self.f0(t, y)?;
            err.iter_mut().zip(&f0).for_each(|(e, v)| *e += h * est.f0 * v);
        }
        for (ej, fj) in est.e.iter().zip(f) {
            err.iter_mut().zip(fj).for_each(|(e, v)| *e += h * ej * v);
        }
        if let Some(g) = est.filter {
            self.matrix.ensure(self.rhs, t, y)?;
            self.matrix.diagonal(h * g).solve_in_place(&mut err);
        }
        Ok(weighted_norm(&err, &weights(tol, y, Some(y_new), self.rhs.d), self.batch, self.rhs.d))
    }
}

impl Stepper for RkStepper<'_> {
    fn attempt(
        &mut self,
        t: f64,
        y: &[f64],
        h: f64,
        w: &[f64],
        tol: Option<&Tolerances>,
    ) -> Result<Outcome, SolveError> {
        if self.tab.explicit_first_stage() {
            self.f0(t, y)?;
        }
        let Some((f, stages, theta)) = self.stages(t, y, h, w)? else {
            return Ok(Outcome::NewtonFailed);
        };
        let mut y_new = y.to_vec();
        for (bi, fi) in self.tab.b.iter().zip(&f) {
            y_new.iter_mut().zip(fi).for_each(|(x, v)| *x += h * bi * v);
        }
        if self.fsal {
            self.fsal_next = f.last().cloned();
        }
        let err = match (tol, &self.tab.error) {
            (Some(tol), Some(_)) => Some(self.error(t, y, &y_new, h, &f, tol)?),
            _ => None,
        };
        let err_order = self.tab.error.as_ref().map_or(1.0, |e| e.order.min(self.tab.order) as f64 + 1.0);
        Ok(Outcome::Done(Attempt { y: y_new, err, err_order, theta, kind: StepKind::RungeKutta { stages } }))
    }

    fn accepted(&mut self, theta: f64) {
        self.f0 = self.fsal_next.take();
        self.matrix.step_accepted(theta);
    }

    fn refresh_jacobian(&mut self) -> bool {
        self.matrix.refresh()
    }

    fn newton_counts(&self) -> (usize, usize) {
        (self.newton.iterations, self.matrix.factorizations)
    }
}
