//! Gradients of ensemble solves (design.md §4, §11): the forward solve and its step record on
//! the device, then the backward walk — on the device by the adjoint kernel, or on the host when
//! the per-step adjoints are kept for the mode split — and the parameter product
//! `Σ (∂f/∂θ)ᵀμ` over the recorded stages on the host (the field's host form, all cores).

use burn::module::Module;
use burn::optim::GradientsAccumulator;
use burn::tensor::Tensor;

use super::backward::{self, Backward, Recorded};
use super::launch::{self, Plan};
use super::{EnsembleDevice, EnsembleSolution, KernelField, Walk};
use crate::error::{SetupError, SolveError};
use crate::field::VectorField;
use crate::gradient::adjoint::output_cotangents;
use crate::gradient::params::check_finite;
use crate::gradient::stages::field_vjp;
use crate::gradient::{Gradient, from_record};
use crate::methods::Method;
use crate::request::{GradientMode, Request};
use crate::rhs::host_form;
use crate::solution::SolveRecord;

impl EnsembleDevice {
    /// The adjoint-mode gradient of `loss` of the output states for `field` (a Burn module on an
    /// autodiff device whose [`kernel`](crate::VectorField::kernel) form the device runs): the
    /// forward solve and its step record on the device (at most `capacity` steps per
    /// trajectory), the backward walk where [`with_walk`](Self::with_walk) says (on the host
    /// with `keep_steps`, whose step adjoints the mode split reads), the parameter product on
    /// the host.
    pub fn gradient<F: VectorField + Module>(
        &self,
        field: &F,
        request: &Request,
        loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
        capacity: usize,
    ) -> Result<(EnsembleSolution, Gradient), SolveError> {
        let kernel_field = field.kernel().ok_or_else(|| SetupError::InvalidOption {
            what: "vector field",
            why: "it has no form the ensemble kernel evaluates (mass action has one)".into(),
        })?;
        let (ensemble, record, raw) = self.recorded(&kernel_field, request, capacity)?;
        let keep = matches!(request.gradient, GradientMode::Adjoint { keep_steps: true });
        let on_device = match self.walk {
            Walk::Device => true,
            Walk::Host => false,
            Walk::Auto => raw.batch >= Walk::DEVICE_FROM,
        };
        if keep || !on_device {
            return Ok((ensemble, from_record(field, record, loss, keep)?));
        }
        let (value, outputs, direct) = output_cotangents(field, &record, loss);
        let walk = self.walk(&kernel_field, request, &raw, &outputs)?;
        let product = stage_product(field, &record, &walk, raw.capacity);
        let mut acc = GradientsAccumulator::<F>::new();
        acc.accumulate(field, direct);
        acc.accumulate(field, product);
        let params = acc.grads();
        check_finite(field, &params)?;
        let gradient = Gradient { loss: value, y0: walk.y0, params, record, step_adjoints: None };
        Ok((EnsembleSolution { host_syncs: ensemble.host_syncs + walk.host_syncs, ..ensemble }, gradient))
    }

    /// The backward kernel over the forward's record `raw`.
    fn walk(
        &self,
        field: &KernelField,
        request: &Request,
        raw: &launch::Raw,
        outputs: &[Vec<f64>],
    ) -> Result<Backward, SolveError> {
        let Method::RungeKutta(tab) = &request.method else {
            unreachable!("the kernel runs Runge–Kutta methods only (checked)")
        };
        let steps: Vec<u32> =
            raw.counters.chunks_exact(super::kernel::COUNTERS).map(|c| c[super::kernel::STEPS]).collect();
        let plan = Plan {
            d: raw.d,
            s: raw.s,
            full: false,
            mlp: field.is_mlp(),
            width: field.width(),
            batch: raw.batch,
            n_out: request.save_at.len(),
            capacity: raw.capacity,
        };
        let forward = Recorded { tab, save_at: &request.save_at, steps: &steps, record: &raw.record_on_device };
        if self.double {
            backward::run::<f64>(&self.client, &plan, &forward, outputs, field)
        } else {
            backward::run::<f32>(&self.client, &plan, &forward, outputs, field)
        }
    }
}

/// `Σ_steps Σ_j (∂f(Y_j)/∂θ)ᵀμ_j` over every trajectory's recorded stages.
fn stage_product<F: VectorField + Module>(
    field: &F,
    record: &SolveRecord,
    walk: &Backward,
    capacity: usize,
) -> burn::optim::GradientsParams {
    let plain = field.valid();
    let host = host_form(&plain, record.options().host_fast_path);
    let Method::RungeKutta(tab) = record.method() else { unreachable!("Runge–Kutta methods only") };
    let (s, d) = (tab.stages(), record.solution().dim);
    let (mut times, mut values, mut cot) = (Vec::new(), Vec::new(), Vec::new());
    for (b, traj) in record.trajectories().iter().enumerate() {
        for (n, step) in traj.steps().iter().enumerate() {
            times.extend(tab.c.iter().map(|c| step.t + c * step.h));
            values.extend_from_slice(traj.stage_values(n));
            cot.extend_from_slice(&walk.mu[(b * capacity + n) * s * d..][..s * d]);
        }
    }
    field_vjp(field, host.as_deref(), &times, &values, cot)
}
