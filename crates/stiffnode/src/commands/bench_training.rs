//! `stiffnode bench --training`: time per epoch of a training configuration per method, one
//! JSON line each: plain epochs, and the same epochs with the per-mode gradient split logged
//! every epoch (fresh runs in temporary directories, removed afterwards). Logging is an
//! observer, so both runs take the same optimization path.

use std::path::Path;

use serde_json::json;
use stiffnode_train::{TrainConfig, Trainer};

pub fn run(config_file: &Path, names: &[String], epochs: usize, device: &str, init: Option<&Path>) -> anyhow::Result<()> {
    for name in names {
        let plain = time_epochs(config_file, name, epochs, device, init, 0)?;
        let logged = time_epochs(config_file, name, epochs, device, init, 1)?;
        println!(
            "{}",
            json!({"bench": "train_epoch", "config": config_file.display().to_string(), "init": init.map(|p| p.display().to_string()),
                   "device": device, "method": name,
                   "epochs": epochs, "s_per_epoch": plain.0, "s_per_logged_epoch": logged.0,
                   "logged_over_plain": logged.0 / plain.0, "steps_last_epoch": plain.1, "loss": plain.2})
        );
    }
    Ok(())
}

/// Seconds per epoch, steps of the last epoch and its loss, with modes logged every
/// `modes_every` epochs (0: never).
fn time_epochs(config_file: &Path, name: &str, epochs: usize, device: &str, init: Option<&Path>, modes_every: usize) -> anyhow::Result<(f64, usize, f64)> {
    let mut config = TrainConfig::load(config_file)?;
    if init.is_some() {
        config.train.init = init.map(Path::to_path_buf);
    }
    config.solver.method = name.to_string();
    config.train.epochs = epochs;
    config.train.device = device.to_string();
    config.train.modes_every = Some(modes_every);
    let dir = std::env::temp_dir().join(format!("stiffnode-bench-{}-{name}-{modes_every}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut trainer = Trainer::start(config, &config_file.display().to_string(), &dir)?;
    let mut last = None;
    trainer.run(|m| last = Some(m.clone()))?;
    let m = last.expect("at least one epoch");
    std::fs::remove_dir_all(&dir)?;
    Ok((m.wall_s / m.epoch as f64, m.steps, m.loss))
}
