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

/// The ignition sets' adaptive grids resolve every front: each trajectory has at least 10 data
/// points where dT/dt exceeds 10 % of its peak. The rates are the problem's own reactor's at the
/// data states; the peak is that of the reference solution on a fine log grid (10,000 points,
/// 2,000 a decade) and at every step point of its solver.
#[test]
fn adaptive_grids_put_points_in_every_ignition_front() {
    use stiffnode_chemistry::gas;
    use stiffnode_solvers::field::{from_host, to_host};
    use stiffnode_solvers::{DeviceKind, VectorField};

    let device = DeviceKind::Cpu.open().unwrap();
    for name in ["h2-air", "h2-air-pressures"] {
        let dir = root().join("datasets").join(name);
        let m = meta(&dir);
        let problem =
            gas::load_problem(root().join(format!("datasets/problems/{name}.yaml")).to_str().unwrap()).unwrap();
        let species: Vec<String> = serde_json::from_value(m["species"].clone()).unwrap();
        let data = dataset::load(&dir.join("data.csv"), &species).unwrap();
        let d = species.len();
        let conditions = m["initial_conditions"].as_array().unwrap();
        let mut fewest = usize::MAX;
        assert_eq!(conditions.len(), data.trajectories.len());
        for (k, (c, tr)) in conditions.iter().zip(&data.trajectories).enumerate() {
            let phi = c["equivalence_ratio"].as_f64();
            let (reactor, y0) = problem.at(c["T"].as_f64().unwrap(), c["P"].as_f64().unwrap(), phi).reactor(&device);
            // The conditions as JSON keeps them (serde_json reads a float to within an ulp).
            let same = y0.iter().zip(&tr.states[0]).all(|(a, b)| (a - b).abs() <= 1e-14 * a.abs().max(1.0));
            assert!(same, "{name} trajectory {k}: its initial state {y0:?} vs {:?}", tr.states[0]);
            let y0 = &tr.states[0];
            let rates = |times: &[f64], states: &[Vec<f64>]| -> Vec<f64> {
                let y = from_host(states.concat(), [states.len(), d], &device);
                to_host(reactor.eval(times, y)).chunks_exact(d).map(|r| r[0]).collect()
            };
            let (first, last) = (tr.times[1], tr.times[tr.times.len() - 1]);
            let fine: Vec<f64> = (0..10_000).map(|i| first * (last / first).powf(i as f64 / 9_999.0)).collect();
            let (at, states) = dataset::reference_curve(&reactor, y0, &fine).unwrap();
            let peak = rates(&at, &states).into_iter().fold(0.0, f64::max);
            let front: Vec<f64> = tr
                .times
                .iter()
                .zip(rates(&tr.times, &tr.states))
                .filter(|(_, r)| *r > 0.1 * peak)
                .map(|(t, _)| *t)
                .collect();
            let in_front = front.len();
            println!("{name} trajectory {k}: {in_front} points in the front, {:?} s", (front.first(), front.last()));
            fewest = fewest.min(in_front);
        }
        assert!(fewest >= 10, "{name}: a trajectory with {fewest} data points in its ignition front");
    }
}
