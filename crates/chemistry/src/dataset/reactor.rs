//! Datasets of a reactor problem: one trajectory per initial condition, drawn with a seed from
//! the problem's `sweep` (temperature uniform, pressure log-uniform, equivalence ratio uniform;
//! the problem's own values where the sweep gives no range, and for a single trajectory),
//! each solved by its own reactor with the reference solver of every stiffnode dataset, with a
//! seeded train/validation split and the metadata to remake it bit for bit.

use crate::dataset::{self, Contents, Dataset};
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use stiffnode_solvers::{DeviceKind, SetupError, SolveError};

use crate::gas::ReactorProblem;

/// What to generate.
#[derive(Debug, Clone)]
pub struct ReactorGeneration<'a> {
    /// The problem.
    pub problem: &'a ReactorProblem,
    /// The problem file as given, recorded in the metadata.
    pub source: &'a str,
    /// The problem file's text and its mechanism file's text (hashed into the metadata).
    pub texts: [&'a str; 2],
    /// Output times: a list (t = 0 is added first when missing; all must be ≥ 0) or an
    /// adaptive grid per trajectory.
    pub times: dataset::TimeGrid,
    /// Number of trajectories, at least 1.
    pub trajectories: usize,
    /// Seed of the initial conditions and of the split.
    pub seed: u64,
    /// Fraction of the trajectories held out for validation (with several), in `[0, 1)`.
    pub validation: f64,
    /// The command that asked for it, recorded in the metadata.
    pub command: String,
}

/// One trajectory's initial condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Temperature, K.
    #[serde(rename = "T")]
    pub t: f64,
    /// Pressure, Pa.
    #[serde(rename = "P")]
    pub p: f64,
    /// Equivalence ratio, for problems given by fuel and oxidizer.
    pub equivalence_ratio: Option<f64>,
}

/// Everything a reactor dataset's `meta.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactorMeta {
    /// The command that wrote the dataset.
    pub command: String,
    /// Initial condition of each trajectory.
    pub initial_conditions: Vec<Condition>,
    /// Initial state of each trajectory (`T` and mass fractions, or concentrations).
    pub initial_states: Vec<Vec<f64>>,
    /// SHA-256 of the mechanism file's text.
    pub mechanism_sha256: String,
    /// The problem file as it was given.
    pub problem: String,
    /// SHA-256 of the problem file's text.
    pub problem_sha256: String,
    /// The reactor.
    pub reactor: String,
    /// Seed of the initial conditions and the split.
    pub seed: u64,
    /// Columns, times, split and solver, as every dataset records them.
    #[serde(flatten)]
    pub contents: Contents,
}

/// Draw the initial conditions, solve each trajectory and return them with their metadata.
pub fn generate(spec: &ReactorGeneration) -> Result<(Dataset, ReactorMeta), SolveError> {
    if spec.trajectories == 0 {
        return Err(SetupError::InvalidOption { what: "trajectories", why: "0 (must be at least 1)".into() }.into());
    }
    if let dataset::TimeGrid::Fixed(times) = &spec.times {
        dataset::dataset_times(times)?;
    }
    let problem = spec.problem;
    let sweep = &problem.sweep;
    let varies =
        sweep.t.is_some() || sweep.p.is_some() || (sweep.equivalence_ratio.is_some() && problem.mixture.is_some());
    if spec.trajectories > 1 && !varies {
        return Err(SetupError::InvalidOption {
            what: "trajectories",
            why: format!(
                "{}: the problem has no sweep, so every trajectory would be the same (and the validation set a copy of the training set); give it a sweep of T, P or the equivalence ratio",
                spec.trajectories
            ),
        }
        .into());
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let several = spec.trajectories > 1;
    let mut draw = |range: Option<[f64; 2]>, log: bool, own: f64| match range.filter(|_| several) {
        Some([lo, hi]) if log => rng.random_range(lo.ln()..=hi.ln()).exp(),
        Some([lo, hi]) => rng.random_range(lo..=hi),
        None => own,
    };
    let conditions: Vec<Condition> = (0..spec.trajectories)
        .map(|_| Condition {
            t: draw(sweep.t, false, problem.t),
            p: draw(sweep.p, true, problem.p),
            equivalence_ratio: problem.mixture.as_ref().map(|m| draw(sweep.equivalence_ratio, false, m.phi)),
        })
        .collect();
    let device = DeviceKind::Cpu.open()?;
    let (mut initial, mut trajectories, mut species) = (Vec::new(), Vec::new(), Vec::new());
    for c in &conditions {
        // Each condition has its own reactor: its pressure or density is part of the field.
        let (reactor, y0) = problem.at(c.t, c.p, c.equivalence_ratio).reactor(&device);
        trajectories.push(dataset::solve_trajectory(&reactor, &y0, &spec.times)?);
        initial.push(y0);
        species = reactor.state_names();
    }
    let split = dataset::split(spec.trajectories, spec.validation, &mut rng)?;
    let meta = ReactorMeta {
        command: spec.command.clone(),
        initial_conditions: conditions,
        initial_states: initial,
        mechanism_sha256: dataset::sha256(spec.texts[1]),
        problem: spec.source.to_string(),
        problem_sha256: dataset::sha256(spec.texts[0]),
        reactor: problem.reactor.name().to_string(),
        seed: spec.seed,
        contents: Contents::new(species.clone(), dataset::Times::of(&trajectories), split),
    };
    Ok((Dataset { species, trajectories }, meta))
}
