//! POLLU, the air-pollution model of Verwer (1994) as given in the Test Set for IVP Solvers
//! (Mazzia & Magherini): 20 species, 25 reactions, `t ∈ [0, 60]`, from
//! `datasets/mechanisms/pollu.toml`.

use super::builtin;
use super::mechanism::Mechanism;

/// The shipped mechanism file…
pub const FILE: &str = include_str!("../../../../datasets/mechanisms/pollu.toml");
/// …and its path in the repository.
pub const PATH: &str = "datasets/mechanisms/pollu.toml";

/// POLLU with the Test Set's initial state.
pub fn pollu() -> Mechanism {
    builtin(FILE, PATH)
}

/// Reference solution at `t = 60` (Test Set for IVP Solvers, POLLU), with all its published
/// digits.
#[allow(clippy::excessive_precision)]
pub const REFERENCE_T60: [f64; 20] = [
    0.5646255480022769e-01,
    0.1342484130422339e+00,
    0.4139734331099427e-08,
    0.5523140207484359e-02,
    0.2018977262302196e-06,
    0.1464541863493966e-06,
    0.7784249118997964e-01,
    0.3245075353396018e+00,
    0.7494013383880406e-02,
    0.1622293157301561e-07,
    0.1135863833257075e-07,
    0.2230505975721359e-02,
    0.2087162882798630e-03,
    0.1396921016840158e-04,
    0.8964884856898295e-02,
    0.4352846369330103e-17,
    0.6899219696263405e-02,
    0.1007803037365946e-03,
    0.1772146513969984e-05,
    0.5682943292316392e-04,
];
