//! `stiffnode bench --training`: time per epoch of a training configuration per method, one
//! JSON line each (a fresh run in a temporary directory, removed afterwards).

use std::path::Path;

use serde_json::json;
use stiffnode_train::{TrainConfig, Trainer};

pub fn run(config_file: &Path, names: &[String], epochs: usize, device: &str) -> anyhow::Result<()> {
    for name in names {
        let mut config = TrainConfig::load(config_file)?;
        config.solver.method = name.clone();
        config.train.epochs = epochs;
        config.train.device = device.to_string();
        let dir = std::env::temp_dir().join(format!("stiffnode-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut trainer = Trainer::start(config, &config_file.display().to_string(), &dir)?;
        let mut last = None;
        trainer.run(|m| last = Some(m.clone()))?;
        let m = last.expect("at least one epoch");
        println!(
            "{}",
            json!({"bench": "train_epoch", "config": config_file.display().to_string(), "device": device, "method": name,
                   "epochs": m.epoch, "s_per_epoch": m.wall_s / m.epoch as f64, "steps_last_epoch": m.steps,
                   "loss": m.loss})
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
