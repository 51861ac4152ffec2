//! stiffnode-solvers: A- and L-stable implicit integrators for stiff ODEs, with Burn vector
//! fields evaluated on the CPU (f64) or a GPU (wgpu, f32), and exact gradients of the discrete
//! solution.
//!
//! A solve is one [`Request`] (initial states, times, method, options, gradient mode) given to
//! [`solve`], [`solve_record`], [`gradient::gradient`] or [`gradient::solve_on_graph`]. The state,
//! the Newton iterations and the step control live on the host in f64; the vector field and its
//! Jacobian run on the host (their host form) or as Burn tensor programs on the chosen device.
//! On a GPU, [`ensemble`] runs the whole solve and its backward walk as device kernels, a thread
//! per trajectory; a [`Backend`] decides, in one place, which runs a field's requests. `design.md §N` in the documentation refers to the sections of `docs/design.md`.

#![warn(missing_docs)]

pub mod backend;
mod dense;
pub mod device;
pub mod diagonal;
mod engine;
pub mod ensemble;
pub mod error;
pub mod field;
pub mod files;
pub mod gradient;
pub mod kernel_field;
pub mod limits;
pub mod linalg;
pub mod methods;
pub mod output_times;
pub mod request;
mod rhs;
mod short;
pub mod solution;
pub mod stability;
pub mod step_control;
pub mod tableau;

pub use backend::Backend;
pub use device::DeviceKind;
pub use engine::{solve, solve_record};
pub use error::{SetupError, SolveError};
pub use field::VectorField;
pub use methods::Method;
pub use request::{Evaluation, GradientMode, Request, SolveOptions, Span, StepControl, StepSettings};
pub use solution::{Solution, SolveRecord, Stats, StepKind, StepRecord, TrajectoryRecord};
pub use step_control::Tolerances;
pub use tableau::Tableau;
