//! Where a field's solves and gradients run, decided in one place (design.md §9–11), as
//! diffrax's `diffeqsolve` takes its strategy objects: a [`Backend`] is chosen once for a device,
//! a field and the request it will run, and then solves and differentiates every request of that
//! kind. On a GPU it is the ensemble kernel (a thread per trajectory, [`crate::ensemble`]) where
//! the kernel runs the request — a field with a kernel form, a Runge–Kutta method it compiles,
//! adaptive steps at a tolerance its f32 resolves ([`EnsembleDevice::check`]) — and otherwise the
//! engine, which evaluates the field on the host (the CPU's f64 fast path) or as Burn tensor
//! programs on the device. A request whose trajectories have their own times ([`Request::spans`])
//! goes to the engine: the kernel solves a batch to one set of times. The command line, the
//! trainer and prediction ask the backend; none of them chooses.

use std::cell::Cell;

use burn::module::Module;
use burn::tensor::Tensor;

use crate::ensemble::EnsembleDevice;
use crate::error::{SetupError, SolveError};
use crate::field::VectorField;
use crate::gradient::{self, Gradient};
use crate::{DeviceKind, Request, Solution};

/// Where solves and gradients run.
pub enum Backend {
    /// The engine: the field on the host or as tensor programs on its own device.
    Engine,
    /// The ensemble kernel, and the steps per trajectory its gradients' record holds to begin
    /// with (doubled whenever a solve needs more).
    Kernel {
        /// The GPU.
        device: EnsembleDevice,
        /// Record capacity, steps per trajectory.
        capacity: Cell<usize>,
    },
}

impl Backend {
    /// The first record capacity of a kernel backend's gradients.
    pub const FIRST_CAPACITY: usize = 512;

    /// The backend of device `kind` for `field` and requests like `request`: the kernel where it
    /// runs them, else the engine. Fails only where a GPU device cannot be opened.
    pub fn choose(kind: DeviceKind, field: &dyn VectorField, request: &Request) -> Result<Self, SetupError> {
        let device = match field.kernel() {
            Some(tables) => EnsembleDevice::for_request(kind, &tables, request)?,
            None => None,
        };
        Ok(match device {
            Some(device) => Backend::Kernel { device, capacity: Cell::new(Self::FIRST_CAPACITY) },
            None => Backend::Engine,
        })
    }

    /// The backend for `request`: the engine where it has spans, which the kernel does not take
    /// (its field stays on the CPU, where the engine runs it in its host form).
    fn filter_spans(&self, request: &Request) -> &Self {
        if request.spans.is_some() { &Backend::Engine } else { self }
    }

    /// Whether the kernel runs the solves.
    pub fn is_kernel(&self) -> bool {
        matches!(self, Backend::Kernel { .. })
    }

    /// Solve `request` for `field` (the field's own device for the engine; its kernel form, with
    /// its current parameters, for the kernel).
    pub fn solve(&self, field: &dyn VectorField, request: &Request) -> Result<Solution, SolveError> {
        match self {
            Backend::Kernel { .. } if request.spans.is_some() => crate::solve(field, request),
            Backend::Engine => crate::solve(field, request),
            Backend::Kernel { device, .. } => {
                let tables = field.kernel().ok_or_else(|| SetupError::InvalidOption {
                    what: "vector field",
                    why: "the kernel backend was chosen for a field with a kernel form, and this one has none".into(),
                })?;
                device.solve(&tables, request)?.into_result(request)
            }
        }
    }

    /// The gradient of `loss` for `field` ([`gradient::gradient`]): on the kernel, its forward
    /// solve and record, with the record grown until every trajectory's steps fit.
    pub fn gradient<F: VectorField + Module + 'static>(
        &self,
        field: &F,
        request: &Request,
        loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
    ) -> Result<Gradient, SolveError> {
        let Backend::Kernel { device, capacity } = self.filter_spans(request) else {
            return gradient::gradient(field, request, loss);
        };
        loop {
            match device.gradient(field, request, &loss, capacity.get()) {
                Err(SolveError::Trajectory { source, .. }) if matches!(*source, SolveError::RecordFull { .. }) => {
                    capacity.set(capacity.get() * 2);
                }
                other => return other.map(|(_, g)| g),
            }
        }
    }
}
