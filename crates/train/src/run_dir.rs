//! A training run's directory and everything written to it: the resolved configuration
//! (`config.toml`), the checkpoints (`checkpoints/NAME.ckpt`), and the JSON-lines logs
//! (`metrics.jsonl`, `modes.jsonl`). Whole files are written atomically (a temporary file and a
//! rename); logs are appended one line per record, and cut back to a checkpoint's epoch on resume.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use stiffnode_solvers::files::write_atomic;

use crate::config::TrainConfig;
use crate::error::TrainError;

/// The JSON-lines logs of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// `metrics.jsonl`: one line per epoch.
    Metrics,
    /// `modes.jsonl`: one line per logged epoch (the split by eigenmode).
    Modes,
}

impl Log {
    /// The file name.
    pub fn file(self) -> &'static str {
        match self {
            Self::Metrics => "metrics.jsonl",
            Self::Modes => "modes.jsonl",
        }
    }

    /// What one line holds, for errors.
    fn record(self) -> &'static str {
        match self {
            Self::Metrics => "metrics record",
            Self::Modes => "mode record",
        }
    }
}

/// A run directory. A training process holds it exclusively (an advisory lock on its `.lock`
/// file, taken by [`RunDir::init`] and [`RunDir::lock`], released when the value is dropped).
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    /// The locked `.lock` file, while this process trains in the directory.
    lock: Option<std::fs::File>,
}

impl RunDir {
    /// The place for a new run: an error if `path` already holds one (a `last` checkpoint), or
    /// a run's files without a checkpoint (an interrupted start, another run's history).
    /// Nothing is written until [`RunDir::init`].
    pub fn new_run(path: &Path) -> Result<Self, TrainError> {
        let mut run = Self { path: path.to_path_buf(), lock: None };
        if run.path.join(".lock").exists() {
            // Another process training here is named first; a free lock is let go at once.
            run.lock()?;
            run.lock = None;
        }
        run.check_empty()?;
        Ok(run)
    }

    fn check_empty(&self) -> Result<(), TrainError> {
        if self.checkpoint("last").exists() {
            return Err(TrainError::RunExists { path: self.path.display().to_string() });
        }
        let files = [self.config_file(), self.log(Log::Metrics), self.log(Log::Modes), self.path.join("checkpoints")];
        if let Some(f) = files.iter().find(|f| f.exists()) {
            let what = format!(
                "holds a run's {} but no checkpoint to resume: remove it or choose another directory",
                f.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
            return Err(TrainError::io(&self.path, what));
        }
        Ok(())
    }

    /// An existing run: an error unless `path` holds a `config.toml`.
    pub fn open(path: &Path) -> Result<Self, TrainError> {
        let run = Self { path: path.to_path_buf(), lock: None };
        if !run.config_file().is_file() {
            return Err(TrainError::io(path, "not a training run directory (no config.toml)"));
        }
        Ok(run)
    }

    /// Create the directory, take it for this process ([`RunDir::lock`]) and write the resolved
    /// configuration.
    pub fn init(&mut self, config: &TrainConfig) -> Result<(), TrainError> {
        std::fs::create_dir_all(&self.path).map_err(|e| TrainError::io(&self.path, e))?;
        self.lock()?;
        // Checked again under the lock: another process may have started here meanwhile.
        self.check_empty()?;
        let text = toml::to_string(config).expect("configuration serializes");
        self.write(&self.config_file(), text.as_bytes())
    }

    /// Take the directory for this process: an error naming the holder if another process
    /// trains in it.
    pub fn lock(&mut self) -> Result<(), TrainError> {
        use std::io::{Read, Seek, Write};
        let path = self.path.join(".lock");
        let io = |e: std::io::Error| TrainError::io(&path, e);
        let mut file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let by = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                return Err(TrainError::RunInUse { path: self.path.display().to_string(), holder: by });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).and_then(|_| file.rewind()).map_err(io)?;
        write!(file, "stiffnode (pid {})", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        self.lock = Some(file);
        Ok(())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.path.join("config.toml")
    }

    /// The run's resolved configuration.
    pub fn config(&self) -> Result<TrainConfig, TrainError> {
        TrainConfig::load(&self.config_file())
    }

    /// `checkpoints/NAME.ckpt`.
    pub fn checkpoint(&self, name: &str) -> PathBuf {
        self.path.join("checkpoints").join(format!("{name}.ckpt"))
    }

    /// The path of a log.
    pub fn log(&self, log: Log) -> PathBuf {
        self.path.join(log.file())
    }

    /// Write `bytes` to `path` (inside the run) atomically, creating its directory.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        }
        write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
    }

    /// Append `record` to `log` as one JSON line.
    pub fn append<T: Serialize>(&self, log: Log, record: &T) -> Result<(), TrainError> {
        let path = self.log(log);
        let line = serde_json::to_string(record).expect("log records serialize");
        let mut f =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| TrainError::io(&path, e))?;
        writeln!(f, "{line}").map_err(|e| TrainError::io(&path, e))
    }

    /// Every record of `log`, in order (blank lines skipped); a malformed line is an error
    /// naming the file and line. A missing file reads as `None`.
    pub fn read<T: DeserializeOwned>(&self, log: Log) -> Result<Option<Vec<T>>, TrainError> {
        let path = self.log(log);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrainError::io(&path, e)),
        };
        let parse = |(i, l): (usize, &str)| {
            serde_json::from_str(l)
                .map_err(|e| TrainError::io(&path, format!("line {}: not a {}: {e}", i + 1, log.record())))
        };
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(parse).collect::<Result<_, _>>().map(Some)
    }

    /// Drop log lines of epochs after `epoch` (an interruption between logging and
    /// checkpointing leaves one), so that a resumed run appends where its checkpoint is.
    pub fn truncate_logs(&self, epoch: usize) -> Result<(), TrainError> {
        for log in [Log::Metrics, Log::Modes] {
            let path = self.log(log);
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let epoch_of =
                |l: &str| serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["epoch"].as_u64());
            let keep: String = text
                .lines()
                .filter(|l| epoch_of(l).is_some_and(|e| e as usize <= epoch))
                .map(|l| format!("{l}\n"))
                .collect();
            self.write(&path, keep.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn logs_append_read_back_and_cut_back_to_an_epoch() {
        let dir = std::env::temp_dir().join(format!("stiffnode-run-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run = RunDir { path: dir.clone(), lock: None };
        assert_eq!(run.read::<Value>(Log::Metrics).unwrap(), None, "no log yet");
        for epoch in 1..=4 {
            run.append(Log::Metrics, &json!({"epoch": epoch, "loss": 1.0 / epoch as f64})).unwrap();
        }
        run.append(Log::Modes, &json!({"epoch": 2})).unwrap();
        run.append(Log::Modes, &json!({"epoch": 4})).unwrap();
        run.truncate_logs(3).unwrap();
        let epochs = |log| {
            run.read::<Value>(log).unwrap().unwrap().iter().map(|v| v["epoch"].as_u64().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!((epochs(Log::Metrics), epochs(Log::Modes)), (vec![1, 2, 3], vec![2]));
        std::fs::write(run.log(Log::Modes), "{\"epoch\": 2}\n\nnot json\n").unwrap();
        let err = run.read::<Value>(Log::Modes).unwrap_err().to_string();
        assert!(err.contains("modes.jsonl") && err.contains("line 3: not a mode record"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
