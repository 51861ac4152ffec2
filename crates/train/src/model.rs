//! The model a configuration describes: an MLP, or the problem's own kinetics with learnable
//! rates (mass action, or a Cantera mechanism in its reactor), one Burn module type that the
//! trainer, checkpoints and prediction share.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use stiffnode_chemistry::MassActionField;
use stiffnode_chemistry::gas::Reactor;
use stiffnode_models::Mlp;
use stiffnode_solvers::VectorField;
use stiffnode_solvers::field::{HostField, from_host};
use stiffnode_solvers::kernel_field::KernelField;

use crate::config::{ModelConfig, ReactionRef};
use crate::data::TrainingData;
use crate::error::TrainError;
use crate::problem::Problem;

/// A trainable vector field. (One per run and never in a hot collection, so the size of the
/// MLP variant does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// A neural vector field.
    Mlp(Mlp),
    /// Mass-action kinetics with learnable rate constants.
    MassAction(MassActionField),
    /// A Cantera mechanism in its reactor, with learnable `log10` factors on chosen rates.
    Reactor(Reactor),
}

impl Model {
    /// Build the configured model for `data` on `device` (an autodiff device for training).
    pub fn new(
        config: &ModelConfig,
        problem: &Problem,
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
                let mlp = Mlp::new(d, c, Some((&data.scale, data.span())), seed, device);
                let held = mlp.with_constant_components(&problem.constant_components(c.conserve));
                let held = if c.conserve { held.with_invariants(&problem.invariants()) } else { held };
                Ok(Self::Mlp(if c.log_inputs {
                    held.with_log_inputs(
                        &problem.mass_fractions(),
                        c.log_floor.unwrap_or(stiffnode_models::input::FLOOR),
                    )
                } else {
                    held
                }))
            }
            ModelConfig::MassAction { learnable, start_factor } => {
                let idx = learnable_reactions(problem, learnable)
                    .map_err(|what| TrainError::Config { file: file.to_string(), what })?;
                if !(start_factor.is_finite() && *start_factor > 0.0) {
                    return Err(TrainError::Config {
                        file: file.to_string(),
                        what: format!("model.start_factor = {start_factor} must be > 0"),
                    });
                }
                match problem {
                    Problem::MassAction(mech) => {
                        let mut start = mech.clone();
                        for &j in &idx {
                            start.reactions[j].rate *= start_factor;
                        }
                        Ok(Self::MassAction(MassActionField::with_learnable(&start, device, &idx)))
                    }
                    Problem::Reactor(p) => {
                        let (mut r, _) = p.reactor_learning(device, &idx);
                        let theta = vec![start_factor.log10(); idx.len()];
                        let start = from_host(theta, [idx.len()], device);
                        r.log10_factors = r.log10_factors.map(|p| p.map(|_| start));
                        Ok(Self::Reactor(r))
                    }
                }
            }
        }
    }

    fn field(&self) -> &dyn VectorField {
        match self {
            Self::Mlp(m) => m,
            Self::MassAction(m) => m,
            Self::Reactor(r) => r,
        }
    }
}

/// Indices of the reactions named by 1-based index or name (a mechanism reaction's `name`, a
/// reactor problem reaction's equation); all when `names` is empty.
fn learnable_reactions(problem: &Problem, refs: &[ReactionRef]) -> Result<Vec<usize>, String> {
    let labels = problem.reactions();
    let n = labels.len();
    if refs.is_empty() {
        return Ok((0..n).collect());
    }
    let mut found: Vec<(usize, String)> = Vec::with_capacity(refs.len());
    for r in refs {
        let (index, name) = match r {
            ReactionRef::Index(k) => (Some(*k), k.to_string()),
            ReactionRef::Name(s) => (s.parse::<usize>().ok(), s.clone()),
        };
        let by_index = index.filter(|&k| (1..=n).contains(&k)).map(|k| k - 1);
        let by_name = || labels.iter().position(|(_, label)| *label == name);
        let Some(j) = by_index.or_else(by_name) else {
            return Err(format!(
                "model.learnable: no reaction '{name}' in '{}' (give 1-based indices up to {n} or names)",
                problem.name()
            ));
        };
        // A reaction given twice would take its start factor twice.
        if let Some((_, first)) = found.iter().find(|(k, _)| *k == j) {
            return Err(format!(
                "model.learnable: '{name}' names reaction {} again (already given as '{first}')",
                j + 1
            ));
        }
        found.push((j, name));
    }
    Ok(found.into_iter().map(|(j, _)| j).collect())
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
    fn jacobian_differentiates(&self) -> bool {
        self.field().jacobian_differentiates()
    }
    fn autonomous(&self) -> bool {
        self.field().autonomous()
    }
    fn host(&self) -> Option<Box<dyn HostField + '_>> {
        self.field().host()
    }
    fn kernel(&self) -> Option<KernelField> {
        self.field().kernel()
    }
}
