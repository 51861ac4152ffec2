//! stiffnode-solvers: A- and L-stable implicit integrators for stiff ODEs, with Burn vector
//! fields evaluated on the CPU (f64) or a GPU (wgpu, f32).
//!
//! The state, the Newton iterations and the step control live on the host in f64; the vector
//! field and its Jacobian run as Burn tensor programs on the chosen device, batched over
//! trajectories and stages.

pub mod dataset;
pub mod device;
pub mod error;
pub mod field;
pub mod linalg;
pub mod methods;
mod multistep;
mod newton;
pub mod output_times;
pub mod problems;
pub mod record;
pub mod gradient;
mod rhs;
mod rk;
pub mod solver;
pub mod stability;
pub mod step_control;
mod stepper;
pub mod tableau;

pub use device::DeviceKind;
pub use error::SolveError;
pub use field::VectorField;
pub use methods::Method;
pub use record::{StepKind, StepRecord, Trajectory};
pub use solver::{Solution, SolveOptions, Stats, StepControl, solve, solve_trajectory};
pub use step_control::Tolerances;
pub use tableau::Tableau;
