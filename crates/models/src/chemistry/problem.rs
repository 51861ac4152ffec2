//! Reactor problem files (YAML): a Cantera mechanism, a reactor and an initial state.
//!
//! ```yaml
//! mechanism: ../datasets/mechanisms/h2o2.yaml   # relative to this file
//! phase: ohmech                                  # optional: the mechanism's first phase
//! reactor: constant-pressure                     # or constant-volume, isothermal
//! T: 1000.0                                      # K
//! P: 1 atm                                       # Pa, or "<value> <unit>"
//! X: {H2: 2, O2: 1, N2: 3.76}                    # or Y:, as a map or "H2: 2, O2: 1"
//! # or, instead of X or Y, a fuel–oxidizer mixture (mole fractions) at an equivalence ratio:
//! # equivalence-ratio: 1.0, fuel: {H2: 1}, oxidizer: {O2: 1, N2: 3.76}
//! t_end: 1.0e-3                                  # s, optional
//! ```

use std::path::Path;

use burn::tensor::Device;
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::cantera::{self, CanteraError};
use super::mechanism::GasMechanism;
use super::reactor::{Reactor, ReactorKind};
use super::state::{self, Composition};
use super::units::Units;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProblem {
    mechanism: String,
    phase: Option<String>,
    reactor: String,
    #[serde(rename = "T")]
    t: f64,
    #[serde(rename = "P")]
    p: Value,
    #[serde(rename = "X")]
    x: Option<Value>,
    #[serde(rename = "Y")]
    y: Option<Value>,
    equivalence_ratio: Option<f64>,
    fuel: Option<Value>,
    oxidizer: Option<Value>,
    #[serde(rename = "t_end")]
    t_end: Option<f64>,
    #[allow(dead_code)]
    description: Option<String>,
}

/// A reactor problem: the mechanism, the reactor kind and the initial state.
#[derive(Debug, Clone)]
pub struct ReactorProblem {
    /// The problem file.
    pub name: String,
    /// The mechanism.
    pub mechanism: GasMechanism,
    /// `constant-pressure`, `constant-volume` or `isothermal`, as given.
    pub reactor: String,
    /// Initial temperature, K.
    pub t: f64,
    /// Initial pressure, Pa.
    pub p: f64,
    /// Initial composition.
    pub composition: Composition,
    /// Suggested end time, s.
    pub t_end: Option<f64>,
}

impl ReactorProblem {
    /// The reactor on `device` and its initial state.
    pub fn reactor(&self, device: &Device) -> (Reactor, Vec<f64>) {
        // The density a constant-volume reactor holds is that of the initial state.
        let probe = Reactor::new(self.mechanism.clone(), ReactorKind::ConstPressure { p: self.p }, device);
        let (_, rho) = probe.initial_state(self.t, self.p, &self.composition);
        let kind = match self.reactor.as_str() {
            "constant-volume" => ReactorKind::ConstVolume { rho },
            "isothermal" => ReactorKind::Isothermal { t: self.t },
            _ => ReactorKind::ConstPressure { p: self.p },
        };
        let reactor = Reactor::new(self.mechanism.clone(), kind, device);
        let (y0, _) = reactor.initial_state(self.t, self.p, &self.composition);
        (reactor, y0)
    }
}

/// Read the reactor problem file at `path` and its mechanism.
pub fn load_problem(path: &str) -> Result<ReactorProblem, CanteraError> {
    let err = |what: String| CanteraError { file: path.to_string(), what };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let raw: RawProblem = serde_yaml_ng::from_str(&text).map_err(|e| err(e.to_string()))?;
    if !matches!(raw.reactor.as_str(), "constant-pressure" | "constant-volume" | "isothermal") {
        return Err(err(format!(
            "reactor: '{}' is not one of constant-pressure, constant-volume, isothermal",
            raw.reactor
        )));
    }
    if !(raw.t > 0.0 && raw.t.is_finite()) {
        return Err(err(format!("T: {} K (must be finite and > 0)", raw.t)));
    }
    let p = match &raw.p {
        Value::String(s) => Units::pressure_string(s).map_err(|e| err(format!("P: {e}")))?,
        other => other.as_f64().ok_or_else(|| err("P: a number (Pa) or '<number> <unit>'".into()))?,
    };
    if !(p > 0.0 && p.is_finite()) {
        return Err(err(format!("P: {p} Pa (must be finite and > 0)")));
    }
    if let Some(t_end) = raw.t_end.filter(|t| !(*t > 0.0 && t.is_finite())) {
        return Err(err(format!("t_end: {t_end} (must be finite and > 0)")));
    }
    let mech_path = Path::new(path).parent().unwrap_or(Path::new(".")).join(&raw.mechanism);
    let mechanism = cantera::load(&mech_path.to_string_lossy(), raw.phase.as_deref())?;
    let composition = match (&raw.x, &raw.y, raw.equivalence_ratio) {
        (Some(x), None, None) => {
            Composition::Mole(cantera::fractions(x, &mechanism).map_err(|e| err(format!("X: {e}")))?)
        }
        (None, Some(y), None) => {
            Composition::Mass(cantera::fractions(y, &mechanism).map_err(|e| err(format!("Y: {e}")))?)
        }
        (None, None, Some(phi)) => {
            let side = |v: &Option<Value>, what: &str| match v {
                Some(v) => cantera::fractions(v, &mechanism).map_err(|e| err(format!("{what}: {e}"))),
                None => Err(err(format!("equivalence-ratio needs '{what}'"))),
            };
            let (fuel, oxidizer) = (side(&raw.fuel, "fuel")?, side(&raw.oxidizer, "oxidizer")?);
            let y = state::equivalence_ratio_mixture(phi, &fuel, &oxidizer, &mechanism)
                .map_err(|e| err(format!("equivalence-ratio: {e}")))?;
            Composition::Mass(y)
        }
        _ => {
            return Err(err(
                "give the composition as one of X (mole fractions), Y (mass fractions) or equivalence-ratio with fuel and oxidizer".into(),
            ));
        }
    };
    if raw.equivalence_ratio.is_none() && (raw.fuel.is_some() || raw.oxidizer.is_some()) {
        return Err(err("fuel and oxidizer belong with equivalence-ratio".into()));
    }
    Ok(ReactorProblem {
        name: path.to_string(),
        mechanism,
        reactor: raw.reactor,
        t: raw.t,
        p,
        composition,
        t_end: raw.t_end,
    })
}
