//! The step-control arguments that `solve` and `gradcheck` share.

use anyhow::bail;
use stiffnode_solvers::SolveOptions;

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
