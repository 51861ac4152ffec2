//! How a trained model does on a dataset — its own or one a user holds out: per trajectory the
//! normalized MAE `mean |y − y_data|/ŷ` over the compared components (ŷ the training data's
//! scale, so that numbers on any dataset are in the units the model was trained in), that of
//! `T` alone for a reactor problem, the ignition delays of model and reactor, and how far the
//! prediction moves the problem's invariants (a reactor's elements, design.md §13).

use std::path::Path;

use serde::Serialize;

use stiffnode_solvers::SolveError;

use crate::data::TrainingData;
use crate::error::TrainError;
use crate::ignition::IgnitionDelay;
use crate::setup::Setup;

/// One trajectory's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryScore {
    /// The trajectory, by index in the dataset.
    pub trajectory: usize,
    /// Whether the model was not trained on it (the run's validation split, or another dataset).
    pub held_out: bool,
    /// Normalized MAE over the compared components and the data times after the first.
    pub mae: f64,
    /// The same for `T` alone (a reactor problem with a temperature).
    pub mae_t: Option<f64>,
    /// Ignition delays of model and reactor (a reactor problem with a temperature).
    pub ignition: Option<IgnitionDelay>,
    /// The largest relative change of an invariant `c·y` along the prediction, against its
    /// initial value (against `c·ŷ` where that is 0; a reactor problem: its elements).
    pub invariant_drift: Option<f64>,
}

impl Setup {
    /// The same run evaluated on the dataset in `dir` instead of its own: the run's species and
    /// initial time, every trajectory scored and counted as held out, the training data's scale
    /// kept.
    pub fn with_dataset(mut self, dir: &Path) -> Result<Self, TrainError> {
        let mut data = TrainingData::load(dir, &self.data.species)?;
        if data.t0() != self.data.t0() {
            return Err(TrainError::Config {
                file: dir.display().to_string(),
                what: format!("the data start at t = {}, the run's at {}", data.t0(), self.data.t0()),
            });
        }
        data.scale.clone_from(&self.data.scale);
        // None of it was trained on: every trajectory is held out.
        data.validation = (0..data.states.len()).collect();
        data.train.clear();
        self.data = data;
        Ok(self)
    }

    /// The same run predicting from the initial states `states` instead of its data's (one
    /// trajectory each, starting at the data's initial time; nothing to compare them with).
    pub fn with_initial_states(mut self, states: Vec<Vec<f64>>) -> Result<Self, TrainError> {
        let d = self.data.species.len();
        if let Some(s) = states.iter().find(|s| s.len() != d) {
            let what = format!("an initial state of {} values for the run's {d} components", s.len());
            return Err(TrainError::Config { file: "initial states".into(), what });
        }
        let t0 = self.data.t0();
        self.data.times = vec![vec![t0]; states.len()];
        self.data.validation = (0..states.len()).collect();
        self.data.train.clear();
        self.data.states = states.into_iter().map(|s| vec![s]).collect();
        Ok(self)
    }

    /// Every trajectory's scores.
    pub fn scores(&self) -> Result<Vec<TrajectoryScore>, SolveError> {
        let data = &self.data;
        let all: Vec<usize> = (0..data.states.len()).collect();
        let pred = self.predictions(|k| &data.times[k])?;
        let delays = self.ignition_delays()?;
        let constant = self.mechanism.constant_components(self.config.model.conserves());
        let invariants = self.mechanism.invariants();
        let has_t = data.species.first().is_some_and(|s| s == "T") && delays.is_some();
        let scores = all.iter().map(|&k| {
            let (model, truth) = (&pred.trajectories[k].states, &data.states[k]);
            let compared: Vec<usize> = (0..data.species.len()).filter(|i| !constant.contains(i)).collect();
            let mae_of = |comps: &[usize]| {
                let total: f64 = (1..truth.len())
                    .flat_map(|j| comps.iter().map(move |&i| (model[j][i] - truth[j][i]).abs() / data.scale[i]))
                    .sum();
                total / ((truth.len() - 1) * comps.len()).max(1) as f64
            };
            let drift = (!invariants.is_empty()).then(|| {
                invariants
                    .iter()
                    .map(|c| {
                        let at = |y: &[f64]| c.iter().zip(y).map(|(c, y)| c * y).sum::<f64>();
                        let start = at(&truth[0]);
                        // An invariant that starts at 0 (an absent element) against its scale.
                        let size =
                            if start != 0.0 { start.abs() } else { at(&data.scale).abs().max(f64::MIN_POSITIVE) };
                        model.iter().map(|y| ((at(y) - start) / size).abs()).fold(0.0, f64::max)
                    })
                    .fold(0.0, f64::max)
            });
            TrajectoryScore {
                trajectory: k,
                held_out: data.validation.contains(&k),
                mae: mae_of(&compared),
                mae_t: has_t.then(|| mae_of(&[0])),
                ignition: delays.as_ref().map(|d| d[k]),
                invariant_drift: drift,
            }
        });
        Ok(scores.collect())
    }
}

/// The relative error of an ignition delay, `None` where either side did not ignite.
pub fn delay_error(d: &IgnitionDelay) -> Option<f64> {
    Some((d.model? - d.reference?).abs() / d.reference?)
}

/// The ignition-delay errors of a set of trajectories, in a line of `metrics.jsonl` and at the
/// end of training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DelayErrors {
    /// Trajectories that ignite in the reference.
    pub trajectories: usize,
    /// Mean relative error over those that ignite in the model too (none where none do).
    pub mean: Option<f64>,
    /// The largest.
    pub max: Option<f64>,
    /// Those that do not ignite in the model (its `dT/dt` largest at an end of the solve).
    pub missed: usize,
}

impl DelayErrors {
    /// The errors of `delays`.
    pub fn of(delays: &[IgnitionDelay]) -> Self {
        let errors: Vec<f64> = delays.iter().filter_map(delay_error).collect();
        let trajectories = delays.iter().filter(|d| d.reference.is_some()).count();
        Self {
            trajectories,
            mean: (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64),
            max: errors.iter().copied().reduce(f64::max),
            missed: trajectories - errors.len(),
        }
    }
}
