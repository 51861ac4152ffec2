//! stiffnode-train: fit a vector field to trajectory data through the implicit solvers' exact
//! gradients. A run is a TOML [`config`]; [`Trainer`] runs epochs of mini-batches, writes
//! `metrics.jsonl`, the per-mode gradient log ([`modes`]) and atomic checkpoints, and resumes
//! from them.

pub mod checkpoint;
pub mod clip;
pub mod config;
pub mod data;
pub mod error;
pub mod loss;
pub mod model;
pub mod modes;
pub mod optimizer;
pub mod trainer;

pub use config::TrainConfig;
pub use error::TrainError;
pub use model::Model;
pub use trainer::{EpochMetrics, Trainer};
