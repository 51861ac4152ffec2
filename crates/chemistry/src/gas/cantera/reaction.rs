//! Reaction entries of a Cantera YAML file (Cantera documentation, "YAML input files: reactions"):
//! `elementary`, `three-body`, `falloff` (Lindemann and Troe) and `pressure-dependent-Arrhenius`
//! rates, inferred from the equation where `type` is not given as Cantera does (`(+M)`:
//! falloff; `+ M`: three-body; else elementary). Every other rate type or field is an error
//! that names it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::equation::{self, Side};
use crate::gas::mechanism::{Arrhenius, GasReaction, Rate, ThirdBody, Troe};
use crate::gas::units::Units;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawReaction {
    equation: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    rate_constant: Option<RawArrhenius>,
    #[serde(rename = "low-P-rate-constant")]
    low_p_rate_constant: Option<RawArrhenius>,
    #[serde(rename = "high-P-rate-constant")]
    high_p_rate_constant: Option<RawArrhenius>,
    #[serde(rename = "Troe")]
    troe: Option<RawTroe>,
    rate_constants: Option<Vec<RawPlogEntry>>,
    efficiencies: Option<BTreeMap<String, f64>>,
    default_efficiency: Option<f64>,
    #[serde(default)]
    duplicate: bool,
    #[serde(default, rename = "negative-A")]
    negative_a: bool,
    orders: Option<BTreeMap<String, f64>>,
    #[allow(dead_code)]
    note: Option<Value>,
    #[allow(dead_code)]
    id: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArrhenius {
    #[serde(rename = "A")]
    a: Value,
    b: f64,
    #[serde(rename = "Ea")]
    ea: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTroe {
    #[serde(rename = "A")]
    a: f64,
    #[serde(rename = "T3")]
    t3: f64,
    #[serde(rename = "T1")]
    t1: f64,
    #[serde(rename = "T2")]
    t2: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlogEntry {
    #[serde(rename = "P")]
    p: Value,
    #[serde(rename = "A")]
    a: Value,
    b: f64,
    #[serde(rename = "Ea")]
    ea: Value,
}

/// What a reaction needs from its file: units, the species lookup and the phase's flags.
pub struct Context<'a> {
    pub units: &'a Units,
    pub species: &'a dyn Fn(&str) -> Option<usize>,
    /// `skip-undeclared-third-bodies`: efficiencies of species not in the phase are dropped.
    pub skip_undeclared_third_bodies: bool,
}

/// Parse one reaction entry. Errors say what is wrong; the caller adds which reaction.
pub fn parse(v: &Value, ctx: &Context) -> Result<GasReaction, String> {
    let raw: RawReaction = serde_yaml_ng::from_value(v.clone()).map_err(|e| e.to_string())?;
    let eq = equation::parse(&raw.equation).map_err(|e| format!("equation: {e}"))?;
    let kind = match raw.kind.as_deref() {
        Some(k) => k,
        None if eq.reactants.falloff.is_some() => "falloff",
        None if eq.reactants.third_body => "three-body",
        None => "elementary",
    };
    let (mut reactants, mut products) = (indices(&eq.reactants, ctx)?, indices(&eq.products, ctx)?);
    if kind != "falloff" && eq.reactants.falloff.is_some() {
        return Err(format!("'(+…)' in the equation of a {kind} reaction"));
    }
    if kind == "falloff" && eq.reactants.falloff.is_none() {
        return Err("a falloff reaction needs '(+M)' or '(+species)' on both sides".into());
    }
    let third_body = match kind {
        "three-body" | "falloff" => Some(third_body(&eq.reactants, &mut reactants, &mut products, &raw, ctx)?),
        _ => None,
    };
    let orders = match &raw.orders {
        None => reactants.clone(),
        Some(map) => reaction_orders(map, &reactants, ctx)?,
    };
    // The order that sets the units of A: the reactants' (the third body adds one).
    let n: f64 = orders.iter().map(|(_, c)| c).sum();
    let present = |fields: &[(&str, bool)]| match fields.iter().find(|(_, present)| *present) {
        Some((name, _)) => Err(format!("'{name}' does not belong to a {kind} reaction")),
        None => Ok(()),
    };
    let rate = match kind {
        "elementary" | "three-body" => {
            present(&[
                ("low-P-rate-constant", raw.low_p_rate_constant.is_some()),
                ("high-P-rate-constant", raw.high_p_rate_constant.is_some()),
                ("Troe", raw.troe.is_some()),
                ("rate-constants", raw.rate_constants.is_some()),
            ])?;
            if kind == "elementary" {
                present(&[
                    ("efficiencies", raw.efficiencies.is_some()),
                    ("default-efficiency", raw.default_efficiency.is_some()),
                ])?;
            }
            let k = raw.rate_constant.as_ref().ok_or("no 'rate-constant'")?;
            let n = if kind == "three-body" { n + 1.0 } else { n };
            Rate::Arrhenius(arrhenius(k, n, &raw, ctx.units, "rate-constant")?)
        }
        "falloff" => {
            present(&[
                ("rate-constant", raw.rate_constant.is_some()),
                ("rate-constants", raw.rate_constants.is_some()),
            ])?;
            let low = raw.low_p_rate_constant.as_ref().ok_or("no 'low-P-rate-constant'")?;
            let high = raw.high_p_rate_constant.as_ref().ok_or("no 'high-P-rate-constant'")?;
            Rate::Falloff {
                low: arrhenius(low, n + 1.0, &raw, ctx.units, "low-P-rate-constant")?,
                high: arrhenius(high, n, &raw, ctx.units, "high-P-rate-constant")?,
                troe: raw.troe.as_ref().map(troe).transpose()?,
            }
        }
        "pressure-dependent-Arrhenius" => {
            present(&[
                ("rate-constant", raw.rate_constant.is_some()),
                ("efficiencies", raw.efficiencies.is_some()),
                ("Troe", raw.troe.is_some()),
            ])?;
            plog(raw.rate_constants.as_deref().ok_or("no 'rate-constants'")?, n, &raw, ctx.units)?
        }
        other => {
            return Err(format!(
                "type '{other}' is not supported (elementary, three-body, falloff and pressure-dependent-Arrhenius are)"
            ));
        }
    };
    Ok(GasReaction {
        equation: raw.equation.clone(),
        reactants,
        products,
        orders,
        reversible: eq.reversible,
        rate,
        third_body,
        duplicate: raw.duplicate,
    })
}

fn indices(side: &Side, ctx: &Context) -> Result<Vec<(usize, f64)>, String> {
    side.species
        .iter()
        .map(|(name, c)| {
            (ctx.species)(name).map(|i| (i, *c)).ok_or_else(|| format!("equation: unknown species '{name}'"))
        })
        .collect()
}

fn reaction_orders(
    map: &BTreeMap<String, f64>,
    reactants: &[(usize, f64)],
    ctx: &Context,
) -> Result<Vec<(usize, f64)>, String> {
    let mut orders = reactants.to_vec();
    for (name, &o) in map {
        let i = (ctx.species)(name).ok_or_else(|| format!("orders: unknown species '{name}'"))?;
        let entry = orders
            .iter_mut()
            .find(|(k, _)| *k == i)
            .ok_or_else(|| format!("orders: '{name}' is not a reactant (orders of non-reactants are not supported)"))?;
        if !(o >= 0.0 && o.is_finite()) {
            return Err(format!("orders: {name}: {o} (must be ≥ 0)"));
        }
        entry.1 = o;
    }
    Ok(orders)
}

/// The third body of a three-body or falloff reaction. An explicit collider (`(+AR)`, or a
/// `three-body` reaction whose equation names a species on both sides instead of `M`) has
/// efficiency 1 and every other species 0, and is removed from the reactants and products.
fn third_body(
    eq_side: &Side,
    reactants: &mut Vec<(usize, f64)>,
    products: &mut Vec<(usize, f64)>,
    raw: &RawReaction,
    ctx: &Context,
) -> Result<ThirdBody, String> {
    let explicit = match &eq_side.falloff {
        Some(c) if c != "M" => Some(c.clone()),
        Some(_) => None,
        None if eq_side.third_body => None,
        None => return explicit_collider(reactants, products, raw),
    };
    if let Some(name) = explicit {
        if raw.efficiencies.is_some() || raw.default_efficiency.is_some() {
            return Err(format!("efficiencies given for a reaction whose collider is '{name}'"));
        }
        let i = (ctx.species)(&name).ok_or_else(|| format!("equation: unknown collider '{name}'"))?;
        return Ok(ThirdBody { default: 0.0, efficiencies: vec![(i, 1.0)] });
    }
    let mut efficiencies = Vec::new();
    for (name, &e) in raw.efficiencies.iter().flatten() {
        if !(e >= 0.0 && e.is_finite()) {
            return Err(format!("efficiencies: {name}: {e} (must be finite and ≥ 0)"));
        }
        match (ctx.species)(name) {
            Some(i) => efficiencies.push((i, e)),
            None if ctx.skip_undeclared_third_bodies => {}
            None => return Err(format!("efficiencies: unknown species '{name}'")),
        }
    }
    let default = raw.default_efficiency.unwrap_or(1.0);
    if !(default >= 0.0 && default.is_finite()) {
        return Err(format!("default-efficiency: {default} (must be finite and ≥ 0)"));
    }
    Ok(ThirdBody { default, efficiencies })
}

/// Troe's parameters, each finite (`T2` when given).
fn troe(t: &RawTroe) -> Result<Troe, String> {
    for (name, v) in [("A", Some(t.a)), ("T3", Some(t.t3)), ("T1", Some(t.t1)), ("T2", t.t2)] {
        if let Some(v) = v.filter(|v| !v.is_finite()) {
            return Err(format!("Troe: {name}: {v} (must be finite)"));
        }
    }
    Ok(Troe { a: t.a, t3: t.t3, t1: t.t1, t2: t.t2 })
}

/// A `three-body` reaction written with its collider as a species on both sides
/// (`H + O2 + AR <=> HO2 + AR`).
fn explicit_collider(
    reactants: &mut Vec<(usize, f64)>,
    products: &mut Vec<(usize, f64)>,
    raw: &RawReaction,
) -> Result<ThirdBody, String> {
    let both: Vec<usize> =
        reactants.iter().filter(|(i, _)| products.iter().any(|(j, _)| j == i)).map(|(i, _)| *i).collect();
    let &[collider] = both.as_slice() else {
        return Err("a three-body reaction needs 'M' or one collider species on both sides".into());
    };
    if raw.efficiencies.is_some() || raw.default_efficiency.is_some() {
        return Err("efficiencies given for a reaction with an explicit collider".into());
    }
    for side in [reactants, products] {
        let k = side.iter().position(|(i, _)| *i == collider).expect("the collider is on this side");
        side[k].1 -= 1.0;
        if side[k].1 == 0.0 {
            side.remove(k);
        }
    }
    Ok(ThirdBody { default: 0.0, efficiencies: vec![(collider, 1.0)] })
}

fn arrhenius(k: &RawArrhenius, order: f64, raw: &RawReaction, units: &Units, field: &str) -> Result<Arrhenius, String> {
    let a = match &k.a {
        Value::Number(n) => n.as_f64().expect("YAML numbers are f64"),
        other => return Err(format!("{field}: A must be a number in the file's units (got {other:?})")),
    };
    let ta = match &k.ea {
        Value::Number(n) => units.activation_temperature(n.as_f64().expect("YAML numbers are f64")),
        Value::String(s) => Units::activation_string(s).map_err(|e| format!("{field}: Ea: {e}"))?,
        other => return Err(format!("{field}: Ea must be a number or '<number> <unit>' (got {other:?})")),
    };
    for (name, v) in [("A", a), ("b", k.b), ("Ea", ta)] {
        if !v.is_finite() {
            return Err(format!("{field}: {name}: {v} (must be finite)"));
        }
    }
    if a < 0.0 && !raw.negative_a {
        return Err(format!("{field}: negative A needs 'negative-A: true'"));
    }
    Ok(Arrhenius { a: a * units.rate_factor(order), b: k.b, ta })
}

fn plog(entries: &[RawPlogEntry], order: f64, raw: &RawReaction, units: &Units) -> Result<Rate, String> {
    let mut table: Vec<(f64, Vec<Arrhenius>)> = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        let field = format!("rate-constants[{n}]");
        let p = match &e.p {
            Value::Number(x) => units.pressure(x.as_f64().expect("YAML numbers are f64")),
            Value::String(s) => Units::pressure_string(s).map_err(|err| format!("{field}: P: {err}"))?,
            other => return Err(format!("{field}: P must be a number or '<number> <unit>' (got {other:?})")),
        };
        if !(p > 0.0 && p.is_finite()) {
            return Err(format!("{field}: P = {p} Pa (must be positive)"));
        }
        let k = arrhenius(&RawArrhenius { a: e.a.clone(), b: e.b, ea: e.ea.clone() }, order, raw, units, &field)?;
        match table.iter_mut().find(|(lp, _)| *lp == p.ln()) {
            Some((_, ks)) => ks.push(k),
            None => table.push((p.ln(), vec![k])),
        }
    }
    if table.is_empty() {
        return Err("rate-constants: empty".into());
    }
    if table.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("rate-constants: pressures must be given in ascending order".into());
    }
    Ok(Rate::Plog(table))
}
