//! One accepted step replayed as a Burn tensor program, differentiable with respect to its
//! start state(s) and the field's parameters (design.md §4).
//!
//! Implicit stages are not iterated again. With `Ỹ` the converged stage values (constants) and
//! `M = ∂G/∂Y` the exact Jacobian of the stage equations at `Ỹ` (`M⁻¹` a constant), the
//! recorded value `Y = Ỹ − M⁻¹G(Ỹ; y_n, θ)` equals `Ỹ` while its derivative is the
//! implicit-function-theorem derivative `M⁻¹(∂G/∂y_n dy_n + ∂G/∂θ dθ)`. Stage derivatives then
//! follow from the stage equations themselves, which hold identically along the solution.

use burn::tensor::{Device, Tensor};

use crate::engine::rosenbrock::time_step;
use crate::error::SolveError;
use crate::field::{HostField, VectorField, from_host, to_host};
use crate::linalg::{BatchLu, invert, stage_matrix};
use crate::methods::{Method, Rosenbrock};
use crate::rhs::{Rhs, host_form};
use crate::solution::{SolveRecord, StepKind, StepRecord};
use crate::tableau::{Structure, Tableau};

/// Replays the steps of a solve record for a field, one trajectory at a time (`[1, d]` tensors);
/// `plain` is the same field without autodiff, for the Jacobians that build the constant `M⁻¹`.
pub(crate) struct Replay<'a> {
    field: &'a dyn VectorField,
    plain: &'a dyn VectorField,
    host: Option<Box<dyn HostField + 'a>>,
    method: &'a Method,
    device: Device,
    batch: usize,
    d: usize,
    /// `bᵀA⁻¹` for fully implicit tableaus: `y_{n+1} = y_n + Σ_i w_i (Y_i − y_n)`.
    weights: Vec<f64>,
}

impl<'a> Replay<'a> {
    pub fn new(field: &'a dyn VectorField, plain: &'a dyn VectorField, record: &'a SolveRecord) -> Self {
        let method = &record.method;
        let weights = match method {
            Method::RungeKutta(tab) if tab.structure() == Structure::Full => {
                let a_inv = invert(&tab.a);
                let s = tab.stages();
                (0..s).map(|j| (0..s).map(|i| tab.b[i] * a_inv[i][j]).sum()).collect()
            }
            _ => Vec::new(),
        };
        let host = host_form(plain, record.evaluation.host_form());
        Self { field, plain, host, method, device: field.device(), batch: 1, d: field.dim(), weights }
    }

    /// `y_{n+1}` from `inputs` (`[y_n]`, or `[y_n, y_{n−1}, …]` for a BDF step), `[1, d]` each, and
    /// the step's recorded stage values (for a BDF step, `y_{n+1}`).
    pub fn step(&self, rec: &StepRecord, inputs: &[Tensor<2>], stages: &[f64]) -> Result<Tensor<2>, SolveError> {
        match (&rec.kind, self.method) {
            (StepKind::RungeKutta, Method::RungeKutta(tab)) => match tab.structure() {
                Structure::Full => self.full(tab, rec, inputs[0].clone(), stages),
                _ => self.sequential(tab, rec, inputs[0].clone(), stages),
            },
            (StepKind::Bdf { alpha, inputs: n, beta, .. }, _) => {
                let mut v = inputs[0].clone().mul_scalar(alpha[0]);
                for (y, a) in inputs[1..*n].iter().zip(&alpha[1..]) {
                    v = v + y.clone().mul_scalar(*a);
                }
                self.implicit_stage(rec.t + rec.h, v, rec.h * beta, stages)
            }
            (StepKind::RungeKutta, Method::Bdf2(_) | Method::Bdf(_)) => {
                unreachable!("a solve record's Runge–Kutta steps come from its Runge–Kutta method")
            }
            (StepKind::RungeKutta, Method::Rosenbrock(m)) => self.rosenbrock(m, rec, inputs[0].clone(), stages),
        }
    }

    /// Stages one after another: explicit stages are evaluated, implicit ones corrected.
    fn sequential(
        &self,
        tab: &Tableau,
        rec: &StepRecord,
        y: Tensor<2>,
        stages: &[f64],
    ) -> Result<Tensor<2>, SolveError> {
        let (h, n) = (rec.h, self.batch * self.d);
        let mut f: Vec<Tensor<2>> = Vec::with_capacity(tab.stages());
        for i in 0..tab.stages() {
            let mut known = y.clone();
            for (j, fj) in f.iter().enumerate() {
                if tab.a[i][j] != 0.0 {
                    known = known + fj.clone().mul_scalar(h * tab.a[i][j]);
                }
            }
            let ti = rec.t + tab.c[i] * h;
            let g = tab.a[i][i];
            let fi = if g == 0.0 {
                self.field.eval(&vec![ti; self.batch], known)
            } else {
                let yi = self.implicit_stage(ti, known.clone(), h * g, &stages[i * n..(i + 1) * n])?;
                // A product with the reciprocal, not `div_scalar`: Burn 0.22's backward of
                // `div_scalar` multiplies by the reciprocal rounded to f32 (2e-8 relative).
                (yi - known).mul_scalar(1.0 / (h * g))
            };
            f.push(fi);
        }
        Ok(f.into_iter()
            .zip(&tab.b)
            .fold(y, |acc, (fi, bi)| if *bi == 0.0 { acc } else { acc + fi.mul_scalar(h * bi) }))
    }

    /// A Rosenbrock step: with `W = I/(hγ) − J(t_n, y_n)` on the graph (through the field's
    /// Jacobian program) and `M⁻¹` its value's inverse (a constant), each stage is
    /// `u_i = ũ_i − M⁻¹(Wũ_i − r_i)`, `r_i = F_i + Σ (C_ij/h) u_j + Σ G_ij F_j + h d_i ∂f/∂t`,
    /// `F_i = f(t + c_i h, y + Σ a_ij u_j)`: the recorded `ũ_i` in value, and in derivative the linear stage equation
    /// differentiated, `∂J` included; then `y_{n+1} = y + Σ m_i u_i`.
    fn rosenbrock(
        &self,
        m: &Rosenbrock,
        rec: &StepRecord,
        y: Tensor<2>,
        stages: &[f64],
    ) -> Result<Tensor<2>, SolveError> {
        let (h, d, t) = (rec.h, self.d, rec.t);
        let shift = 1.0 / (h * m.gamma);
        let times = [t];
        let y_value = to_host(y.clone().without_autodiff());
        let mut mat: Vec<f64> = Rhs::new(self.plain, self.host.as_deref()).jacobian(&times, &y_value)?;
        mat.iter_mut().for_each(|v| *v = -*v);
        (0..d).for_each(|i| mat[i * d + i] += shift);
        let minv = from_host(BatchLu::factor_all(&mat, d).inverse(&mat), [1, d, d], &self.device);
        let jac = self.field.jacobian(&times, y.clone());
        let f0 = self.field.eval(&times, y.clone());
        // As the stepper: none for an autonomous field.
        let f_t = (!self.field.autonomous()).then(|| {
            let (t_plus, inv) = time_step(t);
            (self.field.eval(&[t_plus], y.clone()) - f0.clone()).mul_scalar(inv)
        });
        let (mut u, mut fs): (Vec<Tensor<2>>, Vec<Tensor<2>>) = (Vec::new(), Vec::new());
        for i in 0..m.stages() {
            let mut arg = y.clone();
            for (j, uj) in u.iter().enumerate().filter(|(j, _)| m.a[i][*j] != 0.0) {
                arg = arg + uj.clone().mul_scalar(m.a[i][j]);
            }
            let fi = if i == 0 && m.c[0] == 0.0 { f0.clone() } else { self.field.eval(&[t + m.c[i] * h], arg) };
            let mut r = fi.clone();
            for (j, uj) in u.iter().enumerate().filter(|(j, _)| m.c_mat[i][*j] != 0.0) {
                r = r + uj.clone().mul_scalar(m.c_mat[i][j] / h);
            }
            for (j, fj) in fs.iter().enumerate().filter(|(j, _)| m.g(i, *j) != 0.0) {
                r = r + fj.clone().mul_scalar(m.g(i, j));
            }
            fs.push(fi);
            if let Some(f_t) = f_t.as_ref().filter(|_| m.d[i] != 0.0) {
                r = r + f_t.clone().mul_scalar(h * m.d[i]);
            }
            let ut = from_host(stages[i * d..(i + 1) * d].to_vec(), [1, d], &self.device);
            let w_ut = ut.clone().mul_scalar(shift) - apply(jac.clone(), ut.clone());
            u.push(ut - apply(minv.clone(), w_ut - r));
        }
        Ok(u.into_iter().zip(&m.m).fold(y, |acc, (ui, mi)| if *mi == 0.0 { acc } else { acc + ui.mul_scalar(*mi) }))
    }

    /// `W = v + hγ f(t, W)` at its converged value `w̃`: `W = w̃ − M⁻¹(w̃ − v − hγ f(t, w̃))`,
    /// `M = I − hγJ(w̃)`.
    fn implicit_stage(&self, t: f64, v: Tensor<2>, hg: f64, w: &[f64]) -> Result<Tensor<2>, SolveError> {
        let times = vec![t; self.batch];
        let minv = self.inverse(&times, w, &[vec![hg]])?;
        let wt = from_host(w.to_vec(), [self.batch, self.d], &self.device);
        let g = wt.clone() - v - self.field.eval(&times, wt.clone()).mul_scalar(hg);
        Ok(wt - apply(minv, g))
    }

    /// All stages together: `G = Ỹ − y_n − h(A⊗I)F(Ỹ)`, `Y = Ỹ − M⁻¹G`,
    /// `M = I − h(A⊗I)·blockdiag(J(Ỹ_j))`, then `y_{n+1} = y_n + Σ_i (bᵀA⁻¹)_i (Y_i − y_n)`.
    fn full(&self, tab: &Tableau, rec: &StepRecord, y: Tensor<2>, stages: &[f64]) -> Result<Tensor<2>, SolveError> {
        let (s, batch, d, h) = (tab.stages(), self.batch, self.d, rec.h);
        let times: Vec<f64> = (0..s).flat_map(|i| vec![rec.t + tab.c[i] * h; batch]).collect();
        let ha: Vec<Vec<f64>> = tab.a.iter().map(|row| row.iter().map(|a| h * a).collect()).collect();
        let minv = self.inverse(&times, stages, &ha)?;
        let yt = from_host(stages.to_vec(), [s * batch, d], &self.device);
        let y_rep = Tensor::cat(vec![y.clone(); s], 0);
        let a = from_host(tab.a.iter().flatten().copied().collect(), [s, s], &self.device);
        let af = a.matmul(self.field.eval(&times, yt.clone()).reshape([s, batch * d])).reshape([s * batch, d]);
        let g = yt.clone() - y_rep.clone() - af.mul_scalar(h);
        // [s·batch, d] → [batch, s·d]: one (s·d)-vector per trajectory for its M⁻¹.
        let per_traj = |x: Tensor<2>| x.reshape([s, batch, d]).swap_dims(0, 1).reshape([batch, s * d]);
        let from_traj = |x: Tensor<2>| x.reshape([batch, s, d]).swap_dims(0, 1).reshape([s * batch, d]);
        let z = yt - from_traj(apply(minv, per_traj(g))) - y_rep;
        let w = from_host(self.weights.clone(), [1, s], &self.device);
        Ok(y + w.matmul(z.reshape([s, batch * d])).reshape([batch, d]))
    }

    /// `M⁻¹` per trajectory as a constant `[batch, s·d, s·d]` tensor, with
    /// `M = I − (hA ⊗ I)·blockdiag(J(t_j, Y_j))` and `Y` stage-major `[s][batch][d]`.
    fn inverse(&self, times: &[f64], stages: &[f64], ha: &[Vec<f64>]) -> Result<Tensor<3>, SolveError> {
        let (s, batch, d) = (ha.len(), self.batch, self.d);
        let jac = Rhs::new(self.plain, self.host.as_deref()).jacobian(times, stages)?;
        let (n, dd) = (s * d, d * d);
        let mut mats = vec![0.0; batch * n * n];
        for (b, m) in mats.chunks_exact_mut(n * n).enumerate() {
            stage_matrix(ha, d, |j| &jac[(j * batch + b) * dd..(j * batch + b + 1) * dd], m);
        }
        Ok(from_host(BatchLu::factor_all(&mats, n).inverse(&mats), [batch, n, n], &self.device))
    }
}

/// `M⁻¹x` per row: `[rows, n, n]` times `[rows, n]`.
fn apply(minv: Tensor<3>, x: Tensor<2>) -> Tensor<2> {
    let [rows, n] = x.dims();
    minv.matmul(x.reshape([rows, n, 1])).reshape([rows, n])
}
