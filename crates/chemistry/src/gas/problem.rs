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
//! sweep:                                         # optional, for generated datasets:
//!   T: [950, 1200]                               #   uniform, K
//!   P: [1 atm, 10 atm]                           #   log-uniform
//!   equivalence-ratio: [0.5, 2.0]                #   uniform (with fuel and oxidizer)
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
    sweep: Option<RawSweep>,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSweep {
    #[serde(rename = "T")]
    t: Option<[f64; 2]>,
    #[serde(rename = "P")]
    p: Option<[Value; 2]>,
    equivalence_ratio: Option<[f64; 2]>,
}

/// Ranges of initial conditions that `stiffnode generate` draws one trajectory's from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sweep {
    /// Initial temperature, K, drawn uniformly.
    pub t: Option<[f64; 2]>,
    /// Pressure, Pa, drawn log-uniformly.
    pub p: Option<[f64; 2]>,
    /// Equivalence ratio, drawn uniformly (for problems given by fuel and oxidizer).
    pub equivalence_ratio: Option<[f64; 2]>,
}

/// The reactor a problem file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactorType {
    /// `constant-pressure`: adiabatic at the problem's pressure.
    ConstantPressure,
    /// `constant-volume`: adiabatic at the density of the initial state.
    ConstantVolume,
    /// `isothermal`: constant volume at the initial temperature.
    Isothermal,
}

impl ReactorType {
    /// Every type, as problem files spell them.
    pub const NAMES: [&'static str; 3] = ["constant-pressure", "constant-volume", "isothermal"];

    /// The name as problem files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConstantPressure => Self::NAMES[0],
            Self::ConstantVolume => Self::NAMES[1],
            Self::Isothermal => Self::NAMES[2],
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::ConstantPressure, Self::ConstantVolume, Self::Isothermal].into_iter().find(|t| t.name() == name)
    }
}

/// A fuel–oxidizer mixture: the composition of a problem given by its equivalence ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    /// Equivalence ratio.
    pub phi: f64,
    /// Fuel mole fractions (unnormalized), per species.
    pub fuel: Vec<f64>,
    /// Oxidizer mole fractions, per species.
    pub oxidizer: Vec<f64>,
}

/// A reactor problem: the mechanism, the reactor kind and the initial state.
#[derive(Debug, Clone)]
pub struct ReactorProblem {
    /// The problem file.
    pub name: String,
    /// The mechanism file, as found from the problem file.
    pub mechanism_path: String,
    /// The mechanism.
    pub mechanism: GasMechanism,
    /// The reactor.
    pub reactor: ReactorType,
    /// Initial temperature, K.
    pub t: f64,
    /// Initial pressure, Pa.
    pub p: f64,
    /// Initial composition.
    pub composition: Composition,
    /// Suggested end time, s.
    pub t_end: Option<f64>,
    /// The fuel–oxidizer mixture, when the composition is given by equivalence ratio.
    pub mixture: Option<Mixture>,
    /// Ranges for generated datasets.
    pub sweep: Sweep,
}

impl ReactorProblem {
    /// The names of the reactor's state components: `T` and the species, or the species of
    /// an isothermal reactor; then the held quantity when the state carries it.
    pub fn state_names(&self) -> Vec<String> {
        super::reactor::state_names(&self.mechanism, self.kind(), self.carries_condition())
    }

    /// Whether the reactor's state carries its held quantity: when the sweep varies it from one
    /// trajectory to the next (the pressure of a constant-pressure reactor; the density of a
    /// constant-volume one, which every swept quantity changes; the temperature of an
    /// isothermal one), so that one field serves the whole dataset.
    pub fn carries_condition(&self) -> bool {
        let s = &self.sweep;
        match self.kind() {
            ReactorKind::ConstPressure { .. } => s.p.is_some(),
            ReactorKind::ConstVolume { .. } => s.t.is_some() || s.p.is_some() || s.equivalence_ratio.is_some(),
            ReactorKind::Isothermal { .. } => s.t.is_some(),
        }
    }

    /// The linear invariants of the reactor's state (design.md §13): a row `c` per element with
    /// `c·dy/dt = 0` — `a_{e,k}/W_k` on the mass fractions of an adiabatic reactor (the element's
    /// mass fraction over its atomic weight), `a_{e,k}` on the concentrations of an isothermal
    /// one (its moles per volume) — and the state indices of the inert species, those no
    /// reaction changes.
    pub fn invariants(&self) -> (Vec<Vec<f64>>, Vec<usize>) {
        let mech = &self.mechanism;
        let d = self.state_names().len();
        let (offset, per_mass) = match self.kind() {
            ReactorKind::Isothermal { .. } => (0, false),
            _ => (1, true),
        };
        let mut elements: Vec<&str> = Vec::new();
        for s in &mech.species {
            for (e, _) in &s.composition {
                if !elements.contains(&e.as_str()) {
                    elements.push(e);
                }
            }
        }
        let rows = elements
            .iter()
            .map(|e| {
                let mut row = vec![0.0; d];
                for (k, s) in mech.species.iter().enumerate() {
                    let a = s.composition.iter().find(|(n, _)| n == e).map_or(0.0, |(_, a)| *a);
                    row[offset + k] = if per_mass { a / s.weight } else { a };
                }
                row
            })
            .collect();
        let changes = |k: usize| {
            mech.reactions.iter().any(|r| {
                let side = |v: &[(usize, f64)]| v.iter().filter(|(i, _)| *i == k).map(|(_, n)| n).sum::<f64>();
                side(&r.products) != side(&r.reactants)
            })
        };
        let inert = (0..mech.species.len()).filter(|&k| !changes(k)).map(|k| offset + k).collect();
        (rows, inert)
    }

    /// The reactor kind with the quantity it holds at this problem's initial state.
    pub fn kind(&self) -> ReactorKind {
        match self.reactor {
            ReactorType::ConstantVolume => {
                // The density a constant-volume reactor holds is that of the initial state.
                let w = self.mechanism.weights();
                ReactorKind::ConstVolume {
                    rho: state::density(self.t, self.p, &state::mass_fractions(&self.composition, &w), &w),
                }
            }
            ReactorType::Isothermal => ReactorKind::Isothermal { t: self.t },
            ReactorType::ConstantPressure => ReactorKind::ConstPressure { p: self.p },
        }
    }

    /// The same problem at initial temperature `t`, pressure `p` and, for a problem given by
    /// fuel and oxidizer, equivalence ratio `phi`.
    pub fn at(&self, t: f64, p: f64, phi: Option<f64>) -> Self {
        let mut out = self.clone();
        (out.t, out.p) = (t, p);
        if let (Some(m), Some(phi)) = (&mut out.mixture, phi) {
            m.phi = phi;
            let y = state::equivalence_ratio_mixture(phi, &m.fuel, &m.oxidizer, &self.mechanism)
                .expect("the fuel and oxidizer were checked when the problem was read");
            out.composition = Composition::Mass(y);
        }
        out
    }

    /// The reactor on `device` and its initial state.
    pub fn reactor(&self, device: &Device) -> (Reactor, Vec<f64>) {
        self.reactor_learning(device, &[])
    }

    /// [`reactor`](Self::reactor) with learnable `log10` factors on the forward rates of the
    /// reactions `learnable` (see [`Reactor::with_learnable`]).
    pub fn reactor_learning(&self, device: &Device, learnable: &[usize]) -> (Reactor, Vec<f64>) {
        let mut reactor = Reactor::with_learnable(self.mechanism.clone(), self.kind(), device, learnable);
        if self.carries_condition() {
            reactor = reactor.carrying_condition();
        }
        let (y0, _) = reactor.initial_state(self.t, self.p, &self.composition);
        (reactor, y0)
    }
}

/// Whether `path` names a reactor problem file (`.yaml` or `.yml`) rather than a mass-action
/// mechanism.
pub fn is_problem_file(path: &str) -> bool {
    [".yaml", ".yml"].iter().any(|ext| path.ends_with(ext))
}

/// Read the reactor problem file at `path` and its mechanism.
pub fn load_problem(path: &str) -> Result<ReactorProblem, CanteraError> {
    let err = |what: String| CanteraError { file: path.to_string(), what };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let raw: RawProblem = serde_yaml_ng::from_str(&text).map_err(|e| err(e.to_string()))?;
    let reactor = ReactorType::parse(&raw.reactor)
        .ok_or_else(|| err(format!("reactor: '{}' is not one of {}", raw.reactor, ReactorType::NAMES.join(", "))))?;
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
    mechanism.check_temperature(raw.t).map_err(|e| err(format!("T: {e}")))?;
    let mixture = match raw.equivalence_ratio {
        Some(phi) => {
            let side = |v: &Option<Value>, what: &str| match v {
                Some(v) => cantera::fractions(v, &mechanism).map_err(|e| err(format!("{what}: {e}"))),
                None => Err(err(format!("equivalence-ratio needs '{what}'"))),
            };
            Some(Mixture { phi, fuel: side(&raw.fuel, "fuel")?, oxidizer: side(&raw.oxidizer, "oxidizer")? })
        }
        None => None,
    };
    let sweep = match &raw.sweep {
        Some(s) => sweep(s, mixture.is_some()).map_err(|e| err(format!("sweep: {e}")))?,
        None => Sweep::default(),
    };
    for t in sweep.t.into_iter().flatten() {
        mechanism.check_temperature(t).map_err(|e| err(format!("sweep: T: {e}")))?;
    }
    let composition = match (&raw.x, &raw.y, raw.equivalence_ratio) {
        (Some(x), None, None) => {
            Composition::Mole(cantera::fractions(x, &mechanism).map_err(|e| err(format!("X: {e}")))?)
        }
        (None, Some(y), None) => {
            Composition::Mass(cantera::fractions(y, &mechanism).map_err(|e| err(format!("Y: {e}")))?)
        }
        (None, None, Some(phi)) => {
            let m = mixture.as_ref().expect("built above");
            let y = state::equivalence_ratio_mixture(phi, &m.fuel, &m.oxidizer, &mechanism)
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
        mechanism_path: mech_path.to_string_lossy().into_owned(),
        mechanism,
        reactor,
        t: raw.t,
        p,
        composition,
        t_end: raw.t_end,
        mixture,
        sweep,
    })
}

fn sweep(raw: &RawSweep, by_mixture: bool) -> Result<Sweep, String> {
    let range = |what: &str, [lo, hi]: [f64; 2]| {
        if lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi {
            Ok([lo, hi])
        } else {
            Err(format!("{what}: [{lo}, {hi}] (must be finite, positive and ascending)"))
        }
    };
    let pressure = |v: &Value| match v {
        Value::String(s) => Units::pressure_string(s),
        other => other.as_f64().ok_or_else(|| "P: numbers (Pa) or '<number> <unit>'".to_string()),
    };
    if raw.equivalence_ratio.is_some() && !by_mixture {
        return Err("equivalence-ratio needs a problem given by equivalence-ratio, fuel and oxidizer".into());
    }
    Ok(Sweep {
        t: raw.t.map(|r| range("T", r)).transpose()?,
        p: raw.p.as_ref().map(|[a, b]| range("P", [pressure(a)?, pressure(b)?])).transpose()?,
        equivalence_ratio: raw.equivalence_ratio.map(|r| range("equivalence-ratio", r)).transpose()?,
    })
}
