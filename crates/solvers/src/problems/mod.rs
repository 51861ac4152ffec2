//! Built-in problems: reaction mechanisms and their reference solutions.

pub mod mass_action;
pub mod mechanism;
pub mod pollu;
pub mod rober;

pub use mass_action::MassActionField;
pub use mechanism::{Mechanism, Reaction};

use crate::error::SolveError;

/// Names of the built-in problems.
pub const NAMES: [&str; 2] = ["robertson", "pollu"];

/// The built-in mechanism called `name` (`rober` is accepted for `robertson`).
pub fn by_name(name: &str) -> Result<Mechanism, SolveError> {
    match name {
        "robertson" | "rober" => Ok(rober::robertson()),
        "pollu" => Ok(pollu::pollu()),
        other => Err(SolveError::InvalidOption {
            what: "problem",
            why: format!("unknown problem '{other}' (known: {})", NAMES.join(", ")),
        }),
    }
}
