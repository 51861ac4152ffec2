//! Training data: a dataset directory (`data.csv`, and `meta.json` for the train/validation
//! split), checked against the mechanism's species, with the per-species scale ŷ and the
//! time span that scaled losses and scaled models use.

use std::path::Path;

use stiffnode_chemistry::dataset::{self, DatasetError};

/// Trajectories that share one time grid, split for training and validation.
#[derive(Debug, Clone)]
pub struct TrainingData {
    /// Species, in column order.
    pub species: Vec<String>,
    /// The shared times; the first is the initial time.
    pub times: Vec<f64>,
    /// States per trajectory per time (`[trajectory][time][species]`).
    pub states: Vec<Vec<Vec<f64>>>,
    /// Trajectory indices used for training.
    pub train: Vec<usize>,
    /// Trajectory indices held out for validation.
    pub validation: Vec<usize>,
    /// ŷ: per-species maximum of |y| over the training trajectories (1 where that is 0).
    pub scale: Vec<f64>,
}

impl TrainingData {
    /// Load `dir/data.csv` (columns `trajectory,t,<species>`) and the split in
    /// `dir/meta.json` if there is one (otherwise every trajectory trains).
    pub fn load(dir: &Path, species: &[String]) -> Result<Self, DatasetError> {
        let csv = dir.join("data.csv");
        let data = dataset::load(&csv, species)?;
        let file = csv.display().to_string();
        let times = data.trajectories[0].times.clone();
        if let Some(k) = data.trajectories.iter().position(|tr| tr.times != times) {
            return Err(DatasetError {
                file,
                line: 0,
                column: 0,
                what: format!("trajectory {k} has other times than trajectory 0: training needs one shared time grid"),
            });
        }
        if times.len() < 2 {
            return Err(DatasetError {
                file,
                line: 0,
                column: 0,
                what: "at least two times are needed (the initial state and one target)".into(),
            });
        }
        let n = data.trajectories.len();
        let split = dataset::check_meta(dir, &data)?;
        let (train, validation) = split.map_or_else(|| ((0..n).collect(), Vec::new()), |s| (s.train, s.validation));
        let d = species.len();
        let scale = (0..d)
            .map(|i| {
                train
                    .iter()
                    .flat_map(|&k| data.trajectories[k].states.iter().map(move |s| s[i].abs()))
                    .fold(0.0, f64::max)
            })
            .map(|m| if m > 0.0 { m } else { 1.0 })
            .collect();
        let states = data.trajectories.into_iter().map(|tr| tr.states).collect();
        Ok(Self { species: species.to_vec(), times, states, train, validation, scale })
    }

    /// The time span `t_end − t_0` (the time scale of scaled models).
    pub fn span(&self) -> f64 {
        self.times[self.times.len() - 1] - self.times[0]
    }

    /// Initial states of trajectories `ids`, `ids.len()·d` values.
    pub fn initial(&self, ids: &[usize]) -> Vec<f64> {
        ids.iter().flat_map(|&k| self.states[k][0].clone()).collect()
    }

    /// Targets at output time `j` (data time `j + 1`) for trajectories `ids`, `ids.len()·d`.
    pub fn target(&self, ids: &[usize], j: usize) -> Vec<f64> {
        ids.iter().flat_map(|&k| self.states[k][j + 1].clone()).collect()
    }
}
