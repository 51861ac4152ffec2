//! Cantera YAML mechanisms against Cantera 3.2.0's own numbers: NASA-7 thermo, forward and
//! reverse rate constants, equilibrium constants, third-body concentrations, rates of progress
//! and production rates, for the shipped H2/O2 mechanism and a test mechanism with every
//! supported rate type and non-default units. The reference values were produced by
//! `/tmp/ctenv/bin/python scripts/cantera_references.py` (cantera 3.2.0 from PyPI) and are
//! stored in `tests/data/cantera/*.json`; the command is in each file's `source`.

use std::path::PathBuf;

use serde_json::Value;
use stiffnode_chemistry::gas::{self, GasMechanism, units::GAS_CONSTANT};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cantera").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mechanism(file: &str) -> GasMechanism {
    gas::load(root().join(file).to_str().unwrap(), None).unwrap()
}

fn floats(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

/// `|a − b| ≤ tol·max(|a|, |b|)` (both exactly zero passes).
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs())
}

#[test]
fn nasa7_thermo_and_molecular_weights_match_cantera() {
    let t = data("thermo.json");
    let mech = mechanism("datasets/mechanisms/h2o2.yaml");
    assert_eq!(t["gas_constant"].as_f64().unwrap(), GAS_CONSTANT);
    let mut checked = 0;
    for s in &mech.species {
        let reference = &t["species"][&s.name];
        assert!(close(s.weight, reference["molecular_weight"].as_f64().unwrap(), 1e-14), "{}: weight", s.name);
        for row in reference["values"].as_array().unwrap() {
            let temp = row["T"].as_f64().unwrap();
            let r = GAS_CONSTANT;
            let ours = [
                ("cp", s.thermo.cp_r(temp) * r),
                ("h", s.thermo.h_rt(temp) * r * temp),
                ("s", s.thermo.s_r(temp) * r),
                ("g0", s.thermo.g_rt(temp) * r * temp),
            ];
            for (what, v) in ours {
                let expected = row[what].as_f64().unwrap();
                assert!(close(v, expected, 1e-12), "{} {what} at {temp} K: {v} vs Cantera {expected}", s.name);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 10 * 6 * 4);
}

/// Every rate quantity of `name` (a mechanism in rates.json) at every (T, P) against Cantera.
fn rates_match(name: &str, file: &str) {
    let all = data("rates.json");
    let reference = &all["mechanisms"][name];
    let mech = mechanism(file);
    let names: Vec<&str> = reference["species"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let ours: Vec<&str> = mech.species.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(ours, names, "{name}: species order");
    assert_eq!(mech.reactions.len(), reference["reactions"].as_array().unwrap().len());
    let tol = 1e-10;
    for case in reference["cases"].as_array().unwrap() {
        let t = case["T"].as_f64().unwrap();
        let conc: Vec<f64> = floats(&case["concentrations"]).into_iter().map(Option::unwrap).collect();
        let rates = mech.rates(t, &conc, None);
        let at = format!("{name} at T = {t} K, P = {} atm", case["P_atm"]);
        for (what, ours) in [
            ("forward_rate_constants", &rates.forward_constants),
            ("reverse_rate_constants", &rates.reverse_constants),
            ("forward_rates_of_progress", &rates.forward),
            ("reverse_rates_of_progress", &rates.reverse),
        ] {
            for (i, (a, b)) in ours.iter().zip(floats(&case[what])).enumerate() {
                let b = b.unwrap();
                assert!(close(*a, b, tol), "{at}: {what}[{i}] '{}': {a} vs Cantera {b}", mech.reactions[i].equation);
            }
        }
        for (i, (a, b)) in rates.equilibrium_constants.iter().zip(floats(&case["equilibrium_constants"])).enumerate() {
            let b = b.unwrap();
            assert!(close(*a, b, 1e-10), "{at}: Kc[{i}]: {a} vs Cantera {b}");
        }
        for (i, (a, b)) in rates.third_body.iter().zip(floats(&case["third_body_concentrations"])).enumerate() {
            // Cantera turns `A + B + X <=> C + X` into a three-body reaction with collider X;
            // stiffnode keeps it elementary (the same rates): [M] is compared where both have it.
            if let (Some(a), Some(b)) = (a, b) {
                assert!(close(*a, b, 1e-12), "{at}: [M][{i}]: {a} vs Cantera {b}");
            }
        }
        // Production rates sum terms of both signs: compare against the size of the terms.
        let wdot = mech.production_rates(t, &conc, None);
        let scale: f64 = rates.forward.iter().chain(&rates.reverse).map(|q| 2.0 * q.abs()).sum();
        for (k, (a, b)) in wdot.iter().zip(floats(&case["net_production_rates"])).enumerate() {
            let b = b.unwrap();
            assert!((a - b).abs() <= tol * scale, "{at}: wdot[{}]: {a} vs Cantera {b}", names[k]);
        }
    }
}

#[test]
fn every_rate_type_matches_cantera_in_cgs_mole_units() {
    rates_match("rates-test", "crates/chemistry/tests/data/cantera/rates-test.yaml");
}

#[test]
fn the_shipped_h2o2_mechanism_matches_cantera() {
    rates_match("h2o2", "datasets/mechanisms/h2o2.yaml");
}

/// The test mechanism's text with `from` replaced by `to` (which must occur).
fn edited(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(root().join("crates/chemistry/tests/data/cantera/rates-test.yaml")).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

fn error_of(text: &str) -> String {
    let e = gas::cantera::parse(text, "bad.yaml", None).expect_err("the file is refused");
    let message = e.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(message.starts_with("bad.yaml: "), "names the file: {message}");
    message
}

#[test]
fn defects_are_one_line_errors_naming_file_entry_and_field() {
    let cases = [
        // Malformed YAML: the parser's position.
        (edited("reactions:\n", "reactions:\n  - [unclosed\n"), "line"),
        (
            edited("- equation: O + H2 <=> H + OH  # R1", "- equation: O + XY <=> H + OH"),
            "reaction 1: 'O + XY <=> H + OH': equation: unknown species 'XY'",
        ),
        (
            edited("  efficiencies: {H2: 2.4, H2O: 15.4, AR: 0.83}", "  efficiencies: {H2: 2.4, QQ: 15.4}"),
            "reaction 5: '2 O + M <=> O2 + M': efficiencies: unknown species 'QQ'",
        ),
        (
            edited("  type: pressure-dependent-Arrhenius", "  type: Chebyshev"),
            "reaction 11: 'H + HO2 <=> 2 OH': type 'Chebyshev' is not supported",
        ),
        (
            edited("  Troe: {A: 0.5, T3: 1.0e-30, T1: 1.0e+30}", "  SRI: {A: 0.5, B: 1.0, C: 2.0}"),
            "reaction 10: 'H + O2 (+M) <=> HO2 (+M)': unknown field `SRI`",
        ),
        (
            edited("  negative-A: true\n", ""),
            "reaction 13: 'OH + HO2 <=> O2 + H2O': rate-constant: negative A needs 'negative-A: true'",
        ),
        (
            edited("  duplicate: true\n  negative-A: true", "  negative-A: true"),
            "are the same reaction: declare both 'duplicate: true'",
        ),
        (
            edited("  rate-constant: {A: 3.87e+04, b: 2.7, Ea: 6260.0}", "  rate-constant: {A: 3.87e+04, b: 2.7}"),
            "reaction 1: 'O + H2 <=> H + OH': missing field `Ea`",
        ),
        (edited("units: {length: cm,", "units: {length: furlong,"), "units: length: unknown unit 'furlong'"),
        (
            edited("  thermo: ideal-gas", "  thermo: Redlich-Kwong"),
            "phase 'gas': thermo 'Redlich-Kwong' is not supported",
        ),
        (
            edited("  species: [H2, O2,", "  species: [H2, O3, O2,"),
            "phase 'gas': species 'O3' has no entry in 'species'",
        ),
    ];
    for (text, expected) in &cases {
        let message = error_of(text);
        assert!(message.contains(expected), "expected '{expected}' in: {message}");
    }
}

#[test]
fn a_species_without_thermo_is_named() {
    let text =
        edited("- name: H2\n  composition: {H: 2}\n  thermo:\n", "- name: H2\n  composition: {H: 2}\n  nothermo:\n");
    let message = error_of(&text);
    assert!(message.contains("species 'H2'"), "{message}");
    let text = std::fs::read_to_string(root().join("crates/chemistry/tests/data/cantera/rates-test.yaml")).unwrap();
    let start = text.find("- name: H2\n").unwrap();
    let end = start + text[start..].find("- name: O2\n").unwrap();
    let without_thermo = format!("{}- name: H2\n  composition: {{H: 2}}\n{}", &text[..start], &text[end..]);
    assert_eq!(error_of(&without_thermo), "bad.yaml: phase 'gas': species 'H2': no thermo (NASA7 data are needed)");
}

// ---- Silently wrong files (issue 33): each kind of defect is a one-line load error. ----

use proptest::prelude::*;
use serde_yaml_ng::Value as Yaml;

/// The test mechanism as YAML data.
fn rates_test() -> Yaml {
    let text = std::fs::read_to_string(root().join("crates/chemistry/tests/data/cantera/rates-test.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn yaml_text(v: &Yaml) -> String {
    serde_yaml_ng::to_string(v).unwrap()
}

/// A mechanism file of species `Sk` with compositions `atoms[k]` (counts of H, O, C, N) and
/// one-range constant-cp thermo, and `reactions` (YAML list entries).
fn synthetic(names: &[String], atoms: &[[u32; 4]], reactions: &str) -> String {
    let mut text = format!(
        "phases:\n- name: gas\n  thermo: ideal-gas\n  elements: [H, O, C, N]\n  species: {names:?}\n  kinetics: gas\nspecies:\n"
    );
    for (name, a) in names.iter().zip(atoms) {
        let comp: Vec<String> =
            ["H", "O", "C", "N"].iter().zip(a).filter(|(_, n)| **n > 0).map(|(e, n)| format!("{e}: {n}")).collect();
        text += &format!(
            "- name: {name}\n  composition: {{{}}}\n  thermo:\n    model: NASA7\n    temperature-ranges: [200.0, 6000.0]\n    data:\n    - [3.5, 0.0, 0.0, 0.0, 0.0, -1000.0, 4.0]\n",
            comp.join(", ")
        );
    }
    format!("{text}reactions:\n{reactions}")
}

/// `2 S0 + S3` from (species, coefficient) terms.
fn side_text(terms: &[(usize, u32)], prefix: &str) -> String {
    terms
        .iter()
        .map(|&(k, c)| if c == 1 { format!("{prefix}{k}") } else { format!("{c} {prefix}{k}") })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn compositions() -> impl Strategy<Value = Vec<[u32; 4]>> {
    prop::collection::vec(prop::array::uniform4(0u32..3), 4)
        .prop_map(|v| v.into_iter().map(|a| if a == [0; 4] { [1, 0, 0, 0] } else { a }).collect())
}

fn sides() -> impl Strategy<Value = Vec<(usize, u32)>> {
    prop::collection::vec((0usize..4, 1u32..3), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A reaction loads exactly when every element has as many atoms among its reactants as
    /// among its products; otherwise the error names the reaction and each unbalanced element
    /// with both counts.
    #[test]
    fn unbalanced_reactions_are_refused_naming_their_elements(
        atoms in compositions(), lhs in sides(), rhs in sides(), reversible in any::<bool>(),
    ) {
        let names: Vec<String> = (0..4).map(|k| format!("S{k}")).collect();
        let eq = format!("{} {} {}", side_text(&lhs, "S"), if reversible { "<=>" } else { "=>" }, side_text(&rhs, "S"));
        let text = synthetic(&names, &atoms, &format!("- equation: {eq}\n  rate-constant: {{A: 1.0, b: 0.0, Ea: 0.0}}\n"));
        let count = |side: &[(usize, u32)], e: usize| side.iter().map(|&(k, c)| c * atoms[k][e]).sum::<u32>();
        let unbalanced: Vec<String> = (0..4)
            .filter(|&e| count(&lhs, e) != count(&rhs, e))
            .map(|e| format!("{}: {} in the reactants, {} in the products", ["H", "O", "C", "N"][e], count(&lhs, e), count(&rhs, e)))
            .collect();
        match gas::cantera::parse(&text, "bad.yaml", None) {
            Ok(_) => prop_assert!(unbalanced.is_empty(), "{eq} loaded, unbalanced in {unbalanced:?}"),
            Err(e) => {
                let message = e.to_string();
                prop_assert!(!unbalanced.is_empty(), "{eq} is balanced but refused: {message}");
                prop_assert!(message.starts_with(&format!("bad.yaml: reaction 1: '{eq}': unbalanced: ")), "{message}");
                for u in &unbalanced {
                    prop_assert!(message.contains(u.as_str()), "'{u}' missing from: {message}");
                }
            }
        }
    }

    /// Declared and undeclared duplicates against Cantera's rule, pair by pair: two reactions
    /// are the same when their reactants and products are, or when each one's reactants are the
    /// other's products and either is reversible. Same reactions must both be declared
    /// `duplicate`, and a declared duplicate must have a twin; an error names reactions that
    /// break the rule.
    #[test]
    fn duplicates_follow_cantera_including_reversed_reactions(
        reactions in prop::collection::vec(
            (1usize..3).prop_flat_map(|n| (
                prop::collection::vec(0usize..3, n), prop::collection::vec(0usize..3, n), any::<bool>(), any::<bool>(),
            )),
            2..6,
        ),
    ) {
        let names: Vec<String> = (0..3).map(|k| format!("I{k}")).collect();
        let sorted = |v: &[usize]| { let mut v = v.to_vec(); v.sort(); v };
        let mut entries = String::new();
        for (lhs, rhs, reversible, duplicate) in &reactions {
            let text = |v: &[usize]| v.iter().map(|k| format!("I{k}")).collect::<Vec<_>>().join(" + ");
            let arrow = if *reversible { "<=>" } else { "=>" };
            entries += &format!("- equation: {} {arrow} {}\n  rate-constant: {{A: 1.0, b: 0.0, Ea: 0.0}}\n", text(lhs), text(rhs));
            if *duplicate {
                entries += "  duplicate: true\n";
            }
        }
        // Isomers: every reaction with as many molecules on each side balances.
        let text = synthetic(&names, &[[2, 0, 0, 0]; 3], &entries);
        let same = |i: usize, j: usize| {
            let (a, b) = (&reactions[i], &reactions[j]);
            let forward = sorted(&a.0) == sorted(&b.0) && sorted(&a.1) == sorted(&b.1);
            let reverse = sorted(&a.0) == sorted(&b.1) && sorted(&a.1) == sorted(&b.0) && (a.2 || b.2);
            i != j && (forward || reverse)
        };
        let n = reactions.len();
        let undeclared = |i: usize, j: usize| same(i, j) && !(reactions[i].3 && reactions[j].3);
        let lonely = |i: usize| reactions[i].3 && !(0..n).any(|j| same(i, j));
        let wrong = (0..n).any(|i| lonely(i) || (0..n).any(|j| undeclared(i, j)));
        match gas::cantera::parse(&text, "dup.yaml", None) {
            Ok(_) => prop_assert!(!wrong, "accepted:\n{entries}"),
            Err(e) => {
                let message = e.to_string();
                prop_assert!(wrong, "refused: {message}\n{entries}");
                // "reactions a '…' and b '…' are the same reaction" or "reaction a '…': declared duplicate, …".
                let numbers: Vec<usize> = message
                    .split_whitespace()
                    .filter_map(|w| w.parse::<usize>().ok())
                    .collect();
                if message.contains("are the same reaction") {
                    prop_assert!(undeclared(numbers[0] - 1, numbers[1] - 1), "{message}\n{entries}");
                } else {
                    prop_assert!(message.contains("declared duplicate, but no other reaction is the same"), "{message}");
                    prop_assert!(lonely(numbers[0] - 1), "{message}\n{entries}");
                }
            }
        }
    }

    /// Negative collision efficiencies, listed or default, are refused by reaction and field.
    #[test]
    fn negative_efficiencies_are_refused(v in -1.0e6f64..-1.0e-12, default in any::<bool>()) {
        let mut m = rates_test();
        let r6 = &mut m["reactions"][5];
        let field = if default {
            r6["default-efficiency"] = Yaml::from(v);
            "default-efficiency".to_string()
        } else {
            r6["efficiencies"]["H2O"] = Yaml::from(v);
            "efficiencies: H2O".to_string()
        };
        let message = error_of(&yaml_text(&m));
        prop_assert!(message.contains(&format!("reaction 6: 'H + OH + M <=> H2O + M': {field}: {v}")), "{message}");
    }

    /// A NASA-7 fit whose two ranges disagree at the midpoint temperature in one property by
    /// more than 1e-2 relative (on the scales of Cantera's check: `|cp/R|` for cp/R and h/RT,
    /// `|s/R| + cp/R` for s/R) is refused, naming the species and the property; within 5e-3 it
    /// loads. The high row is edited so that only the one property changes at the midpoint: a0
    /// with a5 and a6 compensating (cp/R), a5 (h/RT), a6 (s/R).
    #[test]
    fn thermo_discontinuous_at_the_midpoint_is_refused(
        k in 0usize..10, which in 0usize..3, size in prop_oneof![1.0e-6f64..5.0e-3, 2.0e-2f64..10.0], up in any::<bool>(),
    ) {
        let text = std::fs::read_to_string(root().join("datasets/mechanisms/h2o2.yaml")).unwrap();
        let mut m: Yaml = serde_yaml_ng::from_str(&text).unwrap();
        let mech = gas::cantera::parse(&text, "h2o2.yaml", None).unwrap();
        let s = &mech.species[k];
        let t = s.thermo.ranges[1];
        let (cp, sr) = (s.thermo.cp_r(t), s.thermo.s_r(t));
        let sign = if up { 1.0 } else { -1.0 };
        let entry = m["species"].as_sequence_mut().unwrap().iter_mut().find(|e| e["name"].as_str() == Some(&s.name)).unwrap();
        let high = &mut entry["thermo"]["data"][1];
        let mut shift = |i: usize, by: f64| {
            let c = high[i].as_f64().unwrap();
            high[i] = Yaml::from(c + by);
        };
        let what = match which {
            0 => {
                let d = sign * size * (cp.abs() + 1e-4);
                shift(0, d);
                shift(5, -d * t);
                shift(6, -d * t.ln());
                "cp/R"
            }
            1 => {
                shift(5, sign * size * t * cp.abs());
                "h/RT"
            }
            _ => {
                shift(6, sign * size * (sr.abs() + cp.abs()));
                "s/R"
            }
        };
        match gas::cantera::parse(&yaml_text(&m), "bad.yaml", None) {
            Ok(_) => prop_assert!(size < 1e-2, "{} with a {what} mismatch of {size} loaded", s.name),
            Err(e) => {
                let message = e.to_string();
                prop_assert!(size > 1e-2 && !message.contains('\n'), "{message}");
                prop_assert!(
                    message.contains(&format!("species '{}': thermo: data: {what} is not continuous at the midpoint temperature 1000 K", s.name)),
                    "{message}"
                );
            }
        }
    }

    /// A species name that would break the CSV header of a dataset (a comma, a quote, a control
    /// character such as a newline, whitespace at either end, or empty) is refused by name; a
    /// name made of the usual characters loads.
    #[test]
    fn species_names_that_break_a_csv_header_are_refused(name in bad_name(), good in "Q[A-Za-z0-9()*+-]{0,8}") {
        for (name, bad) in [(name, true), (good, false)] {
            let mut m = rates_test();
            m["phases"][0]["species"].as_sequence_mut().unwrap().push(Yaml::from(name.clone()));
            let mut entry = m["species"][0].clone();
            entry["name"] = Yaml::from(name.clone());
            m["species"].as_sequence_mut().unwrap().push(entry);
            let result = gas::cantera::parse(&yaml_text(&m), "bad.yaml", None);
            if bad {
                let message = result.expect_err("refused").to_string();
                prop_assert!(!message.contains('\n'), "{message}");
                prop_assert!(message.starts_with(&format!("bad.yaml: phase 'gas': species {name:?} is not a species name: ")), "{message}");
            } else {
                prop_assert!(result.is_ok(), "{name:?}: {result:?}");
            }
        }
    }

    /// An initial temperature outside the range every species' thermo covers (300 to 3500 K for
    /// h2o2.yaml), given or as an end of the sweep, is refused, naming the range; inside it loads.
    #[test]
    fn an_initial_temperature_outside_the_thermo_range_is_refused(
        t in prop_oneof![1.0f64..299.9, 300.0f64..3500.0, 3500.1f64..1.0e5], in_sweep in any::<bool>(),
    ) {
        let mechanism = root().join("datasets/mechanisms/h2o2.yaml");
        let (t0, sweep) = if in_sweep { (1000.0, format!("sweep:\n  T: [{}, {}]\n", t.min(1000.0), t.max(1000.0))) } else { (t, String::new()) };
        let text = format!(
            "mechanism: {}\nreactor: constant-pressure\nT: {t0}\nP: 1 atm\nX: {{H2: 2, O2: 1, N2: 3.76}}\n{sweep}",
            mechanism.display()
        );
        let path = std::env::temp_dir().join(format!("stiffnode-t-range-{}.yaml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let result = gas::load_problem(path.to_str().unwrap());
        std::fs::remove_file(&path).unwrap();
        if (300.0..=3500.0).contains(&t) {
            prop_assert!(result.is_ok(), "{t}: {:?}", result.err());
        } else {
            let message = result.expect_err("refused").to_string();
            let field = if in_sweep { "sweep: T" } else { "T" };
            prop_assert!(
                message.contains(&format!("{field}: {t} K is outside the range of the thermo data, 300 to 3500 K; species '")),
                "{message}"
            );
        }
    }
}

/// Names with a character that breaks a CSV header, or whitespace at an end, or empty.
fn bad_name() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[A-Z][a-z0-9]{0,3}", prop::sample::select(vec![",", "\"", "\n", "\r", "\t", "\u{7}"]), "[A-Za-z0-9]{0,3}")
            .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        ("[A-Z][a-z0-9]{0,3}", prop::sample::select(vec![" ", "\t", "\u{a0}"]), any::<bool>())
            .prop_map(|(a, w, before)| if before { format!("{w}{a}") } else { format!("{a}{w}") }),
        Just(String::new()),
    ]
}

/// The example of the issue: `O + H2 <=> H + H2O` puts a hydrogen atom more on the right.
#[test]
fn an_unbalanced_reaction_of_the_test_mechanism_is_refused() {
    let text = edited("- equation: O + H2 <=> H + OH  # R1", "- equation: O + H2 <=> H + H2O");
    assert_eq!(
        error_of(&text),
        "bad.yaml: reaction 1: 'O + H2 <=> H + H2O': unbalanced: H: 2 in the reactants, 3 in the products"
    );
}

/// A reaction and its reverse, neither declared duplicate, are the same reaction; two
/// irreversible reactions in opposite directions are not.
#[test]
fn a_reversed_undeclared_duplicate_is_refused_naming_both() {
    let mut m = rates_test();
    let mut reversed = m["reactions"][10].clone();
    reversed["equation"] = Yaml::from("2 OH <=> H + HO2");
    m["reactions"].as_sequence_mut().unwrap().push(reversed);
    assert_eq!(
        error_of(&yaml_text(&m)),
        "bad.yaml: reactions 11 'H + HO2 <=> 2 OH' and 15 '2 OH <=> H + HO2' are the same reaction: declare both \
         'duplicate: true'"
    );
    // R2 `H + HO2 => O2 + H2` and an irreversible `O2 + H2 => H + HO2` are two reactions.
    let mut m = rates_test();
    let mut back = m["reactions"][1].clone();
    back["equation"] = Yaml::from("O2 + H2 => H + HO2");
    m["reactions"].as_sequence_mut().unwrap().push(back);
    gas::cantera::parse(&yaml_text(&m), "ok.yaml", None).unwrap();
}

/// The issue's example: the high-temperature row of H2 ten times the low one's values at the
/// midpoint.
#[test]
fn thermo_ten_times_larger_above_the_midpoint_is_refused() {
    let text = std::fs::read_to_string(root().join("datasets/mechanisms/h2o2.yaml")).unwrap();
    let mut m: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let high = &mut m["species"][0]["thermo"]["data"][1];
    for i in 0..7 {
        let c = high[i].as_f64().unwrap();
        high[i] = Yaml::from(10.0 * c);
    }
    let message = gas::cantera::parse(&yaml_text(&m), "bad.yaml", None).unwrap_err().to_string();
    assert!(
        message.starts_with(
            "bad.yaml: phase 'ohmech': species 'H2': thermo: data: cp/R is not continuous at the midpoint temperature \
             1000 K: "
        ),
        "{message}"
    );
}

/// A second entry for a species is refused by name, whichever species it is (the first entry
/// was used in silence).
#[test]
fn a_repeated_species_entry_is_refused_naming_the_species() {
    let m = rates_test();
    for entry in m["species"].as_sequence().unwrap() {
        let mut twice = m.clone();
        twice["species"].as_sequence_mut().unwrap().push(entry.clone());
        let name = entry["name"].as_str().unwrap();
        assert_eq!(
            error_of(&yaml_text(&twice)),
            format!("bad.yaml: phase 'gas': species \"{name}\" has two entries in 'species'")
        );
    }
}

/// Every number the loader reads from a species (composition, thermo ranges and coefficients) or
/// a reaction (Arrhenius parameters of every rate type, efficiencies, Troe parameters), set to
/// NaN, +inf or −inf, is a load error that names the species or reaction, the field and the
/// value — not a non-finite right-hand side at t = 0.
#[test]
fn non_finite_numbers_are_load_errors_naming_entry_and_field() {
    let m = rates_test();
    let mut checked = 0;
    for (section, label) in [("species", "species"), ("reactions", "reaction")] {
        for (n, entry) in m[section].as_sequence().unwrap().iter().enumerate() {
            let place = if section == "species" {
                format!("species '{}'", entry["name"].as_str().unwrap())
            } else {
                format!("{label} {}: '{}'", n + 1, entry["equation"].as_str().unwrap())
            };
            let mut leaves = Vec::new();
            numeric_leaves(entry, &mut Vec::new(), &mut leaves);
            for path in leaves.iter().filter(|p| !matches!(p[0].as_str(), "transport" | "note")) {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut edited = m.clone();
                    let mut v = &mut edited[section][n];
                    for key in path {
                        v = match key.parse::<usize>() {
                            Ok(i) => &mut v[i],
                            Err(_) => &mut v[key.as_str()],
                        };
                    }
                    *v = Yaml::from(bad);
                    let message = error_of(&yaml_text(&edited));
                    // The entry, the top field, and the innermost named field.
                    let top = &path[0];
                    let inner = path.iter().rev().find(|k| k.parse::<usize>().is_err()).unwrap();
                    for needle in [&place, top, inner, &bad.to_string()] {
                        assert!(
                            message.contains(needle.as_str()),
                            "{path:?} = {bad}: '{needle}' missing from: {message}"
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 300, "{checked}");
}

/// The key paths of the numbers in `v`.
fn numeric_leaves(v: &Yaml, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Yaml::Number(_) => out.push(path.clone()),
        Yaml::Mapping(map) => {
            for (k, x) in map {
                path.push(k.as_str().unwrap().to_string());
                numeric_leaves(x, path, out);
                path.pop();
            }
        }
        Yaml::Sequence(list) => {
            for (i, x) in list.iter().enumerate() {
                path.push(i.to_string());
                numeric_leaves(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Every shipped mechanism and problem file loads (thermo continuity, balance, duplicates and
/// the initial temperature's range included).
#[test]
fn every_shipped_mechanism_and_problem_loads() {
    let mut loaded = 0;
    for dir in ["datasets/problems", "datasets/mechanisms", "examples", "crates/chemistry/tests/data/cantera"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let p = path.to_str().unwrap();
            if !gas::is_problem_file(p) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if text.lines().any(|l| l.starts_with("mechanism:")) {
                gas::load_problem(p).unwrap_or_else(|e| panic!("{e}"));
            } else {
                gas::load(p, None).unwrap_or_else(|e| panic!("{e}"));
            }
            loaded += 1;
        }
    }
    assert!(loaded >= 5, "{loaded}");
}
