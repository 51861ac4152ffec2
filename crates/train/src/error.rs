//! Typed errors of training: each names the file, key, epoch or step where it happened. Messages
//! never name command-line flags; the binary adds those.

use std::path::Path;

use stiffnode_solvers::{SetupError, SolveError};
use thiserror::Error;

/// Why a training run could not start or stopped.
#[derive(Debug, Error)]
pub enum TrainError {
    /// The configuration file is unreadable or invalid.
    #[error("{file}: {what}")]
    Config {
        /// The file.
        file: String,
        /// What is wrong, naming the key.
        what: String,
    },
    /// The dataset does not fit the model or is malformed.
    #[error(transparent)]
    Dataset(#[from] stiffnode_chemistry::dataset::DatasetError),
    /// A mechanism file is malformed.
    #[error(transparent)]
    Mechanism(#[from] stiffnode_chemistry::mass_action::MechanismError),
    /// The device could not be opened, or a request is invalid.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A solve or gradient failed.
    /// (The solver error is part of the message, not a `source`, so that a report of the
    /// chain names it once.)
    #[error("epoch {epoch}: {error}")]
    Solve {
        /// The epoch (1-based) that failed.
        epoch: usize,
        /// The failure.
        error: SolveError,
    },
    /// A new run was asked for in a directory that holds one.
    #[error("{path}: already holds a training run")]
    RunExists {
        /// The run directory.
        path: String,
    },
    /// Another process trains in the run directory.
    #[error("{path}: in use by {holder}")]
    RunInUse {
        /// The run directory.
        path: String,
        /// Who holds it.
        holder: String,
    },
    /// A run has no per-mode gradient log to show.
    #[error("{path}: no modes were logged in this run{why}")]
    NoModes {
        /// The log file.
        path: String,
        /// More detail, e.g. " (the file is empty)".
        why: String,
    },
    /// A checkpoint or run-directory file could not be read or written.
    #[error("{path}: {what}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        what: String,
    },
}

impl TrainError {
    /// An I/O error at `path`.
    pub fn io(path: &Path, what: impl std::fmt::Display) -> Self {
        Self::Io { path: path.display().to_string(), what: what.to_string() }
    }
}
