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
