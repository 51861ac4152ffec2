//! Gradients of ensemble solves (design.md §4, §11): the forward solve and its step record on
//! the device, its output states on Burn's autodiff graph as one operation whose backward pass
//! walks the steps back — on the device by the adjoint kernel, which also forms the parameter
//! product `Σ (∂f/∂θ)ᵀμ` in each thread, or on the host cores. Keeping the per-step adjoints for
//! the mode split walks on the host.

use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Tensor;

use super::backward::{self, Backward, Recorded};
use super::launch::{self, Plan};
use super::{EnsembleDevice, EnsembleSolution, Walk};
use crate::error::{SetupError, SolveError};
use crate::field::VectorField;
use crate::gradient::params::check_finite;
use crate::gradient::{Gradient, OnGraph, Pullback, Pulled, attached, from_record, gradient_through, host_pullback};
use crate::kernel_field::KernelField;
use crate::methods::Method;
use crate::request::{GradientMode, Request};

impl EnsembleDevice {
    /// Solve `request` for `field` (a Burn module on an autodiff device whose
    /// [`kernel`](crate::VectorField::kernel) form the device runs; at most `capacity` steps per
    /// trajectory) and return its output states on Burn's autodiff graph as one differentiable
    /// operation: a loss of them calls `backward()` as usual, and the backward pass walks the
    /// device's step record back where [`with_walk`](Self::with_walk) says, reaching
    /// [`OnGraph::y0`] and the field's parameters.
    pub fn solve_on_graph<F: VectorField + Module + 'static>(
        &self,
        field: &F,
        request: &Request,
        capacity: usize,
    ) -> Result<(EnsembleSolution, OnGraph), SolveError> {
        let kernel_field = kernel_form(field)?;
        self.check(&kernel_field, request)?;
        let on_device = match self.walk {
            Walk::Device => true,
            Walk::Host => false,
            Walk::Auto => request.batch(kernel_field.dim()) >= Walk::DEVICE_FROM,
        };
        if on_device {
            // Refused before the forward solve, not after it.
            let plan = walk_plan(&kernel_field, request, capacity.max(1));
            self.check_buffers(&backward::buffers(&plan, &kernel_field, self.float_size()))?;
        }
        let (ensemble, record, raw) = self.recorded(&kernel_field, request, capacity)?;
        let record = Arc::new(record);
        let pullback = match on_device {
            true => self.device_pullback(kernel_field, request.clone(), raw),
            false => host_pullback(field, record.clone()),
        };
        Ok((ensemble, attached(field, request, record, pullback)?))
    }

    /// The adjoint-mode gradient of `loss` of the output states for `field`, as
    /// [`solve_on_graph`](Self::solve_on_graph) and `backward()`; with `keep_steps` (the step
    /// adjoints the mode split reads) the walk runs on the host.
    pub fn gradient<F: VectorField + Module + 'static>(
        &self,
        field: &F,
        request: &Request,
        loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
        capacity: usize,
    ) -> Result<(EnsembleSolution, Gradient), SolveError> {
        if let GradientMode::Adjoint { keep_steps: true } = request.gradient {
            let (ensemble, record) = self.solve_record(&kernel_form(field)?, request, capacity)?;
            return Ok((ensemble, from_record(field, record, loss, true)?));
        }
        let (ensemble, on) = self.solve_on_graph(field, request, capacity)?;
        let status = on.backward.clone();
        let gradient = gradient_through(field, on, loss)?;
        check_finite(field, &gradient.params)?;
        let walk_syncs = status.result().and_then(Result::ok).unwrap_or(0);
        Ok((EnsembleSolution { host_syncs: ensemble.host_syncs + walk_syncs, ..ensemble }, gradient))
    }

    /// The backward kernel over the forward's record `raw`, with the parameter product in the
    /// kernel, as a pullback.
    fn device_pullback(&self, kernel_field: KernelField, request: Request, raw: launch::Raw) -> Pullback {
        let device = self.clone();
        // The host copies of the outputs and record are not needed for the walk.
        let raw = launch::Raw { out: Vec::new(), record: Vec::new(), ..raw };
        Box::new(move |outputs, want_params| {
            let walk = device.walk(&kernel_field, &request, &raw, &outputs)?;
            let params = want_params.then(|| kernel_field.gather(&walk.params));
            Ok(Pulled { y0: walk.y0, params, host_syncs: walk.host_syncs })
        })
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
        let plan = walk_plan(field, request, raw.capacity);
        let forward = Recorded { tab, save_at: &request.save_at, steps: &steps, record: &raw.record_on_device };
        if self.double {
            backward::run::<f64>(&self.client, &plan, &forward, outputs, field)
        } else {
            backward::run::<f32>(&self.client, &plan, &forward, outputs, field)
        }
    }
}

/// The backward kernel's launch shape for `request` (checked: a Runge–Kutta method the kernel
/// runs) over `capacity` recorded steps per trajectory.
fn walk_plan(field: &KernelField, request: &Request, capacity: usize) -> Plan {
    let Method::RungeKutta(tab) = &request.method else {
        unreachable!("the kernel runs Runge–Kutta methods only (checked)")
    };
    let (d, batch, n_out) = (field.dim(), request.batch(field.dim()), request.save_at.len());
    Plan { d, s: tab.stages(), full: false, mlp: field.is_mlp(), width: field.width(), batch, n_out, capacity }
}

/// The field as the kernel evaluates it, or why it has no such form.
fn kernel_form<F: VectorField>(field: &F) -> Result<KernelField, SolveError> {
    let why = "it has no form the ensemble kernel evaluates (mass action and MLPs have one)";
    field.kernel().ok_or_else(|| SetupError::InvalidOption { what: "vector field", why: why.into() }.into())
}
