//! Everything about reaction networks, on top of the solvers (which know no chemistry):
//!
//! - [`mass_action`]: mechanisms as data (ROBER, POLLU, mechanism TOML files) and their
//!   vector field with learnable `log10 k`;
//! - [`gas`]: Cantera YAML mechanisms, NASA-7 thermo, kinetics by Cantera's definitions, and
//!   0-D reactors as vector fields;
//! - [`dataset`]: trajectory datasets, their format and their generation from either;
//! - [`check`]: the gradient check of a mechanism (`stiffnode gradcheck`).
#![warn(missing_docs)]

pub mod check;
pub mod dataset;
pub mod gas;
pub mod mass_action;
pub mod names;

pub use mass_action::{MassActionField, Mechanism, Reaction};

/// The README's Rust examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;
