//! The model a configuration describes: an MLP or mass-action kinetics, one Burn module type
//! that the trainer, checkpoints and prediction share.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use stiffnode_models::{MassActionField, Mlp};
use stiffnode_solvers::VectorField;
use stiffnode_solvers::ensemble::KernelField;
use stiffnode_solvers::field::HostField;
use stiffnode_solvers::problems::Mechanism;

use crate::config::{ModelConfig, ReactionRef};
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
                let d = data.species.len();
                c.validate(d)
                    .map_err(|what| TrainError::Config { file: file.to_string(), what: format!("model: {what}") })?;
                Ok(Self::Mlp(Mlp::new(d, c, Some((&data.scale, data.span())), seed, device)))
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
fn learnable_reactions(mech: &Mechanism, refs: &[ReactionRef]) -> Result<Vec<usize>, String> {
    if refs.is_empty() {
        return Ok((0..mech.reactions.len()).collect());
    }
    let n = mech.reactions.len();
    refs.iter()
        .map(|r| {
            let (index, name) = match r {
                ReactionRef::Index(k) => (Some(*k), k.to_string()),
                ReactionRef::Name(s) => (s.parse::<usize>().ok(), s.clone()),
            };
            let by_index = index.filter(|&k| (1..=n).contains(&k)).map(|k| k - 1);
            let by_name = || mech.reactions.iter().position(|r| r.name.as_deref() == Some(name.as_str()));
            by_index.or_else(by_name).ok_or_else(|| {
                format!(
                    "model.learnable: no reaction '{name}' in mechanism '{}' (give 1-based indices up to {n} or names)",
                    mech.name
                )
            })
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
    fn kernel(&self) -> Option<KernelField> {
        self.field().kernel()
    }
}
