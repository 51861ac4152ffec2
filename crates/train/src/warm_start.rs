//! Derivative warm start (design.md §13): before any solve is differentiated, fit the model's
//! `f(y)` to the reference rates `r = dy/dt` at the training data's states — the mechanism's own
//! right-hand side, exact for generated data (CRNN, Ji & Deng 2021; SPIN-ODE, 2025). The loss
//! weighs each rate by its own size where it is large and by the component's scale where it is
//! small,
//!
//! ```text
//!   L = mean_{points, i} |f_i(y) − r_i| / (|r_i| + ŷ_i/t_span),
//! ```
//!
//! so that the slow radical build-up of the induction period, whose rates are tiny, counts as
//! much as the ignition front, whose rates are 10⁴ times the scale. Full-batch steps of the run's
//! optimizer (a fresh one: its moments do not carry over into the trajectory fit).

use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use stiffnode_chemistry::mass_action::MassActionField;
use stiffnode_solvers::field::{from_host, to_host};
use stiffnode_solvers::{DeviceKind, SolveError, Stats, VectorField};

use crate::config::WarmStart;
use crate::optimizer::Optimizer;
use crate::problem::Problem;
use crate::setup::Setup;

/// The warm start's loss before and after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmStartReport {
    /// The derivative loss of the initial model.
    pub first: f64,
    /// The derivative loss after the last step.
    pub last: f64,
}

/// The reference rates at `states` (`n` rows of `d`): the mechanism's or the reactor's own
/// right-hand side.
fn reference_rates(problem: &Problem, times: &[f64], states: &[f64], d: usize) -> Result<Vec<f64>, SolveError> {
    let device = DeviceKind::Cpu.open()?;
    let y = || from_host(states.to_vec(), [times.len(), d], &device);
    Ok(match problem {
        Problem::MassAction(m) => to_host(MassActionField::new(m, &device).eval(times, y())),
        Problem::Reactor(r) => to_host(r.reactor(&device).0.eval(times, y())),
    })
}

impl Setup {
    /// Fit the model to the reference rates at every training data point for `warm.epochs`
    /// full-batch steps at `warm.lr`.
    pub fn warm_start(&mut self, warm: &WarmStart) -> Result<WarmStartReport, SolveError> {
        let (data, d) = (&self.data, self.data.species.len());
        let (mut times, mut states) = (Vec::new(), Vec::new());
        for &k in &data.train {
            times.extend_from_slice(&data.times[k]);
            states.extend(data.states[k].iter().flatten());
        }
        let n = times.len();
        let rates = reference_rates(&self.mechanism, &times, &states, d)?;
        let constant = self.mechanism.constant_components(self.config.model.conserves());
        let span = data.span();
        // 1/(|r| + ŷ/t_span), 0 on the held components.
        let weights: Vec<f64> = rates
            .iter()
            .enumerate()
            .map(|(k, r)| if constant.contains(&(k % d)) { 0.0 } else { 1.0 / (r.abs() + data.scale[k % d] / span) })
            .collect();
        let device = &self.device;
        let (y, r, w) =
            (from_host(states, [n, d], device), from_host(rates, [n, d], device), from_host(weights, [n, d], device));
        let compared = (d - constant.len()) as f64 / d as f64;
        let loss = |m: &crate::model::Model| -> Tensor<1> {
            ((m.eval(&times, y.clone()) - r.clone()).abs() * w.clone()).mean().div_scalar(compared)
        };
        let mut optim = Optimizer::new(&self.config.train);
        let clip = self.config.train.clip;
        let mut first = None;
        let mut last = f64::NAN;
        for _ in 0..warm.epochs {
            let step = |m: &crate::model::Model| -> Result<(f64, GradientsParams, Stats), SolveError> {
                let value = loss(m);
                let v = to_host(value.clone().without_autodiff())[0];
                Ok((v, GradientsParams::from_grads(value.backward(), m), Stats::default()))
            };
            let (model, value, _, _) = optim.step(warm.lr, self.model.clone(), clip, step)?;
            self.model = model;
            first.get_or_insert(value);
            last = value;
        }
        if warm.epochs > 0 {
            last = to_host(loss(&self.model).without_autodiff())[0];
        }
        Ok(WarmStartReport { first: first.unwrap_or(last), last })
    }
}
