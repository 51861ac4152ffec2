//! The TOML configuration of a training run. Unknown keys and wrong types are errors that name
//! the file and the key (serde's `deny_unknown_fields`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stiffnode_models::MlpConfig;
use stiffnode_solvers::{DeviceKind, Evaluation, Method, SetupError, SolveOptions, StepSettings};

use crate::error::TrainError;
use crate::remedy::{BalanceRule, Remedy};

/// A training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// `[data]`: the dataset and the mechanism that names its species.
    pub data: DataConfig,
    /// `[model]`: the vector field to fit.
    pub model: ModelConfig,
    /// `[solver]`: method and step control.
    pub solver: SolverConfig,
    /// `[train]`: the optimization.
    pub train: TrainingConfig,
}

/// Where the data are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A dataset directory (`data.csv`, `meta.json`) written by `stiffnode generate`; a
    /// relative path is relative to the configuration file's directory.
    pub dataset: PathBuf,
    /// The mechanism whose species name the dataset's columns (built-in name or file).
    pub mechanism: String,
}

/// The vector field to fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelConfig {
    /// A neural vector field.
    Mlp(MlpConfig),
    /// The mechanism's own kinetics with learnable `log10` rate constants (`kinetics` is the
    /// same: for a reactor problem, `log10` factors on the chosen reactions' forward rates).
    #[serde(alias = "kinetics")]
    MassAction {
        /// Reaction indices (1-based, as in the mechanism file) or names (a reactor problem's
        /// reactions by their equations); empty: all.
        #[serde(default)]
        learnable: Vec<ReactionRef>,
        /// Start each learnable rate constant at this factor times the mechanism's.
        #[serde(default = "one")]
        start_factor: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl ModelConfig {
    /// Whether the model holds the problem's invariants and inert species (an MLP with
    /// `conserve`; design.md §13).
    pub fn conserves(&self) -> bool {
        matches!(self, Self::Mlp(c) if c.conserve)
    }
}

/// A reaction of the mechanism, by 1-based index or by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReactionRef {
    /// 1-based, in file order.
    Index(usize),
    /// The reaction's `name` (or its index written as a string).
    Name(String),
}

/// How the model is integrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverConfig {
    /// The method, by name (see `stiffnode methods`).
    pub method: Method,
    /// Adaptive steps: relative tolerance [default: 1e-6].
    pub rtol: Option<f64>,
    /// Adaptive steps: absolute tolerance [default: rtol·1e-4].
    pub atol: Option<f64>,
    /// Fixed steps per interval between data times (instead of tolerances).
    pub steps: Option<usize>,
    /// Limit on step attempts per solve.
    #[serde(default = "max_steps")]
    pub max_steps: usize,
    /// Take the trajectories of a mini-batch through one shared step sequence, the worst one's,
    /// instead of each its own.
    #[serde(default)]
    pub shared_steps: bool,
}

fn max_steps() -> usize {
    stiffnode_solvers::SolveOptions::DEFAULT_MAX_STEPS
}

impl SolverConfig {
    /// The step settings of the section.
    pub fn settings(&self) -> StepSettings {
        StepSettings { rtol: self.rtol, atol: self.atol, steps: self.steps, max_steps: self.max_steps }
    }

    /// The solve options the section asks for, checked against the method.
    pub fn options(&self) -> Result<SolveOptions, SetupError> {
        let opts = self.settings().options()?;
        opts.check_method(&self.method)?;
        Ok(opts)
    }

    /// Where the engine evaluates the model: each trajectory its own steps, unless the section
    /// asks for shared ones.
    pub fn evaluation(&self) -> Evaluation {
        if self.shared_steps { Evaluation::SharedSteps } else { Evaluation::Auto }
    }
}

/// The loss on scaled states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Mean absolute error.
    Mae,
    /// Mean squared error.
    Mse,
}

/// Optimizers from `burn-optim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (Kingma & Ba 2015).
    Adam,
    /// AdamW, decoupled weight decay (Loshchilov & Hutter 2019).
    Adamw,
    /// L-BFGS with a strong-Wolfe line search; `lr` is its first trial step (1 is usual) and
    /// `clip` does not apply.
    Lbfgs,
}

/// The optimization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Total epochs.
    pub epochs: usize,
    /// Learning rate.
    pub lr: f64,
    /// Final learning rate of a cosine schedule (none: constant).
    pub lr_final: Option<f64>,
    /// The optimizer [default: adamw].
    #[serde(default = "adamw")]
    pub optimizer: OptimizerKind,
    /// Decoupled weight decay (AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this.
    pub clip: Option<f64>,
    /// The loss [default: mae].
    #[serde(default = "mae")]
    pub loss: LossKind,
    /// Per-species loss weights (default 1).
    pub weights: Option<Vec<f64>>,
    /// Trajectories per mini-batch (0: all).
    #[serde(default)]
    pub batch_size: usize,
    /// Stop when the validation loss has not improved for this many epochs (0: never).
    #[serde(default)]
    pub patience: usize,
    /// Seed of initialization and mini-batch order.
    #[serde(default)]
    pub seed: u64,
    /// Device: cpu or wgpu.
    #[serde(default)]
    pub device: DeviceKind,
    /// Start from the model of this run's best checkpoint (a warm start, e.g. L-BFGS after
    /// Adam); the architecture must match.
    pub init: Option<PathBuf>,
    /// Log the per-mode gradient split every this many epochs (0: never; default: a tenth of
    /// the epochs).
    pub modes_every: Option<usize>,
    /// A remedy for the vanishing fast-mode gradient [default: none] (see `remedy`).
    #[serde(default)]
    pub remedy: Remedy,
    /// The mode-balanced weights' rule [default: damping].
    #[serde(default)]
    pub balance: BalanceRule,
    /// Cap on the mode-balanced weights [default: 1000].
    #[serde(default = "c_max")]
    pub c_max: f64,
    /// Write the checkpoints after the first epoch, then at most every this many seconds (0:
    /// after every epoch), and at the end of the run [default: 10]: an epoch of a small model takes milliseconds, and a
    /// synced checkpoint write about as long.
    #[serde(default = "checkpoint_every_s")]
    pub checkpoint_every_s: f64,
    /// With one batch per epoch, take back an update after which the loss grew by more than
    /// this factor, and redo it at half its learning rate (0: never) [default: 10].
    #[serde(default = "max_loss_growth")]
    pub max_loss_growth: f64,
    /// Multiple shooting: train on windows of a few data intervals, each from a data state
    /// (design.md §13) [default: whole trajectories from their initial states].
    pub shooting: Option<Shooting>,
    /// Derivative warm start: fit the model to the reference rates at the training data before
    /// the first epoch of a new run (design.md §13) [default: none].
    pub warm_start: Option<WarmStart>,
    /// Weight of the ignition-delay term `|ln(τ_model/τ_data)|` in the loss, for a reactor
    /// problem with a temperature (design.md §13) [default: 0, off].
    #[serde(default)]
    pub ignition_weight: f64,
    /// Log the validation set's ignition-delay errors (the training set's without one) every
    /// this many epochs, for a reactor problem with a temperature (0: never; default: a tenth
    /// of the epochs).
    pub ignition_every: Option<usize>,
}

/// The derivative warm start's steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStart {
    /// Full-batch optimizer steps.
    pub epochs: usize,
    /// Their learning rate.
    pub lr: f64,
}

/// Multiple shooting's windows and their curriculum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shooting {
    /// Data intervals per window at the start, at least 1.
    pub window: usize,
    /// Double the window every this many epochs, until windows hold whole trajectories (0:
    /// never) [default: 0].
    #[serde(default)]
    pub grow_every: usize,
}

impl Shooting {
    /// The window of epoch `e` (1-based): `window·2^⌊(e−1)/grow_every⌋`.
    pub fn window_at(&self, e: usize) -> usize {
        let doublings = e.saturating_sub(1).checked_div(self.grow_every).unwrap_or(0).min(40);
        self.window.saturating_mul(1usize << doublings)
    }
}

fn c_max() -> f64 {
    1e3
}

fn checkpoint_every_s() -> f64 {
    10.0
}

fn max_loss_growth() -> f64 {
    10.0
}

fn adamw() -> OptimizerKind {
    OptimizerKind::Adamw
}
fn mae() -> LossKind {
    LossKind::Mae
}

impl TrainConfig {
    /// Read and check `path`.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Config { file: file.clone(), what: format!("cannot read: {e}") })?;
        let mut config = Self::parse(&text, &file)?;
        config.resolve_paths(path.parent().unwrap_or(Path::new("")));
        Ok(config)
    }

    /// Make the relative paths of the file (dataset, mechanism file, `init` run) relative to
    /// `dir`, the directory of the configuration file, as Cargo does with its manifests.
    pub fn resolve_paths(&mut self, dir: &Path) {
        let at = |p: &Path| if p.is_relative() { dir.join(p) } else { p.to_path_buf() };
        self.data.dataset = at(&self.data.dataset);
        if stiffnode_chemistry::mass_action::is_file_name(&self.data.mechanism) {
            self.data.mechanism = at(Path::new(&self.data.mechanism)).display().to_string();
        }
        if let Some(init) = &self.train.init {
            self.train.init = Some(at(init));
        }
    }

    /// Parse TOML `text` (named `file` in errors) and check its values.
    pub fn parse(text: &str, file: &str) -> Result<Self, TrainError> {
        let bad = |what: String| TrainError::Config { file: file.to_string(), what };
        let config: Self =
            toml::from_str(text).map_err(|e| bad(e.message().to_string() + &location(text, e.span())))?;
        let t = &config.train;
        if t.epochs == 0 {
            return Err(bad("train.epochs must be at least 1".into()));
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(bad(format!("train.lr = {} must be > 0", t.lr)));
        }
        if let Some(c) = t.clip
            && !(c.is_finite() && c > 0.0)
        {
            return Err(bad(format!("train.clip = {c} must be > 0")));
        }
        if let Some(f) = t.lr_final
            && !(f.is_finite() && f >= 0.0)
        {
            return Err(bad(format!("train.lr_final = {f} must be ≥ 0")));
        }
        if !(t.c_max.is_finite() && t.c_max >= 1.0) {
            return Err(bad(format!("train.c_max = {} must be ≥ 1 (a cap on weights that undo damping)", t.c_max)));
        }
        if !(t.checkpoint_every_s.is_finite() && t.checkpoint_every_s >= 0.0) {
            return Err(bad(format!("train.checkpoint_every_s = {} must be ≥ 0 seconds", t.checkpoint_every_s)));
        }
        if !(t.max_loss_growth.is_finite() && (t.max_loss_growth == 0.0 || t.max_loss_growth > 1.0)) {
            return Err(bad(format!("train.max_loss_growth = {} must be 0 (off) or > 1", t.max_loss_growth)));
        }
        if let Some(w) = &t.warm_start
            && !(w.lr.is_finite() && w.lr > 0.0)
        {
            return Err(bad(format!("train.warm_start.lr = {} must be > 0", w.lr)));
        }
        if let Some(s) = &t.shooting
            && s.window == 0
        {
            return Err(bad("train.shooting.window = 0 must be at least 1 data interval".into()));
        }
        if !(t.ignition_weight.is_finite() && t.ignition_weight >= 0.0) {
            return Err(bad(format!("train.ignition_weight = {} must be ≥ 0", t.ignition_weight)));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(bad(format!("train.weight_decay = {} must be ≥ 0", t.weight_decay)));
        }
        if let Some(w) = &t.weights
            && let Some(x) = w.iter().find(|x| !(x.is_finite() && **x >= 0.0))
        {
            return Err(bad(format!("train.weights: {x} is not a finite non-negative weight")));
        }
        match config.solver.options() {
            Err(SetupError::NoErrorEstimate { method }) => Err(bad(format!(
                "solver.method: '{method}' has no error estimate: set solver.steps (fixed steps per data interval) instead of tolerances"
            ))),
            Err(e) => Err(bad(format!("solver: {e}"))),
            Ok(_) => Ok(config),
        }
    }
}

/// ` at line L, column C: `<the line>`` for a byte span in `text`.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map_or_else(String::new, |r| {
        let before = &text[..r.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
        let source = text.lines().nth(line - 1).unwrap_or_default().trim();
        format!(" at line {line}, column {column}: `{source}`")
    })
}
