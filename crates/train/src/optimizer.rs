//! The optimizers, all from `burn-optim`: Adam (Kingma & Ba 2015) and AdamW (Loshchilov &
//! Hutter 2019) step with a gradient; L-BFGS (Nocedal & Wright 2006, Alg. 7.5, with a
//! strong-Wolfe line search) steps with a closure that re-evaluates the loss and gradient.

use burn::module::Module;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, LBFGS, LBFGSConfig, LineSearchFn, ModuleOptimizer};
use burn::store::RecordError;
use burn::tensor::Bytes;
use stiffnode_solvers::gradient::params::{check_finite, filled, global_norm, scale};
use stiffnode_solvers::{SolveError, Stats};

use crate::config::{OptimizerKind, TrainingConfig};

/// L-BFGS iterations (each one solve or a few, in the line search) per optimizer step.
pub const LBFGS_ITERATIONS: usize = 20;

/// An optimizer and its state.
#[derive(Clone)]
pub enum Optimizer {
    /// Adam or AdamW.
    Gradient(ModuleOptimizer),
    /// L-BFGS.
    Lbfgs(Box<LBFGS>),
}

impl Optimizer {
    /// The optimizer `t` configures, with no state.
    pub fn new(t: &TrainingConfig) -> Self {
        match t.optimizer {
            OptimizerKind::Adam => Self::Gradient(AdamConfig::new().with_epsilon(1e-8).init()),
            OptimizerKind::Adamw => {
                Self::Gradient(AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(t.weight_decay as f32).init())
            }
            OptimizerKind::Lbfgs => Self::Lbfgs(Box::new(
                LBFGSConfig::new()
                    .with_max_iter(LBFGS_ITERATIONS)
                    .with_line_search_fn(LineSearchFn::StrongWolfe)
                    .init(),
            )),
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
            Self::Lbfgs(o) => Self::Lbfgs(Box::new(o.from_bytes(bytes)?)),
        })
    }

    /// One optimizer step from `model`, with `evaluate` giving the loss, gradient and solver
    /// work of a model. Returns the new model and the loss, gradient norm (before clipping)
    /// and work at `model`. `clip` bounds the global gradient norm (Adam, AdamW).
    pub fn step<M: Module + Clone>(
        &mut self,
        lr: f64,
        model: M,
        clip: Option<f64>,
        mut evaluate: impl FnMut(&M) -> Result<(f64, GradientsParams, Stats), SolveError>,
    ) -> Result<(M, f64, f64, Stats), SolveError> {
        match self {
            Self::Gradient(o) => {
                let (value, mut grads, stats) = evaluate(&model)?;
                let norm = checked_norm(&model, value, &grads)?;
                // Clipping by the global norm keeps the direction (Pascanu et al. 2013).
                if let Some(c) = clip
                    && norm > c
                {
                    scale(&model, &mut grads, c / norm);
                }
                Ok((o.step(lr, model, grads), value, norm, stats))
            }
            Self::Lbfgs(o) => {
                // A trial point of the line search where the solve fails (a model too stiff or
                // blowing up) gets an infinite loss, so that the strong-Wolfe search backtracks
                // from it; a failure at the starting point, or a step that ends on a failing
                // point, is an error and the caller keeps its model.
                let mut first: Option<(f64, f64, Stats)> = None;
                let mut failure = None;
                let (updated, final_loss) = o.step(lr, model, |m: M| {
                    match evaluate(&m).and_then(|(v, g, s)| checked_norm(&m, v, &g).map(|n| (v, g, s, n))) {
                        Ok((value, grads, stats, norm)) => {
                            first.get_or_insert((value, norm, stats));
                            (value, grads)
                        }
                        Err(e) => {
                            failure.get_or_insert(e);
                            (f64::INFINITY, filled(&m, 0.0))
                        }
                    }
                });
                let Some((value, norm, stats)) = first else { return Err(failure.expect("a failed evaluation")) };
                if !final_loss.is_finite() {
                    return Err(failure
                        .unwrap_or_else(|| SolveError::NonFiniteGradient("L-BFGS ended on a non-finite loss".into())));
                }
                Ok((updated, value, norm, stats))
            }
        }
    }
}

/// `‖∇L‖`, or an error when it or the loss is not finite (naming the parameter whose gradient
/// has a non-finite entry).
fn checked_norm<M: Module>(model: &M, loss: f64, grads: &GradientsParams) -> Result<f64, SolveError> {
    let norm = global_norm(model, grads);
    if !norm.is_finite() {
        // One pass reads the gradients; only a non-finite norm needs the named error.
        check_finite(model, grads)?;
        // Finite entries whose squares overflow: the model's solution has blown up, and Adam
        // would divide them into a zero update and stay there.
        return Err(SolveError::NonFiniteGradient(format!(
            "the gradient norm overflows (loss {loss:.3e}): the model's solution has blown up"
        )));
    }
    if !loss.is_finite() {
        return Err(SolveError::NonFiniteGradient(format!("the loss is {loss}")));
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use stiffnode_models::{Activation, Mlp, MlpConfig};
    use stiffnode_solvers::DeviceKind;

    use super::*;
    use crate::config::TrainConfig;

    #[test]
    fn a_blown_up_gradient_or_loss_is_an_error_not_a_silent_zero_step() {
        let device = DeviceKind::Cpu.open().unwrap().autodiff();
        let mlp = Mlp::new(
            3,
            &MlpConfig {
                hidden: vec![4],
                activation: Activation::Tanh,
                scaled: false,
                conserve: true,
                log_inputs: false,
                log_floor: None,
                time_scale: None,
            },
            None,
            0,
            &device,
        );
        let config = TrainConfig::parse("[data]\ndataset = \"x\"\nmechanism = \"robertson\"\n[model]\nkind = \"mlp\"\nhidden = [4]\nactivation = \"tanh\"\n[solver]\nmethod = \"radau5\"\n[train]\nepochs = 1\nlr = 0.01\n", "t.toml").unwrap();
        let mut optim = Optimizer::new(&config.train);
        // Entries of 1e200 are finite, their squares are not: Adam would step by m/√v = 0.
        let err = optim
            .step(0.01, mlp.clone(), None, |m| Ok((1.0, filled(m, 1e200), Stats::default())))
            .expect_err("overflowing norm");
        assert!(matches!(&err, SolveError::NonFiniteGradient(w) if w.contains("overflows")), "{err}");
        let err = optim
            .step(0.01, mlp.clone(), None, |m| Ok((f64::INFINITY, filled(m, 1.0), Stats::default())))
            .expect_err("infinite loss");
        assert!(matches!(&err, SolveError::NonFiniteGradient(w) if w.contains("loss is inf")), "{err}");
        let (_, loss, norm, _) =
            optim.step(0.01, mlp.clone(), None, |m| Ok((1.0, filled(m, 1.0), Stats::default()))).unwrap();
        assert_eq!(loss, 1.0);
        assert!(norm.is_finite() && norm > 1.0);
    }
}
