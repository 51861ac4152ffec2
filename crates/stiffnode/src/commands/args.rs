//! The arguments that `solve` and `gradcheck` share: the problem and method, and step control.

use anyhow::bail;
use stiffnode_solvers::problems::{self, Mechanism};
use stiffnode_solvers::{Method, SolveOptions, methods};

/// `--problem NAME|FILE --method NAME`.
#[derive(clap::Args)]
pub struct ProblemArgs {
    /// Built-in problem (robertson, pollu) or the path of a mechanism .toml file.
    #[arg(long)]
    problem: String,
    /// Method name (see `stiffnode methods`).
    #[arg(long)]
    method: String,
}

impl ProblemArgs {
    /// The method and the mechanism, with `t_end` checked to be finite and positive.
    pub fn load(&self, t_end: f64) -> anyhow::Result<(Method, Mechanism)> {
        let method = methods::by_name(&self.method)?;
        let mech = problems::load(&self.problem)?;
        if !(t_end.is_finite() && t_end > 0.0) {
            bail!("invalid --t-end {t_end}: must be finite and > 0");
        }
        Ok((method, mech))
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
    /// The solve options these arguments ask for.
    pub fn options(&self) -> anyhow::Result<SolveOptions> {
        let mut opts = match self.steps {
            Some(0) => bail!("invalid --steps 0: must be at least 1"),
            Some(n) => SolveOptions::fixed(n),
            None => {
                let rtol = self.rtol.unwrap_or(1e-6);
                SolveOptions::adaptive(rtol, self.atol.unwrap_or(rtol * 1e-4))
            }
        };
        opts.max_steps = self.max_steps;
        Ok(opts)
    }
}
