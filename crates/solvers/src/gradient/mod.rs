//! Exact gradients of the discrete solution (DESIGN §4), in two modes with one result:
//!
//! - [`solve_recorded`]: the whole solve replayed on Burn's autodiff graph; take any loss of the
//!   returned states and call `backward()`.
//! - [`adjoint_gradient`]: a discrete adjoint that walks the steps backwards from the stored
//!   states (checkpointing): host linear algebra per step and one batched vector–Jacobian
//!   product of the field for the parameters, so memory grows with steps × d rather than with
//!   the graph of every step. [`StepAdjoint`] shows each step's adjoint `a_{n+1} = ∂L/∂y_{n+1}`.
//!
//! Both first solve forward without recording (Newton, step control and all), then
//! differentiate the accepted steps at their converged stages; step sizes chosen in the
//! forward solve are held fixed, as in diffrax.
//! [`modes`] splits the parameter gradient by eigenmode of the Jacobian (DESIGN §5), from the
//! per-step adjoints that [`adjoint_gradient_observed`] reports.

mod adjoint;
pub mod check;
mod graph;
pub mod modes;
mod replay;
mod stages;

pub use adjoint::{Gradient, StepAdjoint, adjoint_gradient, adjoint_gradient_observed};
pub use graph::{Recorded, solve_recorded};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::error::SolveError;
use crate::field::to_host;

/// Error unless every parameter gradient of `module` in `grads` is finite.
pub fn check_finite<M: Module>(module: &M, grads: &GradientsParams) -> Result<(), SolveError> {
    struct Finite<'g> {
        grads: &'g GradientsParams,
        bad: Option<String>,
    }
    impl ModuleVisitor for Finite<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let values = to_host(g);
                if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                    self.bad.get_or_insert(format!("parameter {} (shape {:?}) has gradient entry {v}", param.id, param.lazy_shape().as_slice()));
                }
            }
        }
    }
    let mut visitor = Finite { grads, bad: None };
    module.visit(&mut visitor);
    visitor.bad.map_or(Ok(()), |what| Err(SolveError::NonFiniteGradient(what)))
}
