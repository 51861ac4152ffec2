//! The arguments that several commands share (the problem and method, step control), and the
//! command-line flag behind a library option, which the library's messages never name.

use anyhow::bail;
use stiffnode_chemistry::gas::{self, ReactorProblem};
use stiffnode_chemistry::mass_action::{self, Mechanism};
use stiffnode_solvers::{Method, SetupError, SolveOptions, StepSettings};

/// `--run DIR [--checkpoint best|last] [--device KIND]`: a trained model.
#[derive(clap::Args)]
pub struct RunArgs {
    /// A run directory written by `stiffnode train`.
    #[arg(long)]
    pub run: std::path::PathBuf,
    /// Checkpoint: best or last.
    #[arg(long, default_value = "best")]
    checkpoint: String,
    /// Device: cpu (f64), wgpu (f32) or cuda (f64, with the cuda feature) [default: the run's].
    #[arg(long)]
    device: Option<stiffnode_solvers::DeviceKind>,
}

impl RunArgs {
    /// The run's set-up with the model of the checkpoint.
    pub fn open(&self) -> anyhow::Result<stiffnode_train::Setup> {
        use anyhow::Context;
        if !["best", "last"].contains(&self.checkpoint.as_str()) {
            bail!("invalid --checkpoint '{}' (known: best, last)", self.checkpoint);
        }
        let opening = || format!("opening run {}", self.run.display());
        let run = stiffnode_train::RunDir::open(&self.run).with_context(opening)?;
        stiffnode_train::Setup::from_run(&run, &self.checkpoint, self.device).with_context(opening)
    }
}

/// `--problem NAME|FILE --method NAME`.
#[derive(clap::Args)]
pub struct ProblemArgs {
    /// Built-in problem (robertson, pollu), the path of a mechanism .toml file, or of a reactor
    /// problem .yaml file (a Cantera mechanism in a reactor; `solve` only).
    #[arg(long)]
    problem: String,
    /// Method name (see `stiffnode methods`).
    #[arg(long)]
    method: Method,
}

impl ProblemArgs {
    /// The reactor problem, when `--problem` names a .yaml file.
    pub fn reactor(&self) -> anyhow::Result<Option<ReactorProblem>> {
        Ok(if gas::is_problem_file(&self.problem) { Some(gas::load_problem(&self.problem)?) } else { None })
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The method and the mechanism, with `t_end` checked to be finite and positive.
    pub fn load(&self, t_end: f64) -> anyhow::Result<(Method, Mechanism)> {
        if gas::is_problem_file(&self.problem) {
            bail!("--problem {}: reactor problems (.yaml) are solved by `stiffnode solve` only, so far", self.problem);
        }
        let mech = mass_action::load(&self.problem)?;
        if !(t_end.is_finite() && t_end > 0.0) {
            bail!("invalid --t-end {t_end}: must be finite and > 0");
        }
        Ok((self.method.clone(), mech))
    }
}

/// `--steps N` or `--rtol R [--atol A]`, and `--max-steps`.
#[derive(clap::Args)]
pub struct StepArgs {
    /// Relative tolerance for adaptive steps [default: 1e-6].
    #[arg(long, conflicts_with = "steps", allow_hyphen_values = true)]
    rtol: Option<f64>,
    /// Absolute tolerance for adaptive steps [default: rtol·1e-4].
    #[arg(long, conflicts_with = "steps", allow_hyphen_values = true)]
    atol: Option<f64>,
    /// Fixed steps: N equal steps in every interval between output times.
    #[arg(long)]
    steps: Option<usize>,
    /// Limit on step attempts.
    #[arg(long, default_value_t = SolveOptions::DEFAULT_MAX_STEPS)]
    max_steps: usize,
}

impl StepArgs {
    /// Whether any of these arguments was given (`--max-steps` at its default counts as not).
    pub fn given(&self) -> bool {
        self.rtol.is_some()
            || self.atol.is_some()
            || self.steps.is_some()
            || self.max_steps != SolveOptions::DEFAULT_MAX_STEPS
    }

    /// The solve options these arguments ask for, checked against `method`.
    pub fn options(&self, method: &Method) -> anyhow::Result<SolveOptions> {
        let settings = StepSettings { rtol: self.rtol, atol: self.atol, steps: self.steps, max_steps: self.max_steps };
        let opts = settings.options().map_err(with_flag)?;
        opts.check_method(method).map_err(with_flag)?;
        Ok(opts)
    }
}

/// A library set-up error with the command-line flag that sets what it names: an invalid
/// option gets its flag in front, a method without error estimate the flag that avoids it.
pub fn with_flag(e: SetupError) -> anyhow::Error {
    match &e {
        SetupError::InvalidOption { what, .. } if FLAGS.contains(what) => {
            let flag = format!("--{}", what.replace('_', "-"));
            anyhow::Error::new(e).context(flag)
        }
        SetupError::NoErrorEstimate { .. } => anyhow::anyhow!("{e} (--steps N)"),
        _ => e.into(),
    }
}

/// Library option names that are also flag names (with `_` spelled `-`).
const FLAGS: [&str; 7] = ["rtol", "atol", "steps", "max_steps", "trajectories", "perturb", "validation"];
