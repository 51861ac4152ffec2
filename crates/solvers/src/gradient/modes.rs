//! The parameter gradient split by eigenmode of the Jacobian (design.md §5; Fronk & Petzold 2025).
//!
//! At step `n` the adjoint `a_{n+1} = ∂L/∂y_{n+1}` is split with the eigenvectors of
//! `J = ∂f/∂y` at `y_{n+1}` (right `v_i`, left `w_i` = rows of `V⁻¹`): `a⁽ⁱ⁾ = w_i (v_iᵀ a)`,
//! complex-conjugate pairs merged into one real part, so `Σ_i a⁽ⁱ⁾ = a`. The step's parameter
//! gradient `(∂y_{n+1}/∂θ)ᵀa` is linear in `a`, so it splits exactly into the modes' shares.
//!
//! Each share is the step's adjoint in stage form ([`StageForm::adjoints`]) applied to the
//! mode's part of `a_{n+1}`: `(∂y_{n+1}/∂θ)ᵀa = Σ_j (∂F_j/∂θ)ᵀ μ_j`. The `μ` are host linear
//! algebra; the products with `∂F/∂θ` of every step and stage are then one batched
//! vector–Jacobian product of the field per group of modes. A Rosenbrock step's share is its
//! adjoint on the host applied to the mode's part (its `∂J` terms have no stage form), which
//! needs the field's second derivatives there.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::GradientsParams;
use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;
use num_complex::Complex64;

use super::params::unflatten;
use super::rosenbrock::RosenbrockAdjoint;
use super::stages::{StageForm, field_vjp, step_output};
use super::{Gradient, StepCotangent};
use crate::error::{SetupError, SolveError};
use crate::field::VectorField;
use crate::methods::Method;
use crate::rhs::{Rhs, host_form};

/// One mode of one trajectory at one step, with what its share of the gradient is made of.
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
    share: Share,
}

/// What a sample's parameter gradient is made of: its stage cotangents `μ` (stage-major,
/// `stages·d` values, at the split's stage rows `first + i`) for the batched product
/// `Σ_j (∂F_j/∂θ)ᵀμ_j` of a Runge–Kutta or BDF step; or, for a Rosenbrock step, whose `∂J` terms
/// have no such form, the gradient itself (flattened), from the step's adjoint on the host.
#[derive(Debug, Clone)]
enum Share {
    Stages { first: usize, mu: Vec<f64> },
    Direct(Vec<f64>),
}

/// The adjoints of a trajectory split into modes; [`ModalSplit::gradients`] turns groups of
/// modes into parameter gradients.
pub struct ModalSplit {
    /// Every mode of every split step and trajectory.
    pub samples: Vec<ModeSample>,
    /// Time and state of every stage row of the split steps.
    times: Vec<f64>,
    values: Vec<f64>,
    d: usize,
    /// Whether the field's host form may take the products (the solve's evaluation).
    host_form: bool,
}

/// Split the per-step adjoints of `gradient` (taken with `GradientMode::Adjoint { keep_steps:
/// true }`) into modes of the Jacobian of `field`, the field the gradient was taken for.
pub fn split<F: VectorField + Module>(field: &F, gradient: &Gradient) -> Result<ModalSplit, SolveError> {
    let Some(adjoints) = &gradient.step_adjoints else {
        return Err(SetupError::InvalidOption {
            what: "gradient mode",
            why: "the split by eigenmode reads the per-step adjoints: take the gradient with \
                  GradientMode::Adjoint { keep_steps: true }"
                .into(),
        }
        .into());
    };
    let (plain, record) = (field.valid(), &gradient.record);
    let host = host_form(&plain, record.evaluation.host_form());
    let rhs = Rhs::new(&plain, host.as_deref());
    let d = record.solution.dim;
    // A Rosenbrock step's shares come from its adjoint on the host, one per mode.
    let rosenbrock = match &record.method {
        Method::Rosenbrock(m) => match host.as_deref().and_then(|h| h.products()?.second_order()) {
            Some(host) => Some(RosenbrockAdjoint { m, host, autonomous: plain.autonomous(), d }),
            None => return Err(super::no_step_adjoints(&record.method).into()),
        },
        _ => None,
    };
    let output = step_output(&record.method);
    let forms: Vec<StageForm> = match rosenbrock {
        Some(_) => Vec::new(),
        None => adjoints.iter().map(|a| StageForm::of(record, a.trajectory, a.step, &output)).collect(),
    };
    let times: Vec<f64> = forms.iter().flat_map(|f| f.times.iter().copied()).collect();
    let values: Vec<f64> = forms.iter().flat_map(|f| f.values.iter().copied()).collect();
    let stage_jac = if forms.is_empty() { Vec::new() } else { rhs.jacobian(&times, &values)? };
    let step_of = |a: &StepCotangent| &record.trajectories[a.trajectory].steps[a.step];
    let point_times: Vec<f64> = adjoints.iter().map(|a| step_of(a).t_next).collect();
    let point_values: Vec<f64> =
        adjoints.iter().flat_map(|a| record.trajectories[a.trajectory].point(a.step + 1).iter().copied()).collect();
    let point_jac = rhs.jacobian(&point_times, &point_values)?;

    let dd = d * d;
    let mut samples = Vec::new();
    let mut first = 0;
    for (k, a) in adjoints.iter().enumerate() {
        let rec = step_of(a);
        let modes = modal_parts(&point_jac[k * dd..(k + 1) * dd], &a.value, d).map_err(|why| SolveError::Eigen {
            step: a.step + 1,
            t: rec.t_next,
            why,
        })?;
        let parts = modes.iter().map(|(_, p)| p.as_slice());
        let shares: Vec<Share> = match (&rosenbrock, forms.get(k)) {
            (Some(walk), _) => {
                let traj = &record.trajectories[a.trajectory];
                let (y, u) = (traj.point(a.step), traj.stage_values(a.step));
                let params = walk.host.params();
                let share = |part: &[f64]| {
                    let mut grad = vec![0.0; params];
                    walk.back(rec.t, rec.h, y, u, part, &mut grad).map(|_| Share::Direct(grad))
                };
                let at = || {
                    format!("mode split of step {} from t = {:.6e} of trajectory {}", a.step + 1, rec.t, a.trajectory)
                };
                parts.map(|p| share(p).ok_or_else(|| SolveError::NonFiniteGradient(at()))).collect::<Result<_, _>>()?
            }
            (None, Some(form)) => {
                let jac = |j: usize| &stage_jac[(first + j) * dd..(first + j + 1) * dd];
                let shares =
                    form.adjoints(d, jac, parts).into_iter().map(|(mu, _)| Share::Stages { first, mu }).collect();
                first += form.stages();
                shares
            }
            (None, None) => unreachable!("one stage form per kept adjoint"),
        };
        for (rank, ((eigenvalue, _), share)) in modes.into_iter().zip(shares).enumerate() {
            let (step, trajectory, t, h) = (a.step, a.trajectory, rec.t_next, rec.h);
            samples.push(ModeSample { step, trajectory, rank, eigenvalue, t, h, share });
        }
    }
    Ok(ModalSplit { samples, times, values, d, host_form: record.evaluation.host_form() })
}

impl ModalSplit {
    /// The parameter gradient of each group of modes: `group_of` assigns a sample to one of
    /// `groups` groups (or none). One vector–Jacobian product of `field` per non-empty group,
    /// over the stage rows that the group's samples touch.
    pub fn gradients<F: VectorField + Module>(
        &self,
        field: &F,
        groups: usize,
        group_of: impl Fn(&ModeSample) -> Option<usize>,
    ) -> Vec<GradientsParams> {
        self.products(field, groups, |_, s| group_of(s).map(|g| (g, 1.0)))
    }

    /// `Σ_s c_s G_s` with weights `c` in the order of [`samples`](Self::samples): the modes'
    /// shares recombined (a mode-balanced update) by one vector–Jacobian product — the product
    /// is linear in the cotangents, so the weights go on the `μ`.
    pub fn weighted<F: VectorField + Module>(&self, field: &F, c: &[f64]) -> GradientsParams {
        assert_eq!(c.len(), self.samples.len(), "one weight per sample");
        self.products(field, 1, |k, _| Some((0, c[k]))).pop().expect("one group")
    }

    /// Per group, `Σ c_s G_s` over the samples (index, sample) that `assign` puts in it with
    /// weight `c_s`.
    fn products<F: VectorField + Module>(
        &self,
        field: &F,
        groups: usize,
        assign: impl Fn(usize, &ModeSample) -> Option<(usize, f64)>,
    ) -> Vec<GradientsParams> {
        let d = self.d;
        let plain = field.valid();
        let host = host_form(&plain, self.host_form);
        // Per group: its cotangent by stage row (a group holds a row's modes of one step), or
        // the sum of its direct shares.
        let mut cot: Vec<BTreeMap<usize, Vec<f64>>> = vec![BTreeMap::new(); groups];
        let mut direct: Vec<Option<Vec<f64>>> = vec![None; groups];
        for (k, s) in self.samples.iter().enumerate() {
            let Some((g, w)) = assign(k, s) else { continue };
            match &s.share {
                Share::Stages { first, mu } => {
                    for (i, mu) in mu.chunks_exact(d).enumerate() {
                        let c = cot[g].entry(first + i).or_insert_with(|| vec![0.0; d]);
                        c.iter_mut().zip(mu).for_each(|(c, m)| *c += w * m);
                    }
                }
                Share::Direct(grad) => {
                    let sum = direct[g].get_or_insert_with(|| vec![0.0; grad.len()]);
                    sum.iter_mut().zip(grad).for_each(|(a, b)| *a += w * b);
                }
            }
        }
        cot.into_iter()
            .zip(direct)
            .map(|(rows, direct)| {
                // A split holds one kind of share: its method's.
                if let Some(grad) = direct {
                    return unflatten(field, &grad);
                }
                if rows.is_empty() {
                    return GradientsParams::new();
                }
                let times: Vec<f64> = rows.keys().map(|&r| self.times[r]).collect();
                let values: Vec<f64> =
                    rows.keys().flat_map(|&r| self.values[r * d..(r + 1) * d].iter().copied()).collect();
                field_vjp(field, host.as_deref(), &times, &values, rows.into_values().flatten().collect())
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
            let partner = (0..d).filter(|&l| !paired[l] && lambda[l].im < 0.0).min_by(|&x, &y| {
                (lambda[x] - lambda[k].conj()).norm().total_cmp(&(lambda[y] - lambda[k].conj()).norm())
            });
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
