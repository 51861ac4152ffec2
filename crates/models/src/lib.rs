//! stiffnode-models: the neural vector fields users train. An MLP with an analytic batched
//! Jacobian and the state scaling of Kim et al. (2021). Mechanistic fields (mass action with
//! learnable rates, gas-phase reactors) are in `stiffnode-chemistry`.

#![warn(missing_docs)]

pub mod activation;
mod host_mlp;
pub mod input;
pub mod invariants;
pub mod mlp;

pub use activation::Activation;
pub use invariants::OutputMap;
pub use mlp::{Mlp, MlpConfig};
