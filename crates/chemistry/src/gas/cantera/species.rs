//! Species entries of a Cantera YAML file: composition, NASA-7 thermo, and the molecular
//! weight from the elements' standard atomic weights (the values Cantera 3.2 uses, IUPAC 2019
//! abridged; `cantera.Element(e).weight`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::gas::mechanism::Species;
use crate::gas::thermo::Nasa7;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSpecies {
    name: String,
    composition: BTreeMap<String, f64>,
    thermo: Option<RawThermo>,
    // Not needed by 0-D kinetics; accepted and not used.
    #[allow(dead_code)]
    transport: Option<Value>,
    #[allow(dead_code)]
    equation_of_state: Option<Value>,
    #[allow(dead_code)]
    critical_parameters: Option<Value>,
    #[allow(dead_code)]
    note: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawThermo {
    model: String,
    temperature_ranges: Vec<f64>,
    data: Vec<Vec<f64>>,
    #[allow(dead_code)]
    note: Option<Value>,
    reference_pressure: Option<Value>,
}

/// The name of a species entry (for the phase's list), if it has one.
pub fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

/// Parse one species entry; errors name the species and the field.
pub fn parse(v: &Value) -> Result<Species, String> {
    let who = name_of(v).map_or_else(|| "a species without a name".to_string(), |n| format!("species '{n}'"));
    let raw: RawSpecies = serde_yaml_ng::from_value(v.clone()).map_err(|e| format!("{who}: {e}"))?;
    let thermo = raw.thermo.ok_or_else(|| format!("{who}: no thermo (NASA7 data are needed)"))?;
    let thermo = nasa7(thermo).map_err(|e| format!("{who}: thermo: {e}"))?;
    let mut weight = 0.0;
    for (element, count) in &raw.composition {
        let w = atomic_weight(element).ok_or_else(|| format!("{who}: composition: unknown element '{element}'"))?;
        if !(*count >= 0.0 && count.is_finite()) {
            return Err(format!("{who}: composition: {element}: {count} atoms"));
        }
        weight += w * count;
    }
    if weight <= 0.0 {
        return Err(format!("{who}: composition: no atoms"));
    }
    Ok(Species { name: raw.name, composition: raw.composition.into_iter().collect(), weight, thermo })
}

fn nasa7(raw: RawThermo) -> Result<Nasa7, String> {
    if raw.model != "NASA7" {
        return Err(format!("model '{}' is not supported (NASA7 is)", raw.model));
    }
    if raw.reference_pressure.is_some() {
        return Err("reference-pressure is not supported (NASA7 data at 1 atm are)".into());
    }
    let coeffs = |n: usize| -> Result<[f64; 7], String> {
        let row = &raw.data[n];
        let a = <[f64; 7]>::try_from(row.as_slice())
            .map_err(|_| format!("data: {} coefficients in a row, not 7", row.len()))?;
        match a.iter().position(|c| !c.is_finite()) {
            Some(i) => Err(format!("data: row {}, coefficient a{i}: {} (must be finite)", n + 1, a[i])),
            None => Ok(a),
        }
    };
    let r = &raw.temperature_ranges;
    if let Some(t) = r.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
        return Err(format!("temperature-ranges {r:?}: {t} K (must be finite and > 0)"));
    }
    let ascending = r.windows(2).all(|w| w[0] < w[1]);
    let thermo = match (r.len(), raw.data.len()) {
        (2, 1) if ascending => Nasa7 { ranges: [r[0], r[1], r[1]], low: coeffs(0)?, high: coeffs(0)? },
        (3, 2) if ascending => Nasa7 { ranges: [r[0], r[1], r[2]], low: coeffs(0)?, high: coeffs(1)? },
        (n, m) => {
            return Err(format!(
                "temperature-ranges {r:?} and {m} data rows: need 2 ascending temperatures and 1 row, or 3 and 2 (got {n})"
            ));
        }
    };
    check_continuity(&thermo)?;
    Ok(thermo)
}

/// The largest mismatch of `cp/R`, `h/RT` and `s/R` between the two ranges at the midpoint
/// temperature that a fit may have, relative to the scales Cantera's `NasaPoly2::validate`
/// uses (`|cp/R| + 10⁻⁴` for `cp/R`, `|cp/R|` for `h/RT`, `|s/R| + |cp/R|` for `s/R`).
/// Cantera warns above 10⁻³. Fits as published are continuous to rounding: the shipped
/// mechanisms' worst is 4·10⁻⁷ (N2's cp/R in h2o2.yaml). A fit whose ranges disagree by a
/// percent or more is a wrong row or a typo (the probe: ten times), and the
/// equilibrium constants, so the reverse rates, jump at `T_mid`. Refused above 10⁻², ten
/// times Cantera's warning threshold, so that old fits Cantera only warns about still load.
const MIDPOINT_TOLERANCE: f64 = 1e-2;

/// Refuse a two-range fit that is not continuous at its midpoint temperature (see
/// [`MIDPOINT_TOLERANCE`]), naming the property and both values.
fn check_continuity(thermo: &Nasa7) -> Result<(), String> {
    if thermo.low == thermo.high {
        return Ok(());
    }
    let t = thermo.ranges[1];
    let (low, high) = (Nasa7 { ranges: [t, t, t], ..thermo.clone() }, Nasa7 { ranges: [0.0; 3], ..thermo.clone() });
    let cp = low.cp_r(t);
    let checks = [
        ("cp/R", cp, high.cp_r(t), cp.abs() + 1e-4),
        ("h/RT", low.h_rt(t), high.h_rt(t), cp.abs()),
        ("s/R", low.s_r(t), high.s_r(t), low.s_r(t).abs() + cp.abs()),
    ];
    for (what, a, b, scale) in checks {
        let mismatch = (a - b).abs();
        if mismatch.is_nan() || mismatch > MIDPOINT_TOLERANCE * scale {
            return Err(format!(
                "data: {what} is not continuous at the midpoint temperature {t} K: {a} from the low range, {b} from \
                 the high range (relative mismatch {:.2e}, more than {MIDPOINT_TOLERANCE:e})",
                mismatch / scale
            ));
        }
    }
    Ok(())
}

/// Standard atomic weight (kg/kmol) of `element` (any capitalization: `Ar`, `AR`), as Cantera
/// 3.2 has it.
pub fn atomic_weight(element: &str) -> Option<f64> {
    let mut symbol: String = element.chars().take(1).flat_map(char::to_uppercase).collect();
    symbol.extend(element.chars().skip(1).flat_map(char::to_lowercase));
    Some(match symbol.as_str() {
        "H" => 1.008,
        "D" => 2.0141017781,
        "He" => 4.002602,
        "C" => 12.011,
        "N" => 14.007,
        "O" => 15.999,
        "F" => 18.998403163,
        "Ne" => 20.1797,
        "Na" => 22.98976928,
        "Mg" => 24.305,
        "Al" => 26.9815384,
        "Si" => 28.085,
        "P" => 30.973761998,
        "S" => 32.06,
        "Cl" => 35.45,
        "Ar" => 39.95,
        "K" => 39.0983,
        "Ca" => 40.078,
        "Fe" => 55.845,
        "Br" => 79.904,
        "Kr" => 83.798,
        "I" => 126.90447,
        "Xe" => 131.293,
        "E" => 0.0005485799088728283,
        _ => return None,
    })
}
