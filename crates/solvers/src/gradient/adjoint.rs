//! Mode (b): the discrete adjoint, one step at a time from the stored states (checkpointing).
//! With `a_{n+1} = ∂L/∂y_{n+1}`, step `n` contributes `(∂y_{n+1}/∂θ)ᵀa_{n+1}` to the parameter
//! gradient and `(∂y_{n+1}/∂y_n)ᵀa_{n+1}` to `a_n` — one vector–Jacobian product of the
//! replayed step (the discrete adjoint of the scheme: Hager 2000, Sandu 2006).

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Tensor;

use super::replay::Replay;
use crate::error::SolveError;
use crate::field::{VectorField, from_host, to_host};
use crate::methods::Method;
use crate::record::Trajectory;
use crate::solver::{SolveOptions, solve_trajectory};

/// A loss value and its gradients.
pub struct Gradient {
    /// `L`.
    pub loss: f64,
    /// `∂L/∂y0`, `batch·d` values.
    pub y0: Vec<f64>,
    /// `∂L/∂θ` per parameter of the field.
    pub params: GradientsParams,
    /// The forward solve's record.
    pub trajectory: Trajectory,
}

/// The backward walk over one recorded trajectory.
pub struct StepAdjoint<'a, F> {
    field: &'a F,
    replay: Replay<'a>,
    trajectory: &'a Trajectory,
}

impl<'a, F: VectorField + Module> StepAdjoint<'a, F> {
    /// `plain` is `field.valid()` (the field without autodiff, for Jacobians).
    pub fn new(field: &'a F, plain: &'a F, method: &'a Method, trajectory: &'a Trajectory, host_fast_path: bool) -> Self {
        let replay = Replay::new(field, plain, method, trajectory.solution.batch, host_fast_path);
        Self { field, replay, trajectory }
    }

    /// Vector–Jacobian product of step `n` with `cotangent` (`batch·d` values, the adjoint of
    /// `y_{n+1}`): the cotangents of the step's inputs (`y_n`, and `y_{n−1}` for BDF2) and of
    /// the field's parameters.
    pub fn vjp(&self, n: usize, cotangent: &[f64]) -> Result<(Vec<Vec<f64>>, GradientsParams), SolveError> {
        let traj = self.trajectory;
        let rec = &traj.steps[n];
        let (batch, d) = (traj.solution.batch, traj.solution.dim);
        let device = self.field.device();
        let leaf = |k: usize| from_host(traj.points[n - k].clone(), [batch, d], &device).require_grad();
        let inputs: Vec<Tensor<2>> = (0..rec.kind.inputs()).map(leaf).collect();
        let out = self.replay.step(rec, &inputs, &traj.points[n + 1])?;
        let grads = (out * from_host(cotangent.to_vec(), [batch, d], &device)).sum().backward();
        let cot: Vec<Vec<f64>> = inputs
            .iter()
            .map(|x| x.grad(&grads).map_or_else(|| vec![0.0; batch * d], to_host))
            .collect();
        if cot.iter().flatten().any(|v| !v.is_finite()) {
            return Err(SolveError::NonFiniteGradient(format!("adjoint of step {} from t = {:.6e}", n + 1, rec.t)));
        }
        Ok((cot, GradientsParams::from_grads(grads, self.field)))
    }

    /// Walk all steps backwards from the cotangents of the output states (`batch·d` each);
    /// `on_step(n, a_{n+1})` sees each step's adjoint before its product is taken. Returns
    /// `∂L/∂y0` and the accumulated parameter gradient.
    pub fn walk(&self, outputs: &[Vec<f64>], mut on_step: impl FnMut(usize, &[f64])) -> Result<(Vec<f64>, GradientsParams), SolveError> {
        let traj = self.trajectory;
        let mut adjoint = vec![vec![0.0; traj.points[0].len()]; traj.points.len()];
        for (&p, cot) in traj.output_points.iter().zip(outputs) {
            adjoint[p].iter_mut().zip(cot).for_each(|(a, c)| *a += c);
        }
        let mut acc = GradientsAccumulator::<F>::new();
        for n in (0..traj.steps.len()).rev() {
            let a = std::mem::take(&mut adjoint[n + 1]);
            if a.iter().all(|&v| v == 0.0) {
                continue;
            }
            on_step(n, &a);
            let (cot, params) = self.vjp(n, &a)?;
            for (k, c) in cot.iter().enumerate() {
                adjoint[n - k].iter_mut().zip(c).for_each(|(a, c)| *a += c);
            }
            acc.accumulate(self.field, params);
        }
        Ok((std::mem::take(&mut adjoint[0]), acc.grads()))
    }
}

/// Solve from `y0` (`batch·d` values), evaluate `loss` of the output states (`[batch, d]`
/// tensors on the field's device) and return its gradients by the step-by-step adjoint.
pub fn adjoint_gradient<F: VectorField + Module>(
    field: &F,
    method: &Method,
    y0: &[f64],
    t0: f64,
    save_at: &[f64],
    opts: &SolveOptions,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
) -> Result<Gradient, SolveError> {
    adjoint_gradient_observed(field, method, y0, t0, save_at, opts, loss, |_, _| {})
}

/// [`adjoint_gradient`], with `on_step(n, a_{n+1})` called for every step with a non-zero
/// adjoint (the per-mode decomposition reads them).
#[allow(clippy::too_many_arguments)]
pub fn adjoint_gradient_observed<F: VectorField + Module>(
    field: &F,
    method: &Method,
    y0: &[f64],
    t0: f64,
    save_at: &[f64],
    opts: &SolveOptions,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
    on_step: impl FnMut(usize, &[f64]),
) -> Result<Gradient, SolveError> {
    let plain = field.valid();
    let trajectory = solve_trajectory(&plain, method, y0, t0, save_at, opts)?;
    let (batch, d) = (trajectory.solution.batch, trajectory.solution.dim);
    let device = field.device();
    let leaves: Vec<Tensor<2>> =
        trajectory.solution.states.iter().map(|s| from_host(s.clone(), [batch, d], &device).require_grad()).collect();
    let value = loss(&leaves);
    let loss_value = to_host(value.clone().without_autodiff())[0];
    let mut grads = value.backward();
    let outputs: Vec<Vec<f64>> = leaves.iter().map(|x| x.grad(&grads).map_or_else(|| vec![0.0; batch * d], to_host)).collect();
    let direct = GradientsParams::from_module(&mut grads, field);
    let (dy0, walked) = StepAdjoint::new(field, &plain, method, &trajectory, opts.host_fast_path).walk(&outputs, on_step)?;
    let mut acc = GradientsAccumulator::<F>::new();
    acc.accumulate(field, direct);
    acc.accumulate(field, walked);
    let params = acc.grads();
    super::check_finite(field, &params)?;
    Ok(Gradient { loss: loss_value, y0: dy0, params, trajectory })
}
