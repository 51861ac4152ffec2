//! Exact gradients of the discrete solution (design.md §4): [`gradient`] takes a [`Request`] and
//! a loss of the output states and returns `L`, `∂L/∂y0` and `∂L/∂θ`, by the request's
//! [`GradientMode`]:
//!
//! - `Graph`: the whole solve replayed on Burn's autodiff graph ([`solve_on_graph`] gives the
//!   recorded states themselves, for any loss and `backward()`);
//! - `Adjoint`: a discrete adjoint that walks the steps backwards from the stored states
//!   ([`StepAdjoint`]): host linear algebra per step and one batched vector–Jacobian product of
//!   the field for the parameters, so memory grows with steps × d rather than with the graph of
//!   every step.
//!
//! Both first solve forward without recording (Newton, step control and all), then differentiate
//! the accepted steps at their converged stages; step sizes chosen in the forward solve are held
//! fixed, as in diffrax. [`modes`] splits the parameter gradient by eigenmode of the Jacobian
//! (design.md §5), from the per-step adjoints the adjoint mode keeps when asked.

pub(crate) mod adjoint;
pub mod check;
mod graph;
pub mod modes;
mod operation;
pub mod params;
mod replay;
mod rosenbrock;
pub(crate) mod stages;

pub use adjoint::{StepAdjoint, Walked, from_record};
pub use graph::{OnGraph, solve_on_graph};
pub(crate) use graph::{attached, gradient_through, host_pullback};
pub use operation::BackwardStatus;
pub(crate) use operation::{Pullback, Pulled};

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::error::{SetupError, SolveError};
use crate::field::VectorField;
use crate::methods::Method;
use crate::request::{GradientMode, Request};
use crate::rhs::host_form;
use crate::solution::SolveRecord;

/// A loss value and its gradients.
pub struct Gradient {
    /// `L`.
    pub loss: f64,
    /// `∂L/∂y0`, `batch·d` values.
    pub y0: Vec<f64>,
    /// `∂L/∂θ` per parameter of the field.
    pub params: GradientsParams,
    /// The forward solve's record.
    pub record: SolveRecord,
    /// The adjoint after every step with a non-zero one (each trajectory's last step first),
    /// when the request's mode is `Adjoint { keep_steps: true }`.
    pub step_adjoints: Option<Vec<StepCotangent>>,
}

/// Refuse what has no exact gradient: a Rosenbrock step (which solves with `J`) of a field
/// whose Jacobian is not a differentiable program, or its per-step adjoints where the field has
/// no second derivatives on the host (no adjoint walk).
pub(crate) fn differentiable(request: &Request, field: &dyn VectorField) -> Result<(), SetupError> {
    if request.method.has_step_adjoints() {
        return Ok(());
    }
    let name = request.method.name();
    let why = if !field.jacobian_differentiates() {
        format!(
            "'{name}' solves with the Jacobian, and this field's Jacobian is a constant on the graph: its gradients would miss ∂J; take gradients with a Runge–Kutta or BDF method"
        )
    } else if request.gradient == (GradientMode::Adjoint { keep_steps: true }) && !walkable(field, request) {
        return Err(no_step_adjoints(&request.method));
    } else {
        return Ok(());
    };
    Err(SetupError::InvalidOption { what: "method", why })
}

/// Whether the adjoint walk takes `request`'s steps for `field`: every method with a stage form,
/// and a Rosenbrock method where the field's host form has second derivatives
/// ([`HostSecondOrder`](crate::field::HostSecondOrder)); otherwise Rosenbrock
/// steps are replayed on the graph.
pub(crate) fn walkable(field: &dyn VectorField, request: &Request) -> bool {
    request.method.has_step_adjoints()
        || host_form(field, request.evaluation.host_form())
            .is_some_and(|h| h.products().and_then(|p| p.second_order()).is_some())
}

/// The error for what needs the adjoint walk — the per-step adjoints, the split by eigenmode —
/// where a Rosenbrock method's steps have none: the field has no second derivatives on the host
/// (an MLP or mass action on the f64 CPU device has them).
pub(crate) fn no_step_adjoints(method: &Method) -> SetupError {
    SetupError::InvalidOption {
        what: "method",
        why: format!(
            "'{}' has no per-step adjoints here (the adjoint walk, the split by eigenmode, mode-balanced updates): its steps solve with J, and their walk needs the field's second derivatives on the host, which this field or device does not give (MLP and mass-action fields on the CPU do); use a Runge–Kutta or BDF method for them",
            method.name()
        ),
    }
}

/// The adjoint `a_{n+1} = ∂L/∂y_{n+1}` after step `n` of one trajectory.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCotangent {
    /// The trajectory's index in the batch.
    pub trajectory: usize,
    /// The step `n`.
    pub step: usize,
    /// `a_{n+1}`, `d` values.
    pub value: Vec<f64>,
}

/// Solve `request` with `field` (a Burn module on an autodiff device), evaluate `loss` of the
/// output states (`[batch, d]` tensors on the field's device) and return its gradients, taken
/// as the request's [`GradientMode`] says.
pub fn gradient<F: VectorField + Module + 'static>(
    field: &F,
    request: &Request,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
) -> Result<Gradient, SolveError> {
    differentiable(request, field)?;
    let g = match request.gradient {
        GradientMode::Graph => graph::gradient(field, request, loss)?,
        // Rosenbrock steps of a field without host second derivatives: the replay's gradient.
        GradientMode::Adjoint { keep_steps: false } if !walkable(field, request) => {
            graph::gradient(field, request, loss)?
        }
        GradientMode::Adjoint { keep_steps } => adjoint::gradient(field, request, loss, keep_steps)?,
    };
    params::check_finite(field, &g.params)?;
    Ok(g)
}
