//! One Rosenbrock step (Hairer & Wanner II, IV.7, in the transformed form of
//! [`methods::rosenbrock`](crate::methods::rosenbrock)): the Jacobian and `∂f/∂t` at the step's
//! start, one LU of `I/(hγ) − J` per trajectory, then the stages one after another, each one
//! evaluation of `f` and one solve. No Newton iteration: a singular matrix is the step's only
//! failure, and the driver shrinks the step. A rejected step retries from the same point with the
//! Jacobian and `∂f/∂t` it already has.

use super::{Attempt, Outcome, Stepper};
use crate::error::SolveError;
use crate::linalg::BatchLu;
use crate::methods::rosenbrock::Rosenbrock;
use crate::rhs::Rhs;
use crate::solution::StepKind;
use crate::step_control::{Tolerances, inverse_weights_into, weighted_norm};

/// Runs one [`Rosenbrock`] method on `batch` trajectories of dimension `d`; stage buffers are
/// stage-major `[s][batch][d]`.
pub(crate) struct RosenbrockStepper<'a> {
    m: &'a Rosenbrock,
    rhs: &'a Rhs<'a>,
    batch: usize,
    /// `J` per trajectory at the current step's start, and whether it is held.
    jac: Vec<f64>,
    held: bool,
    /// `∂f/∂t` at the step's start, and `f(t_n, y_n)` (the first stage's evaluation).
    f_t: Vec<f64>,
    f0: Vec<f64>,
    lu: BatchLu<f64>,
    factorizations: usize,
    /// The `u_i`.
    u: Vec<f64>,
    arg: Vec<f64>,
    /// The stages' evaluations `F_i` (the `G` coupling reads earlier ones).
    fs: Vec<f64>,
    times: Vec<f64>,
    y_new: Vec<f64>,
    err: Vec<f64>,
    err_inv_weights: Vec<f64>,
}

impl<'a> RosenbrockStepper<'a> {
    pub fn new(m: &'a Rosenbrock, rhs: &'a Rhs<'a>, batch: usize) -> Self {
        let (d, s) = (rhs.d, m.stages());
        let n = batch * d;
        Self {
            m,
            rhs,
            batch,
            jac: vec![0.0; batch * d * d],
            held: false,
            f_t: vec![0.0; n],
            f0: vec![0.0; n],
            lu: BatchLu::new(batch, d),
            factorizations: 0,
            u: vec![0.0; s * n],
            arg: vec![0.0; n],
            fs: vec![0.0; s * n],
            times: vec![0.0; batch],
            y_new: vec![0.0; n],
            err: vec![0.0; n],
            err_inv_weights: vec![0.0; n],
        }
    }

    /// `J`, `f(t, y)` and `∂f/∂t` at the step's start: the last by a forward difference in `t`
    /// ([`time_step`]), not evaluated for an autonomous field (it stays 0).
    fn ensure_start(&mut self, t: f64, y: &[f64]) -> Result<(), SolveError> {
        if self.held {
            return Ok(());
        }
        self.times.fill(t);
        self.rhs.jacobian_into(&self.times, y, &mut self.jac)?;
        self.rhs.eval_into(&self.times, y, &mut self.f0)?;
        if !self.rhs.autonomous {
            let (t_plus, inv) = time_step(t);
            self.times.fill(t_plus);
            self.rhs.eval_into(&self.times, y, &mut self.f_t)?;
            self.f_t.iter_mut().zip(&self.f0).for_each(|(ft, f0)| *ft = (*ft - f0) * inv);
        }
        self.held = true;
        Ok(())
    }

    /// `I/(hγ) − J` factored per trajectory; false if one is singular.
    fn factor(&mut self, h: f64) -> bool {
        let (d, shift) = (self.rhs.d, 1.0 / (h * self.m.gamma));
        self.factorizations += 1;
        (0..self.batch).all(|b| {
            let mat = self.lu.matrix_mut(b);
            mat.iter_mut().zip(&self.jac[b * d * d..(b + 1) * d * d]).for_each(|(m, j)| *m = -j);
            (0..d).for_each(|i| mat[i * d + i] += shift);
            self.lu.factor(b)
        })
    }
}

/// The forward difference of `∂f/∂t` at `t`: `t + δ` with `δ = √(ε·max(1e-5, |t|))` (as
/// `rodas.f`), and `1/((t + δ) − t)`. A function of `t` alone, so that a step's replay takes the
/// same difference.
pub(crate) fn time_step(t: f64) -> (f64, f64) {
    let t_plus = t + (f64::EPSILON * t.abs().max(1e-5)).sqrt();
    (t_plus, 1.0 / (t_plus - t))
}

impl Stepper for RosenbrockStepper<'_> {
    fn attempt(
        &mut self,
        t: f64,
        y: &[f64],
        h: f64,
        _w: &[f64],
        tol: Option<&Tolerances>,
    ) -> Result<Outcome, SolveError> {
        let (m, n, batch) = (self.m, y.len(), self.batch);
        self.ensure_start(t, y)?;
        if !self.factor(h) {
            return Ok(Outcome::NewtonFailed);
        }
        for i in 0..m.stages() {
            // The argument y + Σ a_ij u_j and its evaluation (the first stage's is f(t_n, y_n)).
            self.arg.copy_from_slice(y);
            for j in 0..i {
                let a = m.a[i][j];
                if a != 0.0 {
                    self.arg.iter_mut().zip(&self.u[j * n..(j + 1) * n]).for_each(|(x, u)| *x += a * u);
                }
            }
            let (earlier, fi) = self.fs.split_at_mut(i * n);
            let fi = &mut fi[..n];
            if i == 0 && m.c[0] == 0.0 {
                fi.copy_from_slice(&self.f0);
            } else {
                self.times.fill(t + m.c[i] * h);
                match self.rhs.eval_into(&self.times[..batch], &self.arg, fi) {
                    Ok(()) => {}
                    Err(SolveError::NonFinite { .. }) => return Ok(Outcome::NewtonFailed),
                    Err(e) => return Err(e),
                }
            }
            // r = F_i + Σ (C_ij/h) u_j + Σ G_ij F_j + h d_i ∂f/∂t, then u_i = (I/(hγ) − J)⁻¹ r.
            let (done, rest) = self.u.split_at_mut(i * n);
            let ui = &mut rest[..n];
            ui.copy_from_slice(fi);
            for (j, (uj, fj)) in done.chunks_exact(n).zip(earlier.chunks_exact(n)).enumerate() {
                let (c, g) = (m.c_mat[i][j] / h, m.g(i, j));
                if c != 0.0 {
                    ui.iter_mut().zip(uj).for_each(|(x, u)| *x += c * u);
                }
                if g != 0.0 {
                    ui.iter_mut().zip(fj).for_each(|(x, f)| *x += g * f);
                }
            }
            if m.d[i] != 0.0 {
                let hd = h * m.d[i];
                ui.iter_mut().zip(&self.f_t).for_each(|(x, ft)| *x += hd * ft);
            }
            self.lu.solve_each(ui);
            if ui.iter().any(|v| !v.is_finite()) {
                return Ok(Outcome::NewtonFailed);
            }
        }
        self.y_new.copy_from_slice(y);
        self.err.fill(0.0);
        for (i, ui) in self.u.chunks_exact(n).enumerate() {
            let (mi, ei) = (m.m[i], m.e[i]);
            if mi != 0.0 {
                self.y_new.iter_mut().zip(ui).for_each(|(x, u)| *x += mi * u);
            }
            if ei != 0.0 {
                self.err.iter_mut().zip(ui).for_each(|(x, u)| *x += ei * u);
            }
        }
        let err = match tol {
            Some(tol) => {
                inverse_weights_into(tol, y, Some(&self.y_new), self.rhs.d, &mut self.err_inv_weights);
                Some(weighted_norm(&self.err, &self.err_inv_weights, batch, self.rhs.d))
            }
            None => None,
        };
        let err_order = (m.embedded_order.min(m.order) + 1) as f64;
        Ok(Outcome::Done(Attempt { err, err_order, theta: 0.0, newton_iterations: 0, proposal: None }))
    }

    fn y_new(&self) -> &[f64] {
        &self.y_new
    }

    fn step_kind(&self) -> StepKind {
        StepKind::RungeKutta
    }

    /// The `u_i` (the graph replay of a step linearizes its stage equations at them).
    fn stage_values(&self) -> Option<&[f64]> {
        Some(&self.u)
    }

    fn accepted(&mut self, _h: f64, _theta: f64) {
        self.held = false;
    }

    /// A Rosenbrock step evaluates its Jacobian afresh at every new point: nothing to refresh.
    fn refresh_jacobian(&mut self) -> bool {
        false
    }

    fn newton_counts(&self) -> (usize, usize) {
        (0, self.factorizations)
    }
}
