//! Losses on scaled states: the mean over trajectories, times and species of
//! `w_i·|ŷ_i⁻¹(y − y_data)|` (MAE) or its square (MSE), with ŷ the per-species data scale, so
//! that species of very different magnitude weigh alike (Kim et al. 2021). Components the
//! model holds constant (a reactor's carried pressure) are left out of the mean.

use burn::tensor::{Device, Int, Tensor, TensorData};
use stiffnode_solvers::field::from_host;

use crate::config::LossKind;
use crate::data::Batch;

/// A loss of predicted states against targets.
pub struct Loss {
    kind: LossKind,
    /// `w_i/ŷ_i`, `[1, d]` (0 at constant components).
    factor: Tensor<2>,
    /// `d/(d − constant components)`: the mean over the compared components only.
    compared: Option<f64>,
}

impl Loss {
    /// The loss `kind` with per-species data scales ŷ `scale` and optional weights, leaving
    /// out the components `constant`, on `device`.
    pub fn new(kind: LossKind, scale: &[f64], weights: Option<&[f64]>, constant: &[usize], device: &Device) -> Self {
        let d = scale.len();
        let factor = (0..d)
            .map(|i| if constant.contains(&i) { 0.0 } else { weights.map_or(1.0, |w| w[i]) / scale[i] })
            .collect();
        let compared = (!constant.is_empty() && constant.len() < d).then(|| d as f64 / (d - constant.len()) as f64);
        Self { kind, factor: from_host(factor, [1, d], device), compared }
    }

    /// The loss of `pred` (one `[batch, d]` tensor per output time of `batch`'s solve) against
    /// the data points of `batch` ([`Batch`]).
    ///
    /// The outputs are stacked into one `[times·batch, d]` tensor first, and the compared rows
    /// taken out of it by one `select` where the trajectories have their own times: a handful of
    /// tensor operations per evaluation, not a handful per output time.
    pub fn eval(&self, pred: &[Tensor<2>], batch: &Batch) -> Tensor<1> {
        let mut pred = Tensor::cat(pred.to_vec(), 0);
        let device = pred.device();
        if let Some(rows) = &batch.rows {
            let rows: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
            let n = rows.len();
            pred = pred.select(0, Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device));
        }
        let target = from_host(batch.targets.clone(), pred.dims(), &device);
        let diff = (pred - target) * self.factor.clone();
        let parts = match self.kind {
            LossKind::Mae => diff.abs(),
            LossKind::Mse => diff.powi_scalar(2),
        };
        let mean = parts.mean();
        match self.compared {
            Some(c) => mean.mul_scalar(c),
            None => mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stiffnode_solvers::DeviceKind;
    use stiffnode_solvers::field::to_host;

    /// A held component is left out: its error does not count, and the mean is over the
    /// compared components only.
    #[test]
    fn constant_components_are_left_out_of_the_mean() {
        let device = DeviceKind::Cpu.open().unwrap();
        let scale = [2.0, 4.0, 1e5];
        // Errors of one scale unit in component 0, none in 1, a large one in the held 2.
        let pred = [from_host(vec![3.0, 4.0, 7e5, 3.0, 4.0, 7e5], [2, 3], &device)];
        let targets = vec![1.0, 4.0, 1e5, 1.0, 4.0, 1e5];
        let target = Batch { times: vec![1.0], spans: None, rows: None, targets, y0: Vec::new() };
        for (kind, constant, expected) in
            [(LossKind::Mae, &[2][..], 0.5), (LossKind::Mse, &[2], 0.5), (LossKind::Mae, &[], (1.0 + 6.0) / 3.0)]
        {
            let loss = Loss::new(kind, &scale, None, constant, &device);
            let got = to_host(loss.eval(&pred, &target))[0];
            assert!((got - expected).abs() < 1e-15, "{kind:?} {constant:?}: {got} vs {expected}");
        }
    }
}
