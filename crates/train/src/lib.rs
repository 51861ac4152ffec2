//! stiffnode-train: fit a vector field to trajectory data through the implicit solvers' exact
//! gradients. A run is a TOML [`config`] resolved into a [`Setup`] (data, model, solver options);
//! the [`Trainer`] runs epochs of mini-batches and writes, through its [`RunDir`],
//! `metrics.jsonl`, the per-mode gradient log ([`modes`]) and atomic checkpoints, and resumes
//! from them.

#![warn(missing_docs)]

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluation;
pub mod ignition;
pub mod loss;
pub mod model;
pub mod modes;
pub mod optimizer;
pub mod problem;
pub mod remedy;
pub mod run_dir;
pub mod setup;
pub mod trainer;
pub mod warm_start;

pub use config::TrainConfig;
pub use error::TrainError;
pub use model::Model;
pub use problem::Problem;
pub use run_dir::{Log, RunDir};
pub use setup::Setup;
pub use trainer::{EpochMetrics, Trainer};
