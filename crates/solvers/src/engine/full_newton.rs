//! Newton's method proper for all stages together, the finish of a tight-mode solve
//! (design.md §3): simplified Newton iterates with one Jacobian for every stage, RADAU5's
//! transformed system; where that has converged by its own corrections, the increments
//! `Z_i = Y_i − y_n` are corrected with each stage's own Jacobian,
//!
//! `(I − h(A⊗I)·diag(J(Y_1), …, J(Y_s)))ΔZ = −(Z − h(A⊗I)F(Y))`,
//!
//! one dense `sd×sd` system per trajectory (Hairer & Wanner II, IV.8, (8.2) before its
//! simplification), until a correction is within the tolerance. Only solves that gradients and
//! their checks rely on take it: under fixed steps the stages must be the discrete solution.

use crate::error::SolveError;
use crate::linalg::{BatchLu, stage_matrix};
use crate::rhs::Rhs;
use crate::step_control::weighted_norm;
use crate::tableau::Tableau;

/// Iterations before the finish is judged to have failed.
const MAX_ITER: usize = 12;

/// One step's stage system: the tableau, the step's start `(t, y)` (`batch·d` values) and size.
pub(crate) struct StageSystem<'a> {
    pub tab: &'a Tableau,
    pub t: f64,
    pub y: &'a [f64],
    pub h: f64,
}

/// Correct the increments `z` (stage-major, `s·batch·d` values) by Newton's method until a
/// correction's weighted norm (inverse weights `wt`) is at most `tol/1000`, or at most `tol` and
/// no longer shrinking; the linear systems are solved with refinement
/// ([`BatchLu::solve_refined`]: their stiff rows are 1e9 times the others); `Ok(Some(iterations))`,
/// or `Ok(None)` when it does not converge, meets a non-finite `f` or a singular matrix.
pub(crate) fn finish(
    rhs: &Rhs,
    sys: &StageSystem,
    z: &mut [f64],
    wt: &[f64],
    tol: f64,
) -> Result<Option<usize>, SolveError> {
    let (d, n, s) = (rhs.d, sys.y.len(), sys.tab.stages());
    let (batch, sd) = (n / d, s * d);
    let (mut stage_y, mut f, mut jac) = (vec![0.0; s * n], vec![0.0; s * n], vec![0.0; s * batch * d * d]);
    let (mut lu, mut delta) = (BatchLu::<f64>::new(batch, sd), vec![0.0; batch * sd]);
    let (mut mats, mut step) = (vec![0.0; batch * sd * sd], vec![0.0; s * n]);
    let mut last = f64::INFINITY;
    let times: Vec<Vec<f64>> = (0..s).map(|i| vec![sys.t + sys.tab.c[i] * sys.h; batch]).collect();
    let ha: Vec<Vec<f64>> = sys.tab.a.iter().map(|row| row.iter().map(|a| sys.h * a).collect()).collect();
    let dd = d * d;
    for iteration in 1..=MAX_ITER {
        for (i, times) in times.iter().enumerate() {
            let (yi, zi) = (&mut stage_y[i * n..(i + 1) * n], &z[i * n..(i + 1) * n]);
            yi.iter_mut().zip(sys.y).zip(zi).for_each(|((v, y), z)| *v = y + z);
            match rhs.eval_into(times, yi, &mut f[i * n..(i + 1) * n]) {
                Ok(()) => {}
                Err(SolveError::NonFinite { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
            rhs.jacobian_into(times, yi, &mut jac[i * batch * d * d..(i + 1) * batch * d * d])?;
        }
        for b in 0..batch {
            let m = lu.matrix_mut(b);
            stage_matrix(&ha, d, |j| &jac[(j * batch + b) * dd..(j * batch + b + 1) * dd], m);
            mats[b * sd * sd..(b + 1) * sd * sd].copy_from_slice(m);
            if !lu.factor(b) {
                return Ok(None);
            }
            // −G_i = −(Z_i − h Σ_j a_ij F_j), for trajectory b.
            for i in 0..s {
                for r in 0..d {
                    let k = b * d + r;
                    let hf: f64 = (0..s).map(|j| sys.tab.a[i][j] * f[j * n + k]).sum();
                    delta[b * sd + i * d + r] = sys.h * hf - z[i * n + k];
                }
            }
        }
        for (b, x) in delta.chunks_exact_mut(sd).enumerate() {
            lu.solve_refined(b, &mats[b * sd * sd..(b + 1) * sd * sd], x);
        }
        // Back to the stage-major layout of `z`, applied.
        for b in 0..batch {
            for i in 0..s {
                for r in 0..d {
                    step[i * n + b * d + r] = delta[b * sd + i * d + r];
                }
            }
        }
        z.iter_mut().zip(&step).for_each(|(z, dz)| *z += dz);
        let norm = weighted_norm(&step, wt, batch, d);
        if !norm.is_finite() {
            return Ok(None);
        }
        // Within the tolerance, on until a correction is a thousandth of it or stops shrinking
        // (rounding): the solution then hardly depends on where the iteration stopped.
        let stalled = norm <= tol && norm > 0.5 * last;
        if norm <= 1e-3 * tol || stalled || norm == 0.0 {
            return Ok(Some(iteration));
        }
        last = norm;
    }
    Ok(None)
}
