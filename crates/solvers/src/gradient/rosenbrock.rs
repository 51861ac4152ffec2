//! The adjoint of a Rosenbrock step on the host (design.md §4), for fields whose host form has
//! second derivatives ([`HostSecondOrder::jacobian_vjp`]).
//!
//! The step from `y = y_n` is `Wu_i = r_i`, `W = I/(hγ) − J(t, y)`,
//! `r_i = F_i + Σ_{j<i} (C_ij/h)u_j + Σ_{j<i} G_ij F_j + hd_i ∂f/∂t`,
//! `F_i = f(t + c_ih, Y_i)`, `Y_i = y + Σ_{j<i} a_ij u_j`, `y_{n+1} = y + Σ m_i u_i`. Given
//! `ā = ∂L/∂y_{n+1}`: `ū_i = m_iā`, and for `i = s … 1` (every later use of `u_i`, `F_i` already
//! counted) `r̄_i = W⁻ᵀū_i`; `J` gets `r̄_iu_iᵀ` (since `du_i = W⁻¹(dr_i + dJ u_i)`), `F_i` gets
//! `F̄_i = r̄_i + Σ_{k>i} G_ki r̄_k`, `u_j` gets `(C_ij/h)r̄_i + a_ij J(Y_i)ᵀF̄_i`, `y` gets
//! `J(Y_i)ᵀF̄_i` and `θ` gets `(∂F_i/∂θ)ᵀF̄_i`; `∂f/∂t` gets `Σ hd_i r̄_i`. Finally
//! `ȳ = ā + Σ_i J(Y_i)ᵀF̄_i + ∇_y Σ_i r̄_iᵀJ(y)u_i` (+ the difference quotient's terms for a
//! field that reads `t`), and `θ̄` the matching `∇_θ` terms: the exact discrete adjoint, `∂J`
//! included (Sandu et al. 1997 derive it for Rosenbrock methods).

use super::StepCotangent;
use crate::engine::rosenbrock::time_step;
use crate::error::SolveError;
use crate::field::HostSecondOrder;
use crate::linalg::BatchLu;
use crate::methods::Rosenbrock;
use crate::solution::SolveRecord;

/// The adjoint of the steps of the Rosenbrock method `m` for a field's host form (`d`
/// components; `autonomous`: `f` does not read `t`).
pub(super) struct RosenbrockAdjoint<'a> {
    pub m: &'a Rosenbrock,
    pub host: &'a dyn HostSecondOrder,
    pub autonomous: bool,
    pub d: usize,
}

impl RosenbrockAdjoint<'_> {
    /// Trajectory `b` of `record` walked back from the cotangents of its output states
    /// (`outputs`, `batch·d` each): returns `∂L/∂y0` and, with `keep`, every step's adjoint;
    /// the parameter gradient is added to `grad`.
    pub fn walk_lane(
        &self,
        record: &SolveRecord,
        b: usize,
        outputs: &[Vec<f64>],
        keep: bool,
        grad: &mut [f64],
    ) -> Result<(Vec<f64>, Vec<StepCotangent>), SolveError> {
        let (traj, d) = (&record.trajectories[b], self.d);
        let mut adjoint = vec![vec![0.0; d]; traj.n_points()];
        for (&p, cot) in traj.output_points.iter().zip(outputs) {
            adjoint[p].iter_mut().zip(&cot[b * d..(b + 1) * d]).for_each(|(a, c)| *a += c);
        }
        let mut steps = Vec::new();
        for n in (0..traj.steps.len()).rev() {
            let a = std::mem::take(&mut adjoint[n + 1]);
            if a.iter().all(|&v| v == 0.0) {
                continue;
            }
            let rec = &traj.steps[n];
            let prev = self.back(rec.t, rec.h, traj.point(n), traj.stage_values(n), &a, grad);
            if !prev.as_ref().is_some_and(|p| p.iter().all(|v| v.is_finite())) {
                let at = format!("adjoint of step {} from t = {:.6e} of trajectory {b}", n + 1, rec.t);
                return Err(SolveError::NonFiniteGradient(at));
            }
            adjoint[n].iter_mut().zip(prev.expect("checked")).for_each(|(x, p)| *x += p);
            if keep {
                steps.push(StepCotangent { trajectory: b, step: n, value: a });
            }
        }
        Ok((std::mem::take(&mut adjoint[0]), steps))
    }
    /// `ȳ_n` of the step of size `h` from `(t, y)` with stages `u` (`s·d`) for `ā` (see the
    /// module header), the parameter terms added to `grad`; `None` if `W` is singular.
    pub fn back(&self, t: f64, h: f64, y: &[f64], u: &[f64], a: &[f64], grad: &mut [f64]) -> Option<Vec<f64>> {
        let (m, host, d, s) = (self.m, self.host, self.d, self.m.stages());
        let mut jac = vec![0.0; d * d];
        host.jacobian(t, y, &mut jac);
        // Wᵀ = I/(hγ) − Jᵀ, factored once.
        let shift = 1.0 / (h * m.gamma);
        let wt: Vec<f64> =
            (0..d * d).map(|k| if k / d == k % d { shift } else { 0.0 } - jac[(k % d) * d + k / d]).collect();
        let mut lu = BatchLu::new(1, d);
        lu.matrix_mut(0).copy_from_slice(&wt);
        if !lu.factor(0) {
            return None;
        }
        let mut u_bar: Vec<f64> = m.m.iter().flat_map(|mi| a.iter().map(move |a| mi * a)).collect();
        let mut f_bar = vec![0.0; s * d];
        let (mut ft_bar, mut y_bar) = (vec![0.0; d], a.to_vec());
        let (mut arg, mut from_f) = (vec![0.0; d], vec![0.0; d]);
        for i in (0..s).rev() {
            let mut r_bar = u_bar[i * d..(i + 1) * d].to_vec();
            lu.solve_refined(0, &wt, &mut r_bar);
            host.jacobian_vjp(t, y, &u[i * d..(i + 1) * d], &r_bar, &mut y_bar, grad);
            f_bar[i * d..(i + 1) * d].iter_mut().zip(&r_bar).for_each(|(f, r)| *f += r);
            for j in 0..i {
                let (c, g) = (m.c_mat[i][j] / h, m.g(i, j));
                u_bar[j * d..(j + 1) * d].iter_mut().zip(&r_bar).for_each(|(x, r)| *x += c * r);
                f_bar[j * d..(j + 1) * d].iter_mut().zip(&r_bar).for_each(|(x, r)| *x += g * r);
            }
            ft_bar.iter_mut().zip(&r_bar).for_each(|(x, r)| *x += h * m.d[i] * r);
            // F_i = f(t + c_i h, Y_i): its cotangent is complete now.
            arg.copy_from_slice(y);
            for j in (0..i).filter(|&j| m.a[i][j] != 0.0) {
                arg.iter_mut().zip(&u[j * d..(j + 1) * d]).for_each(|(x, u)| *x += m.a[i][j] * u);
            }
            let (ti, fi_bar) = (t + m.c[i] * h, &f_bar[i * d..(i + 1) * d]);
            from_f.fill(0.0);
            host.vjp_with_state(ti, &arg, fi_bar, &mut from_f, grad);
            y_bar.iter_mut().zip(&from_f).for_each(|(x, v)| *x += v);
            for j in (0..i).filter(|&j| m.a[i][j] != 0.0) {
                u_bar[j * d..(j + 1) * d].iter_mut().zip(&from_f).for_each(|(x, v)| *x += m.a[i][j] * v);
            }
        }
        if !self.autonomous && ft_bar.iter().any(|&v| v != 0.0) {
            // ∂f/∂t = (f(t + δ, y) − f(t, y))/δ, as the stepper takes it.
            let (t_plus, inv) = time_step(t);
            ft_bar.iter_mut().for_each(|x| *x *= inv);
            host.vjp_with_state(t_plus, y, &ft_bar, &mut y_bar, grad);
            ft_bar.iter_mut().for_each(|x| *x = -*x);
            host.vjp_with_state(t, y, &ft_bar, &mut y_bar, grad);
        }
        Some(y_bar)
    }
}
