//! The parameter gradient split by eigenmode of the Jacobian (DESIGN §5; Fronk & Petzold 2025).
//!
//! At step `n` the adjoint `a_{n+1} = ∂L/∂y_{n+1}` is split with the eigenvectors of
//! `J = ∂f/∂y` at `y_{n+1}` (right `v_i`, left `w_i` = rows of `V⁻¹`): `a⁽ⁱ⁾ = w_i (v_iᵀ a)`,
//! complex-conjugate pairs merged into one real part, so `Σ_i a⁽ⁱ⁾ = a`. The step's parameter
//! gradient `(∂y_{n+1}/∂θ)ᵀa` is linear in `a`, so it splits exactly into the modes' shares.
//!
//! Each share is computed without replaying the step: by the implicit function theorem a step
//! `y_{n+1} = y_n + Σ_i hb_i F_i`, `Y_i = y_n + Σ_j ha_ij F_j`, `F_j = f(t_j, Y_j; θ)` has
//! `(∂y_{n+1}/∂θ)ᵀa = Σ_j (∂F_j/∂θ)ᵀ μ_j` with the stage cotangents
//! `μ = u + h(Aᵀ⊗I)x`, `Mᵀx = blockdiag(J_j)ᵀu`, `u = hb⊗a`, `M = I − h(A⊗I)blockdiag(J_j)`
//! (a BDF step is the one-stage case `A = b = β` at `t_{n+1}`). The `μ` are host linear
//! algebra; the products with `∂F/∂θ` of every step and stage are then one batched
//! vector–Jacobian product of the field per group of modes.

use burn::module::Module;
use burn::optim::GradientsParams;
use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;
use num_complex::Complex64;

use crate::error::SolveError;
use crate::field::{VectorField, from_host};
use crate::linalg::BatchedLu;
use crate::methods::Method;
use crate::newton::stage_matrix;
use crate::record::{StepKind, Trajectory};
use crate::rhs::Rhs;

/// One mode of one trajectory at one step, with its stage cotangents.
#[derive(Debug, Clone)]
pub struct ModeSample {
    /// Step `n`: the mode is one of `J(y_{n+1})`.
    pub step: usize,
    /// Trajectory within the batch.
    pub trajectory: usize,
    /// Position by `|Re λ|` among this step's modes, 0 = fastest.
    pub rank: usize,
    /// `λ` (of a complex pair, the member with `Im λ > 0`).
    pub eigenvalue: Complex64,
    /// `t_{n+1}`.
    pub t: f64,
    /// The step size `h_n`.
    pub h: f64,
    /// First row of the step's stage block (rows `first + i·batch + trajectory`).
    first: usize,
    /// `μ`, stage-major (`stages·d` values).
    mu: Vec<f64>,
}

/// The adjoints of a trajectory split into modes; [`ModalSplit::gradients`] turns groups of
/// modes into parameter gradients.
pub struct ModalSplit {
    /// Every mode of every split step and trajectory.
    pub samples: Vec<ModeSample>,
    /// Time and state of every stage row of the split steps.
    times: Vec<f64>,
    values: Vec<f64>,
    batch: usize,
    d: usize,
}

/// One step as a Runge–Kutta step: `hA`, `hb`, stage times and stage values (`[s][batch][d]`).
struct StageForm {
    ha: Vec<Vec<f64>>,
    hb: Vec<f64>,
    times: Vec<f64>,
    values: Vec<f64>,
}

fn stage_form(method: &Method, traj: &Trajectory, n: usize) -> StageForm {
    let rec = &traj.steps[n];
    let batch = traj.solution.batch;
    match (&rec.kind, method) {
        (StepKind::RungeKutta { stages }, Method::RungeKutta(tab)) => StageForm {
            ha: tab.a.iter().map(|row| row.iter().map(|a| rec.h * a).collect()).collect(),
            hb: tab.b.iter().map(|b| rec.h * b).collect(),
            times: tab.c.iter().flat_map(|c| vec![rec.t + c * rec.h; batch]).collect(),
            values: stages.clone(),
        },
        (StepKind::Bdf { beta, .. }, Method::Bdf2(_)) => StageForm {
            ha: vec![vec![rec.h * beta]],
            hb: vec![rec.h * beta],
            times: vec![rec.t_next; batch],
            values: traj.points[n + 1].clone(),
        },
        _ => unreachable!("a trajectory is split with the method that recorded it"),
    }
}

/// Split the adjoints `(n, a_{n+1})` (`batch·d` values each) of `traj`, solved by `method`
/// with the field `plain` (no autodiff: it gives the Jacobians).
pub fn split(plain: &dyn VectorField, method: &Method, traj: &Trajectory, adjoints: &[(usize, Vec<f64>)], host_fast_path: bool) -> Result<ModalSplit, SolveError> {
    let rhs = Rhs::new(plain, host_fast_path);
    let (batch, d) = (traj.solution.batch, traj.solution.dim);
    let forms: Vec<StageForm> = adjoints.iter().map(|(n, _)| stage_form(method, traj, *n)).collect();
    let times: Vec<f64> = forms.iter().flat_map(|f| f.times.iter().copied()).collect();
    let values: Vec<f64> = forms.iter().flat_map(|f| f.values.iter().copied()).collect();
    let stage_jac = rhs.jacobian(&times, &values)?;
    let point_times: Vec<f64> = adjoints.iter().flat_map(|(n, _)| vec![traj.steps[*n].t_next; batch]).collect();
    let point_values: Vec<f64> = adjoints.iter().flat_map(|(n, _)| traj.points[n + 1].iter().copied()).collect();
    let point_jac = rhs.jacobian(&point_times, &point_values)?;

    let dd = d * d;
    let mut samples = Vec::new();
    let mut first = 0;
    for (k, ((n, adjoint), form)) in adjoints.iter().zip(&forms).enumerate() {
        let (s, rec) = (form.hb.len(), &traj.steps[*n]);
        let jac = |j: usize, b: usize| &stage_jac[(first + j * batch + b) * dd..(first + j * batch + b + 1) * dd];
        for b in 0..batch {
            let at = (k * batch + b) * dd;
            let modes = modal_parts(&point_jac[at..at + dd], &adjoint[b * d..(b + 1) * d], d)
                .map_err(|why| SolveError::Eigen { step: n + 1, t: rec.t_next, why })?;
            let mus = stage_cotangents(form, d, |j| jac(j, b), modes.iter().map(|(_, p)| p.as_slice()));
            for (rank, ((eigenvalue, _), mu)) in modes.into_iter().zip(mus).enumerate() {
                samples.push(ModeSample { step: *n, trajectory: b, rank, eigenvalue, t: rec.t_next, h: rec.h, first, mu });
            }
        }
        first += s * batch;
    }
    Ok(ModalSplit { samples, times, values, batch, d })
}

impl ModalSplit {
    /// The parameter gradient of each group of modes: `group_of` assigns a sample to one of
    /// `groups` groups (or none). One vector–Jacobian product of `field` per non-empty group.
    pub fn gradients<F: VectorField + Module>(&self, field: &F, groups: usize, group_of: impl Fn(&ModeSample) -> Option<usize>) -> Vec<GradientsParams> {
        let (rows, d) = (self.times.len(), self.d);
        let mut cot = vec![vec![0.0; rows * d]; groups];
        let mut used = vec![false; groups];
        for s in &self.samples {
            let Some(g) = group_of(s) else { continue };
            used[g] = true;
            for (i, mu) in s.mu.chunks_exact(d).enumerate() {
                let row = s.first + i * self.batch + s.trajectory;
                cot[g][row * d..(row + 1) * d].iter_mut().zip(mu).for_each(|(c, m)| *c += m);
            }
        }
        let device = field.device();
        cot.into_iter()
            .zip(used)
            .map(|(c, used)| {
                if !used {
                    return GradientsParams::new();
                }
                let y = from_host(self.values.clone(), [rows, d], &device);
                let f = field.eval(&self.times, y);
                GradientsParams::from_grads((f * from_host(c, [rows, d], &device)).sum().backward(), field)
            })
            .collect()
    }
}

/// Eigenmodes of the row-major `d×d` matrix `jac` and the split of `a` among them, ranked by
/// `|Re λ|` (fastest first); complex-conjugate pairs become one mode with a real part.
fn modal_parts(jac: &[f64], a: &[f64], d: usize) -> Result<Vec<(Complex64, Vec<f64>)>, String> {
    let m = Mat::<f64>::from_fn(d, d, |i, j| jac[i * d + j]);
    let eig = m.eigen().map_err(|e| format!("{e:?}"))?;
    let v = eig.U().to_owned();
    let lambda: Vec<Complex64> = eig.S().column_vector().iter().copied().collect();
    let w = v.partial_piv_lu().inverse();
    // part_k = w_k (v_kᵀ a): Σ_k part_k = (V W)ᵀ a = a.
    let part = |k: usize| -> Vec<Complex64> {
        let proj: Complex64 = (0..d).map(|l| v[(l, k)] * a[l]).sum();
        (0..d).map(|j| w[(k, j)] * proj).collect()
    };
    let mut paired = vec![false; d];
    let mut modes = Vec::with_capacity(d);
    for k in 0..d {
        if paired[k] || lambda[k].im < 0.0 {
            continue;
        }
        let mut p = part(k);
        if lambda[k].im > 0.0 {
            // The partner is the unpaired eigenvalue closest to conj(λ_k).
            let partner = (0..d)
                .filter(|&l| !paired[l] && lambda[l].im < 0.0)
                .min_by(|&x, &y| (lambda[x] - lambda[k].conj()).norm().total_cmp(&(lambda[y] - lambda[k].conj()).norm()));
            if let Some(l) = partner {
                paired[l] = true;
                p.iter_mut().zip(part(l)).for_each(|(x, y)| *x += y);
            }
        }
        modes.push((lambda[k], p.iter().map(|x| x.re).collect::<Vec<f64>>()));
    }
    // Eigenvalues with Im < 0 and no partner (not expected for a real matrix) stay modes too.
    for k in (0..d).filter(|&k| lambda[k].im < 0.0 && !paired[k]) {
        modes.push((lambda[k], part(k).iter().map(|x| x.re).collect()));
    }
    if modes.iter().any(|(_, p)| p.iter().any(|x| !x.is_finite())) {
        return Err("the eigenvectors are singular (a defective Jacobian)".into());
    }
    modes.sort_by(|x, y| y.0.re.abs().total_cmp(&x.0.re.abs()));
    Ok(modes)
}

/// `μ = u + h(Aᵀ⊗I)x` with `Mᵀx = blockdiag(J_j)ᵀu`, `u = hb⊗a`, for each adjoint part `a`.
fn stage_cotangents<'j, 'p>(form: &StageForm, d: usize, jac: impl Fn(usize) -> &'j [f64], parts: impl ExactSizeIterator<Item = &'p [f64]>) -> Vec<Vec<f64>> {
    let (s, cols) = (form.hb.len(), parts.len());
    let n = s * d;
    let mut m = vec![0.0; n * n];
    stage_matrix(&form.ha, d, &jac, &mut m);
    let mt: Vec<f64> = (0..n * n).map(|k| m[(k % n) * n + k / n]).collect();
    let lu = BatchedLu::factor(&mt, n);
    let mut us = Vec::with_capacity(cols);
    let mut x = Vec::with_capacity(cols * n);
    for a in parts {
        let u: Vec<f64> = form.hb.iter().flat_map(|hb| a.iter().map(move |v| hb * v)).collect();
        for j in 0..s {
            let jj = jac(j);
            x.extend((0..d).map(|q| (0..d).map(|p| jj[p * d + q] * u[j * d + p]).sum::<f64>()));
        }
        us.push(u);
    }
    lu.solve_many_in_place(0, &mut x, cols);
    us.into_iter()
        .zip(x.chunks_exact(n))
        .map(|(mut mu, x)| {
            for j in 0..s {
                for i in 0..s {
                    let c = form.ha[i][j];
                    if c != 0.0 {
                        mu[j * d..(j + 1) * d].iter_mut().zip(&x[i * d..(i + 1) * d]).for_each(|(m, x)| *m += c * x);
                    }
                }
            }
            mu
        })
        .collect()
}
