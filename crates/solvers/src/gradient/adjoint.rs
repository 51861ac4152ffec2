//! The adjoint mode ([`GradientMode::Adjoint`](crate::GradientMode::Adjoint)): the discrete adjoint, one step at a time backwards from the stored states
//! (checkpointing). With `a_{n+1} = ∂L/∂y_{n+1}`, step `n` contributes `(∂y_{n+1}/∂θ)ᵀa_{n+1}`
//! to the parameter gradient and `(∂y_{n+1}/∂y_n)ᵀa_{n+1}` to `a_n` (the discrete adjoint of
//! the scheme: Hager 2000, Sandu 2006). The walk is host linear algebra per step
//! ([`StageForm::adjoints`]); the field's parameters enter through one batched
//! vector–Jacobian product over the stages of many steps, so the cost per step is a small LU,
//! not a replayed tensor program.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Tensor;

use super::Gradient;
use super::stages::{StageForm, field_vjp, start_weights};
use crate::error::SolveError;
use crate::field::{VectorField, from_host, to_host};
use crate::request::Request;
use crate::rhs::Rhs;
use crate::solution::SolveRecord;
use crate::solve_record;

/// The backward walk takes the stage Jacobians and the parameter product of a chunk of steps
/// at once: at most this many stage rows by default…
const CHUNK_ROWS: usize = 1 << 13;
/// …and at most this many Jacobian entries (rows × d²).
const CHUNK_ENTRIES: usize = 1 << 20;

/// The backward walk over one recorded solve.
pub struct StepAdjoint<'a, F> {
    field: &'a F,
    /// The field without autodiff, for Jacobians.
    plain: F,
    record: &'a SolveRecord,
    chunk: usize,
}

impl<'a, F: VectorField + Module> StepAdjoint<'a, F> {
    /// The walk over `record`'s steps for `field` (on an autodiff device), the field that made it.
    pub fn new(field: &'a F, record: &'a SolveRecord) -> Self {
        Self::with_plain(field, field.valid(), record)
    }

    /// [`StepAdjoint::new`] with `plain = field.valid()` already at hand.
    fn with_plain(field: &'a F, plain: F, record: &'a SolveRecord) -> Self {
        Self { field, plain, record, chunk: CHUNK_ROWS }
    }

    /// Bound the memory of the walk: stage Jacobians and the parameter product are taken for
    /// as many steps at once as keep them within `rows` stage rows (at least one step; default
    /// 2¹³) and 2²⁰ Jacobian entries.
    pub fn chunked(mut self, rows: usize) -> Self {
        self.chunk = rows;
        self
    }

    /// Walk all steps backwards from the cotangents of the output states (`batch·d` each);
    /// `on_step(n, a_{n+1})` sees each step's adjoint before its product is taken. Returns
    /// `∂L/∂y0` and the accumulated parameter gradient.
    pub fn walk(
        &self,
        outputs: &[Vec<f64>],
        mut on_step: impl FnMut(usize, &[f64]),
    ) -> Result<(Vec<f64>, GradientsParams), SolveError> {
        let traj = self.record;
        let rhs = Rhs::new(&self.plain, traj.options.host_fast_path);
        let (batch, d) = (traj.solution.batch, traj.solution.dim);
        let mut adjoint = vec![vec![0.0; batch * d]; traj.points.len()];
        for (&p, cot) in traj.output_points.iter().zip(outputs) {
            adjoint[p].iter_mut().zip(cot).for_each(|(a, c)| *a += c);
        }
        let mut acc = GradientsAccumulator::<F>::new();
        let mut end = traj.steps.len();
        while end > 0 {
            // A chunk of steps `start..end` whose stage Jacobians are evaluated together.
            let (mut start, mut rows, mut forms) = (end, 0, Vec::new());
            while start > 0 {
                let form = StageForm::of(traj, start - 1);
                let more = form.stages() * batch;
                if !forms.is_empty() && (rows + more > self.chunk || (rows + more) * d * d > CHUNK_ENTRIES) {
                    break;
                }
                (rows, start) = (rows + more, start - 1);
                forms.push(form);
            }
            forms.reverse();
            let times: Vec<f64> = forms.iter().flat_map(|f| f.times.iter().copied()).collect();
            let values: Vec<f64> = forms.iter().flat_map(|f| f.values.iter().copied()).collect();
            let jac = rhs.jacobian(&times, &values)?;
            let mut cot = vec![0.0; rows * d];
            let mut first = rows;
            for (n, form) in (start..end).zip(&forms).rev() {
                let s = form.stages();
                first -= s * batch;
                let a = std::mem::take(&mut adjoint[n + 1]);
                if a.iter().all(|&v| v == 0.0) {
                    continue;
                }
                on_step(n, &a);
                let rec = &traj.steps[n];
                for b in 0..batch {
                    let row = |j: usize| first + j * batch + b;
                    let jac_of = |j: usize| &jac[row(j) * d * d..(row(j) + 1) * d * d];
                    let (mu, v) =
                        form.adjoints(d, jac_of, std::iter::once(&a[b * d..(b + 1) * d])).pop().expect("one part");
                    if mu.iter().chain(&v).any(|x| !x.is_finite()) {
                        return Err(SolveError::NonFiniteGradient(format!(
                            "adjoint of step {} from t = {:.6e}",
                            n + 1,
                            rec.t
                        )));
                    }
                    for j in 0..s {
                        cot[row(j) * d..(row(j) + 1) * d].copy_from_slice(&mu[j * d..(j + 1) * d]);
                    }
                    for (k, c) in start_weights(&rec.kind) {
                        adjoint[n - k][b * d..(b + 1) * d].iter_mut().zip(&v).for_each(|(a, v)| *a += c * v);
                    }
                }
            }
            acc.accumulate(self.field, field_vjp(self.field, &times, &values, cot));
            end = start;
        }
        Ok((std::mem::take(&mut adjoint[0]), acc.grads()))
    }
}

/// The adjoint mode of [`gradient`](super::gradient): a plain forward solve, the loss on leaf
/// tensors of the output states, and the backward walk; `keep_steps` keeps every step's adjoint.
pub(super) fn gradient<F: VectorField + Module>(
    field: &F,
    request: &Request,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
    keep_steps: bool,
) -> Result<Gradient, SolveError> {
    let plain = field.valid();
    let record = solve_record(&plain, request)?;
    let (batch, d) = (record.solution.batch, record.solution.dim);
    let device = field.device();
    let leaves: Vec<Tensor<2>> =
        record.solution.states.iter().map(|s| from_host(s.clone(), [batch, d], &device).require_grad()).collect();
    let value = loss(&leaves);
    let loss_value = to_host(value.clone().without_autodiff())[0];
    let mut grads = value.backward();
    let outputs: Vec<Vec<f64>> =
        leaves.iter().map(|x| x.grad(&grads).map_or_else(|| vec![0.0; batch * d], to_host)).collect();
    let direct = GradientsParams::from_module(&mut grads, field);
    let mut kept = Vec::new();
    let (dy0, walked) = StepAdjoint::with_plain(field, plain, &record).walk(&outputs, |n, a| {
        if keep_steps {
            kept.push((n, a.to_vec()));
        }
    })?;
    let mut acc = GradientsAccumulator::<F>::new();
    acc.accumulate(field, direct);
    acc.accumulate(field, walked);
    Ok(Gradient { loss: loss_value, y0: dy0, params: acc.grads(), record, step_adjoints: keep_steps.then_some(kept) })
}
