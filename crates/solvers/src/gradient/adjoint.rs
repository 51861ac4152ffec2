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

use std::sync::mpsc::Receiver;

use rayon::prelude::*;

use super::params::unflatten;
use super::rosenbrock::RosenbrockAdjoint;
use super::stages::{StageForm, field_vjp, stage_times, start_weights, step_output};
use super::{Gradient, StepCotangent};
use crate::engine::solve_record_watched;
use crate::error::SolveError;
use crate::field::{HostField, HostProducts, VectorField, from_host, to_host};
use crate::methods::Method;
use crate::request::Request;
use crate::rhs::{Rhs, host_form};
use crate::solution::{SolveRecord, StepRecord};
use crate::solve_record;

/// The backward walk takes the stage Jacobians and the parameter product of a chunk of steps
/// at once: at most this many stage rows by default…
const CHUNK_ROWS: usize = 1 << 13;
/// …and at most this many Jacobian entries (rows × d²).
const CHUNK_ENTRIES: usize = 1 << 20;

/// At most this many Jacobian entries and kept values (32 MB) are taken during a solve.
const EARLY_VALUES: usize = 1 << 22;

/// The backward walk over one recorded solve.
pub struct StepAdjoint<'a, F> {
    field: &'a F,
    /// The field without autodiff, for Jacobians.
    plain: F,
    record: &'a SolveRecord,
    chunk: usize,
    /// A one-trajectory solve's stage Jacobians, taken while it ran.
    early: Option<EarlyJacobians>,
}

impl<'a, F: VectorField + Module> StepAdjoint<'a, F> {
    /// The walk over `record`'s steps for `field` (on an autodiff device), the field that made it.
    pub fn new(field: &'a F, record: &'a SolveRecord) -> Self {
        Self::with_plain(field, field.valid(), record)
    }

    /// [`StepAdjoint::new`] with `plain = field.valid()` already at hand.
    fn with_plain(field: &'a F, plain: F, record: &'a SolveRecord) -> Self {
        Self { field, plain, record, chunk: CHUNK_ROWS, early: None }
    }

    /// Bound the memory of the walk: stage Jacobians and the parameter product are taken for
    /// as many steps at once as keep them within `rows` stage rows (at least one step; default
    /// 2¹³) and 2²⁰ Jacobian entries.
    pub fn chunked(mut self, rows: usize) -> Self {
        self.chunk = rows;
        self
    }

    /// Walk every trajectory's steps backwards from the cotangents of the output states
    /// (`batch·d` each). Returns `∂L/∂y0`, the parameter gradient, and — with `keep` — every
    /// step's adjoint `a_{n+1}` (each trajectory's last step first).
    ///
    /// Where the field's host form takes the parameter products, the trajectories are walked on
    /// all cores, each into a gradient of its own, summed in trajectory order: the result does
    /// not depend on the number of threads.
    pub fn walk(&self, outputs: &[Vec<f64>], keep: bool) -> Result<Walked, SolveError> {
        let record = self.record;
        let host = host_form(&self.plain, record.evaluation.host_form());
        // Rosenbrock steps are walked on the host where the field has second derivatives there.
        let rosenbrock = match &record.method {
            Method::Rosenbrock(m) => match host.as_deref().and_then(|h| h.products()?.second_order()) {
                Some(second) => Some((m, second)),
                None => return Err(super::no_step_adjoints(&record.method).into()),
            },
            _ => None,
        };
        let autonomous = self.plain.autonomous();
        let (batch, d) = (record.solution.batch, record.solution.dim);
        let chunk = self.chunk;
        let mut walked =
            Walked { y0: Vec::with_capacity(batch * d), params: GradientsParams::new(), steps: Vec::new() };
        match host.as_deref().and_then(|h| h.products()).filter(|p| p.params() > 0 || rosenbrock.is_some()) {
            Some(host) => {
                // Stage Jacobians taken during a one-trajectory solve, if they are all there.
                let early = self.early.as_ref().filter(|e| batch == 1 && e.rows == stage_rows(record));
                let lanes: Vec<Result<(Lane, Vec<f64>), SolveError>> = (0..batch)
                    .into_par_iter()
                    .map(|b| {
                        let mut grad = vec![0.0; host.params()];
                        if let Some((m, host)) = rosenbrock {
                            let walk = RosenbrockAdjoint { m, host, autonomous, d };
                            let (y0, steps) = walk.walk_lane(record, b, outputs, keep, &mut grad)?;
                            return Ok((Lane { y0, steps }, grad));
                        }
                        let mut chunks = HostChunks { host, d, kept: Vec::new(), grad, early, early_from: None };
                        let lane = walk_lane(record, &mut chunks, chunk, b, outputs, keep)?;
                        Ok((lane, chunks.grad))
                    })
                    .collect();
                let mut grad = vec![0.0; host.params()];
                for lane in lanes {
                    let (lane, g) = lane?;
                    grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
                    walked.take(lane);
                }
                walked.params = unflatten(self.field, &grad);
            }
            None => {
                let rhs = Rhs::new(&self.plain, host.as_deref());
                let mut chunks = TensorChunks { rhs, pending: Pending::new(self.field, host.as_deref(), chunk) };
                for b in 0..batch {
                    walked.take(walk_lane(record, &mut chunks, chunk, b, outputs, keep)?);
                }
                walked.params = chunks.pending.finish();
            }
        }
        Ok(walked)
    }
}

/// What the backward walk gives: `∂L/∂y0` (`batch·d`), the parameter gradient, and the kept
/// step adjoints.
pub struct Walked {
    /// `∂L/∂y0`.
    pub y0: Vec<f64>,
    /// `Σ (∂f/∂θ)ᵀμ` over every step and stage.
    pub params: GradientsParams,
    /// The step adjoints, when kept.
    pub steps: Vec<StepCotangent>,
}

impl Walked {
    fn take(&mut self, lane: Lane) {
        self.y0.extend(lane.y0);
        self.steps.extend(lane.steps);
    }
}

/// One trajectory walked back: its `∂L/∂y0` and kept step adjoints.
struct Lane {
    y0: Vec<f64>,
    steps: Vec<StepCotangent>,
}

/// What the walk asks of the field for a chunk of stage rows `(t_r, Y_r)`: their Jacobians,
/// then — once the step adjoints have given every row its cotangent `μ_r` — the parameter
/// product `Σ_r (∂f(t_r, Y_r)/∂θ)ᵀμ_r`.
trait ChunkProducts {
    /// The stage Jacobians, `[rows, d, d]`, of the rows from the trajectory's row `first` on.
    fn jacobians(&mut self, times: &[f64], values: &[f64], first: usize) -> Result<Vec<f64>, SolveError>;
    /// Add the parameter product of the rows of the last [`jacobians`](Self::jacobians) call
    /// (`mu` is 0 on the rows of steps the walk skipped).
    fn product(&mut self, times: &[f64], values: &[f64], mu: &[f64]);
}

/// Stage rows per task on all cores (a few µs of work each).
const ROWS_PER_TASK: usize = 32;

/// The products on the host, on all cores, into `grad`: each row's Jacobian keeps what its
/// parameter product needs ([`HostProducts::jacobian_keeping`]); each fixed block of rows adds into
/// a gradient of its own, the blocks summed in order, so the sum does not depend on the number
/// of threads.
struct HostChunks<'a> {
    host: &'a dyn HostProducts,
    d: usize,
    /// [`HostProducts::kept_len`] values per row of the chunk.
    kept: Vec<f64>,
    grad: Vec<f64>,
    /// Every row's Jacobian and kept values, taken during the solve; the chunk's start there.
    early: Option<&'a EarlyJacobians>,
    early_from: Option<usize>,
}

impl ChunkProducts for HostChunks<'_> {
    fn jacobians(&mut self, times: &[f64], values: &[f64], first: usize) -> Result<Vec<f64>, SolveError> {
        let (host, d, stride) = (self.host, self.d, self.host.kept_len().max(1));
        if let Some(early) = self.early {
            self.early_from = Some(first);
            return finite_jacobians(early.jac[first * d * d..(first + times.len()) * d * d].to_vec(), times, d);
        }
        let mut jac = vec![0.0; times.len() * d * d];
        self.kept.resize(times.len() * stride, 0.0);
        times
            .par_chunks(ROWS_PER_TASK)
            .zip(values.par_chunks(ROWS_PER_TASK * d))
            .zip(jac.par_chunks_mut(ROWS_PER_TASK * d * d))
            .zip(self.kept.par_chunks_mut(ROWS_PER_TASK * stride))
            .for_each(|(((times, values), jac), kept)| jacobians_keeping(host, d, times, values, jac, kept));
        finite_jacobians(jac, times, d)
    }

    fn product(&mut self, times: &[f64], values: &[f64], mu: &[f64]) {
        let (host, d, k, params) = (self.host, self.d, self.host.kept_len(), self.grad.len());
        let stride = k.max(1);
        let kept = match (self.early, self.early_from) {
            (Some(early), Some(first)) => &early.kept[first * stride..],
            _ => &self.kept[..],
        };
        let parts: Vec<Vec<f64>> = times
            .par_chunks(ROWS_PER_TASK)
            .zip(values.par_chunks(ROWS_PER_TASK * d))
            .zip(mu.par_chunks(ROWS_PER_TASK * d))
            .zip(kept.par_chunks(ROWS_PER_TASK * stride))
            .map(|(((times, values), mu), kept)| {
                let mut part = vec![0.0; params];
                for (r, ((t, y), c)) in times.iter().zip(values.chunks_exact(d)).zip(mu.chunks_exact(d)).enumerate() {
                    if c.iter().any(|&v| v != 0.0) {
                        let kept = &kept[r * stride..r * stride + k];
                        host.vjp_kept(*t, y, kept, c, &mut part);
                    }
                }
                part
            })
            .collect();
        for part in parts {
            self.grad.iter_mut().zip(part).for_each(|(g, p)| *g += p);
        }
    }
}

/// The products on the field's device: Jacobians through [`Rhs`], parameter products batched
/// into one vector–Jacobian product of the tensor program per chunk ([`Pending`]).
struct TensorChunks<'a, F: Module> {
    rhs: Rhs<'a>,
    pending: Pending<'a, F>,
}

impl<F: VectorField + Module> ChunkProducts for TensorChunks<'_, F> {
    fn jacobians(&mut self, times: &[f64], values: &[f64], _first: usize) -> Result<Vec<f64>, SolveError> {
        self.rhs.jacobian(times, values)
    }

    fn product(&mut self, times: &[f64], values: &[f64], mu: &[f64]) {
        self.pending.push(times, values, mu);
    }
}

/// Each row's Jacobian into `jac` (`d·d` values per row) and its kept values into `kept`
/// (`max(kept_len, 1)` per row: a stride of at least 1 keeps blocks of rows aligned).
fn jacobians_keeping(
    host: &dyn HostProducts,
    d: usize,
    times: &[f64],
    values: &[f64],
    jac: &mut [f64],
    kept: &mut [f64],
) {
    let k = host.kept_len();
    let stride = k.max(1);
    for (r, (t, y)) in times.iter().zip(values.chunks_exact(d)).enumerate() {
        host.jacobian_keeping(*t, y, &mut jac[r * d * d..(r + 1) * d * d], &mut kept[r * stride..r * stride + k]);
    }
}

/// `jac` (`[rows, d, d]`), or the time of its first row with a non-finite entry.
fn finite_jacobians(jac: Vec<f64>, times: &[f64], d: usize) -> Result<Vec<f64>, SolveError> {
    match jac.chunks_exact(d * d).position(|j| j.iter().any(|v| !v.is_finite())) {
        Some(r) => Err(SolveError::NonFinite { t: times[r] }),
        None => Ok(jac),
    }
}

/// The stage rows of a one-trajectory record.
fn stage_rows(record: &SolveRecord) -> usize {
    let traj = &record.trajectories[0];
    traj.steps
        .len()
        .checked_sub(1)
        .map_or(0, |last| (last + 1) * StageForm::of(record, 0, last, &step_output(&record.method)).stages())
}

/// Every stage row's Jacobian and kept values ([`HostProducts::jacobian_keeping`]) of a
/// one-trajectory solve, in step order, taken on another core from the steps the solve hands
/// over as it accepts them ([`solve_record_watched`]): the walk then starts with its products.
pub(crate) struct EarlyJacobians {
    jac: Vec<f64>,
    kept: Vec<f64>,
    rows: usize,
}

impl EarlyJacobians {
    /// Take the rows `(stage times, stage values)` of each step until the solve hangs up; past
    /// [`EARLY_VALUES`] values the rest are left to the walk's chunks (the rows then fall
    /// short of the record's, and the walk takes them all itself).
    fn take(host: &dyn HostProducts, d: usize, steps: Receiver<(Vec<f64>, Vec<f64>)>) -> Self {
        let (stride, mut early) = (host.kept_len().max(1), Self { jac: Vec::new(), kept: Vec::new(), rows: 0 });
        for (times, values) in steps {
            let (j, at, rows) = (early.jac.len(), early.kept.len(), times.len());
            if j + at + rows * (d * d + stride) > EARLY_VALUES {
                continue;
            }
            early.jac.resize(j + rows * d * d, 0.0);
            early.kept.resize(at + rows * stride, 0.0);
            jacobians_keeping(host, d, &times, &values, &mut early.jac[j..], &mut early.kept[at..]);
            early.rows += rows;
        }
        early
    }
}

/// Walk trajectory `b` of `record` back from its output cotangents, a chunk of steps at a time:
/// the chunk's stage Jacobians, every step's adjoint, then the chunk's parameter product.
fn walk_lane(
    record: &SolveRecord,
    chunks: &mut impl ChunkProducts,
    chunk: usize,
    b: usize,
    outputs: &[Vec<f64>],
    keep: bool,
) -> Result<Lane, SolveError> {
    let (traj, d) = (&record.trajectories[b], record.solution.dim);
    let mut adjoint = vec![vec![0.0; d]; traj.n_points()];
    for (&p, cot) in traj.output_points.iter().zip(outputs) {
        adjoint[p].iter_mut().zip(&cot[b * d..(b + 1) * d]).for_each(|(a, c)| *a += c);
    }
    let mut steps = Vec::new();
    let output = step_output(&record.method);
    let mut end = traj.steps.len();
    while end > 0 {
        // A chunk of steps `start..end` whose stage Jacobians are evaluated together.
        let (mut start, mut rows, mut forms) = (end, 0, Vec::new());
        while start > 0 {
            let form = StageForm::of(record, b, start - 1, &output);
            let more = form.stages();
            if !forms.is_empty() && (rows + more > chunk || (rows + more) * d * d > CHUNK_ENTRIES) {
                break;
            }
            (rows, start) = (rows + more, start - 1);
            forms.push(form);
        }
        forms.reverse();
        let times: Vec<f64> = forms.iter().flat_map(|f| f.times.iter().copied()).collect();
        let values: Vec<f64> = forms.iter().flat_map(|f| f.values.iter().copied()).collect();
        // Every step of a record has the same number of stages.
        let jac = chunks.jacobians(&times, &values, start * forms[0].stages())?;
        let mut row_mu = vec![0.0; rows * d];
        let mut first = rows;
        for (n, form) in (start..end).zip(&forms).rev() {
            first -= form.stages();
            let a = std::mem::take(&mut adjoint[n + 1]);
            if a.iter().all(|&v| v == 0.0) {
                continue;
            }
            let rec = &traj.steps[n];
            let jac_of = |j: usize| &jac[(first + j) * d * d..(first + j + 1) * d * d];
            let (mu, v) = form.adjoints(d, jac_of, std::iter::once(a.as_slice())).pop().expect("one part");
            if mu.iter().chain(&v).any(|x| !x.is_finite()) {
                let at = format!("adjoint of step {} from t = {:.6e} of trajectory {b}", n + 1, rec.t);
                return Err(SolveError::NonFiniteGradient(at));
            }
            row_mu[first * d..(first + form.stages()) * d].copy_from_slice(&mu);
            for (k, c) in start_weights(&rec.kind) {
                adjoint[n - k].iter_mut().zip(&v).for_each(|(a, v)| *a += c * v);
            }
            if keep {
                steps.push(StepCotangent { trajectory: b, step: n, value: a });
            }
        }
        chunks.product(&times, &values, &row_mu);
        end = start;
    }
    Ok(Lane { y0: std::mem::take(&mut adjoint[0]), steps })
}

/// Stage rows waiting for the parameter product `Σ (∂f/∂θ)ᵀμ`: taken as one batched
/// vector–Jacobian product of the field once they fill a chunk.
struct Pending<'a, F: Module> {
    field: &'a F,
    /// The field's host form, for the product on the host where it differentiates.
    host: Option<&'a dyn HostField>,
    chunk: usize,
    times: Vec<f64>,
    values: Vec<f64>,
    cot: Vec<f64>,
    acc: GradientsAccumulator<F>,
}

impl<'a, F: VectorField + Module> Pending<'a, F> {
    fn new(field: &'a F, host: Option<&'a dyn HostField>, chunk: usize) -> Self {
        let (times, values, cot) = (Vec::new(), Vec::new(), Vec::new());
        Self { field, host, chunk, times, values, cot, acc: GradientsAccumulator::new() }
    }

    /// Add rows; take the product once they fill a chunk.
    fn push(&mut self, times: &[f64], values: &[f64], cot: &[f64]) {
        self.times.extend_from_slice(times);
        self.values.extend_from_slice(values);
        self.cot.extend_from_slice(cot);
        if self.times.len() >= self.chunk {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.times.is_empty() {
            return;
        }
        let (times, values, cot) =
            (std::mem::take(&mut self.times), std::mem::take(&mut self.values), std::mem::take(&mut self.cot));
        self.acc.accumulate(self.field, field_vjp(self.field, self.host, &times, &values, cot));
    }

    fn finish(mut self) -> GradientsParams {
        self.flush();
        self.acc.grads()
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
    let d = plain.dim();
    // One trajectory on a host form: its stage Jacobians are taken on another core during the
    // solve (a batch keeps every core busy with its trajectories already).
    let host = host_form(&plain, request.evaluation.host_form());
    let products = host.as_deref().and_then(|h| h.products());
    let products = products
        .filter(|p| p.params() > 0 && request.batch(d) == 1 && !matches!(request.method, Method::Rosenbrock(_)));
    let (record, early) = match products {
        Some(host) => std::thread::scope(|s| {
            let (send, steps) = std::sync::mpsc::channel();
            let worker = s.spawn(move || EarlyJacobians::take(host, d, steps));
            let method = &request.method;
            // The rows go over in blocks: a message per step would wake the worker per step.
            let mut rows = (Vec::new(), Vec::new());
            let mut watch = |rec: &StepRecord, stages: &[f64]| {
                rows.0.extend(stage_times(method, rec));
                rows.1.extend_from_slice(stages);
                if rows.0.len() >= ROWS_PER_TASK {
                    let _ = send.send(std::mem::take(&mut rows));
                }
            };
            let record = solve_record_watched(&plain, request, &mut watch);
            // The last rows; the worker stops once the sender is gone.
            let _ = send.send(rows);
            drop(send);
            let early = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (record, Some(early))
        }),
        None => (solve_record(&plain, request), None),
    };
    drop(host);
    from_record_with_plain(field, plain, record?, loss, keep_steps, early)
}

/// The adjoint-mode gradient of `loss` over a recorded solve of `field` (design.md §4): the
/// cotangents of the output states by Burn's autodiff of the loss, then the backward walk over
/// the record's steps. The record may come from the host engine or from the GPU ensemble kernel
/// (design.md §11).
pub fn from_record<F: VectorField + Module>(
    field: &F,
    record: SolveRecord,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
    keep_steps: bool,
) -> Result<Gradient, SolveError> {
    let g = from_record_with_plain(field, field.valid(), record, loss, keep_steps, None)?;
    super::params::check_finite(field, &g.params)?;
    Ok(g)
}

fn from_record_with_plain<F: VectorField + Module>(
    field: &F,
    plain: F,
    record: SolveRecord,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
    keep_steps: bool,
    early: Option<EarlyJacobians>,
) -> Result<Gradient, SolveError> {
    let (loss_value, outputs, direct) = output_cotangents(field, &record, loss);
    let mut walk = StepAdjoint::with_plain(field, plain, &record);
    walk.early = early;
    let walked = walk.walk(&outputs, keep_steps)?;
    let mut acc = GradientsAccumulator::<F>::new();
    acc.accumulate(field, direct);
    acc.accumulate(field, walked.params);
    let step_adjoints = keep_steps.then_some(walked.steps);
    Ok(Gradient { loss: loss_value, y0: walked.y0, params: acc.grads(), record, step_adjoints })
}

/// `L` of a recorded solve's output states, the cotangent `∂L/∂y(t_k)` of every output (`batch·d`
/// each) and the loss's direct parameter gradient, by Burn's autodiff of `loss` alone.
pub(crate) fn output_cotangents<F: VectorField + Module>(
    field: &F,
    record: &SolveRecord,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
) -> (f64, Vec<Vec<f64>>, GradientsParams) {
    let (batch, d) = (record.solution.batch, record.solution.dim);
    let device = field.device();
    let leaves: Vec<Tensor<2>> =
        record.solution.states.iter().map(|s| from_host(s.clone(), [batch, d], &device).require_grad()).collect();
    let value = loss(&leaves);
    let loss_value = to_host(value.clone().without_autodiff())[0];
    let mut grads = value.backward();
    let outputs: Vec<Vec<f64>> =
        leaves.iter().map(|x| x.grad(&grads).map_or_else(|| vec![0.0; batch * d], to_host)).collect();
    (loss_value, outputs, GradientsParams::from_module(&mut grads, field))
}
