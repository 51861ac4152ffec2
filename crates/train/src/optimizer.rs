//! The optimizers, all from `burn-optim`: Adam (Kingma & Ba 2015) and AdamW (Loshchilov &
//! Hutter 2019) step with a gradient; L-BFGS (Nocedal & Wright 2006, Alg. 7.5, with a
//! strong-Wolfe line search) steps with a closure that re-evaluates the loss and gradient.

use burn::optim::{AdamConfig, AdamWConfig, LBFGS, LBFGSConfig, LineSearchFn, ModuleOptimizer};
use burn::store::RecordError;
use burn::tensor::Bytes;

use crate::config::{OptimizerKind, TrainingConfig};

/// L-BFGS iterations (each one solve or a few, in the line search) per optimizer step.
pub const LBFGS_ITERATIONS: usize = 20;

/// An optimizer and its state.
#[derive(Clone)]
pub enum Optimizer {
    /// Adam or AdamW.
    Gradient(ModuleOptimizer),
    /// L-BFGS.
    Lbfgs(LBFGS),
}

impl Optimizer {
    pub fn new(t: &TrainingConfig) -> Self {
        match t.optimizer {
            OptimizerKind::Adam => Self::Gradient(AdamConfig::new().with_epsilon(1e-8).init()),
            OptimizerKind::Adamw => Self::Gradient(AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(t.weight_decay as f32).init()),
            OptimizerKind::Lbfgs => Self::Lbfgs(LBFGSConfig::new().with_max_iter(LBFGS_ITERATIONS).with_line_search_fn(LineSearchFn::StrongWolfe).init()),
        }
    }

    /// The state as a burnpack buffer (for checkpoints).
    pub fn into_bytes(&self) -> Result<Bytes, RecordError> {
        match self {
            Self::Gradient(o) => o.into_bytes(),
            Self::Lbfgs(o) => o.into_bytes(),
        }
    }

    /// This optimizer with the state in `bytes`.
    pub fn from_bytes(self, bytes: Bytes) -> Result<Self, RecordError> {
        Ok(match self {
            Self::Gradient(o) => Self::Gradient(o.from_bytes(bytes)?),
            Self::Lbfgs(o) => Self::Lbfgs(o.from_bytes(bytes)?),
        })
    }
}
