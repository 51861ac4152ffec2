//! The per-eigenmode gradient log `modes.jsonl` (design.md §5; Fronk & Petzold 2025): for a
//! logged epoch, each mode's eigenvalue, the spread of `z = hλ` over the steps, `|R(z)|` and
//! `|R'(z)|` of the method, its share `‖G_i‖/‖∇L‖` of the gradient, the same norms binned by
//! decade of `|hλ|`, and the self-check `‖Σ_i G_i − ∇L‖/‖∇L‖`.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::GradientsParams;
use num_complex::Complex64;
use serde::{Deserialize, Serialize};
use stiffnode_solvers::field::VectorField;
use stiffnode_solvers::gradient::modes::{ModalSplit, ModeSample};
use stiffnode_solvers::gradient::params::flatten;
use stiffnode_solvers::{Method, stability};

use crate::error::TrainError;
use crate::remedy::BalanceLog;
use crate::run_dir::{Log, RunDir};

/// Decades of `|hλ|` below and above these go to the end bins (zero eigenvalues to the lowest).
pub const DECADES: (i32, i32) = (-8, 8);
/// Step points kept in a record's spectrum (evenly thinned beyond this).
const SPECTRUM_POINTS: usize = 400;

/// One line of `modes.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeRecord {
    /// The logged epoch.
    pub epoch: usize,
    /// The method's name.
    pub method: String,
    /// `‖∇L‖`, the full gradient of the epoch's batches (before clipping).
    pub grad_norm: f64,
    /// `‖Σ_i G_i − ∇L‖ / ‖∇L‖`.
    pub decomposition_residual: f64,
    /// Modes by rank, fastest first.
    pub modes: Vec<ModeEntry>,
    /// Gradient norms by decade of `|hλ|`.
    pub bins: Vec<BinEntry>,
    /// `|Re λ|` by rank along the first trajectory.
    pub spectrum: Spectrum,
    /// The mode-balanced weights the epoch's updates used (with `train.remedy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceLog>,
}

/// One mode (a rank by `|Re λ|`) aggregated over the steps and trajectories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeEntry {
    /// 0 = fastest.
    pub rank: usize,
    /// Steps × trajectories that had this mode.
    pub samples: usize,
    /// Median `[Re λ, Im λ]` over the samples.
    pub eigenvalue: [f64; 2],
    /// `1/|Re λ|` (null for a zero eigenvalue: a conservation law).
    pub timescale: Option<f64>,
    /// `z = hλ` at the smallest, median and largest `|z|`.
    pub z: ZSpread,
    /// `|R(z)|` of the method at the median `z`.
    pub abs_r: f64,
    /// `|R'(z)|` at the median `z`.
    pub abs_dr: f64,
    /// `‖G_i‖`.
    pub grad_norm: f64,
    /// `‖G_i‖ / ‖∇L‖`.
    pub share: f64,
}

/// `[Re z, Im z]` at three points of the spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZSpread {
    /// At the smallest `|z|`.
    pub min: [f64; 2],
    /// At the median `|z|`.
    pub median: [f64; 2],
    /// At the largest `|z|`.
    pub max: [f64; 2],
}

/// The gradient of all modal parts with `10^decade ≤ |hλ| < 10^(decade+1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinEntry {
    /// `k` of the bin `10^k ≤ |hλ| < 10^(k+1)`.
    pub decade: i32,
    /// Modal parts in the bin (steps × trajectories × modes).
    pub samples: usize,
    /// `‖G‖` of the bin's parts.
    pub grad_norm: f64,
    /// `‖G‖ / ‖∇L‖`.
    pub share: f64,
    /// `‖G‖` of each rank's parts in the bin (0 where a rank has none; empty in logs written
    /// before it was recorded).
    #[serde(default)]
    pub by_rank: Vec<f64>,
}

/// A point of the gradient's decay with `|hλ|`: one populated decade bin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecayPoint {
    /// `log10 |hλ|` at the bin's centre.
    pub log_z: f64,
    /// `log10 ‖G‖` of the bin.
    pub log_grad: f64,
    /// Modal parts in the bin.
    pub samples: usize,
}

impl ModeRecord {
    /// The gradient per decade of `|hλ|` as a curve: every bin with a nonzero gradient, at the
    /// decade's centre, or for rank `rank` alone; the end bins, which collect everything beyond
    /// [`DECADES`], are left out.
    pub fn decay(&self, rank: Option<usize>) -> Vec<DecayPoint> {
        self.bins
            .iter()
            .filter(|b| b.decade > DECADES.0 && b.decade < DECADES.1)
            .filter_map(|b| {
                let g = match rank {
                    None => b.grad_norm,
                    Some(k) => b.by_rank.get(k).copied().unwrap_or(0.0),
                };
                (g > 0.0).then(|| DecayPoint { log_z: b.decade as f64 + 0.5, log_grad: g.log10(), samples: b.samples })
            })
            .collect()
    }
}

/// The least-squares slope of `log10 ‖G‖` against `log10 |hλ|` over the points with `log_z` in
/// `range` (the decay rate to compare with `|R'(z)| ~ |z|^p`); `None` with fewer than two.
pub fn decay_slope(points: &[DecayPoint], range: std::ops::Range<f64>) -> Option<f64> {
    let p: Vec<&DecayPoint> = points.iter().filter(|p| range.contains(&p.log_z)).collect();
    if p.len() < 2 {
        return None;
    }
    let n = p.len() as f64;
    let (mx, my) = (p.iter().map(|q| q.log_z).sum::<f64>() / n, p.iter().map(|q| q.log_grad).sum::<f64>() / n);
    let sxy: f64 = p.iter().map(|q| (q.log_z - mx) * (q.log_grad - my)).sum();
    let sxx: f64 = p.iter().map(|q| (q.log_z - mx).powi(2)).sum();
    Some(sxy / sxx)
}

/// `|Re λ|` of each rank at the end time of each step of one trajectory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Spectrum {
    /// Step end times.
    pub t: Vec<f64>,
    /// `abs_re[k][rank]`.
    pub abs_re: Vec<Vec<f64>>,
}

/// Accumulates the splits of an epoch's batches into one [`ModeRecord`].
#[derive(Default)]
pub struct ModeLogger {
    ranks: Vec<Group>,
    bins: BTreeMap<i32, Group>,
    /// The gradient of each (decade, rank) cell.
    cells: BTreeMap<(i32, usize), Vec<f64>>,
    full: Vec<f64>,
    spectrum: Option<Spectrum>,
}

#[derive(Default)]
struct Group {
    eigenvalues: Vec<Complex64>,
    z: Vec<Complex64>,
    grad: Vec<f64>,
}

impl Group {
    fn add(&mut self, s: &ModeSample) {
        self.eigenvalues.push(s.eigenvalue);
        self.z.push(s.eigenvalue * s.h);
    }
    fn add_grad(&mut self, g: Vec<f64>) {
        add_to(&mut self.grad, &g);
    }
}

/// The decade of `|z|`, clamped to [`DECADES`].
pub fn decade(z: Complex64) -> i32 {
    let a = z.norm();
    if a == 0.0 { DECADES.0 } else { (a.log10().floor() as i32).clamp(DECADES.0, DECADES.1) }
}

impl ModeLogger {
    /// Add one batch: its split and its full parameter gradient `full` (of `field`).
    pub fn add<F: VectorField + Module>(&mut self, field: &F, split: &ModalSplit, full: &GradientsParams) {
        let ranks = split.samples.iter().map(|s| s.rank + 1).max().unwrap_or(0);
        if self.ranks.len() < ranks {
            self.ranks.resize_with(ranks, Group::default);
        }
        let decades: Vec<i32> = split.samples.iter().map(|s| decade(s.eigenvalue * s.h)).collect();
        for (s, &dec) in split.samples.iter().zip(&decades) {
            self.ranks[s.rank].add(s);
            self.bins.entry(dec).or_default().add(s);
        }
        // One gradient per (rank, bin) cell: each sample's rows enter one product, and the
        // ranks' and bins' gradients are sums of cells.
        let keys: Vec<i32> = self.bins.keys().copied().collect();
        let cell_of =
            |s: &ModeSample, dec: i32| s.rank * keys.len() + keys.iter().position(|&k| k == dec).expect("bin exists");
        let mut used = vec![false; ranks * keys.len()];
        split.samples.iter().zip(&decades).for_each(|(s, &dec)| used[cell_of(s, dec)] = true);
        let cells = split.gradients(field, used.len(), |s| Some(cell_of(s, decade(s.eigenvalue * s.h))));
        for (c, g) in cells.into_iter().enumerate().filter(|(c, _)| used[*c]) {
            let g = flatten(field, &g);
            let (decade, rank) = (keys[c % keys.len()], c / keys.len());
            self.bins.get_mut(&decade).expect("bin exists").add_grad(g.clone());
            add_to(self.cells.entry((decade, rank)).or_default(), &g);
            self.ranks[rank].add_grad(g);
        }
        add_to(&mut self.full, &flatten(field, full));
        if self.spectrum.is_none() {
            self.spectrum = Some(spectrum(split));
        }
    }

    /// The record of the epoch.
    pub fn record(self, epoch: usize, method: &Method) -> ModeRecord {
        let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
        let grad_norm = norm(&self.full);
        let share = |g: &[f64]| if grad_norm > 0.0 { norm(g) / grad_norm } else { 0.0 };
        let mut sum = vec![0.0; self.full.len()];
        for r in &self.ranks {
            sum.iter_mut().zip(&r.grad).for_each(|(a, b)| *a += b);
        }
        let residual = norm(&sum.iter().zip(&self.full).map(|(a, b)| a - b).collect::<Vec<_>>());
        let modes = self
            .ranks
            .iter()
            .enumerate()
            .map(|(rank, g)| {
                let re = median(g.eigenvalues.iter().map(|l| l.re).collect());
                let im = median(g.eigenvalues.iter().map(|l| l.im).collect());
                let mut z = g.z.clone();
                z.sort_by(|a, b| a.norm().total_cmp(&b.norm()));
                let pick = |k: usize| [z[k].re, z[k].im];
                let zm = z[z.len() / 2];
                let p = stability::evaluate(method, zm);
                ModeEntry {
                    rank,
                    samples: g.eigenvalues.len(),
                    eigenvalue: [re, im],
                    timescale: (re != 0.0).then(|| 1.0 / re.abs()),
                    z: ZSpread { min: pick(0), median: pick(z.len() / 2), max: pick(z.len() - 1) },
                    abs_r: p.r.norm(),
                    abs_dr: p.dr.norm(),
                    grad_norm: norm(&g.grad),
                    share: share(&g.grad),
                }
            })
            .collect();
        let ranks = self.ranks.len();
        let bins = self
            .bins
            .iter()
            .map(|(&decade, g)| BinEntry {
                decade,
                samples: g.z.len(),
                grad_norm: norm(&g.grad),
                share: share(&g.grad),
                by_rank: (0..ranks).map(|k| self.cells.get(&(decade, k)).map_or(0.0, |c| norm(c))).collect(),
            })
            .collect();
        ModeRecord {
            epoch,
            method: method.name().to_string(),
            grad_norm,
            decomposition_residual: if grad_norm > 0.0 { residual / grad_norm } else { 0.0 },
            modes,
            bins,
            spectrum: self.spectrum.unwrap_or_default(),
            balance: None,
        }
    }
}

/// `acc += g` (`acc` taking `g` when empty).
fn add_to(acc: &mut Vec<f64>, g: &[f64]) {
    if acc.is_empty() {
        acc.extend_from_slice(g);
    } else {
        acc.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `|Re λ|` by rank along trajectory 0, thinned to at most [`SPECTRUM_POINTS`] steps.
fn spectrum(split: &ModalSplit) -> Spectrum {
    let mut by_step: BTreeMap<usize, (f64, Vec<f64>)> = BTreeMap::new();
    for s in split.samples.iter().filter(|s| s.trajectory == 0) {
        let e = by_step.entry(s.step).or_insert((s.t, Vec::new()));
        e.1.push(s.eigenvalue.re.abs());
    }
    let stride = by_step.len().div_ceil(SPECTRUM_POINTS).max(1);
    let (t, abs_re) = by_step.into_values().step_by(stride).unzip();
    Spectrum { t, abs_re }
}

/// Every record of the run's `modes.jsonl`, in order; a run without one, or with an empty one,
/// is [`TrainError::NoModes`], a malformed line an error naming the file and line.
pub fn read(run: &RunDir) -> Result<Vec<ModeRecord>, TrainError> {
    let path = run.log(Log::Modes).display().to_string();
    match run.read(Log::Modes)? {
        None => Err(TrainError::NoModes { path, why: String::new() }),
        Some(records) if records.is_empty() => Err(TrainError::NoModes { path, why: " (the file is empty)".into() }),
        Some(records) => Ok(records),
    }
}
