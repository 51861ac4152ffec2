//! Mechanism files (TOML): species, initial state and reactions, given as `reactants` /
//! `products` tables or as an `equation = "2 B => B + C"` string, with optional power-law
//! `orders`. Every defect is an error that names the file and the field or reaction.

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;

use super::mechanism::{Mechanism, Reaction};
use stiffnode_solvers::limits::{MAX_COEFFICIENT, MAX_DIM, MAX_STATE};

/// A defect in a mechanism file, with the file it was found in.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{file}: {what}")]
pub struct MechanismError {
    /// The file (or built-in name).
    pub file: String,
    /// What is wrong, and where in the file.
    pub what: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMechanism {
    name: String,
    #[allow(dead_code)]
    description: Option<String>,
    species: Vec<String>,
    #[serde(default)]
    initial: BTreeMap<String, f64>,
    t_end: Option<f64>,
    #[serde(default)]
    reactions: Vec<FileReaction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReaction {
    name: Option<String>,
    reactants: Option<BTreeMap<String, f64>>,
    products: Option<BTreeMap<String, f64>>,
    equation: Option<String>,
    rate: f64,
    orders: Option<BTreeMap<String, f64>>,
}

/// Parse and validate mechanism TOML `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Mechanism, MechanismError> {
    let err = |what: String| MechanismError { file: file.to_string(), what };
    let raw: FileMechanism = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| {
            let line = text[..s.start].lines().count().max(1);
            format!("line {line}: ")
        });
        err(format!("{}{}", at.unwrap_or_default(), e.message()))
    })?;
    if raw.species.is_empty() {
        return Err(err("field 'species': the species list is empty".into()));
    }
    if raw.species.len() > MAX_DIM {
        let n = raw.species.len();
        return Err(err(format!(
            "field 'species': {n} species, more than the {MAX_DIM} that stiffnode's dense linear algebra takes \
             (a d×d Jacobian and iteration matrices per trajectory)"
        )));
    }
    let mut index = BTreeMap::new();
    for (i, s) in raw.species.iter().enumerate() {
        if let Some(why) = crate::names::species_name_defect(s) {
            return Err(err(format!("field 'species': {s:?} is not a species name: {why}")));
        }
        if s.contains(char::is_whitespace) {
            return Err(err(format!("field 'species': {s:?} is not a species name: no spaces")));
        }
        if index.insert(s.clone(), i).is_some() {
            return Err(err(format!("field 'species': species '{s}' is listed twice")));
        }
    }
    let lookup = |name: &str, place: &str| {
        index.get(name).copied().ok_or_else(|| err(format!("{place}: unknown species '{name}'")))
    };
    let finite = |x: f64, place: &str| {
        if x.is_finite() { Ok(x) } else { Err(err(format!("{place}: {x} is not a finite number"))) }
    };
    let mut initial = vec![0.0; raw.species.len()];
    for (name, &v) in &raw.initial {
        let place = format!("field 'initial.{name}'");
        let i = lookup(name, &place)?;
        if finite(v, &place)? < 0.0 {
            return Err(err(format!("{place}: initial value {v} is negative")));
        }
        if v > MAX_STATE {
            return Err(err(format!(
                "{place}: initial value {v} is above {MAX_STATE:e}, out of f64's range for rates"
            )));
        }
        initial[i] = v;
    }
    if let Some(t) = raw.t_end
        && finite(t, "field 't_end'")? <= 0.0
    {
        return Err(err(format!("field 't_end': {t} must be > 0")));
    }
    if raw.reactions.is_empty() {
        return Err(err("field 'reactions': the mechanism has no reactions".into()));
    }
    let mut reactions = Vec::with_capacity(raw.reactions.len());
    for (k, r) in raw.reactions.iter().enumerate() {
        let place = match &r.name {
            Some(n) => format!("reaction {} ('{n}')", k + 1),
            None => format!("reaction {}", k + 1),
        };
        if finite(r.rate, &format!("{place}, field 'rate'"))? <= 0.0 {
            return Err(err(format!("{place}, field 'rate': rate {} must be > 0", r.rate)));
        }
        let (reactants, products) = match (&r.equation, &r.reactants, &r.products) {
            (Some(eq), None, None) => {
                parse_equation(eq).map_err(|why| err(format!("{place}, field 'equation': {why} in \"{eq}\"")))?
            }
            (None, Some(_), _) | (None, _, Some(_)) => (
                r.reactants.clone().unwrap_or_default().into_iter().collect(),
                r.products.clone().unwrap_or_default().into_iter().collect(),
            ),
            (Some(_), _, _) => {
                return Err(err(format!("{place}: give either 'equation' or 'reactants'/'products', not both")));
            }
            (None, None, None) => return Err(err(format!("{place}: needs 'equation' or 'reactants'/'products'"))),
        };
        let side = |terms: Vec<(String, f64)>, field: &str| -> Result<Vec<(usize, f64)>, MechanismError> {
            terms
                .into_iter()
                .map(|(name, c)| {
                    let here = format!("{place}, field '{field}'");
                    let i = lookup(&name, &here)?;
                    if finite(c, &here)? <= 0.0 {
                        return Err(err(format!("{here}: coefficient {c} of '{name}' must be > 0")));
                    }
                    if c > MAX_COEFFICIENT {
                        return Err(err(format!("{here}: coefficient {c:e} of '{name}' is above {MAX_COEFFICIENT}")));
                    }
                    Ok((i, c))
                })
                .collect()
        };
        let reactants = side(reactants, "reactants")?;
        let products = side(products, "products")?;
        let orders = match &r.orders {
            None => reactants.clone(),
            Some(o) => {
                // Listed reactants take their order; the others keep their coefficient, as
                // Cantera's `orders` (a partial table is not "order 0 for the rest").
                let mut orders = reactants.clone();
                for (i, c) in side(o.clone().into_iter().collect(), "orders")? {
                    let Some(entry) = orders.iter_mut().find(|(k, _)| *k == i) else {
                        return Err(err(format!(
                            "{place}, field 'orders': '{}' is not a reactant of this reaction (orders are for \
                             its reactants)",
                            raw.species[i]
                        )));
                    };
                    entry.1 = c;
                }
                orders
            }
        };
        reactions.push(Reaction { name: r.name.clone(), reactants, products, orders, rate: r.rate });
    }
    Ok(Mechanism { name: raw.name, species: raw.species, initial, reactions, t_end: raw.t_end })
}

/// One side of a reaction equation: species names with their coefficients.
type Side = Vec<(String, f64)>;

/// `"2 B + C => A"`: sides split by `=>` (or `->`); terms by `+`; a term is `[coefficient] NAME`;
/// an empty side, `0` or `∅` is no species (a source or a decay).
fn parse_equation(eq: &str) -> Result<(Side, Side), String> {
    let sides: Vec<&str> = if eq.contains("=>") { eq.split("=>").collect() } else { eq.split("->").collect() };
    let [lhs, rhs] = sides.as_slice() else {
        return Err("expected exactly one '=>' between reactants and products".into());
    };
    Ok((parse_side(lhs)?, parse_side(rhs)?))
}

fn parse_side(side: &str) -> Result<Vec<(String, f64)>, String> {
    let side = side.trim();
    if side.is_empty() || side == "0" || side == "∅" {
        return Ok(Vec::new());
    }
    let mut out: Vec<(String, f64)> = Vec::new();
    for term in side.split('+') {
        let words: Vec<&str> = term.split_whitespace().collect();
        let (coef, name) = match words.as_slice() {
            [name] => (1.0, *name),
            [c, name] => (c.parse::<f64>().map_err(|_| format!("'{c}' is not a coefficient"))?, *name),
            [] => return Err("a '+' with nothing beside it".into()),
            _ => return Err(format!("cannot read the term '{}'", term.trim())),
        };
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, c)) => *c += coef,
            None => out.push((name.to_string(), coef)),
        }
    }
    Ok(out)
}
