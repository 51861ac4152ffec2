//! What the training tests share: configurations on the shipped datasets, scratch run
//! directories, and the losses a run logged.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use stiffnode_train::{TrainConfig, Trainer};

/// The repository's `datasets/`.
pub fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

/// Mass-action ROBER with learnable rates started a factor 3 off, on the multi-trajectory
/// set, with `batch_size` trajectories per batch and `extra` lines in `[train]`.
pub fn rates_config(epochs: usize, batch_size: usize, extra: &str) -> String {
    format!(
        r#"
[data]
dataset = "{}"
mechanism = "robertson"
[model]
kind = "mass-action"
start_factor = 3.0
[solver]
method = "radau5"
rtol = 1e-6
atol = 1e-10
[train]
epochs = {epochs}
lr = 0.05
optimizer = "adam"
batch_size = {batch_size}
seed = 3
{extra}
"#,
        datasets().join("robertson-multi").display()
    )
}

/// A small scaled GELU MLP on Kim et al.'s ROBER set.
pub fn mlp_config(epochs: usize) -> String {
    format!(
        r#"
[data]
dataset = "{}"
mechanism = "robertson"
[model]
kind = "mlp"
hidden = [5, 5]
activation = "gelu"
scaled = true
[solver]
method = "esdirk4"
rtol = 1e-5
atol = 1e-9
[train]
epochs = {epochs}
lr = 0.01
seed = 1
"#,
        datasets().join("robertson").display()
    )
}

/// An empty scratch directory path for a run called `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stiffnode-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The `loss` of every line of the run's `metrics.jsonl`.
pub fn losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap())
        .collect()
}

/// Start a run of the configuration `text` in `run` and train it to the end.
pub fn train(text: &str, run: &Path) -> Trainer {
    let mut t = Trainer::start(TrainConfig::parse(text, "test.toml").unwrap(), "test.toml", run).unwrap();
    t.run(|_| {}).unwrap();
    t
}
