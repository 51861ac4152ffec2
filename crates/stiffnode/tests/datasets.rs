//! The shipped datasets: each is regenerated bit for bit by the command in its `meta.json`, and
//! the ROBER set agrees with the Test Set references.

use std::path::{Path, PathBuf};
use std::process::Command;

use stiffnode_chemistry::dataset;
use stiffnode_chemistry::mass_action::rober;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn meta(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap()
}

#[test]
fn shipped_datasets_regenerate_bit_for_bit() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("datasets")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("meta.json").is_file() {
            continue;
        }
        let m = meta(&dir);
        let command = m["command"].as_str().unwrap();
        let mut args: Vec<String> = command.split_whitespace().skip(1).map(String::from).collect();
        let out = std::env::temp_dir().join(format!("stiffnode-regen-{}-{}", std::process::id(), checked));
        let k = args.iter().position(|a| a == "--output").expect("--output in the command");
        args[k + 1] = out.to_str().unwrap().to_string();
        let status = Command::new(env!("CARGO_BIN_EXE_stiffnode")).args(&args).current_dir(root()).output().unwrap();
        assert!(status.status.success(), "{command}: {}", String::from_utf8_lossy(&status.stderr));
        let shipped = std::fs::read(dir.join("data.csv")).unwrap();
        let fresh = std::fs::read(out.join("data.csv")).unwrap();
        assert!(shipped == fresh, "{}: data.csv differs from a fresh run of '{command}'", dir.display());
        let mut fresh_meta = meta(&out);
        fresh_meta["command"] = m["command"].clone();
        assert_eq!(fresh_meta, m, "{}: meta.json differs", dir.display());
        checked += 1;
    }
    assert!(checked >= 3, "expected the ROBER, POLLU and multi-trajectory ROBER sets, found {checked}");
}

#[test]
fn rober_dataset_matches_reference() {
    let dir = root().join("datasets/robertson");
    let species: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
    let data = dataset::load(&dir.join("data.csv"), &species).unwrap();
    let tr = &data.trajectories[0];
    assert_eq!(tr.times.len(), 51, "t = 0 and logspace:-5:5:50");
    let (t, reference) = rober::REFERENCE[1];
    let k = tr.times.iter().position(|&x| x == t).expect("t = 1e5 in the set");
    for (i, r) in reference.iter().enumerate() {
        let rel = ((tr.states[k][i] - r) / r).abs();
        assert!(rel <= 1e-8, "y{i} at t = {t}: {} vs {r}", tr.states[k][i]);
    }
    // t = 40 is not on the Kim et al. grid: the same generator at that time.
    let out = std::env::temp_dir().join(format!("stiffnode-rober40-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_stiffnode"))
        .args(["generate", "--mechanism", "robertson", "--times", "40", "--output", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success());
    let data40 = dataset::load(&out.join("data.csv"), &species).unwrap();
    let (t, reference) = rober::REFERENCE[0];
    assert_eq!(data40.trajectories[0].times, [0.0, t]);
    for (i, r) in reference.iter().enumerate() {
        let rel = ((data40.trajectories[0].states[1][i] - r) / r).abs();
        assert!(rel <= 1e-8, "y{i} at t = 40: rel err {rel:e}");
    }
}

#[test]
fn multi_trajectory_set_is_perturbed_and_split() {
    let dir = root().join("datasets/robertson-multi");
    let m = meta(&dir);
    assert_eq!(m["trajectories"], 64);
    let train = m["split"]["train"].as_array().unwrap().len();
    let validation = m["split"]["validation"].as_array().unwrap().len();
    assert_eq!((train, validation), (51, 13));
    let initial = m["initial_states"].as_array().unwrap();
    for y0 in initial {
        let a = y0[0].as_f64().unwrap();
        assert!((0.5..=2.0).contains(&a), "A0 = {a} outside [1/2, 2]");
        assert_eq!((y0[1].as_f64(), y0[2].as_f64()), (Some(0.0), Some(0.0)), "zero species stay zero");
    }
}
