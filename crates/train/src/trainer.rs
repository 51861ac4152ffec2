//! The training loop: epochs of mini-batches over trajectories; each batch is one batched
//! solve, a loss on scaled states, its gradient by the discrete adjoint
//! (`gradient::adjoint_gradient`), the global-norm clip and an optimizer step. Every epoch
//! appends a line to `metrics.jsonl`; the `last` checkpoint (and `best` when the loss has
//! improved) is written after the first epoch, then every `checkpoint_every_s` seconds, and when
//! the run ends or stops on an error, so a resume repeats at most those seconds (resuming truncates the logs to the
//! checkpoint's epoch). Mini-batch order comes from a generator seeded by `seed` and the epoch, so
//! a resumed run repeats the uninterrupted run's losses exactly. Every `modes_every` epochs the
//! batches' gradients are also split by eigenmode into `modes.jsonl` (an observer: the updates
//! do not change).

use std::f64::consts::PI;
use std::path::Path;
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use stiffnode_chemistry::mass_action;
use stiffnode_solvers::field::{from_host, to_host};
use stiffnode_solvers::gradient::modes;
use stiffnode_solvers::{DeviceKind, GradientMode, SolveError, Stats};

use crate::checkpoint::{self, RunState};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::evaluation::DelayErrors;
use crate::ignition::IgnitionDelay;
use crate::loss::Loss;
use crate::modes::ModeLogger;
use crate::optimizer::Optimizer;
use crate::remedy::{self, BalanceLog, Remedy};
use crate::run_dir::{Log, RunDir};
use crate::setup::Setup;
use crate::warm_start::WarmStartReport;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochMetrics {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    /// Validation loss (null without a validation set, or where a validation solve failed).
    pub val_loss: Option<f64>,
    /// A validation trajectory's solve failed at this epoch's model (the step limit, a blow-up):
    /// the model is not a candidate for the best checkpoint, and training goes on.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub val_failed: bool,
    /// Global gradient norm of the epoch's last batch, before clipping.
    pub grad_norm: f64,
    /// The epoch's learning rate.
    pub lr: f64,
    /// Seconds since the run started (resumes included).
    pub wall_s: f64,
    /// Accepted steps of the epoch's training solves.
    pub steps: usize,
    /// Rejected steps.
    pub rejected: usize,
    /// Newton iterations.
    pub newton_iterations: usize,
    /// Jacobian evaluations.
    pub jacobian_evaluations: usize,
    /// Updates taken back in this epoch because the next solve failed at the updated model
    /// (each redone at half the learning rate).
    pub retreats: usize,
    /// Batches left out of this epoch because their solve failed at every retreat.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped: usize,
    /// What the mode-balanced updates did (with `train.remedy`; `grad_norm` is then the norm
    /// of the balanced direction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceLog>,
    /// The ignition-delay errors of the validation trajectories (the training ones without a
    /// validation set) at this epoch's model, every `train.ignition_every` epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignition: Option<DelayErrors>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A training run in a run directory.
pub struct Trainer {
    /// The configuration resolved: data, model, solver options.
    pub setup: Setup,
    /// The run directory.
    pub run: RunDir,
    /// Where training stands.
    pub state: RunState,
    optim: Optimizer,
    loss: Loss,
    /// The state before the last update, to take it back (see [`Trainer::guarded_step`]).
    undo: Option<Undo>,
    /// The end of the last epoch not yet written as the `last` checkpoint, and the best model
    /// not yet written as `best` (see [`Trainer::flush`]).
    unsaved: Option<Snapshot>,
    unsaved_best: Option<Snapshot>,
    /// When checkpoints were last written (none yet by this trainer: its first epoch writes them,
    /// so that a run has a `last` checkpoint from its first epoch on).
    saved_at: Option<Instant>,
    /// The end of the previous epoch (its logs and checkpoints included), for `wall_s`.
    clock: Option<Instant>,
    /// What the derivative warm start of a new run did (`train.warm_start`).
    pub warm_started: Option<WarmStartReport>,
    /// The reactor's ignition delays of the trajectories whose errors are logged, once solved.
    reference_delays: Option<Vec<Option<f64>>>,
}

/// What a checkpoint holds.
struct Snapshot {
    model: crate::model::Model,
    optim: Optimizer,
    state: RunState,
}

/// The model and optimizer before an update, with the update's batch, learning rate and the
/// loss measured at that model.
struct Undo {
    model: crate::model::Model,
    optim: Optimizer,
    ids: Vec<usize>,
    lr: f64,
    loss: f64,
}

/// Halvings of the learning rate tried when a solve fails at an updated model.
const MAX_RETREATS: i32 = 10;

impl Trainer {
    /// Start a new run in `run` (which must not hold one) from `config` (read from `file`).
    /// The run's `config.toml` is the resolved configuration, its paths made absolute so that
    /// the run can be resumed and used from any working directory. Everything is checked before
    /// the run directory is touched.
    pub fn start(mut config: TrainConfig, file: &str, run: &Path) -> Result<Self, TrainError> {
        if let Ok(abs) = std::fs::canonicalize(&config.data.dataset) {
            config.data.dataset = abs;
        }
        if let Some(init) = &config.train.init
            && let Ok(abs) = std::fs::canonicalize(init)
        {
            config.train.init = Some(abs);
        }
        if mass_action::is_file_name(&config.data.mechanism)
            && let Ok(abs) = std::fs::canonicalize(&config.data.mechanism)
        {
            config.data.mechanism = abs.display().to_string();
        }
        // The default log interval is fixed at the start, so that resuming with another
        // total epoch count keeps the schedule.
        config.train.modes_every.get_or_insert((config.train.epochs / 10).max(1));
        let run = RunDir::new_run(run)?;
        let mut trainer = Self::build(Setup::new(config, file)?, run, RunState::new());
        let (epochs, temperature) = (trainer.setup.config.train.epochs, trainer.setup.has_temperature());
        trainer.setup.config.train.ignition_every.get_or_insert(if temperature { (epochs / 10).max(1) } else { 0 });
        if let Some(init) = trainer.setup.config.train.init.clone() {
            let model = trainer.setup.model.clone();
            trainer.setup.model = checkpoint::load_model(&RunDir::open(&init)?, "best", model)?;
        }
        if let Some(warm) = trainer.setup.config.train.warm_start {
            let report = trainer.setup.warm_start(&warm).map_err(|error| TrainError::Solve { epoch: 0, error })?;
            trainer.warm_started = Some(report);
        }
        trainer.run.init(&trainer.setup.config)?;
        Ok(trainer)
    }

    /// Resume the run in `run` from its `last` checkpoint; `epochs` (if given) replaces the
    /// total epoch count — more than the epochs done, or the resume is refused before anything
    /// is touched — and `device` the device.
    pub fn resume(run: &Path, epochs: Option<usize>, device: Option<DeviceKind>) -> Result<Self, TrainError> {
        let mut run = RunDir::open(run)?;
        run.lock()?;
        let t = Self::load(run, "last", epochs, device)?;
        if let Some(e) = epochs.filter(|&e| e <= t.state.epoch) {
            return Err(TrainError::Config {
                file: t.run.config_file().display().to_string(),
                what: format!(
                    "a total of {e} epochs trains none: the run has done {} already (ask for more to continue it)",
                    t.state.epoch
                ),
            });
        }
        t.run.truncate_logs(t.state.epoch)?;
        Ok(t)
    }

    /// The run in `run` with the model, optimizer and state of its checkpoint `name` (`last`
    /// or `best`), without touching its files.
    pub fn open(run: &Path, name: &str, epochs: Option<usize>, device: Option<DeviceKind>) -> Result<Self, TrainError> {
        Self::load(RunDir::open(run)?, name, epochs, device)
    }

    fn load(run: RunDir, name: &str, epochs: Option<usize>, device: Option<DeviceKind>) -> Result<Self, TrainError> {
        let mut config = run.config()?;
        if let Some(e) = epochs {
            config.train.epochs = e;
        }
        if let Some(d) = device {
            config.train.device = d;
        }
        let setup = Setup::new(config, &run.config_file().display().to_string())?;
        let mut t = Self::build(setup, run, RunState::new());
        let device = t.setup.model_device();
        let (model, optim, state) = checkpoint::load(&t.run, name, t.setup.model.clone(), t.optim.clone(), device)?;
        (t.setup.model, t.optim, t.state) = (model, optim, state);
        Ok(t)
    }

    fn build(setup: Setup, run: RunDir, state: RunState) -> Self {
        let t = &setup.config.train;
        let optim = Optimizer::new(t);
        let constant = setup.mechanism.constant_components(setup.config.model.conserves());
        let loss = Loss::new(t.loss, &setup.data.scale, t.weights.as_deref(), &constant, &setup.device)
            .with_delay_term(t.ignition_weight, setup.data.scale[0]);
        let (unsaved, unsaved_best, saved_at, clock) = (None, None, None, None);
        let (warm_started, reference_delays) = (None, None);
        Self {
            setup,
            run,
            state,
            optim,
            loss,
            undo: None,
            unsaved,
            unsaved_best,
            saved_at,
            clock,
            warm_started,
            reference_delays,
        }
    }

    /// Learning rate at epoch `e` (1-based): constant, or cosine from `lr` to `lr_final`.
    pub fn lr(&self, e: usize) -> f64 {
        let t = &self.setup.config.train;
        match t.lr_final {
            None => t.lr,
            Some(f) => {
                f + 0.5 * (t.lr - f) * (1.0 + (PI * (e - 1) as f64 / t.epochs.max(2).saturating_sub(1) as f64).cos())
            }
        }
    }

    /// Run epochs until the configured total (or early stopping), calling `on_epoch` after each.
    /// The checkpoints are written at the end, and when the run stops on an error, with the
    /// last completed epoch's state (see [`flush`](Self::flush)).
    pub fn run(&mut self, mut on_epoch: impl FnMut(&EpochMetrics)) -> Result<(), TrainError> {
        let mut epochs = || -> Result<(), TrainError> {
            while self.state.epoch < self.setup.config.train.epochs {
                let m = self.epoch()?;
                on_epoch(&m);
                let p = self.setup.config.train.patience;
                if p > 0 && self.state.epoch - self.state.best_epoch >= p {
                    break;
                }
            }
            Ok(())
        };
        let result = epochs();
        let flushed = self.flush();
        result.and(flushed)
    }

    /// Write the `last` checkpoint of the last completed epoch and the `best` one, where they
    /// have changed since the last write. [`epoch`](Self::epoch) writes them after its first
    /// epoch and then when `train.checkpoint_every_s` seconds have passed since; [`run`](Self::run)
    /// at its end.
    pub fn flush(&mut self) -> Result<(), TrainError> {
        if let Some(s) = self.unsaved.take() {
            checkpoint::save(&self.run, "last", &s.model, &s.optim, &s.state)?;
        }
        if let Some(s) = self.unsaved_best.take() {
            checkpoint::save(&self.run, "best", &s.model, &s.optim, &s.state)?;
        }
        self.saved_at = Some(Instant::now());
        Ok(())
    }

    /// One epoch: train, validate, log; the checkpoints when they are due (see
    /// [`flush`](Self::flush)).
    pub fn epoch(&mut self) -> Result<EpochMetrics, TrainError> {
        let start = self.clock.unwrap_or_else(Instant::now);
        let e = self.state.epoch + 1;
        let lr = self.lr(e);
        let train = &self.setup.config.train;
        let mut ids = self.setup.data.train.clone();
        ids.shuffle(&mut StdRng::seed_from_u64(train.seed.wrapping_mul(1_000_003).wrapping_add(e as u64)));
        let size = if train.batch_size == 0 { ids.len() } else { train.batch_size };
        let (mut total, mut grad_norm, mut work, mut retreats) = (0.0, 0.0, Stats::default(), 0);
        let mut logger = self.logs_modes(e).then(ModeLogger::default);
        let mut balance = (train.remedy == Remedy::ModeBalanced).then(|| BalanceLog::new(train.balance));
        let (mut counted, mut skipped, mut failure, mut lowest) = (0, 0, None, f64::INFINITY);
        for batch in ids.chunks(size) {
            match self.guarded_step(batch, lr, logger.as_mut(), balance.as_mut(), &mut retreats, &mut lowest) {
                Ok((loss, norm, stats)) => {
                    total += loss * batch.len() as f64;
                    counted += batch.len();
                    grad_norm = norm;
                    work += &stats;
                }
                // A batch whose solve fails at every retreat is left out of the epoch: the model
                // stays the last one that solved; the epoch fails only when every batch does.
                Err(error) if error.is_run_failure() && ids.len() > size => {
                    skipped += 1;
                    failure = Some(error);
                }
                Err(error) => return Err(TrainError::Solve { epoch: e, error }),
            }
        }
        if let (0, Some(error)) = (counted, failure) {
            return Err(TrainError::Solve { epoch: e, error });
        }
        let loss = total / counted as f64;
        let reference = self.state.best_loss.min(lowest);
        let (val_loss, val_failed) = self.validate(e, reference, &mut retreats, balance.as_mut())?;
        let ignition = if self.logs_ignition(e) { self.delay_errors(e)? } else { None };
        self.state.epoch = e;
        self.state.wall_s += start.elapsed().as_secs_f64();
        let m = EpochMetrics {
            epoch: e,
            loss,
            val_loss,
            val_failed,
            grad_norm,
            lr,
            wall_s: self.state.wall_s,
            steps: work.steps,
            rejected: work.rejected,
            newton_iterations: work.newton_iterations,
            jacobian_evaluations: work.jacobian_evaluations,
            retreats,
            skipped,
            balance: balance.clone(),
            ignition,
        };
        let watched = if val_failed { f64::INFINITY } else { val_loss.unwrap_or(loss) };
        // Until a model solves the validation set, the first epoch's stands in as the best, so
        // that a run always has a best checkpoint (its loss stays infinite: the first model
        // that solves replaces it).
        let improved = watched < self.state.best_loss || self.state.best_epoch == 0;
        if improved {
            (self.state.best_loss, self.state.best_epoch) = (watched, e);
        }
        self.run.append(Log::Metrics, &m)?;
        if let Some(logger) = logger {
            let record = logger.record(e, &self.setup.config.solver.method);
            self.run.append(Log::Modes, &crate::modes::ModeRecord { balance, ..record })?;
        }
        let state = self.state.clone();
        if improved {
            // Without a validation set, a one-batch epoch's loss is that of the model before its
            // update: that model is the best one.
            let measured = self.undo.as_ref().filter(|_| val_loss.is_none() && ids.len() <= size);
            let (model, optim) = measured.map_or((&self.setup.model, &self.optim), |u| (&u.model, &u.optim));
            self.unsaved_best = Some(Snapshot { model: model.clone(), optim: optim.clone(), state: state.clone() });
        }
        self.unsaved = Some(Snapshot { model: self.setup.model.clone(), optim: self.optim.clone(), state });
        let every = self.setup.config.train.checkpoint_every_s;
        if self.saved_at.is_none_or(|at| at.elapsed().as_secs_f64() >= every) {
            self.flush()?;
        }
        self.clock = Some(Instant::now());
        Ok(m)
    }

    /// Whether epoch `e` logs the per-mode gradient split.
    pub fn logs_modes(&self, e: usize) -> bool {
        let t = &self.setup.config.train;
        let every = t.modes_every.unwrap_or((t.epochs / 10).max(1));
        every > 0 && e.is_multiple_of(every)
    }

    /// Whether epoch `e` logs the ignition-delay errors.
    pub fn logs_ignition(&self, e: usize) -> bool {
        let every = self.setup.config.train.ignition_every.unwrap_or(0);
        every > 0 && e.is_multiple_of(every) && self.setup.has_temperature()
    }

    /// The ignition-delay errors of the validation trajectories (the training ones without a
    /// validation set) at the current model; `None` where a model solve fails (the step limit,
    /// a blow-up: the model then has no delays to score, and training goes on).
    fn delay_errors(&mut self, e: usize) -> Result<Option<DelayErrors>, TrainError> {
        let data = &self.setup.data;
        let ids = if data.validation.is_empty() { data.train.clone() } else { data.validation.clone() };
        let failed = |error| TrainError::Solve { epoch: e, error };
        if self.reference_delays.is_none() {
            self.reference_delays = self.setup.reference_delays(&ids).map_err(failed)?;
        }
        let Some(reference) = &self.reference_delays else { return Ok(None) };
        let model = match self.setup.model_delays(&ids) {
            Ok(model) => model,
            Err(error) if error.is_run_failure() => return Ok(None),
            Err(error) => return Err(failed(error)),
        };
        let delays: Vec<IgnitionDelay> = (0..ids.len())
            .map(|i| IgnitionDelay { trajectory: ids[i], model: model[i], reference: reference[i] })
            .collect();
        Ok(Some(DelayErrors::of(&delays)))
    }

    /// [`step`](Self::step), guarded: when the solve fails at the current model (an update
    /// made the field too stiff or blow up: step limit, step size floor, Newton failure,
    /// non-finite values), the previous update is taken back and redone at half its learning
    /// rate, up to [`MAX_RETREATS`] halvings; `retreats` counts them. A failure with no update
    /// to take back (the first step of a run or of a resume), or after the last halving, is
    /// an error here ([`epoch`](Self::epoch) then leaves the batch out, where there are others). An
    /// update after which the loss grew by more than `g = train.max_loss_growth` (a field
    /// pushed over a cliff that its vanishing fast-mode gradients did not show) is taken back
    /// the same way; after the last halving the step stands. With one batch per epoch the
    /// loss is compared with that batch's before the update; with mini-batches, of other
    /// trajectories, with `g²` times the best loss so far or this epoch's `lowest` batch loss
    /// (batches differ, a blow-up by 1e40 does not).
    fn guarded_step(
        &mut self,
        ids: &[usize],
        lr: f64,
        mut logger: Option<&mut ModeLogger>,
        mut balance: Option<&mut BalanceLog>,
        retreats: &mut usize,
        lowest: &mut f64,
    ) -> Result<(f64, f64, Stats), SolveError> {
        let mut halvings = 0;
        let growth = self.setup.config.train.max_loss_growth;
        let whole = ids.len() == self.setup.data.train.len();
        // The best loss so far, or this epoch's lowest batch loss where that is lower (the first
        // epoch has no best yet).
        let best = self.state.best_loss.min(*lowest);
        loop {
            let (model, optim) = (self.setup.model.clone(), self.optim.clone());
            let error = match self.step(ids, lr, logger.as_deref_mut(), balance.as_deref_mut()) {
                Ok(done) => {
                    let spiked = self.undo.as_ref().is_some_and(|u| {
                        let limit = if whole && u.ids == ids { growth * u.loss } else { growth * growth * best };
                        growth > 0.0 && halvings < MAX_RETREATS && done.0 > limit
                    });
                    if !spiked {
                        self.undo = Some(Undo { model, optim, ids: ids.to_vec(), lr, loss: done.0 });
                        *lowest = lowest.min(done.0);
                        return Ok(done);
                    }
                    // The epoch's one batch: its mode split and balance log start again. (Of
                    // mini-batches, the logs keep the earlier batches' splits, and this batch's
                    // split at the model taken back.)
                    if whole {
                        if let Some(l) = logger.as_deref_mut() {
                            *l = ModeLogger::default();
                        }
                        if let Some(b) = balance.as_deref_mut() {
                            *b = BalanceLog::new(b.rule);
                        }
                    }
                    None
                }
                Err(e) => Some(e),
            };
            let recoverable = error.as_ref().is_none_or(|e| e.is_run_failure()) && halvings < MAX_RETREATS;
            if !(recoverable && self.undo.is_some()) {
                return Err(error.expect("a spike is only found with an update to undo"));
            }
            halvings += 1;
            *retreats += 1;
            self.retreat(halvings, balance.as_deref_mut())?;
        }
    }

    /// Take the last update back and redo it at `2^-halvings` of its learning rate.
    fn retreat(&mut self, halvings: i32, balance: Option<&mut BalanceLog>) -> Result<(), SolveError> {
        let undo = self.undo.as_ref().expect("an update to take back");
        (self.setup.model, self.optim) = (undo.model.clone(), undo.optim.clone());
        let (redo, rate) = (undo.ids.clone(), undo.lr * 0.5f64.powi(halvings));
        self.step(&redo, rate, None, balance).map(|_| ())
    }

    /// The validation loss at the epoch's last model (`None` without a validation set), and
    /// whether a validation solve failed (the step limit, a blow-up: then `None`, and training
    /// goes on). The epoch's last update is measured by no later batch: where the validation
    /// loss exceeds `g²` times `reference` (`g = train.max_loss_growth`), it is taken back and
    /// redone smaller, as [`guarded_step`](Self::guarded_step) does.
    fn validate(
        &mut self,
        e: usize,
        reference: f64,
        retreats: &mut usize,
        mut balance: Option<&mut BalanceLog>,
    ) -> Result<(Option<f64>, bool), TrainError> {
        let validation = self.setup.data.validation.clone();
        if validation.is_empty() {
            return Ok((None, false));
        }
        let growth = self.setup.config.train.max_loss_growth;
        let mut halvings = 0;
        loop {
            let measured = match self.evaluate(&validation) {
                Ok(v) => Some(v),
                Err(error) if error.is_run_failure() => None,
                Err(error) => return Err(TrainError::Solve { epoch: e, error }),
            };
            let spiked = measured.is_some_and(|v| growth > 0.0 && v > growth * growth * reference);
            if !spiked || halvings >= MAX_RETREATS || self.undo.is_none() {
                return Ok((measured, measured.is_none()));
            }
            halvings += 1;
            *retreats += 1;
            self.retreat(halvings, balance.as_deref_mut()).map_err(|error| TrainError::Solve { epoch: e, error })?;
        }
    }

    /// One optimizer step on the trajectories `ids`: loss, gradient norm, solver work. With a
    /// `logger`, the gradient at the step's starting point is also split into modes (from the
    /// same adjoint pass: an observer, the update is the same with or without it). With a
    /// `balance` log (`train.remedy = "mode-balanced"`), the update takes the mode-balanced
    /// direction of that split ([`remedy`]) and the log records it.
    fn step(
        &mut self,
        ids: &[usize],
        lr: f64,
        mut logger: Option<&mut ModeLogger>,
        mut balance: Option<&mut BalanceLog>,
    ) -> Result<(f64, f64, Stats), SolveError> {
        let Self { setup, loss, optim, state, .. } = self;
        // Multiple shooting's windows at this epoch, or whole trajectories.
        let window = setup.config.train.shooting.map(|s| s.window_at(state.epoch + 1));
        let batch = match window {
            Some(window) => setup.data.windows(ids, window),
            None => setup.data.batch(ids),
        };
        let request = setup.batch_request(&batch);
        let (clip, c_max) = (setup.config.train.clip, setup.config.train.c_max);
        let method = &setup.config.solver.method;
        // Loss, gradient and solver work of the batch for a model; the first evaluation of a
        // logged step also splits its per-step adjoints into eigenmodes (design.md §5).
        let evaluate = |m: &crate::model::Model| -> Result<(f64, GradientsParams, Stats), SolveError> {
            let loss = |states: &[Tensor<2>]| loss.eval(states, &batch);
            let (logger, balance) = (logger.take(), balance.take());
            let keep_steps = logger.is_some() || balance.is_some();
            let request = request.clone().with_gradient(GradientMode::Adjoint { keep_steps });
            let g = setup.backend.gradient(m, &request, loss)?;
            let stats = g.record.solution().stats.clone();
            if !keep_steps {
                return Ok((g.loss, g.params, stats));
            }
            let split = modes::split(m, &g)?;
            if let Some(logger) = logger {
                logger.add(m, &split, &g.params);
            }
            match balance {
                Some(log) => {
                    let b = remedy::balance(m, &split, &g.params, method, log.rule, c_max);
                    log.add(&b);
                    Ok((g.loss, b.params, stats))
                }
                None => Ok((g.loss, g.params, stats)),
            }
        };
        let (updated, value, norm, stats) = optim.step(lr, setup.model.clone(), clip, evaluate)?;
        setup.model = updated;
        Ok((value, norm, stats))
    }

    /// The loss of the current model on trajectories `ids`.
    pub fn evaluate(&self, ids: &[usize]) -> Result<f64, SolveError> {
        let data = &self.setup.data;
        let d = data.species.len();
        let (batch, pred) = self.setup.predict(ids)?;
        let device = &self.setup.device;
        let pred: Vec<Tensor<2>> = pred.into_iter().map(|p| from_host(p, [ids.len(), d], device)).collect();
        Ok(to_host(self.loss.eval(&pred, &batch).without_autodiff())[0])
    }
}
