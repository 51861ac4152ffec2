//! Typed errors of training: each names the file, key, epoch or step where it happened.

use thiserror::Error;

/// Why a training run could not start or stopped.
#[derive(Debug, Error)]
pub enum TrainError {
    /// The configuration file is unreadable or invalid.
    #[error("{file}: {what}")]
    Config { file: String, what: String },
    /// The dataset does not fit the model or is malformed.
    #[error(transparent)]
    Dataset(#[from] stiffnode_solvers::dataset::DatasetError),
    /// A mechanism file is malformed.
    #[error(transparent)]
    Mechanism(#[from] stiffnode_solvers::problems::MechanismError),
    /// A solve or gradient failed.
    /// (The solver error is part of the message, not a `source`, so that a report of the
    /// chain names it once.)
    #[error("epoch {epoch}: {error}")]
    Solve { epoch: usize, error: stiffnode_solvers::SolveError },
    /// A checkpoint or run-directory file could not be read or written.
    #[error("{path}: {what}")]
    Io { path: String, what: String },
}

impl TrainError {
    /// An I/O error at `path`.
    pub fn io(path: &std::path::Path, what: impl std::fmt::Display) -> Self {
        Self::Io { path: path.display().to_string(), what: what.to_string() }
    }
}
