//! Cantera YAML mechanism files (Cantera documentation, "YAML input file format"; what `ck2yaml`
//! writes from Chemkin files): the `units` block, an ideal-gas phase with its elements, species
//! and initial state, the species' NASA-7 thermo, and the reactions. What stiffnode does not
//! model is an error that names the file, the entry and the field — never skipped in silence.
//! Data that 0-D kinetics does not use (transport, notes, the file's provenance) are accepted.

mod equation;
mod reaction;
mod species;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use serde_yaml_ng::Value;
use thiserror::Error;

pub use species::atomic_weight;

use super::mechanism::{GasMechanism, GasReaction, Rate, Species};
use super::state::{Composition, GasState};
use super::units::Units;

/// A defect in a mechanism file: the file, then what and where (`reaction 5 '…': field: …`).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{file}: {what}")]
pub struct CanteraError {
    /// The file.
    pub file: String,
    /// What is wrong, and where in the file.
    pub what: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    #[serde(default)]
    units: BTreeMap<String, String>,
    #[serde(default)]
    phases: Vec<RawPhase>,
    #[serde(default)]
    species: Vec<Value>,
    /// `reactions` and any other named reaction sections.
    #[serde(flatten)]
    sections: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPhase {
    name: String,
    thermo: String,
    elements: Option<Vec<String>>,
    species: Option<Vec<String>>,
    kinetics: Option<String>,
    reactions: Option<Value>,
    state: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    skip_undeclared_third_bodies: bool,
    #[allow(dead_code)]
    transport: Option<Value>,
    #[allow(dead_code)]
    note: Option<Value>,
}

/// Top-level keys that describe the file rather than the mechanism.
const PROVENANCE: [&str; 6] = ["description", "generator", "input-files", "cantera-version", "date", "git-commit"];

/// Read the ideal-gas phase `phase` (the file's first phase when `None`) of the Cantera YAML
/// file at `path`.
pub fn load(path: &str, phase: Option<&str>) -> Result<GasMechanism, CanteraError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CanteraError { file: path.into(), what: format!("cannot read: {e}") })?;
    parse(&text, path, phase)
}

/// Parse Cantera YAML `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str, phase: Option<&str>) -> Result<GasMechanism, CanteraError> {
    let err = |what: String| CanteraError { file: file.to_string(), what };
    let raw: RawFile = serde_yaml_ng::from_str(text).map_err(|e| err(e.to_string()))?;
    let units = Units::from_block(&raw.units).map_err(err)?;
    let ph = match phase {
        Some(name) => raw.phases.iter().find(|p| p.name == name).ok_or_else(|| err(format!("no phase '{name}'")))?,
        None => raw.phases.first().ok_or_else(|| err("no phases".into()))?,
    };
    let at = |what: String| err(format!("phase '{}': {what}", ph.name));
    if ph.thermo != "ideal-gas" {
        return Err(at(format!("thermo '{}' is not supported (ideal-gas is)", ph.thermo)));
    }
    let species = phase_species(ph, &raw.species).map_err(at)?;
    let elements = ph.elements.clone().unwrap_or_default();
    for s in &species {
        if let Some((e, _)) = s.composition.iter().find(|(e, _)| !elements.is_empty() && !elements.contains(e)) {
            return Err(at(format!("species '{}': element '{e}' is not among the phase's elements", s.name)));
        }
    }
    let mut mech = GasMechanism { name: format!("{file}#{}", ph.name), species, reactions: Vec::new(), state: None };
    let index: HashMap<&str, usize> = mech.species.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let lookup = |name: &str| index.get(name).copied();
    let ctx = reaction::Context {
        units: &units,
        species: &lookup,
        skip_undeclared_third_bodies: ph.skip_undeclared_third_bodies,
    };
    let mut reactions = Vec::new();
    for (section, entries) in reaction_sections(ph, &raw.sections).map_err(at)? {
        for (n, v) in entries.iter().enumerate() {
            let name = v.get("equation").and_then(Value::as_str).unwrap_or("?");
            let label = if section == "reactions" {
                format!("reaction {}", n + 1)
            } else {
                format!("{section} reaction {}", n + 1)
            };
            let r = reaction::parse(v, &ctx)
                .and_then(|r| check_balance(&r, &mech.species).map(|()| r))
                .map_err(|e| err(format!("{label}: '{name}': {e}")))?;
            reactions.push(r);
        }
    }
    check_duplicates(&reactions).map_err(err)?;
    mech.state = ph.state.as_ref().map(|s| state(s, &mech)).transpose().map_err(|e| at(format!("state: {e}")))?;
    mech.reactions = reactions;
    for key in raw.sections.keys() {
        let used = key == "reactions"
            || PROVENANCE.contains(&key.as_str())
            || raw.phases.iter().any(|p| names_section(p, key));
        if !used {
            return Err(err(format!("unknown top-level key '{key}'")));
        }
    }
    Ok(mech)
}

/// The phase's species, in its order (all species of the file when the phase has no list).
fn phase_species(ph: &RawPhase, entries: &[Value]) -> Result<Vec<super::mechanism::Species>, String> {
    let names: Vec<String> = match &ph.species {
        Some(list) => list.clone(),
        None => entries.iter().filter_map(|v| species::name_of(v).map(String::from)).collect(),
    };
    if names.is_empty() {
        return Err("no species".into());
    }
    // Every entry once: a second entry of a name would otherwise be ignored in silence.
    let mut by_name: HashMap<&str, &Value> = HashMap::with_capacity(entries.len());
    for v in entries {
        if let Some(name) = species::name_of(v)
            && by_name.insert(name, v).is_some()
        {
            return Err(format!("species {name:?} has two entries in 'species'"));
        }
    }
    let mut listed = HashSet::with_capacity(names.len());
    names
        .iter()
        .map(|name| {
            if let Some(why) = crate::names::species_name_defect(name) {
                return Err(format!("species {name:?} is not a species name: {why}"));
            }
            if !listed.insert(name.as_str()) {
                return Err(format!("species '{name}' is listed twice"));
            }
            let entry =
                by_name.get(name.as_str()).ok_or_else(|| format!("species '{name}' has no entry in 'species'"))?;
            species::parse(entry)
        })
        .collect()
}

/// Refuse a reaction whose atoms of some element differ between its reactants and products (as
/// Cantera does: `|products − reactants| > 10⁻⁴ (products + reactants)`), naming the elements.
fn check_balance(r: &GasReaction, species: &[Species]) -> Result<(), String> {
    let mut atoms: BTreeMap<String, [f64; 2]> = BTreeMap::new();
    for (side, terms) in [&r.reactants, &r.products].into_iter().enumerate() {
        for &(k, nu) in terms {
            for (element, n) in &species[k].composition {
                atoms.entry(element_symbol(element)).or_default()[side] += nu * n;
            }
        }
    }
    let unbalanced: Vec<String> = atoms
        .iter()
        .filter(|(_, [lhs, rhs])| (rhs - lhs).abs() > 1e-4 * (lhs + rhs))
        .map(|(e, [lhs, rhs])| format!("{e}: {lhs} in the reactants, {rhs} in the products"))
        .collect();
    if unbalanced.is_empty() { Ok(()) } else { Err(format!("unbalanced: {}", unbalanced.join("; "))) }
}

/// An element's symbol with Cantera's capitalization (`AR` and `ar` are `Ar`).
fn element_symbol(e: &str) -> String {
    let mut symbol: String = e.chars().take(1).flat_map(char::to_uppercase).collect();
    symbol.extend(e.chars().skip(1).flat_map(char::to_lowercase));
    symbol
}

/// Whether phase `p` takes its reactions from the top-level section `key`.
fn names_section(p: &RawPhase, key: &str) -> bool {
    matches!(&p.reactions, Some(Value::Sequence(list)) if list.iter().any(|v| v.as_str() == Some(key)))
}

/// The reaction sections a phase uses: `reactions` by default, `none`, or a list of sections.
fn reaction_sections<'v>(
    ph: &RawPhase,
    sections: &'v BTreeMap<String, Value>,
) -> Result<Vec<(String, &'v [Value])>, String> {
    if ph.kinetics.is_none() {
        return Ok(Vec::new());
    }
    if ph.kinetics.as_deref() != Some("gas") {
        return Err(format!("kinetics '{}' is not supported (gas is)", ph.kinetics.as_deref().unwrap_or_default()));
    }
    let names: Vec<String> = match &ph.reactions {
        None => vec!["reactions".into()],
        Some(Value::String(s)) if s == "all" => vec!["reactions".into()],
        Some(Value::String(s)) if s == "none" => Vec::new(),
        Some(Value::Sequence(list)) => list
            .iter()
            .map(|v| v.as_str().map(String::from).ok_or("reactions: a list of section names"))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("reactions: {other:?} is not supported ('all', 'none' or section names)")),
    };
    names
        .into_iter()
        .map(|name| match sections.get(&name) {
            Some(Value::Sequence(list)) => Ok((name, list.as_slice())),
            Some(_) => Err(format!("section '{name}' is not a list of reactions")),
            None if name == "reactions" => Ok((name, &[][..])),
            None => Err(format!("no reaction section '{name}'")),
        })
        .collect()
}

/// Reactions with the same reactants, products and kind of third body must be declared
/// `duplicate`, and a declared duplicate must have its twin (as Cantera requires). A reaction
/// written the other way round is the same reaction when either of the two is reversible
/// (`A + B <=> C` and `C <=> A + B`, or `C => A + B`); two irreversible reactions in opposite
/// directions are not. Reactions are grouped by a hash of their unordered pair of sides, so the
/// check takes time linear in the number of reactions.
fn check_duplicates(reactions: &[GasReaction]) -> Result<(), String> {
    type SideKey = Vec<(usize, u64)>;
    type ThirdBodyKey = Option<(u64, Vec<(usize, u64)>)>;
    let sorted = |s: &[(usize, f64)]| -> SideKey {
        let mut v: Vec<(usize, u64)> = s.iter().map(|&(i, c)| (i, c.to_bits())).collect();
        v.sort_unstable();
        v
    };
    // Per reaction: the key of its group and whether it is written in the group's direction.
    let mut groups: HashMap<(SideKey, SideKey, ThirdBodyKey, std::mem::Discriminant<Rate>), Vec<usize>> =
        HashMap::with_capacity(reactions.len());
    let mut forward = vec![true; reactions.len()];
    for (i, r) in reactions.iter().enumerate() {
        let (lhs, rhs) = (sorted(&r.reactants), sorted(&r.products));
        let tb = r.third_body.as_ref().map(|t| {
            let mut e: Vec<(usize, u64)> = t.efficiencies.iter().map(|&(i, e)| (i, e.to_bits())).collect();
            e.sort_unstable();
            (t.default.to_bits(), e)
        });
        forward[i] = lhs <= rhs;
        let (a, b) = if forward[i] { (lhs, rhs) } else { (rhs, lhs) };
        groups.entry((a, b, tb, std::mem::discriminant(&r.rate))).or_default().push(i);
    }
    let same =
        |i: usize, j: usize| i != j && (forward[i] == forward[j] || reactions[i].reversible || reactions[j].reversible);
    // The first reaction (in file order) with a twin it may not have, and that twin.
    let mut first: Option<(usize, usize)> = None;
    for members in groups.values().filter(|m| m.len() > 1 || reactions[m[0]].duplicate) {
        // Counts per direction: all, reversible, undeclared, reversible and undeclared.
        let mut counts = [[0usize; 4]; 2];
        for &j in members {
            let (r, c) = (&reactions[j], &mut counts[usize::from(forward[j])]);
            c[0] += 1;
            c[1] += usize::from(r.reversible);
            c[2] += usize::from(!r.duplicate);
            c[3] += usize::from(r.reversible && !r.duplicate);
        }
        for &i in members {
            let r = &reactions[i];
            let (own, other) = (counts[usize::from(forward[i])], counts[usize::from(!forward[i])]);
            // Twins of i: the others its way round, and those the other way round when either
            // is reversible; those of them that are not declared duplicates.
            let twins = own[0] - 1 + if r.reversible { other[0] } else { other[1] };
            let undeclared = own[2] - usize::from(!r.duplicate) + if r.reversible { other[2] } else { other[3] };
            let bad = if r.duplicate { undeclared > 0 } else { twins > 0 };
            if (bad || (r.duplicate && twins == 0)) && first.is_none_or(|(f, _)| i < f) {
                let twin = members.iter().copied().find(|&j| same(i, j) && !(r.duplicate && reactions[j].duplicate));
                first = Some((i, twin.unwrap_or(i)));
            }
        }
    }
    match first {
        Some((i, j)) if i == j => Err(format!(
            "reaction {} '{}': declared duplicate, but no other reaction is the same",
            i + 1,
            reactions[i].equation
        )),
        Some((i, j)) => {
            let (a, b) = (i.min(j), i.max(j));
            Err(format!(
                "reactions {} '{}' and {} '{}' are the same reaction: declare both 'duplicate: true'",
                a + 1,
                reactions[a].equation,
                b + 1,
                reactions[b].equation
            ))
        }
        None => Ok(()),
    }
}

/// The phase's `state`: `T`, `P` and `X` or `Y` (a map or `"A: 1, B: 2"`).
fn state(raw: &BTreeMap<String, Value>, mech: &GasMechanism) -> Result<GasState, String> {
    let mut st = GasState { t: None, p: None, composition: None };
    for (key, v) in raw {
        match key.as_str() {
            "T" | "temperature" => st.t = Some(v.as_f64().ok_or("T must be a number (K)")?),
            "P" | "pressure" => {
                st.p = Some(match v {
                    Value::String(s) => Units::pressure_string(s)?,
                    other => other.as_f64().ok_or("P must be a number (Pa) or '<number> <unit>'")?,
                })
            }
            "X" | "mole-fractions" => st.composition = Some(Composition::Mole(fractions(v, mech)?)),
            "Y" | "mass-fractions" => st.composition = Some(Composition::Mass(fractions(v, mech)?)),
            other => return Err(format!("'{other}' is not supported (T, P, X, Y are)")),
        }
    }
    Ok(st)
}

/// A composition map or string as values per species in state order, unnormalized.
pub fn fractions(v: &Value, mech: &GasMechanism) -> Result<Vec<f64>, String> {
    let pairs: Vec<(String, f64)> = match v {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, x)| {
                Ok((
                    k.as_str().ok_or("species names are strings")?.to_string(),
                    x.as_f64().ok_or("fractions are numbers")?,
                ))
            })
            .collect::<Result<_, String>>()?,
        Value::String(s) => super::state::parse_composition(s)?,
        _ => return Err("a composition is a map or a string 'A: 1, B: 2'".into()),
    };
    super::state::by_species(&pairs, mech)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reaction(reactants: Vec<(usize, f64)>, products: Vec<(usize, f64)>) -> GasReaction {
        GasReaction {
            equation: format!("{reactants:?} <=> {products:?}"),
            orders: reactants.clone(),
            reactants,
            products,
            reversible: true,
            rate: Rate::Arrhenius(crate::gas::Arrhenius { a: 1.0, b: 0.0, ta: 0.0 }),
            third_body: None,
            duplicate: false,
        }
    }

    /// 100,000 distinct reactions, then the reverse of the first: the check is linear (a
    /// pairwise check took 22 s for 60,000 reactions) and finds the pair at both ends.
    #[test]
    fn the_duplicate_check_is_linear_in_the_reactions() {
        let n = 100_000;
        let mut reactions: Vec<GasReaction> =
            (0..n).map(|i| reaction(vec![(i % 1000, 1.0), (1000 + i / 1000, 1.0)], vec![(2000, 1.0)])).collect();
        let start = std::time::Instant::now();
        assert_eq!(check_duplicates(&reactions), Ok(()));
        reactions.push(reaction(vec![(2000, 1.0)], vec![(1000, 1.0), (0, 1.0)]));
        let e = check_duplicates(&reactions).unwrap_err();
        assert!(e.starts_with(&format!("reactions 1 '{}' and {} '", reactions[0].equation, n + 1)), "{e}");
        assert!(start.elapsed().as_secs_f64() < 10.0, "{:?}", start.elapsed());
    }
}
