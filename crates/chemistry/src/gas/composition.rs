//! A phase's state as a file or a user gives it: temperature, pressure and a composition by
//! mole or mass fractions, and the `"H2: 2, O2: 1"` form of a composition. Plain data, read by
//! the mechanism (a phase's `state:`) and turned into mixtures by [`state`](super::state).

/// A composition as the file or user gave it, per species in state order (unnormalized).
#[derive(Debug, Clone, PartialEq)]
pub enum Composition {
    /// Mole fractions `X`.
    Mole(Vec<f64>),
    /// Mass fractions `Y`.
    Mass(Vec<f64>),
}

/// A phase's state as given: any of temperature, pressure and composition.
#[derive(Debug, Clone, PartialEq)]
pub struct GasState {
    /// Temperature, K.
    pub t: Option<f64>,
    /// Pressure, Pa.
    pub p: Option<f64>,
    /// Composition.
    pub composition: Option<Composition>,
}

/// `"H2: 2, O2: 1, N2: 3.76"` as name–value pairs.
pub fn parse_composition(s: &str) -> Result<Vec<(String, f64)>, String> {
    s.split(',')
        .map(|item| {
            let (name, value) =
                item.split_once(':').ok_or_else(|| format!("'{}' is not 'species: value'", item.trim()))?;
            let v = value.trim().parse::<f64>().map_err(|_| format!("'{}' is not a number", value.trim()))?;
            Ok((name.trim().to_string(), v))
        })
        .collect()
}
