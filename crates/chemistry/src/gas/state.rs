//! Ideal-gas states: compositions by species name, mole and mass fractions, density and molar
//! concentrations (`ρ = P W̄/(R T)`, `C_k = ρ Y_k / W_k`; Kee, Coltrin & Glarborg, ch. 2).

pub use super::composition::{Composition, GasState, parse_composition};
use super::mechanism::GasMechanism;
use super::units::GAS_CONSTANT;

/// Name–value pairs as one value per species of `mech` (0 where not named); the values must
/// be finite, non-negative and not all zero.
pub fn by_species(pairs: &[(String, f64)], mech: &GasMechanism) -> Result<Vec<f64>, String> {
    let mut out = vec![0.0; mech.species.len()];
    for (name, v) in pairs {
        let i = mech.species_index(name).ok_or_else(|| format!("unknown species '{name}'"))?;
        if !(*v >= 0.0 && v.is_finite()) {
            return Err(format!("{name}: {v} (must be finite and ≥ 0)"));
        }
        out[i] += v;
    }
    if out.iter().sum::<f64>() <= 0.0 {
        return Err("the fractions sum to zero".into());
    }
    Ok(out)
}

/// Mass fractions of the mixture of `fuel` and `oxidizer` (mole fractions, unnormalized) at
/// equivalence ratio `phi`, as Cantera's `set_equivalence_ratio` forms it: on a mass basis,
/// `Y = φ·Y_f + (−O₂,f/O₂,o)·Y_o` (then normalized), where `O₂` is the oxygen a composition
/// needs for complete combustion less the oxygen it holds, per unit mass (`C` and `S` take one
/// O₂ per atom, `H` a quarter, each `O` atom brings a half). The fuel must need oxygen and the
/// oxidizer must bring it.
pub fn equivalence_ratio_mixture(
    phi: f64,
    fuel: &[f64],
    oxidizer: &[f64],
    mech: &GasMechanism,
) -> Result<Vec<f64>, String> {
    if !(phi >= 0.0 && phi.is_finite()) {
        return Err(format!("equivalence ratio {phi} (must be finite and ≥ 0)"));
    }
    let w = mech.weights();
    let (yf, yo) = (
        mass_fractions(&Composition::Mole(fuel.to_vec()), &w),
        mass_fractions(&Composition::Mole(oxidizer.to_vec()), &w),
    );
    let atoms = |k: usize, e: &str| {
        mech.species[k].composition.iter().filter(|(el, _)| el.eq_ignore_ascii_case(e)).map(|(_, n)| n).sum::<f64>()
    };
    let o2_balance = |y: &[f64]| {
        (0..y.len())
            .map(|k| y[k] / w[k] * (atoms(k, "C") + atoms(k, "S") + 0.25 * atoms(k, "H") - 0.5 * atoms(k, "O")))
            .sum::<f64>()
    };
    let (need_f, need_o) = (o2_balance(&yf), o2_balance(&yo));
    if need_f <= 0.0 {
        return Err("the fuel needs no oxygen to burn".into());
    }
    if need_o >= 0.0 {
        return Err("the oxidizer brings no oxygen".into());
    }
    let y: Vec<f64> = yf.iter().zip(&yo).map(|(f, o)| phi * f - need_f / need_o * o).collect();
    Ok(mass_fractions(&Composition::Mass(y), &w))
}

/// Mass fractions from a composition, normalized, with molecular weights `w`.
pub fn mass_fractions(c: &Composition, w: &[f64]) -> Vec<f64> {
    let y: Vec<f64> = match c {
        Composition::Mass(y) => y.clone(),
        Composition::Mole(x) => x.iter().zip(w).map(|(x, w)| x * w).collect(),
    };
    let total: f64 = y.iter().sum();
    y.iter().map(|v| v / total).collect()
}

/// Mole fractions from mass fractions `y`.
pub fn mole_fractions(y: &[f64], w: &[f64]) -> Vec<f64> {
    let n: Vec<f64> = y.iter().zip(w).map(|(y, w)| y / w).collect();
    let total: f64 = n.iter().sum();
    n.iter().map(|v| v / total).collect()
}

/// Mean molecular weight `W̄ = 1/Σ(Y_k/W_k)` (kg/kmol).
pub fn mean_weight(y: &[f64], w: &[f64]) -> f64 {
    1.0 / y.iter().zip(w).map(|(y, w)| y / w).sum::<f64>()
}

/// Density `ρ = P W̄/(R T)` (kg/m³).
pub fn density(t: f64, p: f64, y: &[f64], w: &[f64]) -> f64 {
    p * mean_weight(y, w) / (GAS_CONSTANT * t)
}

/// Molar concentrations `C_k = ρ Y_k / W_k` (kmol/m³).
pub fn concentrations(rho: f64, y: &[f64], w: &[f64]) -> Vec<f64> {
    y.iter().zip(w).map(|(y, w)| rho * y / w).collect()
}
