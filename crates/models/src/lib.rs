//! stiffnode-models: the vector fields users train. An MLP with an analytic batched Jacobian
//! and the state scaling of Kim et al. (2021), and mass-action kinetics with learnable `log10`
//! rate constants (re-exported from the solvers crate, where mechanisms are compiled), and real
//! gas-phase mechanisms read from Cantera YAML files ([`chemistry`]).

#![warn(missing_docs)]

pub mod activation;
pub mod chemistry;
mod host_mlp;
pub mod mlp;

pub use activation::Activation;
pub use mlp::{Mlp, MlpConfig};
pub use stiffnode_solvers::problems::MassActionField;
