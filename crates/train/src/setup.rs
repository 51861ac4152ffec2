//! What a training configuration resolves to: the data, the mechanism, the model on its device,
//! and the method and options its solves use. Training builds on it ([`Trainer`]); prediction
//! uses it alone, with a checkpoint's model ([`Setup::from_run`]).
//!
//! [`Trainer`]: crate::Trainer

use burn::module::Module;
use burn::tensor::Device;
use stiffnode_chemistry::dataset::{Dataset, Trajectory};
use stiffnode_solvers::{Backend, DeviceKind, Request, SolveError, SolveOptions};

use crate::checkpoint;
use crate::config::{OptimizerKind, TrainConfig};
use crate::data::{Batch, TrainingData, outputs};
use crate::error::TrainError;
use crate::model::Model;
use crate::problem::Problem;
use crate::remedy::Remedy;
use crate::run_dir::RunDir;

/// A configuration's data, mechanism, model and solver options.
pub struct Setup {
    /// The configuration.
    pub config: TrainConfig,
    /// The data.
    pub data: TrainingData,
    /// The mechanism or reactor problem that names the data's species.
    pub mechanism: Problem,
    /// The model, on an autodiff device.
    pub model: Model,
    /// The solve options of the `[solver]` section.
    pub options: SolveOptions,
    /// The autodiff device the model lives on.
    pub device: Device,
    /// Where the solves and gradients run ([`Backend`]): on a GPU device, the ensemble kernel
    /// where the model and method have a kernel form and the tolerances suit its f32 arithmetic
    /// (design.md §11). The model then lives on the f64 CPU device, which holds the parameters,
    /// the optimizer and the parameter product of the gradients.
    pub backend: Backend,
}

impl Setup {
    /// Resolve `config` (read from `file`, which errors name): load the mechanism and the data,
    /// check what needs both, open the device and build a fresh model.
    pub fn new(config: TrainConfig, file: &str) -> Result<Self, TrainError> {
        let bad = |what: String| TrainError::Config { file: file.to_string(), what };
        let options = config.solver.options().map_err(|e| bad(format!("solver: {e}")))?;
        let mechanism = Problem::load(&config.data.mechanism)?;
        let data = TrainingData::load(&config.data.dataset, &mechanism.species())?;
        if let Some(w) = &config.train.weights
            && (w.len() != data.species.len() || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
        {
            let d = data.species.len();
            return Err(bad(format!("train.weights: {d} non-negative numbers expected (one per species), got {w:?}")));
        }
        let t = &config.train;
        // A Rosenbrock step's per-step adjoint needs the field's second derivatives on the host.
        let host = t.device == DeviceKind::Cpu;
        if !config.solver.method.has_step_adjoints() && !host && (t.modes_every != Some(0) || t.remedy != Remedy::None)
        {
            return Err(bad(format!(
                "solver.method: '{}' has per-step adjoints for the mode log or a remedy only on the CPU (its walk needs second derivatives on the host): set train.modes_every = 0 and no remedy, or train with a Runge–Kutta or BDF method",
                config.solver.method.name()
            )));
        }
        if config.train.optimizer == OptimizerKind::Lbfgs && config.train.remedy == Remedy::ModeBalanced {
            return Err(bad(
                "train.remedy: mode-balanced updates change the direction, which lbfgs's line search cannot take (use adam or adamw)".into(),
            ));
        }
        if config.train.optimizer == OptimizerKind::Lbfgs && config.train.clip.is_some() {
            return Err(bad(
                "train.clip: clipping does not apply to lbfgs (its line search sets the step); remove it".into()
            ));
        }
        // On a GPU the model is built on the CPU first: its kernel form decides whether the
        // kernel runs the solves (the model then stays there) or the model moves to the GPU.
        let kind = config.train.device;
        let mut device = DeviceKind::Cpu.open()?.autodiff();
        let mut model = Model::new(&config.model, &mechanism, &data, config.train.seed, &device, file)?;
        // Every trajectory to the data times: what the kernel must run, and what the options are
        // checked against.
        let all: Vec<usize> = (0..data.states.len()).collect();
        let request = Request::new(config.solver.method.clone(), data.initial(&all), data.t0(), data.batch(&all).times)
            .with_options(options.clone())
            .with_evaluation(config.solver.evaluation());
        let backend = Backend::choose(kind, &model, &request)?;
        if !backend.is_kernel() && kind != DeviceKind::Cpu {
            device = kind.open()?.autodiff();
            model = Model::new(&config.model, &mechanism, &data, config.train.seed, &device, file)?;
        }
        // The options against the data: e.g. an absolute tolerance above all of its values.
        request.validate(data.species.len()).map_err(|e| bad(format!("solver: {e}")))?;
        let setup = Self { config, data, mechanism, model, options, device, backend };
        let t = &setup.config.train;
        if !setup.has_temperature() && (t.ignition_weight > 0.0 || t.ignition_every.is_some_and(|n| n > 0)) {
            let key = if t.ignition_weight > 0.0 { "ignition_weight" } else { "ignition_every" };
            return Err(bad(format!(
                "train.{key}: ignition delays need a reactor problem with a temperature; '{}' has none",
                setup.config.data.mechanism
            )));
        }
        Ok(setup)
    }

    /// The run in `run` with the model of its checkpoint `name` (`last` or `best`), on `device`
    /// (default: the run's), without touching the run's files.
    pub fn from_run(run: &RunDir, name: &str, device: Option<DeviceKind>) -> Result<Self, TrainError> {
        let mut config = run.config()?;
        if let Some(d) = device {
            config.train.device = d;
        }
        let mut setup = Self::new(config, &run.config_file().display().to_string())?;
        setup.model = checkpoint::load_model(run, name, setup.model)?;
        Ok(setup)
    }

    /// The request that solves trajectories `ids` from their initial states to `times`.
    pub fn request(&self, ids: &[usize], times: &[f64]) -> Request {
        Request::new(self.config.solver.method.clone(), self.data.initial(ids), self.data.t0(), times.to_vec())
            .with_options(self.options.clone())
            .with_evaluation(self.config.solver.evaluation())
    }

    /// The request that solves `batch` ([`TrainingData::batch`], [`TrainingData::windows`]): from
    /// its initial states to its times, or each trajectory to its own.
    ///
    /// [`TrainingData::batch`]: crate::data::TrainingData::batch
    /// [`TrainingData::windows`]: crate::data::TrainingData::windows
    pub fn batch_request(&self, batch: &Batch) -> Request {
        let method = self.config.solver.method.clone();
        let request = match &batch.spans {
            Some(spans) => Request::with_spans(method, batch.y0.clone(), spans.clone()),
            None => Request::new(method, batch.y0.clone(), self.data.t0(), batch.times.clone()),
        };
        request.with_options(self.options.clone()).with_evaluation(self.config.solver.evaluation())
    }

    /// The mini-batch of trajectories `ids` and the predicted states at its output times,
    /// `[time][trajectory·d]`, without recording.
    pub fn predict(&self, ids: &[usize]) -> Result<(Batch, Vec<Vec<f64>>), SolveError> {
        let batch = self.data.batch(ids);
        let pred = self.backend.solve(&self.model.valid(), &self.batch_request(&batch))?.states;
        Ok((batch, pred))
    }

    /// Predicted states of trajectories `ids` from their initial states at `times` (strictly
    /// increasing, after the data's initial time), `[time][trajectory·d]`.
    pub fn predict_at(&self, ids: &[usize], times: &[f64]) -> Result<Vec<Vec<f64>>, SolveError> {
        let request = self.request(ids, times);
        Ok(self.backend.solve(&self.model.valid(), &request)?.states)
    }

    /// The device kind the model's parameters live on: the CPU in an ensemble run.
    pub fn model_device(&self) -> DeviceKind {
        if self.backend.is_kernel() { DeviceKind::Cpu } else { self.config.train.device }
    }

    /// The model's states for every trajectory `k` at `times(k)` (increasing, from the data's
    /// initial time on; the initial time itself gives the initial state), in the dataset format:
    /// one solve, each trajectory to its own times where they have as many after the initial
    /// time (as training solves them), else to the union of the times.
    pub fn predictions<'a>(&self, times: impl Fn(usize) -> &'a [f64]) -> Result<Dataset, SolveError> {
        let t0 = self.data.t0();
        let all: Vec<usize> = (0..self.data.states.len()).collect();
        // Each trajectory's times after the initial one (the times are increasing).
        let own: Vec<&[f64]> = all.iter().map(|&k| &times(k)[times(k).partition_point(|&t| t <= t0)..]).collect();
        let (out, spans) = outputs(t0, &own);
        let spanned = spans.is_some();
        let pred = if out.is_empty() {
            Vec::new()
        } else {
            let batch = Batch {
                times: out.clone(),
                spans,
                rows: None,
                targets: Vec::new(),
                y0: self.data.initial(&all),
                curves: Vec::new(),
            };
            self.backend.solve(&self.model.valid(), &self.batch_request(&batch))?.states
        };
        let d = self.data.species.len();
        let trajectories = all
            .iter()
            .map(|&k| {
                // Output index of time t in trajectory k's solve: its own, or the union's.
                let index = |t: f64| -> Option<usize> {
                    if spanned {
                        own[k].iter().position(|&u| u == t)
                    } else {
                        out.binary_search_by(|u| u.total_cmp(&t)).ok()
                    }
                };
                let at = |t: f64| match index(t) {
                    Some(u) => pred[u][k * d..(k + 1) * d].to_vec(),
                    None => self.data.states[k][0].clone(),
                };
                Trajectory { times: times(k).to_vec(), states: times(k).iter().map(|&t| at(t)).collect() }
            })
            .collect();
        Ok(Dataset { species: self.data.species.clone(), trajectories })
    }

    /// The rate constants of a mass-action model (all reactions, learned or fixed).
    pub fn rate_constants(&self) -> Option<Vec<f64>> {
        match &self.model {
            Model::MassAction(m) => Some(stiffnode_solvers::field::to_host(m.rates().without_autodiff())),
            Model::Mlp(_) | Model::Reactor(_) => None,
        }
    }

    /// The factors on every reaction's forward rate of a reactor model (1 where not learnable).
    pub fn rate_factors(&self) -> Option<Vec<f64>> {
        match &self.model {
            Model::Reactor(r) => Some(r.multipliers().unwrap_or_else(|| vec![1.0; r.mechanism().reactions.len()])),
            Model::Mlp(_) | Model::MassAction(_) => None,
        }
    }

    /// Normalized MAE `mean |y − y_data|/ŷ` over all trajectories, times and species (the
    /// components held constant left out).
    pub fn normalized_mae(&self) -> Result<f64, SolveError> {
        let all: Vec<usize> = (0..self.data.states.len()).collect();
        let (batch, pred) = self.predict(&all)?;
        let (b, d) = (all.len(), self.data.species.len());
        let stacked = pred.concat();
        let rows: Vec<usize> = batch.rows.clone().unwrap_or_else(|| (0..pred.len() * b).collect());
        let constant = self.mechanism.constant_components(self.config.model.conserves());
        let (mut sum, mut n) = (0.0, 0usize);
        for (r, target) in rows.iter().zip(batch.targets.chunks_exact(d)) {
            for i in (0..d).filter(|i| !constant.contains(i)) {
                sum += (stacked[r * d + i] - target[i]).abs() / self.data.scale[i];
                n += 1;
            }
        }
        Ok(sum / n as f64)
    }
}
