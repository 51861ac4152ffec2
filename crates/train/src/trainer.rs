//! The training loop: epochs of mini-batches over trajectories; each batch is one batched
//! solve, a loss on scaled states, its gradient by the discrete adjoint
//! (`gradient::adjoint_gradient`), the global-norm clip and an optimizer step. Every epoch
//! appends a line to `metrics.jsonl` and writes the `last` checkpoint (and `best` when the
//! loss improves). Mini-batch order comes from a generator seeded by `seed` and the epoch, so
//! a resumed run repeats the uninterrupted run's losses exactly. Every `modes_every` epochs the
//! batches' gradients are also split by eigenmode into `modes.jsonl` (an observer: the updates
//! do not change).

use std::f64::consts::PI;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use stiffnode_solvers::field::{from_host, to_host};
use stiffnode_solvers::gradient::modes::split as modal_split;
use stiffnode_solvers::gradient::{adjoint_gradient, adjoint_gradient_observed};
use stiffnode_solvers::problems::{self, Mechanism};
use stiffnode_solvers::{DeviceKind, Method, SolveError, SolveOptions, Stats, methods, solve};

use crate::checkpoint::{self, RunState};
use crate::config::TrainConfig;
use crate::data::TrainingData;
use crate::error::TrainError;
use crate::loss::Loss;
use crate::model::Model;
use crate::modes::{self, ModeLogger};
use crate::optimizer::Optimizer;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    /// Validation loss (null without a validation set).
    pub val_loss: Option<f64>,
    /// Global gradient norm of the epoch's last batch, before clipping.
    pub grad_norm: f64,
    pub lr: f64,
    /// Seconds since the run started (resumes included).
    pub wall_s: f64,
    /// Solver work of the epoch's training solves.
    pub steps: usize,
    pub rejected: usize,
    pub newton_iterations: usize,
    pub jacobian_evaluations: usize,
    /// Updates taken back in this epoch because the next solve failed at the updated model
    /// (each redone at half the learning rate).
    pub retreats: usize,
}

/// A training run in a run directory.
pub struct Trainer {
    pub config: TrainConfig,
    pub run: PathBuf,
    pub data: TrainingData,
    pub mechanism: Mechanism,
    pub model: Model,
    pub state: RunState,
    method: Method,
    opts: SolveOptions,
    device: Device,
    optim: Optimizer,
    loss: Loss,
    /// The state before the last update, to take it back (see [`Trainer::guarded_step`]).
    undo: Option<Undo>,
}

/// The model and optimizer before an update, with the update's batch and learning rate.
struct Undo {
    model: Model,
    optim: Optimizer,
    ids: Vec<usize>,
    lr: f64,
}

/// Halvings of the learning rate tried when a solve fails at an updated model.
const MAX_RETREATS: i32 = 10;

impl Trainer {
    /// Start a new run in `run` (which must not hold one) from `config` (read from `file`).
    /// The run's `config.toml` is the resolved configuration, its paths made absolute so that
    /// the run can be resumed and used from any working directory.
    pub fn start(mut config: TrainConfig, file: &str, run: &Path) -> Result<Self, TrainError> {
        if let Ok(abs) = std::fs::canonicalize(&config.data.dataset) {
            config.data.dataset = abs;
        }
        if let Some(init) = &config.train.init
            && let Ok(abs) = std::fs::canonicalize(init)
        {
            config.train.init = Some(abs);
        }
        if problems::is_file_name(&config.data.mechanism)
            && let Ok(abs) = std::fs::canonicalize(&config.data.mechanism)
        {
            config.data.mechanism = abs.display().to_string();
        }
        // The default log interval is fixed at the start, so that resuming with another
        // total epoch count keeps the schedule.
        config.train.modes_every.get_or_insert((config.train.epochs / 10).max(1));
        if checkpoint::path(run, "last").exists() {
            return Err(TrainError::io(run, "already holds a training run: resume it with --resume, or choose another --out"));
        }
        // Everything is checked before the run directory is touched.
        let text = toml::to_string(&config).expect("configuration serializes");
        let state = RunState { epoch: 0, best_loss: f64::INFINITY, best_epoch: 0, wall_s: 0.0 };
        let mut trainer = Self::build(config, file, run, state)?;
        if let Some(init) = trainer.config.train.init.clone() {
            trainer.model = checkpoint::load_model(&init, "best", trainer.model.clone())?;
        }
        std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
        std::fs::write(run.join("config.toml"), text).map_err(|e| TrainError::io(&run.join("config.toml"), e))?;
        let _ = std::fs::remove_file(run.join("metrics.jsonl"));
        let _ = std::fs::remove_file(run.join("modes.jsonl"));
        Ok(trainer)
    }

    /// Resume the run in `run` from its `last` checkpoint; `epochs` (if given) replaces the
    /// total epoch count and `device` the device.
    pub fn resume(run: &Path, epochs: Option<usize>, device: Option<String>) -> Result<Self, TrainError> {
        let t = Self::open(run, "last", epochs, device)?;
        t.truncate_logs()?;
        Ok(t)
    }

    /// The run in `run` with the model, optimizer and state of its checkpoint `name` (`last`
    /// or `best`), without touching its files.
    pub fn open(run: &Path, name: &str, epochs: Option<usize>, device: Option<String>) -> Result<Self, TrainError> {
        let file = run.join("config.toml");
        if !file.is_file() {
            return Err(TrainError::io(run, "not a training run directory (no config.toml)"));
        }
        let mut config = TrainConfig::load(&file)?;
        if let Some(e) = epochs {
            config.train.epochs = e;
        }
        if let Some(d) = device {
            config.train.device = d;
        }
        let mut t = Self::build(config, &file.display().to_string(), run, RunState { epoch: 0, best_loss: f64::INFINITY, best_epoch: 0, wall_s: 0.0 })?;
        let (model, optim, state) = checkpoint::load(run, name, t.model.clone(), t.optim.clone(), &t.config.train.device)?;
        (t.model, t.optim, t.state) = (model, optim, state);
        Ok(t)
    }

    fn build(config: TrainConfig, file: &str, run: &Path, state: RunState) -> Result<Self, TrainError> {
        let bad = |what: String| TrainError::Config { file: file.to_string(), what };
        let method = methods::by_name(&config.solver.method).map_err(|e| bad(format!("solver.method: {e}")))?;
        if config.solver.steps.is_none() && !method.info().embedded {
            return Err(bad(format!("solver.method: '{}' has no error estimate: set solver.steps (fixed steps per data interval) instead of tolerances", method.name())));
        }
        let mechanism = problems::load(&config.data.mechanism)?;
        let data = TrainingData::load(&config.data.dataset, &mechanism.species)?;
        if let Some(w) = &config.train.weights
            && (w.len() != data.species.len() || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
        {
            return Err(bad(format!("train.weights: {} non-negative numbers expected (one per species), got {w:?}", data.species.len())));
        }
        if config.train.optimizer == crate::config::OptimizerKind::Lbfgs && config.train.clip.is_some() {
            return Err(bad("train.clip: clipping does not apply to lbfgs (its line search sets the step); remove it".into()));
        }
        let kind: DeviceKind = config.train.device.parse().map_err(|e: SolveError| bad(format!("train.device: {e}")))?;
        let device = kind.open().map_err(|e| TrainError::Solve { epoch: state.epoch, error: e })?.autodiff();
        let model = Model::new(&config.model, &mechanism, &data, config.train.seed, &device, file)?;
        let t = &config.train;
        let optim = Optimizer::new(t);
        let loss = Loss::new(t.loss, &data.scale, t.weights.as_deref(), &device);
        let opts = config.solve_options();
        Ok(Self { config, run: run.to_path_buf(), data, mechanism, model, state, method, opts, device, optim, loss, undo: None })
    }

    /// Learning rate at epoch `e` (1-based): constant, or cosine from `lr` to `lr_final`.
    pub fn lr(&self, e: usize) -> f64 {
        let t = &self.config.train;
        match t.lr_final {
            None => t.lr,
            Some(f) => f + 0.5 * (t.lr - f) * (1.0 + (PI * (e - 1) as f64 / t.epochs.max(2).saturating_sub(1) as f64).cos()),
        }
    }

    /// Run epochs until the configured total (or early stopping), calling `on_epoch` after each.
    pub fn run(&mut self, mut on_epoch: impl FnMut(&EpochMetrics)) -> Result<(), TrainError> {
        while self.state.epoch < self.config.train.epochs {
            let m = self.epoch()?;
            on_epoch(&m);
            let p = self.config.train.patience;
            if p > 0 && self.state.epoch - self.state.best_epoch >= p {
                break;
            }
        }
        Ok(())
    }

    /// One epoch: train, validate, log, checkpoint.
    pub fn epoch(&mut self) -> Result<EpochMetrics, TrainError> {
        let start = Instant::now();
        let e = self.state.epoch + 1;
        let lr = self.lr(e);
        let mut ids = self.data.train.clone();
        ids.shuffle(&mut StdRng::seed_from_u64(self.config.train.seed.wrapping_mul(1_000_003).wrapping_add(e as u64)));
        let size = if self.config.train.batch_size == 0 { ids.len() } else { self.config.train.batch_size };
        let (mut total, mut grad_norm, mut work, mut retreats) = (0.0, 0.0, Stats::default(), 0);
        let mut logger = self.logs_modes(e).then(ModeLogger::default);
        for batch in ids.chunks(size) {
            let (loss, norm, stats) = self.guarded_step(batch, lr, logger.as_mut(), &mut retreats).map_err(|error| TrainError::Solve { epoch: e, error })?;
            total += loss * batch.len() as f64;
            grad_norm = norm;
            work.steps += stats.steps;
            work.rejected += stats.rejected;
            work.newton_iterations += stats.newton_iterations;
            work.jacobian_evaluations += stats.jacobian_evaluations;
        }
        let loss = total / ids.len() as f64;
        let val_loss = if self.data.validation.is_empty() {
            None
        } else {
            Some(self.evaluate(&self.data.validation.clone()).map_err(|error| TrainError::Solve { epoch: e, error })?)
        };
        self.state.epoch = e;
        self.state.wall_s += start.elapsed().as_secs_f64();
        let m = EpochMetrics {
            epoch: e,
            loss,
            val_loss,
            grad_norm,
            lr,
            wall_s: self.state.wall_s,
            steps: work.steps,
            rejected: work.rejected,
            newton_iterations: work.newton_iterations,
            jacobian_evaluations: work.jacobian_evaluations,
            retreats,
        };
        let watched = val_loss.unwrap_or(loss);
        let improved = watched < self.state.best_loss;
        if improved {
            (self.state.best_loss, self.state.best_epoch) = (watched, e);
        }
        self.append_metrics(&m)?;
        if let Some(logger) = logger {
            modes::append(&self.run.join("modes.jsonl"), &logger.record(e, &self.method))?;
        }
        checkpoint::save(&self.run, "last", &self.model, &self.optim, &self.state)?;
        if improved {
            // Without a validation set, a one-batch epoch's loss is that of the model before its
            // update: that model is the best one.
            let measured = self.undo.as_ref().filter(|_| val_loss.is_none() && ids.len() <= size);
            let (model, optim) = measured.map_or((&self.model, &self.optim), |u| (&u.model, &u.optim));
            checkpoint::save(&self.run, "best", model, optim, &self.state)?;
        }
        Ok(m)
    }

    /// Whether epoch `e` logs the per-mode gradient split.
    pub fn logs_modes(&self, e: usize) -> bool {
        let t = &self.config.train;
        let every = t.modes_every.unwrap_or((t.epochs / 10).max(1));
        every > 0 && e.is_multiple_of(every)
    }

    /// [`step`](Self::step), guarded: when the solve fails at the current model (an update
    /// made the field too stiff or blow up: step limit, step size floor, Newton failure,
    /// non-finite values), the previous update is taken back and redone at half its learning
    /// rate, up to [`MAX_RETREATS`] halvings; `retreats` counts them. A failure with no update
    /// to take back (the first step of a run or of a resume) is an error.
    fn guarded_step(&mut self, ids: &[usize], lr: f64, mut logger: Option<&mut ModeLogger>, retreats: &mut usize) -> Result<(f64, f64, Stats), SolveError> {
        let mut halvings = 0;
        loop {
            let before = Undo { model: self.model.clone(), optim: self.optim.clone(), ids: ids.to_vec(), lr };
            let error = match self.step(ids, lr, logger.as_deref_mut()) {
                Ok(done) => {
                    self.undo = Some(before);
                    return Ok(done);
                }
                Err(e) => e,
            };
            let recoverable = matches!(
                error,
                SolveError::StepTooSmall { .. } | SolveError::MaxSteps { .. } | SolveError::NewtonFailed { .. } | SolveError::NonFinite { .. } | SolveError::NonFiniteGradient(_)
            );
            let Some(undo) = self.undo.as_ref().filter(|_| recoverable && halvings < MAX_RETREATS) else { return Err(error) };
            halvings += 1;
            *retreats += 1;
            (self.model, self.optim) = (undo.model.clone(), undo.optim.clone());
            let (redo, rate) = (undo.ids.clone(), undo.lr * 0.5f64.powi(halvings));
            self.step(&redo, rate, None)?;
        }
    }

    /// One optimizer step on the trajectories `ids`: loss, gradient norm, solver work. With a
    /// `logger`, the gradient at the step's starting point is also split into modes (from the
    /// same adjoint pass: an observer, the update is the same with or without it).
    fn step(&mut self, ids: &[usize], lr: f64, mut logger: Option<&mut ModeLogger>) -> Result<(f64, f64, Stats), SolveError> {
        let targets: Vec<Vec<f64>> = (1..self.data.times.len()).map(|j| self.data.target(ids, j - 1)).collect();
        let clip = self.config.train.clip;
        let Self { model, method, opts, loss, data, optim, .. } = self;
        let (t0, times) = (data.times[0], &data.times[1..]);
        // Loss, gradient and solver work of the batch for a model; the first evaluation of a
        // logged step also splits its per-step adjoints into eigenmodes (DESIGN §5).
        let evaluate = |m: &Model| -> Result<(f64, GradientsParams, Stats), SolveError> {
            let loss = |states: &[Tensor<2>]| loss.eval(states, &targets);
            let y0 = data.initial(ids);
            let Some(logger) = logger.take() else {
                let g = adjoint_gradient(m, method, &y0, t0, times, opts, loss)?;
                return Ok((g.loss, g.params, g.trajectory.solution.stats));
            };
            let mut adjoints = Vec::new();
            let g = adjoint_gradient_observed(m, method, &y0, t0, times, opts, loss, |n, a| adjoints.push((n, a.to_vec())))?;
            let split = modal_split(&m.valid(), method, &g.trajectory, &adjoints, opts.host_fast_path)?;
            logger.add(m, &split, &g.params);
            Ok((g.loss, g.params, g.trajectory.solution.stats))
        };
        let (updated, value, norm, stats) = optim.step(lr, model.clone(), clip, evaluate)?;
        *model = updated;
        Ok((value, norm, stats))
    }

    /// Predicted states of trajectories `ids` at the data times after the first,
    /// `[time][trajectory·d]`, without recording.
    pub fn predict(&self, ids: &[usize]) -> Result<Vec<Vec<f64>>, SolveError> {
        self.predict_at(ids, &self.data.times[1..])
    }

    /// Predicted states of trajectories `ids` from their initial states at `times` (strictly
    /// increasing, after the data's initial time), `[time][trajectory·d]`.
    pub fn predict_at(&self, ids: &[usize], times: &[f64]) -> Result<Vec<Vec<f64>>, SolveError> {
        let plain = self.model.valid();
        Ok(solve(&plain, &self.method, &self.data.initial(ids), self.data.times[0], times, &self.opts)?.states)
    }

    /// The loss of the current model on trajectories `ids`.
    pub fn evaluate(&self, ids: &[usize]) -> Result<f64, SolveError> {
        let d = self.data.species.len();
        let pred = self.predict(ids)?;
        let device = self.device.clone();
        let pred: Vec<Tensor<2>> = pred.into_iter().map(|p| from_host(p, [ids.len(), d], &device)).collect();
        let targets: Vec<Vec<f64>> = (0..self.data.times.len() - 1).map(|j| self.data.target(ids, j)).collect();
        Ok(to_host(self.loss.eval(&pred, &targets).without_autodiff())[0])
    }

    /// The rate constants of a mass-action model (all reactions, learned or fixed).
    pub fn rate_constants(&self) -> Option<Vec<f64>> {
        match &self.model {
            Model::MassAction(m) => Some(to_host(m.rates().without_autodiff())),
            Model::Mlp(_) => None,
        }
    }

    /// Normalized MAE `mean |y − y_data|/ŷ` over all trajectories, times and species.
    pub fn normalized_mae(&self) -> Result<f64, SolveError> {
        let all: Vec<usize> = (0..self.data.states.len()).collect();
        let pred = self.predict(&all)?;
        let d = self.data.species.len();
        let (mut sum, mut n) = (0.0, 0usize);
        for (j, p) in pred.iter().enumerate() {
            for (k, v) in p.iter().enumerate() {
                sum += (v - self.data.states[k / d][j + 1][k % d]).abs() / self.data.scale[k % d];
                n += 1;
            }
        }
        Ok(sum / n as f64)
    }

    /// Drop log lines of epochs after the checkpoint (an interruption between logging and
    /// checkpointing leaves one), so that the resumed run appends where the checkpoint is.
    fn truncate_logs(&self) -> Result<(), TrainError> {
        self.truncate_log("metrics.jsonl")?;
        self.truncate_log("modes.jsonl")
    }

    fn truncate_log(&self, name: &str) -> Result<(), TrainError> {
        let path = self.run.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        let keep: String = text
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["epoch"].as_u64()).is_some_and(|e| e as usize <= self.state.epoch))
            .map(|l| format!("{l}\n"))
            .collect();
        let tmp = path.with_extension("jsonl.tmp");
        std::fs::write(&tmp, keep).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| TrainError::io(&path, e))
    }

    fn append_metrics(&self, m: &EpochMetrics) -> Result<(), TrainError> {
        let path = self.run.join("metrics.jsonl");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| TrainError::io(&path, e))?;
        writeln!(f, "{}", serde_json::to_string(m).expect("metrics serialize")).map_err(|e| TrainError::io(&path, e))
    }
}

