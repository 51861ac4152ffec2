//! A gas-phase mechanism as data, in SI units (m, s, kmol, K): species with their NASA-7
//! thermo, and reactions with their rate laws as Cantera defines them (Cantera documentation,
//! "Reaction rates"; Kee, Coltrin & Glarborg, *Chemically Reacting Flow*, 2003, ch. 9):
//!
//! * elementary: `k = A T^b exp(−E_a/RT)`;
//! * three-body: the same `k`, times `[M] = Σ_k ε_k C_k` in the rate of progress;
//! * falloff (Lindemann, Troe): `k = k_∞ · P_r/(1 + P_r) · F`, `P_r = k_0 [M] / k_∞`;
//! * pressure-dependent Arrhenius (PLOG): `ln k` linear in `ln P` between tabulated pressures.

use super::composition::GasState;
use super::thermo::Nasa7;

/// One species of an ideal-gas phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Species {
    /// Name, as reactions and states refer to it.
    pub name: String,
    /// Elemental composition: element and atom count.
    pub composition: Vec<(String, f64)>,
    /// Molecular weight in kg/kmol, from the composition and the element weights.
    pub weight: f64,
    /// Standard-state thermo.
    pub thermo: Nasa7,
}

/// `k = A T^b exp(−T_a/T)` with `A` in SI units for the reaction's order and `T_a = E_a/R`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrhenius {
    /// Pre-exponential factor `A`, `(m³/kmol)^(n−1)/s` for a rate of order `n`.
    pub a: f64,
    /// Temperature exponent `b`.
    pub b: f64,
    /// Activation temperature `E_a/R` in K.
    pub ta: f64,
}

/// Troe's broadening factor parameters (Gilbert, Luther & Troe 1983): `F_cent = (1 − A)
/// exp(−T/T3) + A exp(−T/T1) + exp(−T2/T)`, the last term only when `T2` is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Troe {
    /// `A` (alpha).
    pub a: f64,
    /// `T3` (T***), K.
    pub t3: f64,
    /// `T1` (T*), K.
    pub t1: f64,
    /// `T2` (T**), K.
    pub t2: Option<f64>,
}

/// The collision efficiencies of a reaction's third body: `[M] = Σ_k ε_k C_k`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThirdBody {
    /// `ε` of the species not listed.
    pub default: f64,
    /// Listed species and their `ε`.
    pub efficiencies: Vec<(usize, f64)>,
}

/// How a reaction's forward rate constant depends on temperature and pressure.
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    /// Elementary or three-body (the third body is in [`GasReaction::third_body`]).
    Arrhenius(Arrhenius),
    /// Lindemann falloff (`troe: None`) or Troe falloff, with a third body.
    Falloff {
        /// Low-pressure limit `k_0`.
        low: Arrhenius,
        /// High-pressure limit `k_∞`.
        high: Arrhenius,
        /// Troe's broadening, or none (Lindemann, `F = 1`).
        troe: Option<Troe>,
    },
    /// PLOG: `(ln P, Arrhenius terms summed at that pressure)`, ascending in pressure.
    Plog(Vec<(f64, Vec<Arrhenius>)>),
}

/// One reaction; species are indices into [`GasMechanism::species`].
#[derive(Debug, Clone, PartialEq)]
pub struct GasReaction {
    /// The equation as written in the file.
    pub equation: String,
    /// Reactants with stoichiometric coefficients (no third body).
    pub reactants: Vec<(usize, f64)>,
    /// Products with stoichiometric coefficients.
    pub products: Vec<(usize, f64)>,
    /// Forward reaction orders (the reactant coefficients unless the file gives `orders`).
    pub orders: Vec<(usize, f64)>,
    /// Reverse rate from the equilibrium constant (`<=>`), or none (`=>`).
    pub reversible: bool,
    /// Forward rate constant.
    pub rate: Rate,
    /// The third body `M`: of a three-body or falloff reaction.
    pub third_body: Option<ThirdBody>,
    /// Declared a duplicate of another reaction.
    pub duplicate: bool,
}

/// An ideal-gas phase's species and reactions.
#[derive(Debug, Clone, PartialEq)]
pub struct GasMechanism {
    /// The file (and phase) it was read from.
    pub name: String,
    /// Species, in state order.
    pub species: Vec<Species>,
    /// Reactions, in file order.
    pub reactions: Vec<GasReaction>,
    /// The phase's state as the file gives it, if it does.
    pub state: Option<GasState>,
}

impl GasMechanism {
    /// Index of the species called `name`.
    pub fn species_index(&self, name: &str) -> Option<usize> {
        self.species.iter().position(|s| s.name == name)
    }

    /// The temperatures (K) that every species' thermo fit covers, `[T_min, T_max]`: the
    /// highest lower end and the lowest upper end of the species' ranges.
    pub fn temperature_range(&self) -> [f64; 2] {
        let lo = self.species.iter().map(|s| s.thermo.ranges[0]).fold(f64::NEG_INFINITY, f64::max);
        let hi = self.species.iter().map(|s| s.thermo.ranges[2]).fold(f64::INFINITY, f64::min);
        [lo, hi]
    }

    /// Refuse a temperature (an initial state's) outside [`temperature_range`](Self::temperature_range),
    /// naming the range and the species whose fit ends there. (The polynomials are extrapolated
    /// beyond their range, as Cantera does, for the temperatures a reactor reaches; a state that
    /// starts outside the data is a mistake.)
    pub fn check_temperature(&self, t: f64) -> Result<(), String> {
        let [lo, hi] = self.temperature_range();
        // The end `t` is beyond, and the species whose fit ends there.
        let (end, limit) = if t.is_nan() || t < lo {
            ("starts", lo)
        } else if t > hi {
            ("ends", hi)
        } else {
            return Ok(());
        };
        let who = self
            .species
            .iter()
            .find(|s| s.thermo.ranges[if end == "starts" { 0 } else { 2 }] == limit)
            .map_or(String::new(), |s| format!("; species '{}' {end} at {limit} K", s.name));
        Err(format!("{t} K is outside the range of the thermo data, {lo} to {hi} K{who}"))
    }

    /// Molecular weights in kg/kmol, in state order.
    pub fn weights(&self) -> Vec<f64> {
        self.species.iter().map(|s| s.weight).collect()
    }
}
