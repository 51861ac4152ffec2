//! `meta.json` of a dataset: how it was made (mechanism and its hash, initial states, times,
//! solver, seed, the command) and which trajectories train and which validate.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::DatasetError;

/// The solver that made a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaSolver {
    /// Method name.
    pub method: String,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Device name.
    pub device: String,
}

/// Trajectory indices for training and for validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Trajectories used for training (empty: all).
    #[serde(default)]
    pub train: Vec<usize>,
    /// Trajectories held out for validation.
    #[serde(default)]
    pub validation: Vec<usize>,
}

/// Everything `meta.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The command that wrote the dataset.
    pub command: String,
    /// Initial state of each trajectory.
    pub initial_states: Vec<Vec<f64>>,
    /// Mechanism name.
    pub mechanism: String,
    /// SHA-256 of the mechanism file's text.
    pub mechanism_sha256: String,
    /// The mechanism as it was given (built-in name or path).
    pub mechanism_source: String,
    /// Log-uniform perturbation factor of the initial values.
    pub perturb: f64,
    /// Seed of the perturbations and the split.
    pub seed: u64,
    /// Species, in column order.
    pub species: Vec<String>,
    /// The solver and its tolerances.
    pub solver: MetaSolver,
    /// The train/validation split.
    pub split: Split,
    /// The stiffnode version that wrote it.
    pub stiffnode_version: String,
    /// Output times (the first is the initial time).
    pub times: Vec<f64>,
    /// Number of trajectories.
    pub trajectories: usize,
}

/// The split recorded in `dir/meta.json` for a dataset of `n` trajectories: `None` without a
/// `meta.json`; every index checked to be below `n`. Other keys are not read, so a hand-written
/// `meta.json` may hold only the split.
pub fn read_split(dir: &Path, n: usize) -> Result<Option<Split>, DatasetError> {
    #[derive(Deserialize)]
    struct OnlySplit {
        #[serde(default)]
        split: Split,
    }
    let path = dir.join("meta.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let bad = |what: String| DatasetError { file: path.display().to_string(), line: 0, column: 0, what };
    let meta: OnlySplit = serde_json::from_str(&text).map_err(|e| bad(format!("not a dataset's meta.json: {e}")))?;
    for (key, ids) in [("train", &meta.split.train), ("validation", &meta.split.validation)] {
        if let Some(k) = ids.iter().find(|&&k| k >= n) {
            return Err(bad(format!("split.{key}: {k} is not a trajectory index below {n}")));
        }
    }
    Ok(Some(meta.split))
}
