//! `stiffnode bench --training`: time per epoch of a training configuration per method, one
//! JSON line each: plain epochs, and the same epochs with the per-mode gradient split logged
//! every epoch where the method has one (fresh runs in temporary directories, removed
//! afterwards; null for the Rosenbrock methods off the CPU). Logging is an
//! observer, so both runs take the same optimization path. Times per epoch leave out the first
//! epoch (it compiles the GPU kernel on a GPU device), reported on its own.

use std::path::Path;

use serde_json::json;
use stiffnode_solvers::{DeviceKind, Method};
use stiffnode_train::{TrainConfig, Trainer};

/// What every timed run shares: the configuration file, epochs, device, warm start and whether
/// the trajectories of a batch share their steps.
pub struct Bench<'a> {
    pub config_file: &'a Path,
    pub epochs: usize,
    pub device: DeviceKind,
    pub init: Option<&'a Path>,
    pub shared_steps: bool,
}

impl Bench<'_> {
    /// One JSON line per method.
    pub fn run(&self, methods: &[Method]) -> anyhow::Result<()> {
        for method in methods {
            let plain = self.time_epochs(method, 0)?;
            // Rosenbrock methods have a mode log only on the CPU (second derivatives on the host).
            let logs = method.has_step_adjoints() || self.device == DeviceKind::Cpu;
            let logged = logs.then(|| self.time_epochs(method, 1)).transpose()?.map(|l| l.0);
            let first = plain.3;
            println!(
                "{}",
                json!({"bench": "train_epoch", "config": self.config_file.display().to_string(),
                       "init": self.init.map(|p| p.display().to_string()), "device": self.device.name(),
                       "method": method.name(), "shared_steps": self.shared_steps, "epochs": self.epochs,
                       "s_per_epoch": plain.0, "s_per_logged_epoch": logged, "logged_over_plain": logged.map(|l| l / plain.0),
                       "first_epoch_s": first, "steps_last_epoch": plain.1, "loss": plain.2})
            );
        }
        Ok(())
    }

    /// Seconds per epoch after the first, steps of the last epoch, its loss, and the first
    /// epoch's seconds, with modes logged every `modes_every` epochs (0: never).
    fn time_epochs(&self, method: &Method, modes_every: usize) -> anyhow::Result<(f64, usize, f64, f64)> {
        let mut config = TrainConfig::load(self.config_file)?;
        if let Some(init) = self.init {
            config.train.init = Some(init.to_path_buf());
        }
        config.solver.method = method.clone();
        config.solver.shared_steps = self.shared_steps;
        config.train.epochs = self.epochs;
        config.train.device = self.device;
        config.train.modes_every = Some(modes_every);
        let name = method.name();
        let dir = std::env::temp_dir().join(format!("stiffnode-bench-{}-{name}-{modes_every}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut trainer = Trainer::start(config, &self.config_file.display().to_string(), &dir)?;
        let (mut first, mut last) = (None, None);
        trainer.run(|m| {
            first.get_or_insert(m.wall_s);
            last = Some(m.clone());
        })?;
        let (m, first) = (last.expect("at least one epoch"), first.expect("at least one epoch"));
        std::fs::remove_dir_all(&dir)?;
        let per_epoch = if m.epoch > 1 { (m.wall_s - first) / (m.epoch - 1) as f64 } else { m.wall_s };
        Ok((per_epoch, m.steps, m.loss, first))
    }
}
