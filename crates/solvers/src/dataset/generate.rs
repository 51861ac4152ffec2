//! A dataset made from a mechanism: trajectories solved with radau5 at rtol 1e-10, atol 1e-14
//! on the CPU in f64, from initial states perturbed by seeded log-uniform factors, with a seeded
//! train/validation split, and the metadata that lets the same command remake it bit for bit.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use sha2::{Digest, Sha256};

use super::{Dataset, Meta, MetaSolver, Split, Trajectory};
use crate::device::DeviceKind;
use crate::error::{SetupError, SolveError};
use crate::methods;
use crate::problems::{MassActionField, Mechanism};
use crate::request::{Request, SolveOptions};
use crate::solve;

const METHOD: &str = "radau5";
const RTOL: f64 = 1e-10;
const ATOL: f64 = 1e-14;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Generation<'a> {
    /// The mechanism.
    pub mechanism: &'a Mechanism,
    /// Its source as given (a built-in name or a path), recorded in the metadata.
    pub source: &'a str,
    /// The text of its file (hashed into the metadata).
    pub text: &'a str,
    /// Output times; t = 0 is added first when missing. All must be ≥ 0.
    pub times: Vec<f64>,
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
    let mut times = spec.times.clone();
    if let Some(t) = times.first().filter(|t| **t < 0.0) {
        return bad("times", format!("{t} (times must be ≥ 0)"));
    }
    if times.first() != Some(&0.0) {
        times.insert(0, 0.0);
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
    let options = SolveOptions::adaptive(RTOL, ATOL);
    let mut trajectories = Vec::with_capacity(initial.len());
    for y0 in &initial {
        let request =
            Request::new(methods::by_name(METHOD)?, y0.clone(), 0.0, times.clone()).with_options(options.clone());
        trajectories.push(Trajectory { times: times.clone(), states: solve(&field, &request)?.states });
    }
    // The same seeded generator: the split is reproducible.
    let mut order: Vec<usize> = (0..spec.trajectories).collect();
    order.shuffle(&mut rng);
    let n_val = if several { (spec.validation * spec.trajectories as f64).round() as usize } else { 0 };
    let (mut validation, mut train) = (order[..n_val].to_vec(), order[n_val..].to_vec());
    validation.sort_unstable();
    train.sort_unstable();
    let meta = Meta {
        command: spec.command.clone(),
        initial_states: initial,
        mechanism: mech.name.clone(),
        mechanism_sha256: Sha256::digest(spec.text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect(),
        mechanism_source: spec.source.to_string(),
        perturb: spec.perturb,
        seed: spec.seed,
        species: mech.species.clone(),
        solver: MetaSolver { method: METHOD.into(), rtol: RTOL, atol: ATOL, device: DeviceKind::Cpu.name().into() },
        split: Split { train, validation },
        stiffnode_version: env!("CARGO_PKG_VERSION").into(),
        times,
        trajectories: spec.trajectories,
    };
    Ok((Dataset { species: mech.species.clone(), trajectories }, meta))
}
