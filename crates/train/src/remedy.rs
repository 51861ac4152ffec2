//! A remedy for the vanishing fast-mode gradient: mode-balanced updates.
//!
//! Fronk & Petzold (2025) show that for an A- or L-stable method the sensitivity of the loss to
//! a mode of eigenvalue `λ` carries the factor `R'(z)`, `z = hλ`, which vanishes as `|z| → ∞`
//! (like `|z|⁻²` for an L-stable method): the parameters that only fast modes see get almost no
//! gradient. The per-mode split (`gradient::modes`) gives every step sample's share `G_s` of the
//! gradient exactly, `Σ_s G_s = ∇L`, so an update can undo the damping:
//!
//! * `damping` — per sample, `c_s = min(1/|R'(z_s)|, c_max)`: each share divided by the
//!   method's damping factor at its own `z` (about 1 for a slow mode, `R'(0) = 1`). One
//!   vector–Jacobian product, the weights on the stage cotangents.
//! * `rank` — per mode rank `i` (by `|Re λ|`), `c_i = min(‖∇L‖/‖G_i‖, c_max)`: every mode's
//!   part brought to the gradient's norm, whatever damped it. One product per rank.
//!
//! The update then uses `G̃ = Σ c G` instead of `∇L`. It is a descent direction where the
//! shares are orthogonal in parameter space (`⟨G̃, ∇L⟩ = Σ c_i ‖G_i‖² > 0`, e.g. a diagonal
//! field with one parameter per mode), not in general: every balanced step logs
//! `cos(G̃, ∇L)`, and where it is not positive the step takes `∇L` instead and says so.

use burn::module::Module;
use burn::optim::GradientsParams;
use serde::{Deserialize, Serialize};
use stiffnode_solvers::field::VectorField;
use stiffnode_solvers::gradient::modes::ModalSplit;
use stiffnode_solvers::gradient::params::{flatten, unflatten};
use stiffnode_solvers::{Method, stability};

/// What an update does with the gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Remedy {
    /// The plain gradient.
    #[default]
    None,
    /// `G̃ = Σ c G` over the modes' shares (see the module header).
    ModeBalanced,
}

/// How the mode-balanced weights are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BalanceRule {
    /// `c_s = min(1/|R'(z_s)|, c_max)` per step sample.
    #[default]
    Damping,
    /// `c_i = min(‖∇L‖/‖G_i‖, c_max)` per mode rank.
    Rank,
}

impl BalanceRule {
    /// The name as configuration files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Damping => "damping",
            Self::Rank => "rank",
        }
    }
}

/// The balanced gradient of one step and what it did.
pub struct Balanced {
    /// The direction the optimizer takes: `G̃`, or `∇L` where `G̃` is no descent direction.
    pub params: GradientsParams,
    /// Weight per mode rank (fastest first): `c_i`, or for the damping rule the mean `c_s` of
    /// the rank's samples.
    pub weights: Vec<f64>,
    /// `cos(G̃, ∇L)`.
    pub cosine: f64,
    /// Whether `∇L` was taken instead (`cos ≤ 0` or not finite).
    pub fallback: bool,
}

/// What the balanced steps of an epoch did (in `metrics.jsonl` every epoch, and in the
/// epoch's `modes.jsonl` line when it logs modes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceLog {
    /// The rule.
    pub rule: BalanceRule,
    /// Weight per mode rank (fastest first), averaged over the epoch's steps.
    pub weights: Vec<f64>,
    /// The smallest finite `cos(G̃, ∇L)` of the epoch's steps (none if no step had one, e.g.
    /// a zero gradient).
    pub cosine: Option<f64>,
    /// Steps that took `∇L` because `G̃` was no descent direction.
    pub fallbacks: usize,
    /// Balanced steps.
    pub steps: usize,
}

impl BalanceLog {
    /// An empty log for `rule`.
    pub fn new(rule: BalanceRule) -> Self {
        Self { rule, weights: Vec::new(), cosine: None, fallbacks: 0, steps: 0 }
    }

    /// Add one step.
    pub fn add(&mut self, b: &Balanced) {
        let n = self.steps as f64;
        self.weights.resize(self.weights.len().max(b.weights.len()), 1.0);
        self.weights.iter_mut().zip(&b.weights).for_each(|(w, c)| *w = (*w * n + c) / (n + 1.0));
        if b.cosine.is_finite() {
            self.cosine = Some(self.cosine.map_or(b.cosine, |c| c.min(b.cosine)));
        }
        self.fallbacks += usize::from(b.fallback);
        self.steps += 1;
    }
}

/// The mode-balanced gradient of `split` (the split of `full = ∇L` for `field`, solved with
/// `method`) by `rule`, weights capped at `c_max`.
pub fn balance<F: VectorField + Module>(
    field: &F,
    split: &ModalSplit,
    full: &GradientsParams,
    method: &Method,
    rule: BalanceRule,
    c_max: f64,
) -> Balanced {
    let ranks = split.samples.iter().map(|s| s.rank + 1).max().unwrap_or(0);
    let grad = flatten(field, full);
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let (balanced, weights) = match rule {
        BalanceRule::Damping => {
            let z: Vec<_> = split.samples.iter().map(|s| s.eigenvalue * s.h).collect();
            let c: Vec<f64> = stability::derivatives(method, &z)
                .into_iter()
                .map(|dr| match dr.norm() {
                    0.0 => c_max,
                    n if n.is_finite() => (1.0 / n).min(c_max),
                    // At a pole of R (no step was taken there): neutral.
                    _ => 1.0,
                })
                .collect();
            // Reported per rank: the mean weight of its samples.
            let mut sums = vec![(0.0, 0usize); ranks];
            for (s, c) in split.samples.iter().zip(&c) {
                (sums[s.rank].0, sums[s.rank].1) = (sums[s.rank].0 + c, sums[s.rank].1 + 1);
            }
            let weights = sums.into_iter().map(|(sum, n)| if n > 0 { sum / n as f64 } else { 1.0 }).collect();
            (flatten(field, &split.weighted(field, &c)), weights)
        }
        BalanceRule::Rank => {
            let by_rank: Vec<Vec<f64>> =
                split.gradients(field, ranks, |s| Some(s.rank)).iter().map(|g| flatten(field, g)).collect();
            let total = norm(&grad);
            let weights: Vec<f64> =
                by_rank.iter().map(|g| if norm(g) > 0.0 { (total / norm(g)).min(c_max) } else { 1.0 }).collect();
            let mut sum = vec![0.0; grad.len()];
            for (g, c) in by_rank.iter().zip(&weights) {
                sum.iter_mut().zip(g).for_each(|(a, b)| *a += c * b);
            }
            (sum, weights)
        }
    };
    let dot: f64 = balanced.iter().zip(&grad).map(|(a, b)| a * b).sum();
    let cosine = dot / (norm(&balanced) * norm(&grad));
    let fallback = !(cosine.is_finite() && cosine > 0.0);
    let params = unflatten(field, if fallback { &grad } else { &balanced });
    Balanced { params, weights, cosine, fallback }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(cosine: f64, weights: Vec<f64>) -> Balanced {
        Balanced { params: GradientsParams::new(), weights, cosine, fallback: cosine.is_nan() || cosine <= 0.0 }
    }

    /// The epoch's log averages the weights, keeps the smallest finite cosine, counts the
    /// fallbacks, and reads back from its JSON line (a step with no finite cosine included).
    #[test]
    fn the_epoch_log_summarizes_its_steps_and_reads_back() {
        let mut log = BalanceLog::new(BalanceRule::Damping);
        log.add(&step(0.9, vec![800.0, 1.0]));
        log.add(&step(f64::NAN, vec![600.0, 1.0]));
        log.add(&step(0.4, vec![1000.0, 1.0]));
        assert_eq!((log.weights.clone(), log.cosine, log.fallbacks, log.steps), (vec![800.0, 1.0], Some(0.4), 1, 3));
        let back: BalanceLog = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
        assert_eq!(back, log);
        let mut none = BalanceLog::new(BalanceRule::Rank);
        none.add(&step(f64::NAN, vec![1.0]));
        let back: BalanceLog = serde_json::from_str(&serde_json::to_string(&none).unwrap()).unwrap();
        assert_eq!((back.cosine, back.fallbacks), (None, 1));
    }
}
