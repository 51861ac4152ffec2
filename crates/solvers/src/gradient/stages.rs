//! The adjoint of one accepted step through its stages, on the host (design.md §4; the discrete
//! adjoint of Runge–Kutta methods: Hager 2000, Sandu 2006).
//!
//! Every step of the engine is a Runge–Kutta step in stage form: `Y_i = v + Σ_j ha_ij F_j`,
//! `F_j = f(t_j, Y_j; θ)`, `y_{n+1} = v + Σ_i hb_i F_i`, with `v = y_n` (a BDF step is the
//! one-stage case `A = b = β` at `t_{n+1}` with `v = Σ_j α_j y_{n−j}`). By the implicit
//! function theorem at the converged stages, the cotangent `a = ∂L/∂y_{n+1}` gives
//! `u = hb⊗a`, `Mᵀx = blockdiag(J_j)ᵀu`, `μ = u + h(Aᵀ⊗I)x`, `M = I − h(A⊗I)blockdiag(J_j)`:
//! `x_j` is the cotangent of the stage value `Y_j`, `μ_j` that of `F_j`, so the parameters get
//! `Σ_j (∂F_j/∂θ)ᵀμ_j` and `v` gets `a + Σ_j x_j`.

use burn::module::Module;
use burn::optim::GradientsParams;

use super::params::unflatten;
use crate::field::{HostField, VectorField, from_host};
use crate::linalg::{BatchLu, stage_matrix};
use crate::methods::Method;
use crate::solution::{SolveRecord, StepKind, StepRecord};

/// One step of one trajectory as a Runge–Kutta step: `hA`, `hb`, stage times and stage values
/// (`[s][d]`).
pub(crate) struct StageForm {
    pub ha: Vec<Vec<f64>>,
    pub hb: Vec<f64>,
    pub times: Vec<f64>,
    pub values: Vec<f64>,
}

impl StageForm {
    /// Step `n` of trajectory `lane` of `record`.
    pub fn of(record: &SolveRecord, lane: usize, n: usize) -> Self {
        let traj = &record.trajectories[lane];
        let rec = &traj.steps[n];
        match (&rec.kind, &record.method) {
            (StepKind::RungeKutta, Method::RungeKutta(tab)) => Self {
                ha: tab.a.iter().map(|row| row.iter().map(|a| rec.h * a).collect()).collect(),
                hb: tab.b.iter().map(|b| rec.h * b).collect(),
                times: stage_times(&record.method, rec),
                values: traj.stage_values(n).to_vec(),
            },
            (StepKind::Bdf { beta, .. }, _) => Self {
                ha: vec![vec![rec.h * beta]],
                hb: vec![rec.h * beta],
                times: stage_times(&record.method, rec),
                values: traj.stage_values(n).to_vec(),
            },
            (StepKind::RungeKutta, Method::Bdf2(_) | Method::Bdf(_)) => {
                unreachable!("a solve record's Runge–Kutta steps come from its Runge–Kutta method")
            }
            (_, Method::Rosenbrock(_)) => unreachable!("gradients refuse Rosenbrock methods before any walk"),
        }
    }

    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.hb.len()
    }

    /// For each cotangent `a` in `parts` (`d` values each) of one trajectory whose stage
    /// Jacobians are `jac(j)`: the stage cotangents `μ` (stage-major, `s·d` values) and the
    /// cotangent `a + Σ_j x_j` of the step's start `v` (`d` values).
    pub fn adjoints<'j, 'p>(
        &self,
        d: usize,
        jac: impl Fn(usize) -> &'j [f64],
        parts: impl ExactSizeIterator<Item = &'p [f64]>,
    ) -> Vec<(Vec<f64>, Vec<f64>)> {
        let (s, cols) = (self.stages(), parts.len());
        let n = s * d;
        let mut m = vec![0.0; n * n];
        stage_matrix(&self.ha, d, &jac, &mut m);
        let mt: Vec<f64> = (0..n * n).map(|k| m[(k % n) * n + k / n]).collect();
        let lu = BatchLu::factor_all(&mt, n);
        let mut us = Vec::with_capacity(cols);
        let mut x = Vec::with_capacity(cols * n);
        for a in parts {
            let u: Vec<f64> = self.hb.iter().flat_map(|hb| a.iter().map(move |v| hb * v)).collect();
            for j in 0..s {
                let jj = jac(j);
                x.extend((0..d).map(|q| (0..d).map(|p| jj[p * d + q] * u[j * d + p]).sum::<f64>()));
            }
            us.push((u, a));
        }
        lu.solve_many(0, &mut x);
        us.into_iter()
            .zip(x.chunks_exact(n))
            .map(|((mut mu, a), x)| {
                let mut start = a.to_vec();
                for j in 0..s {
                    start.iter_mut().zip(&x[j * d..(j + 1) * d]).for_each(|(v, x)| *v += x);
                    for i in 0..s {
                        let c = self.ha[i][j];
                        if c != 0.0 {
                            mu[j * d..(j + 1) * d]
                                .iter_mut()
                                .zip(&x[i * d..(i + 1) * d])
                                .for_each(|(m, x)| *m += c * x);
                        }
                    }
                }
                (mu, start)
            })
            .collect()
    }
}

/// The times of a recorded step's stages: `t + c_i h` for a Runge–Kutta step, `t_{n+1}` for a
/// multistep one.
pub(crate) fn stage_times(method: &Method, rec: &StepRecord) -> Vec<f64> {
    match (&rec.kind, method) {
        (StepKind::RungeKutta, Method::RungeKutta(tab)) => tab.c.iter().map(|c| rec.t + c * rec.h).collect(),
        _ => vec![rec.t_next],
    }
}

/// How the start `v` of a step is made of its input points: `(k, c)` for `v = Σ c·y_{n−k}`.
pub(crate) fn start_weights(kind: &StepKind) -> Vec<(usize, f64)> {
    match kind {
        StepKind::RungeKutta => vec![(0, 1.0)],
        StepKind::Bdf { alpha, inputs, .. } => alpha[..*inputs].iter().copied().enumerate().collect(),
    }
}

/// `Σ_r (∂f(t_r, y_r; θ)/∂θ)ᵀ c_r` over the rows `r` of `values` (`[rows, d]`) with the
/// cotangents `cot`: one batched vector–Jacobian product of the field.
///
/// With the field's host form (`host`) differentiating, the product runs on the host, row by
/// row; otherwise as Burn's backward pass of the field's tensor program.
pub(crate) fn field_vjp<F: VectorField + Module>(
    field: &F,
    host: Option<&dyn HostField>,
    times: &[f64],
    values: &[f64],
    cot: Vec<f64>,
) -> GradientsParams {
    let (rows, d) = (times.len(), field.dim());
    if let Some(host) = host.filter(|h| h.params() > 0) {
        let mut grad = vec![0.0; host.params()];
        for ((t, y), c) in times.iter().zip(values.chunks_exact(d)).zip(cot.chunks_exact(d)) {
            host.vjp(*t, y, c, &mut grad);
        }
        return unflatten(field, &grad);
    }
    let device = field.device();
    let y = from_host(values.to_vec(), [rows, d], &device);
    let f = field.eval(times, y);
    GradientsParams::from_grads((f * from_host(cot, [rows, d], &device)).sum().backward(), field)
}
