//! Training on a real mechanism: the H2/O2 mechanism's own kinetics in its constant-pressure
//! reactor, with a `log10` factor on the chain-branching rate started a factor 2 off, on the
//! H2/air ignition dataset: the loss goes down and the factor moves towards 1 (the mechanism
//! that made the data); an unknown reaction is a clear error.

mod common;

use common::{datasets, losses, rates_config, scratch, train};
use stiffnode_train::evaluation::DelayErrors;
use stiffnode_train::{Model, Setup, TrainConfig};

fn config(epochs: usize) -> String {
    format!(
        r#"
[data]
dataset = "{}"
mechanism = "{}"
[model]
kind = "kinetics"
learnable = ["H + O2 <=> O + OH"]
start_factor = 2.0
[solver]
method = "radau5"
rtol = 1e-6
atol = 1e-12
[train]
epochs = {epochs}
lr = 0.02
optimizer = "adam"
batch_size = 8
seed = 2
"#,
        datasets().join("h2-air").display(),
        datasets().join("problems/h2-air.yaml").display()
    )
}

#[test]
fn rate_factors_of_a_cantera_mechanism_move_towards_the_truth() {
    let run = scratch("h2-air-rates");
    train(&config(4), &run);
    let l = losses(&run);
    assert!(l[3] < 0.8 * l[0], "loss did not go down: {l:?}");
    let best = Setup::from_run(&stiffnode_train::RunDir::open(&run).unwrap(), "last", None).unwrap();
    let Model::Reactor(r) = &best.model else { panic!("a reactor model") };
    let factors = r.multipliers().unwrap();
    let learned: Vec<f64> = r.learnable().iter().map(|&j| factors[j]).collect();
    println!("losses {l:?}, factors {learned:?}");
    // The chain-branching rate, which sets the ignition delay, comes back to 1 within 5 %
    // (the data's adaptive grids resolve every front: four epochs from a factor of 2).
    assert!((learned[0] - 1.0).abs() < 0.05, "{learned:?}");
    // Its ignition delays against the reactor's own: every trajectory ignites in both, within
    // 15 % (measured: 9.6 % at worst, trajectory 17, at the lowest T0 near the second explosion
    // limit, where ignition is the most sensitive to the branching/termination balance).
    let delays = best.ignition_delays().unwrap().expect("a reactor problem");
    assert_eq!(delays.len(), 32);
    for d in &delays {
        let (m, r) = (d.model.expect("the model ignites"), d.reference.expect("the reactor ignites"));
        assert!((m / r - 1.0).abs() < 0.15, "trajectory {}: {m} vs {r}", d.trajectory);
    }
    // The errors logged at the last epoch (every epoch: a tenth of 4, at least 1) are those of
    // the validation trajectories at the last model.
    let validation: Vec<_> = delays.iter().filter(|d| best.data.validation.contains(&d.trajectory)).copied().collect();
    let expected = serde_json::to_value(DelayErrors::of(&validation)).unwrap();
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!(last["ignition"], expected, "{last}");
    assert_eq!(expected["trajectories"], 6);
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn an_unknown_reaction_is_named() {
    let text = config(1).replace("\"H + O2 <=> O + OH\"", "\"H + O3 <=> O + OH\"");
    let err = match Setup::new(TrainConfig::parse(&text, "t.toml").unwrap(), "t.toml") {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an unknown reaction is refused"),
    };
    assert!(err.contains("model.learnable: no reaction 'H + O3 <=> O + OH'"), "{err}");
    // A reaction given twice — by its equation twice, or by its index and its equation — would
    // take its start factor twice: refused, naming the repeat.
    for (entries, says) in [
        ("\"H + O2 <=> O + OH\", \"H + O2 <=> O + OH\"", "'H + O2 <=> O + OH' names reaction REACTION again"),
        (
            "REACTION, \"H + O2 <=> O + OH\"",
            "'H + O2 <=> O + OH' names reaction REACTION again (already given as 'REACTION')",
        ),
    ] {
        let text = config(1).replace("\"H + O2 <=> O + OH\"", &entries.replace("REACTION", &BRANCHING.to_string()));
        let err = match Setup::new(TrainConfig::parse(&text, "t.toml").unwrap(), "t.toml") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{entries} is refused"),
        };
        assert!(
            err.contains(&format!("model.learnable: {}", says.replace("REACTION", &BRANCHING.to_string()))),
            "{err}"
        );
    }
}

/// The 1-based index of `H + O2 <=> O + OH` in the shipped H2/O2 mechanism.
const BRANCHING: usize = 11;

/// The ignition-delay term and its log need a temperature: on ROBER each key is refused by name.
#[test]
fn ignition_keys_without_a_temperature_are_named() {
    for key in ["ignition_weight = 0.1", "ignition_every = 5"] {
        let text = rates_config(1, 0, key);
        let err = match Setup::new(TrainConfig::parse(&text, "t.toml").unwrap(), "t.toml") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{key} is refused without a temperature"),
        };
        let name = key.split(' ').next().unwrap();
        assert!(
            err.contains(&format!("train.{name}: ignition delays need a reactor problem with a temperature")),
            "{err}"
        );
    }
}

/// The pressure-swept set (1–10 atm): one reactor carrying `P` in its state serves every
/// trajectory, so with the factors at the truth the model reproduces the data (the reactor of
/// one pressure could not), and rate identification moves the factor towards 1. An MLP on the
/// same data holds `P` exactly (its output there is masked), and `P` is left out of the error.
#[test]
fn one_field_serves_a_pressure_sweep_for_kinetics_and_mlp_models() {
    let pressures = |text: String| {
        text.replace("h2-air\"", "h2-air-pressures\"").replace("problems/h2-air.yaml", "problems/h2-air-pressures.yaml")
    };
    // At the truth (factor 1): the data within the solver's tolerance, at every pressure.
    let exact = pressures(config(1).replace("start_factor = 2.0", "start_factor = 1.0"));
    let setup = Setup::new(TrainConfig::parse(&exact, "t.toml").unwrap(), "t.toml").unwrap();
    assert_eq!(setup.data.species.last().unwrap(), "P");
    let mae = setup.normalized_mae().unwrap();
    assert!(mae < 1e-4, "the mechanism that made the data misses it by {mae}");
    let run = scratch("h2-air-pressure-rates");
    train(&pressures(config(4)), &run);
    let l = losses(&run);
    let last = Setup::from_run(&stiffnode_train::RunDir::open(&run).unwrap(), "last", None).unwrap();
    let Model::Reactor(r) = &last.model else { panic!("a reactor model") };
    let factor = r.multipliers().unwrap()[r.learnable()[0]];
    println!("losses {l:?}, factor {factor}");
    assert!(l[3] < 0.8 * l[0] && factor < 1.9, "{l:?}, factor {factor}");
    std::fs::remove_dir_all(&run).unwrap();

    let mlp = pressures(
        config(1)
            .replace("kind = \"kinetics\"", "kind = \"mlp\"\nhidden = [8]\nactivation = \"tanh\"\nscaled = true")
            .replace("learnable = [\"H + O2 <=> O + OH\"]\nstart_factor = 2.0\n", "")
            .replace("rtol = 1e-6\natol = 1e-12", "rtol = 1e-4\natol = 1e-8")
            .replace("batch_size = 8", "batch_size = 32"),
    );
    let run = scratch("h2-air-pressure-mlp");
    train(&mlp, &run);
    let setup = Setup::from_run(&stiffnode_train::RunDir::open(&run).unwrap(), "last", None).unwrap();
    // Each trajectory at its own data times (the dataset's grids are per trajectory).
    let pred = setup.predictions(|k| &setup.data.times[k]).unwrap();
    // Held exactly: P (carried) and, by the conserving model, the inert AR and N2.
    let held = setup.mechanism.constant_components(true);
    let names: Vec<&str> = held.iter().map(|&i| setup.data.species[i].as_str()).collect();
    assert_eq!(names, ["AR", "N2", "P"]);
    let (mut sum, mut n) = (0.0, 0);
    // Time index outermost, as normalized_mae sums.
    let times = pred.trajectories[0].states.len();
    for j in 1..times {
        for (k, tr) in pred.trajectories.iter().enumerate() {
            for (i, v) in tr.states[j].iter().enumerate() {
                let data = setup.data.states[k][j][i];
                if held.contains(&i) {
                    assert_eq!(*v, data, "trajectory {k}: {} moved", setup.data.species[i]);
                } else {
                    (sum, n) = (sum + (v - data).abs() / setup.data.scale[i], n + 1);
                }
            }
        }
    }
    let mae = setup.normalized_mae().unwrap();
    assert!((mae - sum / n as f64).abs() <= 1e-12 * mae && mae > 0.0, "{mae} vs {}", sum / n as f64);
    std::fs::remove_dir_all(&run).unwrap();
}
