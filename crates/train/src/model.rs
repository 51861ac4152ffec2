//! The model a configuration describes: an MLP or mass-action kinetics, one Burn module type
//! that the trainer, checkpoints and prediction share.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use stiffnode_models::{MassActionField, Mlp};
use stiffnode_solvers::VectorField;
use stiffnode_solvers::field::HostField;
use stiffnode_solvers::problems::Mechanism;

use crate::config::ModelConfig;
use crate::data::TrainingData;
use crate::error::TrainError;

/// A trainable vector field. (One per run and never in a hot collection, so the size of the
/// MLP variant does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// A neural vector field.
    Mlp(Mlp),
    /// Mass-action kinetics with learnable rate constants.
    MassAction(MassActionField),
}

impl Model {
    /// Build the configured model for `data` on `device` (an autodiff device for training).
    pub fn new(
        config: &ModelConfig,
        mech: &Mechanism,
        data: &TrainingData,
        seed: u64,
        device: &Device,
        file: &str,
    ) -> Result<Self, TrainError> {
        match config {
            ModelConfig::Mlp(c) => {
                Ok(Self::Mlp(Mlp::new(data.species.len(), c, Some((&data.scale, data.span())), seed, device)))
            }
            ModelConfig::MassAction { learnable, start_factor } => {
                let idx = learnable_reactions(mech, learnable)
                    .map_err(|what| TrainError::Config { file: file.to_string(), what })?;
                if !(start_factor.is_finite() && *start_factor > 0.0) {
                    return Err(TrainError::Config {
                        file: file.to_string(),
                        what: format!("model.start_factor = {start_factor} must be > 0"),
                    });
                }
                let mut start = mech.clone();
                for &j in &idx {
                    start.reactions[j].rate *= start_factor;
                }
                Ok(Self::MassAction(MassActionField::with_learnable(&start, device, &idx)))
            }
        }
    }

    fn field(&self) -> &dyn VectorField {
        match self {
            Self::Mlp(m) => m,
            Self::MassAction(m) => m,
        }
    }
}

/// Indices of the reactions named by 1-based index or name; all when `names` is empty.
fn learnable_reactions(mech: &Mechanism, names: &[String]) -> Result<Vec<usize>, String> {
    if names.is_empty() {
        return Ok((0..mech.reactions.len()).collect());
    }
    names
        .iter()
        .map(|n| {
            let by_index = n.parse::<usize>().ok().filter(|&k| (1..=mech.reactions.len()).contains(&k)).map(|k| k - 1);
            by_index.or_else(|| mech.reactions.iter().position(|r| r.name.as_deref() == Some(n.as_str()))).ok_or_else(
                || {
                    format!(
                        "model.learnable: no reaction '{n}' in mechanism '{}' (give 1-based indices or names)",
                        mech.name
                    )
                },
            )
        })
        .collect()
}

impl VectorField for Model {
    fn dim(&self) -> usize {
        self.field().dim()
    }
    fn device(&self) -> Device {
        self.field().device()
    }
    fn eval(&self, t: &[f64], y: Tensor<2>) -> Tensor<2> {
        self.field().eval(t, y)
    }
    fn jacobian(&self, t: &[f64], y: Tensor<2>) -> Tensor<3> {
        self.field().jacobian(t, y)
    }
    fn host(&self) -> Option<Box<dyn HostField + '_>> {
        self.field().host()
    }
}
