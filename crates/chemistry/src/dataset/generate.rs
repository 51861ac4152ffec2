//! A dataset made from a mechanism: trajectories solved with radau5 at rtol 1e-10, atol 1e-14
//! on the CPU in f64, from initial states perturbed by seeded log-uniform factors, with a seeded
//! train/validation split, and the metadata that lets the same command remake it bit for bit.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use sha2::{Digest, Sha256};

use super::{Contents, Dataset, Meta, MetaSolver, Split, TimeGrid, Times, Trajectory};
use crate::mass_action::{MassActionField, Mechanism};
use stiffnode_solvers::device::DeviceKind;
use stiffnode_solvers::error::{SetupError, SolveError};
use stiffnode_solvers::field::VectorField;
use stiffnode_solvers::methods;
use stiffnode_solvers::request::{Request, SolveOptions};
use stiffnode_solvers::{solve, solve_record};

const METHOD: &str = "radau5";
const RTOL: f64 = 1e-10;
const ATOL: f64 = 1e-14;

/// The solver every dataset is generated with: radau5, rtol 1e-10, atol 1e-14, CPU f64.
pub fn reference_solver() -> MetaSolver {
    MetaSolver { method: METHOD.into(), rtol: RTOL, atol: ATOL, device: DeviceKind::Cpu.name().into() }
}

/// The output times of a dataset: all ≥ 0, with t = 0 added first when missing.
pub fn dataset_times(times: &[f64]) -> Result<Vec<f64>, SolveError> {
    let mut times = times.to_vec();
    if let Some(t) = times.first().filter(|t| **t < 0.0) {
        return Err(SetupError::InvalidOption { what: "times", why: format!("{t} (times must be ≥ 0)") }.into());
    }
    if times.first() != Some(&0.0) {
        times.insert(0, 0.0);
    }
    Ok(times)
}

/// The states of `field` from `y0` at t = 0 at `times` (the first ≥ 0), by the
/// [`reference_solver`].
pub fn reference_states(field: &dyn VectorField, y0: &[f64], times: &[f64]) -> Result<Vec<Vec<f64>>, SolveError> {
    let options = SolveOptions::adaptive(RTOL, ATOL);
    let request = Request::new(methods::by_name(METHOD)?, y0.to_vec(), 0.0, times.to_vec()).with_options(options);
    Ok(solve(field, &request)?.states)
}

/// The reference solution of `field` from `y0` at t = 0 as a curve: the state at every step
/// point of the [`reference_solver`] from `times[0]` on, the steps landing on `times` (so the
/// curve has at least those points, and more wherever the solver's error control needed them).
pub fn reference_curve(
    field: &dyn VectorField,
    y0: &[f64],
    times: &[f64],
) -> Result<(Vec<f64>, Vec<Vec<f64>>), SolveError> {
    let options = SolveOptions::adaptive(RTOL, ATOL);
    let request = Request::new(methods::by_name(METHOD)?, y0.to_vec(), 0.0, times.to_vec()).with_options(options);
    let record = solve_record(field, &request)?;
    let trajectory = &record.trajectories()[0];
    let at: Vec<f64> = std::iter::once(0.0).chain(trajectory.steps().iter().map(|s| s.t_next)).collect();
    let keep: Vec<usize> = (0..at.len()).filter(|&k| at[k] >= times[0]).collect();
    Ok((keep.iter().map(|&k| at[k]).collect(), keep.iter().map(|&k| trajectory.point(k).to_vec()).collect()))
}

/// The trajectory of `field` from `y0` at t = 0 on `grid` (its own times where the grid is
/// adaptive), by the [`reference_solver`].
pub fn solve_trajectory(field: &dyn VectorField, y0: &[f64], grid: &TimeGrid) -> Result<Trajectory, SolveError> {
    let times = grid.times(y0, field, reference_curve)?;
    let states = reference_states(field, y0, &times)?;
    Ok(Trajectory { times, states })
}

/// A seeded train/validation split of `n` trajectories: a fraction `validation` (in `[0, 1)`)
/// held out when there are several, drawn by shuffling with `rng`.
pub fn split(n: usize, validation: f64, rng: &mut rand::rngs::StdRng) -> Result<Split, SolveError> {
    if !(0.0..1.0).contains(&validation) {
        return Err(
            SetupError::InvalidOption { what: "validation", why: format!("{validation} (must be in [0, 1))") }.into()
        );
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let n_val = if n > 1 { (validation * n as f64).round() as usize } else { 0 };
    let (mut validation, mut train) = (order[..n_val].to_vec(), order[n_val..].to_vec());
    validation.sort_unstable();
    train.sort_unstable();
    Ok(Split { train, validation })
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Generation<'a> {
    /// The mechanism.
    pub mechanism: &'a Mechanism,
    /// Its source as given (a built-in name or a path), recorded in the metadata.
    pub source: &'a str,
    /// The text of its file (hashed into the metadata).
    pub text: &'a str,
    /// Output times: a list (t = 0 is added first when missing; all must be ≥ 0) or an
    /// adaptive grid per trajectory.
    pub times: TimeGrid,
    /// Number of trajectories, at least 1.
    pub trajectories: usize,
    /// With several trajectories, every nonzero initial value is scaled by a log-uniform factor
    /// in `[1/perturb, perturb]`; at least 1.
    pub perturb: f64,
    /// Seed of the perturbations and of the split.
    pub seed: u64,
    /// Fraction of the trajectories held out for validation (with several), in `[0, 1)`.
    pub validation: f64,
    /// The command that asked for it, recorded in the metadata.
    pub command: String,
}

/// Solve the trajectories `spec` asks for and return them with their metadata.
pub fn generate(spec: &Generation) -> Result<(Dataset, Meta), SolveError> {
    let bad = |what, why: String| Err(SetupError::InvalidOption { what, why }.into());
    if let TimeGrid::Fixed(times) = &spec.times {
        dataset_times(times)?;
    }
    if spec.trajectories == 0 {
        return bad("trajectories", "0 (must be at least 1)".into());
    }
    if !(spec.perturb.is_finite() && spec.perturb >= 1.0) {
        return bad("perturb", format!("{} (must be ≥ 1)", spec.perturb));
    }
    if !(0.0..1.0).contains(&spec.validation) {
        return bad("validation", format!("{} (must be in [0, 1))", spec.validation));
    }
    let mech = spec.mechanism;
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let ln_f = spec.perturb.ln();
    let several = spec.trajectories > 1;
    let initial: Vec<Vec<f64>> = (0..spec.trajectories)
        .map(|_| {
            let perturbed = |y: f64, rng: &mut rand::rngs::StdRng| y * rng.random_range(-ln_f..=ln_f).exp();
            mech.initial.iter().map(|&y| if several && y != 0.0 { perturbed(y, &mut rng) } else { y }).collect()
        })
        .collect();
    let field = MassActionField::new(mech, &DeviceKind::Cpu.open()?);
    let trajectories =
        initial.iter().map(|y0| solve_trajectory(&field, y0, &spec.times)).collect::<Result<Vec<_>, _>>()?;
    // The same seeded generator: the split is reproducible.
    let split = split(spec.trajectories, spec.validation, &mut rng)?;
    let meta = Meta {
        command: spec.command.clone(),
        initial_states: initial,
        mechanism: mech.name.clone(),
        mechanism_sha256: sha256(spec.text),
        mechanism_source: spec.source.to_string(),
        perturb: spec.perturb,
        seed: spec.seed,
        contents: Contents::new(mech.species.clone(), Times::of(&trajectories), split),
    };
    Ok((Dataset { species: mech.species.clone(), trajectories }, meta))
}

/// The SHA-256 of `text`, in hex (recorded for the files a dataset was made from).
pub fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
