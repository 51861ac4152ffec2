//! Checkpoints: the model and the optimizer (Burn's burnpack records) and the run state in one
//! file, written atomically by the run directory ([`RunDir::write`]) so an interrupted write
//! never leaves a corrupt or missing checkpoint, and closed by the SHA-256 of its contents, so
//! that a truncated or changed file is refused on load.

use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stiffnode_solvers::DeviceKind;

use crate::error::TrainError;
use crate::optimizer::Optimizer;
use crate::run_dir::RunDir;

/// Version 2: the parts, then the SHA-256 of everything before it, verified on load.
const MAGIC: &[u8; 8] = b"SNCKPT02";
/// Version 1 (no checksum), still read.
const MAGIC_V1: &[u8; 8] = b"SNCKPT01";
const DIGEST: usize = 32;

/// Where training stands after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs completed.
    pub epoch: usize,
    /// Best validation loss so far (training loss without a validation set); infinite until
    /// a model solves the validation set.
    #[serde(with = "exact")]
    pub best_loss: f64,
    /// Epoch of the best loss.
    pub best_epoch: usize,
    /// Total training wall time so far, seconds.
    #[serde(with = "exact")]
    pub wall_s: f64,
}

impl RunState {
    /// Before the first epoch.
    pub fn new() -> Self {
        Self { epoch: 0, best_loss: f64::INFINITY, best_epoch: 0, wall_s: 0.0 }
    }
}

/// A number of the run state, written as a string in Rust's shortest exact form (`inf` for a
/// loss not measured yet), which reads back to the same bits: JSON has no infinity, and
/// serde_json's number parser can be a unit in the last place off. Numbers (and `null` for
/// infinity) of older checkpoints are read too.
mod exact {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Number(f64),
        Null(()),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Written::deserialize(d)? {
            Written::Text(t) => t.parse().map_err(|_| serde::de::Error::custom(format!("'{t}' is not a number"))),
            Written::Number(v) => Ok(v),
            Written::Null(()) => Ok(f64::INFINITY),
        }
    }
}

impl Default for RunState {
    fn default() -> Self {
        Self::new()
    }
}

/// Write the checkpoint `name` of `run` atomically.
pub fn save<M: Module>(
    run: &RunDir,
    name: &str,
    model: &M,
    optim: &Optimizer,
    state: &RunState,
) -> Result<(), TrainError> {
    let target = run.checkpoint(name);
    let model_bytes =
        model.clone().into_record().into_bytes().map_err(|e| TrainError::io(&target, format!("{e:?}")))?;
    let optim_bytes = optim.into_bytes().map_err(|e| TrainError::io(&target, format!("{e:?}")))?;
    let state_bytes = serde_json::to_vec(state).expect("run state serializes");
    let mut bytes = MAGIC.to_vec();
    for part in [&state_bytes[..], &model_bytes[..], &optim_bytes[..]] {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    run.write(&target, &bytes)
}

/// Read checkpoint `name` of `run`: the model loaded into `model`, the optimizer state loaded
/// into `optim` for training on `device`, and the run state.
pub fn load<M: Module>(
    run: &RunDir,
    name: &str,
    model: M,
    optim: Optimizer,
    device: DeviceKind,
) -> Result<(M, Optimizer, RunState), TrainError> {
    let file = run.checkpoint(name);
    let parts = read_parts(&file)?;
    let bad = |what: &str| TrainError::io(&file, format!("not a valid checkpoint: {what}"));
    let state: RunState = serde_json::from_slice(&parts[0]).map_err(|e| bad(&format!("run state: {e}")))?;
    let model = load_model_part(&file, &parts[1], model)?;
    let optim = on_default_device(device, || optim.from_bytes(Bytes::from_bytes_vec(parts[2].clone())))
        .map_err(|e| bad(&format!("optimizer: {e:?}")))?;
    Ok((model, optim, state))
}

/// The model of checkpoint `name` of `run`, loaded into `model` (a warm start, a prediction).
pub fn load_model<M: Module>(run: &RunDir, name: &str, model: M) -> Result<M, TrainError> {
    let file = run.checkpoint(name);
    let parts = read_parts(&file)?;
    load_model_part(&file, &parts[1], model)
}

fn load_model_part<M: Module>(file: &Path, bytes: &[u8], model: M) -> Result<M, TrainError> {
    let bad = |what: String| TrainError::io(file, format!("not a valid checkpoint: {what}"));
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| bad(format!("model: {e:?}")))?;
    model.try_load_record(record).map_err(|e| bad(format!("model does not fit this configuration: {e:?}")))
}

/// The three parts of a checkpoint file (run state, model, optimizer), checked for framing and,
/// from version 2, against the stored SHA-256: a changed byte anywhere is refused.
fn read_parts(file: &Path) -> Result<Vec<Vec<u8>>, TrainError> {
    let bytes = std::fs::read(file).map_err(|e| TrainError::io(file, format!("cannot read checkpoint: {e}")))?;
    let bad = |what: &str| TrainError::io(file, format!("not a valid checkpoint: {what}"));
    let header = bytes.get(..8).ok_or_else(|| bad("truncated"))?;
    let body = match header {
        h if h == MAGIC => bytes.len().checked_sub(DIGEST).map(|end| &bytes[..end]).ok_or_else(|| bad("truncated"))?,
        h if h == MAGIC_V1 => &bytes[..],
        _ => return Err(bad("wrong header")),
    };
    let mut parts = Vec::with_capacity(3);
    let mut at = 8usize;
    for _ in 0..3 {
        let len = body.get(at..at + 8).ok_or_else(|| bad("truncated"))?;
        let len =
            usize::try_from(u64::from_le_bytes(len.try_into().expect("8 bytes"))).map_err(|_| bad("truncated"))?;
        let end = (at + 8).checked_add(len).ok_or_else(|| bad("truncated"))?;
        parts.push(body.get(at + 8..end).ok_or_else(|| bad("truncated"))?.to_vec());
        at = end;
    }
    if at != body.len() {
        return Err(bad("trailing bytes"));
    }
    if header == MAGIC && Sha256::digest(body).as_slice() != &bytes[body.len()..] {
        return Err(bad("checksum mismatch (the file was changed or damaged)"));
    }
    Ok(parts)
}

/// Run `f` with Burn's default device set to the training device. Burn 0.22 materializes
/// loaded optimizer state on `Device::default()` (wgpu when it is compiled in, in f32) and
/// moves it to the parameters' device without converting its precision; with the default
/// pointed at the training device (`BURN_DEVICE`), the state is restored exactly.
fn on_default_device<T>(device: DeviceKind, f: impl FnOnce() -> T) -> T {
    let backend = match device {
        DeviceKind::Cpu => "flex",
        DeviceKind::Wgpu => "wgpu",
        DeviceKind::Cuda => "cuda",
    };
    let before = std::env::var("BURN_DEVICE").ok();
    // SAFETY: std's environment functions are serialized by its own lock; Burn reads the
    // variable through them.
    unsafe { std::env::set_var("BURN_DEVICE", backend) };
    let out = f();
    match before {
        Some(v) => unsafe { std::env::set_var("BURN_DEVICE", v) },
        None => unsafe { std::env::remove_var("BURN_DEVICE") },
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every run state reads back as written — an infinite best loss (no model has solved
        /// the validation set yet) included, which JSON has no number for, and every bit of
        /// the finite numbers.
        #[test]
        fn a_run_state_reads_back_as_written(
            epoch in 0usize..1_000_000,
            best_loss in prop_oneof![Just(f64::INFINITY), 0.0f64..1e300],
            best_epoch in 0usize..1_000_000,
            wall_s in 0.0f64..1e9,
        ) {
            let state = RunState { epoch, best_loss, best_epoch, wall_s };
            // As older checkpoints wrote it (numbers, null for infinity), too.
            let old = format!(
                r#"{{"epoch":{epoch},"best_loss":{},"best_epoch":{best_epoch},"wall_s":{wall_s}}}"#,
                if best_loss.is_finite() { format!("{best_loss:e}") } else { "null".into() }
            );
            let read: RunState = serde_json::from_str(&old).unwrap();
            prop_assert!(read.best_loss.is_infinite() == best_loss.is_infinite() && read.epoch == epoch);
            let back: RunState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
            prop_assert_eq!(back, state);
        }
    }
}
