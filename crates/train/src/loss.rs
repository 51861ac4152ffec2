//! Losses on scaled states: the mean over trajectories, times and species of
//! `w_i·|ŷ_i⁻¹(y − y_data)|` (MAE) or its square (MSE), with ŷ the per-species data scale, so
//! that species of very different magnitude weigh alike (Kim et al. 2021).

use burn::tensor::{Device, Tensor};
use stiffnode_solvers::field::from_host;

use crate::config::LossKind;

/// A loss of predicted states against targets.
pub struct Loss {
    kind: LossKind,
    /// `w_i/ŷ_i`, `[1, d]`.
    factor: Tensor<2>,
}

impl Loss {
    /// The loss `kind` with per-species data scales ŷ `scale` and optional weights, on `device`.
    pub fn new(kind: LossKind, scale: &[f64], weights: Option<&[f64]>, device: &Device) -> Self {
        let d = scale.len();
        let factor = (0..d).map(|i| weights.map_or(1.0, |w| w[i]) / scale[i]).collect();
        Self { kind, factor: from_host(factor, [1, d], device) }
    }

    /// The loss of `pred` (one `[batch, d]` tensor per output time) against `target` (host
    /// values, `batch·d` per output time).
    pub fn eval(&self, pred: &[Tensor<2>], target: &[Vec<f64>]) -> Tensor<1> {
        let parts: Vec<Tensor<2>> = pred
            .iter()
            .zip(target)
            .map(|(p, t)| {
                let diff = (p.clone() - from_host(t.clone(), p.dims(), &p.device())) * self.factor.clone();
                match self.kind {
                    LossKind::Mae => diff.abs(),
                    LossKind::Mse => diff.powi_scalar(2),
                }
            })
            .collect();
        Tensor::cat(parts, 0).mean()
    }
}
