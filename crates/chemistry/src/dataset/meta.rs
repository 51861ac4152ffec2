//! `meta.json` of a dataset: how it was made (mechanism and its hash, initial states, times,
//! solver, seed, the command) and which trajectories train and which validate.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Dataset, DatasetError, Trajectory};

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
    /// What every dataset records about its columns, times, split and solver (last in the
    /// file).
    #[serde(flatten)]
    pub contents: Contents,
}

/// A dataset's output times: one list for every trajectory, or each trajectory's own (an
/// adaptive grid, [`TimeGrid::Adaptive`](super::TimeGrid::Adaptive)). In `meta.json`, a list of
/// numbers or a list of lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Times {
    /// The same times for every trajectory (the first is the initial time).
    Shared(Vec<f64>),
    /// Each trajectory's times, by index.
    PerTrajectory(Vec<Vec<f64>>),
}

impl Times {
    /// The times of `trajectories`: shared where they all have the same.
    pub fn of(trajectories: &[Trajectory]) -> Self {
        let first = trajectories.first().map(|t| t.times.clone()).unwrap_or_default();
        if trajectories.iter().all(|t| t.times == first) {
            Self::Shared(first)
        } else {
            Self::PerTrajectory(trajectories.iter().map(|t| t.times.clone()).collect())
        }
    }

    /// The times of trajectory `k` (`None` past the recorded trajectories).
    pub fn of_trajectory(&self, k: usize) -> Option<&[f64]> {
        match self {
            Self::Shared(t) => Some(t),
            Self::PerTrajectory(all) => all.get(k).map(Vec::as_slice),
        }
    }

    /// The most times any trajectory has.
    pub fn most(&self) -> usize {
        match self {
            Self::Shared(t) => t.len(),
            Self::PerTrajectory(all) => all.iter().map(Vec::len).max().unwrap_or(0),
        }
    }
}

/// The part of `meta.json` every dataset has, whatever made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contents {
    /// Species (state components), in column order.
    pub species: Vec<String>,
    /// The solver and its tolerances.
    pub solver: MetaSolver,
    /// The train/validation split.
    pub split: Split,
    /// The stiffnode version that wrote it.
    pub stiffnode_version: String,
    /// Output times (the first is the initial time).
    pub times: Times,
    /// Number of trajectories.
    pub trajectories: usize,
}

impl Contents {
    /// The contents of a dataset of `species` at `times` with `split`, made now by the
    /// reference solver ([`reference_solver`](super::reference_solver)).
    pub fn new(species: Vec<String>, times: Times, split: Split) -> Self {
        let trajectories = split.train.len() + split.validation.len();
        let solver = super::reference_solver();
        Self { species, solver, split, stiffnode_version: env!("CARGO_PKG_VERSION").into(), times, trajectories }
    }
}

/// The split recorded in `dir/meta.json` for `data`, checked against the data: `None` without a
/// `meta.json`. What the file records of the species, the times (of every trajectory) and
/// the number of trajectories must match `data.csv`; the split needs at least one training
/// trajectory, indices below the count, and no trajectory in both parts. Keys the file lacks are
/// not checked, so a hand-written `meta.json` may hold only the split.
pub fn check_meta(dir: &Path, data: &Dataset) -> Result<Option<Split>, DatasetError> {
    #[derive(Deserialize)]
    struct Recorded {
        #[serde(default)]
        split: Option<Split>,
        species: Option<Vec<String>>,
        times: Option<Times>,
        trajectories: Option<usize>,
    }
    let path = dir.join("meta.json");
    let bad = |what: String| Err(DatasetError { file: path.display().to_string(), line: 0, column: 0, what });
    // No meta.json: every trajectory trains. One that is there but cannot be read is an error:
    // ignoring it would train on the validation set.
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return bad(format!("cannot be read: {e}")),
    };
    let meta: Recorded = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => return bad(format!("not a dataset's meta.json: {e}")),
    };
    let n = data.trajectories.len();
    if let Some(species) = meta.species.filter(|s| *s != data.species) {
        return bad(format!("species {species:?}, but data.csv has {:?}", data.species));
    }
    if let Some(count) = meta.trajectories.filter(|&c| c != n) {
        return bad(format!("{count} trajectories, but data.csv has {n}"));
    }
    // serde_json reads floats to within an ulp, not always exactly.
    let same = |a: &f64, b: &f64| (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs());
    if let Some(times) = &meta.times {
        for (k, tr) in data.trajectories.iter().enumerate() {
            let recorded = times.of_trajectory(k).unwrap_or_default();
            if recorded.len() != tr.times.len() || !recorded.iter().zip(&tr.times).all(|(a, b)| same(a, b)) {
                return bad(format!(
                    "times of trajectory {k} ({} recorded) are not those of data.csv ({} times)",
                    recorded.len(),
                    tr.times.len()
                ));
            }
        }
    }
    let Some(split) = meta.split else { return Ok(None) };
    for (key, ids) in [("train", &split.train), ("validation", &split.validation)] {
        if let Some(k) = ids.iter().find(|&&k| k >= n) {
            return bad(format!("split.{key}: {k} is not a trajectory index below {n}"));
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        if let Some(k) = ids.iter().find(|&&k| !seen.insert(k)) {
            return bad(format!("split.{key}: trajectory {k} is listed twice"));
        }
    }
    if split.train.is_empty() {
        return bad("split.train is empty: no trajectory to train on".into());
    }
    if let Some(k) = split.train.iter().find(|k| split.validation.contains(k)) {
        return bad(format!("trajectory {k} is in both split.train and split.validation"));
    }
    Ok(Some(split))
}
