//! Robertson's chemical kinetics (ROBER; Hairer & Wanner II, IV.1, (1.3); Test Set for IVP
//! Solvers, Mazzia & Magherini), from `datasets/mechanisms/robertson.toml`.

use super::builtin;
use super::mechanism::Mechanism;

/// The shipped mechanism file…
pub const FILE: &str = include_str!("../../../../datasets/mechanisms/robertson.toml");
/// …and its path in the repository.
pub const PATH: &str = "datasets/mechanisms/robertson.toml";

/// ROBER with `k = (0.04, 3e7, 1e4)`, `y0 = (1, 0, 0)`.
pub fn robertson() -> Mechanism {
    builtin(FILE, PATH)
}

/// High-precision reference states `(t, y)` (Test Set for IVP Solvers; Hairer & Wanner II),
/// with all their published digits.
#[allow(clippy::excessive_precision)]
pub const REFERENCE: [(f64, [f64; 3]); 3] = [
    (40.0, [0.7158270687194050905, 9.185534764557763904e-6, 0.2841637457458303518]),
    (1e5, [1.78659211421e-2, 7.27475146844e-8, 0.982134006110]),
    (1e11, [0.2083340149701255e-07, 0.8333360770334713e-13, 0.9999999791665050]),
];
