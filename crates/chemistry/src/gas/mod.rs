//! Gas-phase chemistry for real mechanisms: Cantera YAML files read into a [`GasMechanism`]
//! (species with NASA-7 thermo, reactions with elementary, three-body, falloff and PLOG rates),
//! its rates and equilibrium constants by Cantera's definitions, and ideal-gas states.
//!
//! Units inside are SI with kmol (m, s, kmol, K, Pa, J/kmol), as Cantera's. Thermo and rates
//! are generic over [`Real`]: `f64`, or a dual number (`num_dual`) whose derivative part
//! carries an exact directional derivative, for Jacobians and parameter gradients.

pub mod cantera;
pub mod composition;
pub mod kinetics;
pub mod mechanism;
pub mod problem;
pub mod reactor;
pub mod state;
pub mod thermo;
pub mod units;

pub use cantera::{CanteraError, load};
pub use composition::{Composition, GasState};
pub use kinetics::Rates;
pub use mechanism::{Arrhenius, GasMechanism, GasReaction, Rate, Species, ThirdBody, Troe};
pub use problem::{Mixture, ReactorProblem, ReactorType, Sweep, is_problem_file, load_problem};
pub use reactor::{Reactor, ReactorKind};
pub use thermo::Nasa7;

/// A real number the chemistry computes with: `f64`, or a forward-mode dual number that carries
/// derivatives (the Jacobians). Not the solvers' `linalg::Scalar`, which is a field element of
/// the LU factorizations (real or complex).
pub trait Real: num_dual::DualNum<Primitive = f64> + Copy {}

impl<T: num_dual::DualNum<Primitive = f64> + Copy> Real for T {}
