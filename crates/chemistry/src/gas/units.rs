//! The `units` block of a Cantera YAML file and the conversion of its quantities to the SI
//! units stiffnode computes in: m, s, kmol, K, Pa, J/kmol (Cantera's own defaults; Cantera
//! documentation, "YAML input files: units").
//!
//! A pre-exponential factor of a reaction of order `n` is in `(length³/quantity)^(n−1)/time`;
//! an activation energy in `activation-energy` units (by default `energy/quantity`); a pressure
//! in `pressure` units, or as a string with its own unit (`P: 1.0 atm`, as ck2yaml writes).

use std::collections::BTreeMap;

/// The universal gas constant in J/(kmol·K) (CODATA 2018 exact value, as Cantera's `GasConstant`).
pub const GAS_CONSTANT: f64 = 8314.46261815324;

/// One standard atmosphere in Pa; the reference pressure of NASA-7 standard states.
pub const ONE_ATM: f64 = 101_325.0;

/// Avogadro's number per kmol.
const AVOGADRO_KMOL: f64 = 6.02214076e26;

/// The unit system of one file, as factors to SI.
#[derive(Debug, Clone, PartialEq)]
pub struct Units {
    length: f64,
    quantity: f64,
    time: f64,
    pressure: f64,
    /// Activation energy unit as `Ea/R` in K per unit.
    activation: f64,
}

impl Default for Units {
    fn default() -> Self {
        Self { length: 1.0, quantity: 1.0, time: 1.0, pressure: 1.0, activation: 1.0 / GAS_CONSTANT }
    }
}

impl Units {
    /// The units of a file's `units` block (missing keys keep Cantera's defaults); an unknown key
    /// or unit is an error naming it.
    pub fn from_block(block: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut u = Self::default();
        let mut energy = 1.0; // J
        for (key, unit) in block {
            let bad = || format!("units: {key}: unknown unit '{unit}'");
            match key.as_str() {
                "length" => u.length = length(unit).ok_or_else(bad)?,
                "quantity" => u.quantity = quantity(unit).ok_or_else(bad)?,
                "time" => u.time = time(unit).ok_or_else(bad)?,
                "pressure" => u.pressure = pressure(unit).ok_or_else(bad)?,
                "energy" => energy = energy_unit(unit).ok_or_else(bad)?,
                "activation-energy" => {}
                "temperature" if unit == "K" => {}
                "mass" if unit == "kg" => {}
                "temperature" | "mass" => {
                    return Err(format!("units: {key}: only SI ('K', 'kg') is supported, not '{unit}'"));
                }
                _ => return Err(format!("units: unknown key '{key}'")),
            }
        }
        u.activation = match block.get("activation-energy") {
            Some(unit) => activation(unit).ok_or_else(|| format!("units: activation-energy: unknown unit '{unit}'"))?,
            None => energy / u.quantity / GAS_CONSTANT,
        };
        Ok(u)
    }

    /// `A` of a rate of order `order` in SI (`(m³/kmol)^(order−1)/s`).
    pub fn rate_factor(&self, order: f64) -> f64 {
        (self.length.powi(3) / self.quantity).powf(order - 1.0) / self.time
    }

    /// `Ea/R` in K for an activation energy `ea` in this file's units.
    pub fn activation_temperature(&self, ea: f64) -> f64 {
        ea * self.activation
    }

    /// An activation energy given as a string with its own unit (`"6260 cal/mol"`), as `Ea/R`.
    pub fn activation_string(s: &str) -> Result<f64, String> {
        let (value, unit) = split_value(s)?;
        Ok(value * activation(unit).ok_or_else(|| format!("unknown activation-energy unit '{unit}' in '{s}'"))?)
    }

    /// A pressure in Pa: a number in this file's pressure units.
    pub fn pressure(&self, p: f64) -> f64 {
        p * self.pressure
    }

    /// A pressure string with its own unit (`"1.0 atm"`), in Pa.
    pub fn pressure_string(s: &str) -> Result<f64, String> {
        let (value, unit) = split_value(s)?;
        Ok(value * pressure(unit).ok_or_else(|| format!("unknown pressure unit '{unit}' in '{s}'"))?)
    }
}

/// `"1.0 atm"` as `(1.0, "atm")`.
fn split_value(s: &str) -> Result<(f64, &str), String> {
    let s = s.trim();
    let (num, unit) = s.split_once(char::is_whitespace).ok_or_else(|| format!("'{s}' is not '<number> <unit>'"))?;
    let value = num.parse::<f64>().map_err(|_| format!("'{num}' in '{s}' is not a number"))?;
    Ok((value, unit.trim()))
}

fn length(u: &str) -> Option<f64> {
    Some(match u {
        "m" => 1.0,
        "cm" => 1e-2,
        "mm" => 1e-3,
        _ => return None,
    })
}

fn quantity(u: &str) -> Option<f64> {
    Some(match u {
        "kmol" => 1.0,
        "mol" => 1e-3,
        "molec" => 1.0 / AVOGADRO_KMOL,
        _ => return None,
    })
}

fn time(u: &str) -> Option<f64> {
    Some(match u {
        "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

fn pressure(u: &str) -> Option<f64> {
    Some(match u {
        "Pa" => 1.0,
        "kPa" => 1e3,
        "MPa" => 1e6,
        "bar" => 1e5,
        "atm" => ONE_ATM,
        "torr" => ONE_ATM / 760.0,
        "dyn/cm^2" => 0.1,
        _ => return None,
    })
}

fn energy_unit(u: &str) -> Option<f64> {
    Some(match u {
        "J" => 1.0,
        "kJ" => 1e3,
        "cal" => 4.184,
        "kcal" => 4184.0,
        "erg" => 1e-7,
        _ => return None,
    })
}

/// An activation-energy unit as `Ea/R` in K per unit.
fn activation(u: &str) -> Option<f64> {
    if u == "K" {
        return Some(1.0);
    }
    let (e, q) = u.split_once('/')?;
    Some(energy_unit(e)? / quantity(q)? / GAS_CONSTANT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgs_mole_units_convert_to_si_kmol() {
        let block: BTreeMap<String, String> = [("length", "cm"), ("quantity", "mol"), ("activation-energy", "cal/mol")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let u = Units::from_block(&block).unwrap();
        // cm³/mol = 1e-6 m³ / 1e-3 kmol = 1e-3 m³/kmol.
        assert!((u.rate_factor(2.0) - 1e-3).abs() < 1e-18);
        assert!((u.rate_factor(3.0) - 1e-6).abs() < 1e-21);
        assert_eq!(u.rate_factor(1.0), 1.0);
        // 1 cal/mol = 4184 J/kmol.
        assert!((u.activation_temperature(1.0) - 4184.0 / GAS_CONSTANT).abs() < 1e-15);
        assert_eq!(Units::pressure_string("2 atm").unwrap(), 2.0 * ONE_ATM);
    }

    #[test]
    fn activation_energy_defaults_to_energy_per_quantity() {
        let block: BTreeMap<String, String> =
            [("energy", "kcal"), ("quantity", "mol")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let u = Units::from_block(&block).unwrap();
        assert!((u.activation_temperature(1.0) - 4184.0e3 / GAS_CONSTANT).abs() < 1e-12);
    }

    #[test]
    fn unknown_units_are_named() {
        let block: BTreeMap<String, String> =
            [("length", "furlong".to_string())].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(Units::from_block(&block).unwrap_err(), "units: length: unknown unit 'furlong'");
    }
}
