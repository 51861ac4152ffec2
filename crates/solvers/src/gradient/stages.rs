//! The adjoint of one accepted step through its stages, on the host (design.md §4; the discrete
//! adjoint of Runge–Kutta methods: Hager 2000, Sandu 2006).
//!
//! Every step of the engine is a Runge–Kutta step in stage form: `Y_i = v + Σ_j ha_ij F_j`,
//! `F_j = f(t_j, Y_j; θ)`, with `v = y_n` (a BDF step is the one-stage case `A = b = β` at
//! `t_{n+1}` with `v = Σ_j α_j y_{n−j}`), and its result `y_{n+1} = δv + Σ_j w_j Y_j + hΣ_j e_j F_j`
//! ([`StepOutput`]: the last stage where the method is stiffly accurate). By the implicit
//! function theorem at the converged stages, with `M = I − h(A⊗I)blockdiag(J_j)`, the cotangent
//! `a = ∂L/∂y_{n+1}` gives the stage values' cotangent `ξ` from
//! `Mᵀξ = w⊗a + blockdiag(J_j)ᵀ(he⊗a)`, the slopes' `μ = he⊗a + h(Aᵀ⊗I)ξ`, so the parameters get
//! `Σ_j (∂F_j/∂θ)ᵀμ_j` and `v` gets `δa + Σ_j ξ_j`.

use burn::module::Module;
use burn::optim::GradientsParams;

use super::params::unflatten;
use crate::field::{HostField, VectorField, from_host};
use crate::linalg::{BatchLu, stage_matrix};
use crate::methods::Method;
use crate::solution::{SolveRecord, StepKind, StepRecord};
use crate::tableau::StepOutput;

/// One step of one trajectory as a Runge–Kutta step: `h`, `hA`, how its result is made of its stages,
/// stage times and stage values (`[s][d]`).
pub(crate) struct StageForm<'o> {
    pub h: f64,
    pub ha: Vec<Vec<f64>>,
    pub output: &'o StepOutput,
    pub times: Vec<f64>,
    pub values: Vec<f64>,
}

impl<'o> StageForm<'o> {
    /// Step `n` of trajectory `lane` of `record`, whose method's result form is `output`
    /// ([`step_output`], taken once per walk rather than once per step).
    pub fn of(record: &SolveRecord, lane: usize, n: usize, output: &'o StepOutput) -> Self {
        let traj = &record.trajectories[lane];
        let rec = &traj.steps[n];
        match (&rec.kind, &record.method) {
            (StepKind::RungeKutta, Method::RungeKutta(tab)) => Self {
                h: rec.h,
                ha: tab.a.iter().map(|row| row.iter().map(|a| rec.h * a).collect()).collect(),
                output,
                times: stage_times(&record.method, rec),
                values: traj.stage_values(n).to_vec(),
            },
            (StepKind::Bdf { beta, .. }, _) => Self {
                h: rec.h,
                ha: vec![vec![rec.h * beta]],
                output,
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
        self.ha.len()
    }

    /// For each cotangent `a` in `parts` (`d` values each) of one trajectory whose stage
    /// Jacobians are `jac(j)`: the slopes' cotangents `μ` (stage-major, `s·d` values) and the
    /// cotangent `δa + Σ_j ξ_j` of the step's start `v` (`d` values).
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
        let out = self.output;
        // h·e_j, the weights of the slopes in y_{n+1}.
        let he: Vec<f64> = out.slopes.iter().map(|e| e * self.h).collect();
        let mut starts = Vec::with_capacity(cols);
        let mut xi = vec![0.0; cols * n];
        for (a, rhs) in parts.zip(xi.chunks_exact_mut(n)) {
            for (j, rhs) in rhs.chunks_exact_mut(d).enumerate() {
                rhs.iter_mut().zip(a).for_each(|(r, a)| *r = out.values[j] * a);
                if he[j] != 0.0 {
                    let jj = jac(j);
                    for (q, r) in rhs.iter_mut().enumerate() {
                        *r += he[j] * (0..d).map(|p| jj[p * d + q] * a[p]).sum::<f64>();
                    }
                }
            }
            starts.push(a);
        }
        for x in xi.chunks_exact_mut(n) {
            lu.solve_refined(0, &mt, x);
        }
        starts
            .into_iter()
            .zip(xi.chunks_exact(n))
            .map(|(a, xi)| {
                let mut start: Vec<f64> = a.iter().map(|v| out.start * v).collect();
                let mut mu: Vec<f64> = he.iter().flat_map(|he| a.iter().map(move |v| he * v)).collect();
                for j in 0..s {
                    start.iter_mut().zip(&xi[j * d..(j + 1) * d]).for_each(|(v, x)| *v += x);
                    for i in 0..s {
                        let c = self.ha[i][j];
                        if c != 0.0 {
                            mu[j * d..(j + 1) * d]
                                .iter_mut()
                                .zip(&xi[i * d..(i + 1) * d])
                                .for_each(|(m, x)| *m += c * x);
                        }
                    }
                }
                (mu, start)
            })
            .collect()
    }
}

/// How a step of `method` makes its result of its stages ([`Tableau::output`]); a BDF step's
/// one stage is its result.
///
/// [`Tableau::output`]: crate::tableau::Tableau::output
pub(crate) fn step_output(method: &Method) -> StepOutput {
    match method {
        Method::RungeKutta(tab) => tab.output(),
        _ => StepOutput::last_stage(1),
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
    if let Some(host) = host.and_then(|h| h.products()).filter(|p| p.params() > 0) {
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
