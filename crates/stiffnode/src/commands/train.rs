//! `stiffnode train`: fit a model to a dataset as a TOML configuration describes, with a
//! progress bar; the run directory receives the resolved configuration, `metrics.jsonl`,
//! checkpoints (`checkpoints/last.ckpt`, `checkpoints/best.ckpt`), `predictions.csv`, `fit.svg`
//! and, on logged epochs, `modes.jsonl`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use stiffnode_solvers::{DeviceKind, Method};
use stiffnode_train::Problem;
use stiffnode_train::config::{LossKind, OptimizerKind};
use stiffnode_train::evaluation::DelayErrors;
use stiffnode_train::ignition::IgnitionDelay;
use stiffnode_train::remedy::Remedy;
use stiffnode_train::{Setup, TrainConfig, TrainError, Trainer};

use crate::plots;
use crate::report::Figure;

/// Arguments of `stiffnode train`.
#[derive(clap::Args)]
pub struct Args {
    /// Training configuration (TOML; see examples/).
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Run directory [default: runs/NAME, NAME the config file's stem].
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Total epochs (with --resume: continue up to this epoch).
    #[arg(long)]
    epochs: Option<usize>,
    /// Device: cpu (f64), wgpu (f32) or cuda (f64, with the cuda feature).
    #[arg(long)]
    device: Option<DeviceKind>,
    /// Integration method.
    #[arg(long, conflicts_with = "resume")]
    method: Option<Method>,
    /// Learning rate.
    #[arg(long, conflicts_with = "resume")]
    lr: Option<f64>,
    /// Seed of initialization and mini-batch order.
    #[arg(long, conflicts_with = "resume")]
    seed: Option<u64>,
    /// Start from the model of this run's best checkpoint (same architecture).
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    init: Option<PathBuf>,
    /// Optimizer: adam, adamw or lbfgs.
    #[arg(long, conflicts_with = "resume", value_parser = serde_value::<OptimizerKind>)]
    optimizer: Option<OptimizerKind>,
    /// Loss: mae or mse.
    #[arg(long, conflicts_with = "resume", value_parser = serde_value::<LossKind>)]
    loss: Option<LossKind>,
    /// Remedy for the vanishing fast-mode gradient: none or mode-balanced (its rule and cap
    /// from the configuration's train.balance and train.c_max).
    #[arg(long, conflicts_with = "resume", value_parser = serde_value::<Remedy>)]
    remedy: Option<Remedy>,
    /// Log the per-mode gradient split (modes.jsonl) every K epochs; 0 = off
    /// [default: a tenth of the epochs].
    #[arg(long, value_name = "K", conflicts_with = "resume")]
    modes_every: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut trainer = match (&args.config, &args.resume) {
        (_, Some(dir)) => {
            Trainer::resume(dir, args.epochs, args.device).with_context(|| format!("resuming {}", dir.display()))?
        }
        (Some(file), None) => {
            let text = file.display().to_string();
            let mut config = TrainConfig::load(file)?;
            override_config(&mut config, &args);
            let config = TrainConfig::parse(&toml::to_string(&config)?, &text)?;
            let stem = file.file_stem().map_or("run".into(), |s| s.to_string_lossy().to_string());
            let out = args.out.clone().unwrap_or_else(|| Path::new("runs").join(stem));
            Trainer::start(config, &text, &out).map_err(|e| match e {
                TrainError::RunExists { .. } => {
                    anyhow::anyhow!("{e}: resume it with --resume, or choose another --out")
                }
                e => e.into(),
            })?
        }
        (None, None) => unreachable!("clap requires --config or --resume"),
    };
    let total = trainer.setup.config.train.epochs;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(total as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg} [{per_sec}, ETA {eta}]")
            .expect("valid template"),
    );
    bar.set_position(trainer.state.epoch as u64);
    let config = &trainer.setup.config;
    println!(
        "training {} on {} → {}",
        config.data.dataset.display(),
        config.train.device,
        trainer.run.path().display()
    );
    if let Some(w) = trainer.warm_started {
        println!("derivative warm start: loss {:.4e} → {:.4e}", w.first, w.last);
    }
    trainer
        .run(|m| {
            let val = m.val_loss.map_or(String::new(), |v| format!(" val {v:.4e}"));
            bar.set_message(format!("loss {:.4e}{val} |g| {:.2e}", m.loss, m.grad_norm));
            bar.set_position(m.epoch as u64);
            if m.skipped > 0 {
                bar.println(format!("epoch {}: {} batch(es) left out: their solve failed at every retreat", m.epoch, m.skipped));
            }
            if let Some(d) = &m.ignition {
                bar.println(format!("epoch {}: ignition delays {}", m.epoch, describe(d)));
            }
            if m.retreats > 0 {
                bar.println(format!("epoch {}: the solve failed at the updated model; the update was taken back and redone at 2^-k of the learning rate ({} halvings)", m.epoch, m.retreats));
            }
        })
        .with_context(|| format!("training run {}", trainer.run.path().display()))?;
    bar.finish();
    // Predictions, the fit plot and the reported figures are those of the best model.
    let run = &trainer.run;
    let best = Setup::from_run(run, "best", Some(trainer.setup.config.train.device))
        .with_context(|| format!("loading the best model of {}", run.path().display()))?;
    let predictions = best.predictions(|k| &best.data.times[k])?.to_csv();
    let file = run.path().join("predictions.csv");
    run.write(&file, predictions.as_bytes())?;
    let fit = run.path().join("fit.svg");
    plots::fit::write(&best, &trainer.state, &fit).with_context(|| format!("writing {}", fit.display()))?;
    if let (Some(k), Problem::MassAction(mech)) = (best.rate_constants(), &best.mechanism) {
        for (j, (k, r)) in k.iter().zip(&mech.reactions).enumerate() {
            let name = r.name.clone().unwrap_or_else(|| format!("reaction {}", j + 1));
            println!("  k[{name}] = {k:.6e}  (mechanism file: {:.6e}, ratio {:.4})", r.rate, k / r.rate);
        }
    }
    if let Some(factors) = best.rate_factors() {
        for ((_, equation), f) in best.mechanism.reactions().iter().zip(&factors).filter(|(_, f)| **f != 1.0) {
            println!("  k_f[{equation}]: factor {f:.6} on the mechanism file's rate (log10 {:+.5})", f.log10());
        }
    }
    let figures = if best.has_temperature() { ignition_figures(&best, run.path())? } else { Vec::new() };
    let mae = best.normalized_mae()?;
    println!(
        "epoch {}: best loss {:.4e} (epoch {}), normalized MAE of the best model {mae:.3e}, {:.1} s",
        trainer.state.epoch, trainer.state.best_loss, trainer.state.best_epoch, trainer.state.wall_s
    );
    println!("fit: {}", fit.display());
    for f in &figures {
        println!("{}: {}", f.title, f.path.display());
    }
    // The run is complete and saved; a report that cannot be written is a warning.
    match super::inspect::report_for(run.path(), figures) {
        Ok(Some(report)) => {
            println!("per-mode gradient plots and report: {} (stiffnode inspect for more)", report.display())
        }
        Ok(None) => {}
        Err(e) => eprintln!("warning: the per-mode report was not written: {e:#}"),
    }
    Ok(())
}

/// A value of a configuration enum, spelled as in the configuration file.
fn serde_value<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    toml::Value::String(s.to_string()).try_into().map_err(|e: toml::de::Error| e.message().to_string())
}

fn override_config(config: &mut TrainConfig, args: &Args) {
    let t = &mut config.train;
    t.loss = args.loss.unwrap_or(t.loss);
    t.optimizer = args.optimizer.unwrap_or(t.optimizer);
    t.remedy = args.remedy.unwrap_or(t.remedy);
    t.epochs = args.epochs.unwrap_or(t.epochs);
    t.device = args.device.unwrap_or(t.device);
    t.lr = args.lr.unwrap_or(t.lr);
    t.seed = args.seed.unwrap_or(t.seed);
    if let Some(init) = &args.init {
        t.init = Some(init.clone());
    }
    if let Some(k) = args.modes_every {
        t.modes_every = Some(k);
    }
    if let Some(m) = &args.method {
        config.solver.method = m.clone();
    }
}

/// Points of each trajectory's dense `T(t)` in `temperature.svg`.
const TEMPERATURE_POINTS: usize = 400;

/// For a reactor problem with a temperature: the best model's ignition-delay errors printed,
/// their parity plot and every trajectory's dense `T(t)` written into the run.
fn ignition_figures(best: &Setup, dir: &Path) -> anyhow::Result<Vec<Figure>> {
    let scores = best.scores()?;
    let delays: Vec<IgnitionDelay> = scores.iter().filter_map(|s| s.ignition).collect();
    println!(
        "ignition delay (largest dT/dt) of the best model against the reactor's: {}",
        describe(&DelayErrors::of(&delays))
    );
    let parity =
        Figure { path: dir.join("parity.svg"), title: "Ignition delays: the best model against the reactor".into() };
    plots::parity::write(&scores, &parity.title, &parity.path)
        .with_context(|| format!("writing {}", parity.path.display()))?;
    let curves = best.temperature_curves(TEMPERATURE_POINTS)?.unwrap_or_default();
    let temperature = Figure {
        path: dir.join("temperature.svg"),
        title: "T(t) of the reactor (black) and the best model (colour)".into(),
    };
    plots::temperature::write(&curves, &temperature.title, &temperature.path)
        .with_context(|| format!("writing {}", temperature.path.display()))?;
    Ok(vec![parity, temperature])
}

/// Ignition-delay errors in a line: mean and worst relative error, and the trajectories that
/// do not ignite.
fn describe(d: &DelayErrors) -> String {
    let missed = if d.missed > 0 {
        format!(" ({} with dT/dt largest at an end: no ignition inside)", d.missed)
    } else {
        String::new()
    };
    match (d.mean, d.max) {
        (Some(mean), Some(max)) => {
            format!(
                "mean relative error {mean:.3e}, worst {max:.3e}, over {} trajectories{missed}",
                d.trajectories - d.missed
            )
        }
        _ => format!("the model ignites in none of the {} trajectories", d.trajectories),
    }
}
