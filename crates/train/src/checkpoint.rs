//! Checkpoints: the model and the optimizer (Burn's burnpack records) and the run state in one
//! file, written atomically by the run directory ([`RunDir::write`]) so an interrupted write
//! never leaves a corrupt or missing checkpoint. A truncated file is detected on load.

use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use stiffnode_solvers::DeviceKind;

use crate::error::TrainError;
use crate::optimizer::Optimizer;
use crate::run_dir::RunDir;

const MAGIC: &[u8; 8] = b"SNCKPT01";

/// Where training stands after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs completed.
    pub epoch: usize,
    /// Best validation loss so far (training loss without a validation set).
    pub best_loss: f64,
    /// Epoch of the best loss.
    pub best_epoch: usize,
    /// Total training wall time so far, seconds.
    pub wall_s: f64,
}

impl RunState {
    /// Before the first epoch.
    pub fn new() -> Self {
        Self { epoch: 0, best_loss: f64::INFINITY, best_epoch: 0, wall_s: 0.0 }
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

/// The three parts of a checkpoint file (run state, model, optimizer), checked for framing.
fn read_parts(file: &Path) -> Result<Vec<Vec<u8>>, TrainError> {
    let bytes = std::fs::read(file).map_err(|e| TrainError::io(file, format!("cannot read checkpoint: {e}")))?;
    let bad = |what: &str| TrainError::io(file, format!("not a valid checkpoint: {what}"));
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(bad("wrong header"));
    }
    let mut parts = Vec::with_capacity(3);
    let mut at = 8;
    for _ in 0..3 {
        let len = bytes.get(at..at + 8).ok_or_else(|| bad("truncated"))?;
        let len = u64::from_le_bytes(len.try_into().unwrap()) as usize;
        parts.push(bytes.get(at + 8..at + 8 + len).ok_or_else(|| bad("truncated"))?.to_vec());
        at += 8 + len;
    }
    if at != bytes.len() {
        return Err(bad("trailing bytes"));
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
