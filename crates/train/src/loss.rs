//! Losses on scaled states: the mean over trajectories, times and species of
//! `w_i·|ŷ_i⁻¹(y − y_data)|` (MAE) or its square (MSE), with ŷ the per-species data scale, so
//! that species of very different magnitude weigh alike (Kim et al. 2021). Components the
//! model holds constant (a reactor's carried pressure) are left out of the mean.
//!
//! Optionally, a term on the ignition delay itself (design.md §13): for each solved curve whose
//! data temperature rises by at least a twentieth of its scale, the delay `τ` is the time from
//! the curve's start to where `T` first crosses half its data rise, `T* = T₀ + ½(max T_data −
//! T₀)`, linear between the bracketing points; the term is `|ln(τ_model/τ_data)|`, the
//! relative error on the scale that ignition delays are judged on (they span decades). Where
//! the model's `T` never reaches `T*`, it is `max(ln((t_last − t₀)/τ_data), 0) + (T* −
//! max T)/(T* − T₀)`, which meets the first form as the crossing reaches `t_last` and pulls the
//! largest temperature up. Both are piecewise smooth in the predicted temperatures, and their
//! gradients flow through the solve's adjoint like the rest of the loss.

use burn::tensor::{Device, Int, Tensor, TensorData};
use stiffnode_solvers::field::{from_host, to_host};

use crate::config::LossKind;
use crate::data::{Batch, Curve};

/// The smallest rise of the data temperature along a curve, as a fraction of its scale, for
/// the curve's ignition delay to count.
pub const MIN_RISE: f64 = 0.05;

/// A loss of predicted states against targets.
pub struct Loss {
    kind: LossKind,
    /// `w_i/ŷ_i`, `[1, d]` (0 at constant components).
    factor: Tensor<2>,
    /// `d/(d − constant components)`: the mean over the compared components only.
    compared: Option<f64>,
    /// The ignition-delay term's weight and the smallest rise that counts, in K.
    delay: Option<(f64, f64)>,
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
        Self { kind, factor: from_host(factor, [1, d], device), compared, delay: None }
    }

    /// The same with the ignition-delay term of weight `weight` added, the temperature being
    /// component 0 with scale `scale` (see the module header).
    pub fn with_delay_term(self, weight: f64, scale: f64) -> Self {
        Self { delay: (weight > 0.0).then_some((weight, MIN_RISE * scale)), ..self }
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
            pred = pred.select(0, indices(rows, &device));
        }
        let target = from_host(batch.targets.clone(), pred.dims(), &device);
        let delay = self.delay.and_then(|(weight, rise)| Some(delay_term(&pred, batch, rise)?.mul_scalar(weight)));
        let diff = (pred - target) * self.factor.clone();
        let parts = match self.kind {
            LossKind::Mae => diff.abs(),
            LossKind::Mse => diff.powi_scalar(2),
        };
        let mean = parts.mean();
        let mean = match self.compared {
            Some(c) => mean.mul_scalar(c),
            None => mean,
        };
        match delay {
            Some(term) => mean + term,
            None => mean,
        }
    }
}

/// The mean ignition-delay term over the curves of `batch` whose data temperature rises by at
/// least `rise` (module header), from the compared rows `pred` (`[points, d]`, `T` first);
/// `None` where no curve does.
fn delay_term(pred: &Tensor<2>, batch: &Batch, rise: f64) -> Option<Tensor<1>> {
    let [m, d] = pred.dims();
    let device = pred.device();
    let temps = pred.clone().slice([0..m, 0..1]).reshape([m]);
    let model = to_host(temps.clone().without_autodiff());
    let data: Vec<f64> = batch.targets.chunks_exact(d).map(|y| y[0]).collect();
    // The curves' initial temperatures follow the compared points in one column.
    let starts: Vec<f64> = batch.y0.chunks_exact(d).map(|y| y[0]).collect();
    let (mut crossed, mut missed) = (Crossed::default(), Missed::default());
    for (c, curve) in batch.curves.iter().enumerate() {
        let start = starts[c];
        let peak = curve.points.iter().map(|&p| data[p]).fold(start, f64::max);
        if peak - start < rise {
            continue;
        }
        let level = start + 0.5 * (peak - start);
        let Some(reference) = crossing(curve, start, &data, level).map(|(t, _)| t) else { continue };
        match crossing(curve, start, &model, level) {
            Some((_, i)) => {
                let (lo, t_lo) = if i == 0 { (m + c, curve.t0) } else { (curve.points[i - 1], curve.times[i - 1]) };
                crossed.push(lo, curve.points[i], t_lo - curve.t0, curve.times[i] - t_lo, level, reference);
            }
            None => {
                let (top, _) = curve
                    .points
                    .iter()
                    .map(|&p| (p, model[p]))
                    .fold((m + c, start), |a, b| if b.1 > a.1 { b } else { a });
                let last = curve.times[curve.times.len() - 1] - curve.t0;
                missed.push(top, level, start, (last / reference).ln().max(0.0));
            }
        }
    }
    let count = crossed.lo.len() + missed.top.len();
    if count == 0 {
        return None;
    }
    let column = Tensor::cat(vec![temps, from_host(starts, [batch.curves.len()], &device)], 0);
    let terms = [crossed.term(&column, &device), missed.term(&column, &device)].into_iter().flatten();
    Some(Tensor::cat(terms.collect(), 0).sum().div_scalar(count as f64))
}

/// The first time along `curve` (from its start at `start`) where `values` (by compared point)
/// reach `level`, linear between points, as a delay from `t0`; with the index in the curve of
/// the point that reaches it.
fn crossing(curve: &Curve, start: f64, values: &[f64], level: f64) -> Option<(f64, usize)> {
    let i = curve.points.iter().position(|&p| values[p] >= level)?;
    let (lo, t_lo) = if i == 0 { (start, curve.t0) } else { (values[curve.points[i - 1]], curve.times[i - 1]) };
    let hi = values[curve.points[i]];
    Some((t_lo - curve.t0 + (level - lo) / (hi - lo) * (curve.times[i] - t_lo), i))
}

/// Index tensor of `rows` on `device`.
fn indices(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    let rows: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(rows.clone(), [rows.len()]), device)
}

/// Curves whose model temperature crosses the level: rows of the bracketing values, the lower
/// point's delay and the interval, the level, the data's delay.
#[derive(Default)]
struct Crossed {
    lo: Vec<usize>,
    hi: Vec<usize>,
    delay_lo: Vec<f64>,
    interval: Vec<f64>,
    level: Vec<f64>,
    reference: Vec<f64>,
}

impl Crossed {
    fn push(&mut self, lo: usize, hi: usize, delay_lo: f64, interval: f64, level: f64, reference: f64) {
        self.lo.push(lo);
        self.hi.push(hi);
        self.delay_lo.push(delay_lo);
        self.interval.push(interval);
        self.level.push(level);
        self.reference.push(reference);
    }

    /// `|ln(τ/τ_data)|` with `τ = τ_lo + (T* − T_lo)·Δt/(T_hi − T_lo)`, per curve.
    fn term(&self, column: &Tensor<1>, device: &Device) -> Option<Tensor<1>> {
        let n = self.lo.len();
        if n == 0 {
            return None;
        }
        let host = |v: &[f64]| from_host(v.to_vec(), [n], device);
        let lo = column.clone().select(0, indices(&self.lo, device));
        let hi = column.clone().select(0, indices(&self.hi, device));
        let delay = (host(&self.level) - lo.clone()) * host(&self.interval) / (hi - lo) + host(&self.delay_lo);
        Some((delay / host(&self.reference)).log().abs())
    }
}

/// Curves whose model temperature stays below the level: the row of its largest value, the
/// level, the start, and the log of the curve's length over the data's delay (at least 0).
#[derive(Default)]
struct Missed {
    top: Vec<usize>,
    level: Vec<f64>,
    start: Vec<f64>,
    beyond: Vec<f64>,
}

impl Missed {
    fn push(&mut self, top: usize, level: f64, start: f64, beyond: f64) {
        self.top.push(top);
        self.level.push(level);
        self.start.push(start);
        self.beyond.push(beyond);
    }

    /// `beyond + (T* − max T)/(T* − T₀)`, per curve.
    fn term(&self, column: &Tensor<1>, device: &Device) -> Option<Tensor<1>> {
        let n = self.top.len();
        if n == 0 {
            return None;
        }
        let host = |v: &[f64]| from_host(v.to_vec(), [n], device);
        let top = column.clone().select(0, indices(&self.top, device));
        let gap = host(&self.level) - host(&self.start);
        Some((host(&self.level) - top) / gap + host(&self.beyond))
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
        let target = Batch { times: vec![1.0], spans: None, rows: None, targets, y0: Vec::new(), curves: Vec::new() };
        for (kind, constant, expected) in
            [(LossKind::Mae, &[2][..], 0.5), (LossKind::Mse, &[2], 0.5), (LossKind::Mae, &[], (1.0 + 6.0) / 3.0)]
        {
            let loss = Loss::new(kind, &scale, None, constant, &device);
            let got = to_host(loss.eval(&pred, &target))[0];
            assert!((got - expected).abs() < 1e-15, "{kind:?} {constant:?}: {got} vs {expected}");
        }
    }

    /// One curve of four points from T₀ = 1000 K, its data temperature `data`, in `[1, 2]`
    /// (T, one other component), with no error in the other component.
    fn ramp(data: [f64; 4]) -> Batch {
        let targets = data.iter().flat_map(|&t| [t, 0.0]).collect();
        let curve = Curve { t0: 0.0, points: vec![0, 1, 2, 3], times: vec![1.0, 2.0, 3.0, 4.0] };
        Batch {
            times: curve.times.clone(),
            spans: None,
            rows: None,
            targets,
            y0: vec![1000.0, 0.0],
            curves: vec![curve],
        }
    }

    /// The term of the module header against its closed forms: a crossing between two model
    /// points, and a model that never reaches the level.
    #[test]
    fn the_delay_term_is_the_log_ratio_of_crossing_times() {
        let device = DeviceKind::Cpu.open().unwrap();
        // Data: 1000, 1000, 2000, 2000 K at t = 1…4: level 1500 K, crossed at t = 2.5.
        let batch = ramp([1000.0, 1000.0, 2000.0, 2000.0]);
        let base = Loss::new(LossKind::Mae, &[2000.0, 1.0], None, &[], &device);
        let with = Loss::new(LossKind::Mae, &[2000.0, 1.0], None, &[], &device).with_delay_term(0.5, 2000.0);
        for (model, expected) in [
            // Crosses between t = 1 (1000 K) and t = 2 (1750 K): τ = 1 + 500/750.
            ([1000.0, 1750.0, 2000.0, 2000.0], (1.0f64 + 500.0 / 750.0).ln() - 2.5f64.ln()),
            // Crosses between the start (t = 0, 1000 K) and t = 1 (3000 K): τ = 0.25.
            ([3000.0, 3000.0, 3000.0, 3000.0], 0.25f64.ln() - 2.5f64.ln()),
            // Never reaches 1500 K: ln(4/2.5) + (1500 − 1300)/500.
            ([1000.0, 1100.0, 1200.0, 1300.0], (4.0f64 / 2.5).ln() + 0.4),
        ] {
            let pred = [from_host(model.iter().flat_map(|&t| [t, 0.0]).collect(), [4, 2], &device)];
            let term = to_host(with.eval(&pred, &batch))[0] - to_host(base.eval(&pred, &batch))[0];
            assert!((term - 0.5 * expected.abs()).abs() < 1e-12, "{model:?}: {term} vs {}", 0.5 * expected.abs());
        }
        // A curve whose data rise less than a twentieth of the scale has no delay.
        let flat = ramp([1000.0, 1010.0, 1020.0, 1030.0]);
        let pred = [from_host(vec![1000.0, 0.0, 1500.0, 0.0, 1500.0, 0.0, 1500.0, 0.0], [4, 2], &device)];
        assert_eq!(to_host(with.eval(&pred, &flat)), to_host(base.eval(&pred, &flat)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The loss's gradient in the predicted states, through the delay term's crossing or
        /// miss, against central differences, for random model temperatures.
        #[test]
        fn the_delay_term_gradient_matches_differences(temps in proptest::collection::vec(900.0f64..2100.0, 4)) {
            let device = DeviceKind::Cpu.open().unwrap().autodiff();
            let batch = ramp([1000.0, 1200.0, 1900.0, 2000.0]);
            let loss = Loss::new(LossKind::Mse, &[2000.0, 1.0], None, &[], &device).with_delay_term(1.0, 2000.0);
            let value = |t: &[f64]| {
                let pred = [from_host(t.iter().flat_map(|&t| [t, 0.0]).collect(), [4, 2], &device)];
                to_host(loss.eval(&pred, &batch))[0]
            };
            let leaf = from_host(temps.iter().flat_map(|&t| [t, 0.0]).collect(), [4, 2], &device).require_grad();
            let grads = loss.eval(std::slice::from_ref(&leaf), &batch).backward();
            let exact = to_host(leaf.grad(&grads).unwrap());
            for i in 0..4 {
                let h = 1e-4;
                let (mut up, mut down) = (temps.clone(), temps.clone());
                up[i] += h;
                down[i] -= h;
                let fd = (value(&up) - value(&down)) / (2.0 * h);
                proptest::prop_assert!((fd - exact[2 * i]).abs() <= 1e-6 * (1.0 + fd.abs()), "T{i}: {fd} vs {}", exact[2 * i]);
            }
        }
    }
}
