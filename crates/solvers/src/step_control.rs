//! Step-size control: tolerances, the weighted error norm, and the PI controller
//! (Hairer, Nørsett & Wanner I, II.4, (4.11); Gustafsson 1991 / Söderlind 2002 for PI).

use crate::error::SetupError;
use crate::limits::MAX_RTOL;
use crate::short::{zip_with, zip2_with};

/// Per-component tolerances: one value for all components, or one per component.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerances {
    /// Relative tolerance(s), > 0.
    pub rtol: Vec<f64>,
    /// Absolute tolerance(s), ≥ 0.
    pub atol: Vec<f64>,
}

impl Tolerances {
    /// Scalar tolerances.
    pub fn new(rtol: f64, atol: f64) -> Self {
        Self { rtol: vec![rtol], atol: vec![atol] }
    }

    /// Check ranges and lengths against the state dimension `d`: `0 < rtol < 1`, `atol ≥ 0`.
    pub fn validate(&self, d: usize) -> Result<(), SetupError> {
        for (what, v, min_ok) in [("rtol", &self.rtol, false), ("atol", &self.atol, true)] {
            if v.len() != 1 && v.len() != d {
                return Err(SetupError::InvalidOption {
                    what,
                    why: format!("{} values given for {d} components", v.len()),
                });
            }
            if let Some(x) = v.iter().find(|x| !x.is_finite() || **x < 0.0 || (!min_ok && **x == 0.0)) {
                let bound = if min_ok { "≥ 0" } else { "> 0" };
                return Err(SetupError::InvalidOption { what, why: format!("{x} (must be finite and {bound})") });
            }
        }
        if let Some(r) = self.rtol.iter().find(|r| **r >= MAX_RTOL) {
            let why = format!("{r} (must be below {MAX_RTOL}: the error control would accept anything)");
            return Err(SetupError::InvalidOption { what: "rtol", why });
        }
        Ok(())
    }

    /// The smallest relative tolerance (sets the Newton tolerance).
    pub fn min_rtol(&self) -> f64 {
        self.rtol.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn at(v: &[f64], i: usize) -> f64 {
        if v.len() == 1 { v[0] } else { v[i] }
    }

    /// Relative tolerance of component `i`.
    pub fn rtol_of(&self, i: usize) -> f64 {
        Self::at(&self.rtol, i)
    }

    /// Absolute tolerance of component `i`.
    pub fn atol_of(&self, i: usize) -> f64 {
        Self::at(&self.atol, i)
    }

    /// Weight of component `i` for magnitude `y`: `atol_i + rtol_i·|y|`.
    pub fn scale(&self, i: usize, y: f64) -> f64 {
        Self::at(&self.atol, i) + Self::at(&self.rtol, i) * y.abs()
    }

    /// The absolute level to which Newton converges component `i` of a stage under these
    /// tolerances on a device of machine epsilon `epsilon`: `κ·atol_i` with `κ` the
    /// [`newton_tolerance`]. Below it a stage value is not resolved: a component that stays
    /// there is the iteration's leftover, not the discrete solution's.
    pub fn newton_resolution(&self, i: usize, epsilon: f64) -> f64 {
        newton_tolerance(self.min_rtol(), epsilon) * self.atol_of(i)
    }
}

/// Newton gives up when the contraction rate `θ` reaches this (RADAU5; Hairer & Wanner II,
/// IV.8). The constants from here to [`INITIAL_GROWTH`] are the host engine's and the device
/// kernel's (`ensemble/kernel/`): one definition, so that the two cannot drift apart.
pub const NEWTON_DIVERGENCE: f64 = 0.99;
/// A Newton correction below this fraction of the tolerance is converged whatever `θ` says.
pub const NEWTON_FLOOR: f64 = 1e-3;
/// Jacobian reuse threshold on the contraction rate (RADAU5's `THET`).
pub const REUSE_THETA: f64 = 1e-3;
/// The controllers' safety factor.
pub const SAFETY: f64 = 0.9;
/// The PI controller's exponents `α`, `β` of `err_n^(−α/k)·err_{n−1}^(β/k)` (Gustafsson 1991).
pub const PI_ALPHA: f64 = 0.7;
/// See [`PI_ALPHA`].
pub const PI_BETA: f64 = 0.4;
/// The PI controller's bounds on `h_new/h`.
pub const MIN_FACTOR: f64 = 0.2;
/// See [`MIN_FACTOR`].
pub const MAX_FACTOR: f64 = 5.0;
/// RADAU5's bounds on `h_new/h`: `1/FACL`, `1/FACR`.
pub const PREDICTIVE_MIN: f64 = 0.2;
/// See [`PREDICTIVE_MIN`].
pub const PREDICTIVE_MAX: f64 = 8.0;
/// The smallest error a controller takes (an error of 0 would give an infinite factor).
pub const ERR_FLOOR: f64 = 1e-10;
/// The smallest accepted error the predictive controller remembers (RADAU5's `ERRACC`).
pub const ERR_ACC_FLOOR: f64 = 1e-2;
/// RADAU5's factor for a rejected first step.
pub const FIRST_REJECT: f64 = 0.1;
/// A factor for the next step in `[1, HOLD_MAX]` keeps the step (and its factorization; RADAU5's
/// `QUOT1`, `QUOT2`).
pub const HOLD_MAX: f64 = 1.2;
/// After landing on an output time, the next step may return to the step before the landing, up
/// to this multiple of the landing step.
pub const LANDED_GROWTH: f64 = 5.0;
/// A step below this many `ε|t|` is too small to advance `t`.
pub const MIN_STEP_ULPS: f64 = 16.0;
/// The starting step (Hairer, Nørsett & Wanner I, II.4): `h0 = INITIAL_FRACTION·d0/d1` and
/// `h1 = (INITIAL_FRACTION/max(d1, d2))^½`.
pub const INITIAL_FRACTION: f64 = 0.01;
/// Below this weighted norm of `y0` or `f(y0)`, `h0 = INITIAL_FALLBACK·span`.
pub const INITIAL_SMALL_NORM: f64 = 1e-5;
/// See [`INITIAL_SMALL_NORM`].
pub const INITIAL_FALLBACK: f64 = 1e-6;
/// Below this `max(d1, d2)` the field is flat: `h1 = max(INITIAL_FLAT_FACTOR·h0,
/// INITIAL_FALLBACK·span)`.
pub const INITIAL_FLAT: f64 = 1e-15;
/// See [`INITIAL_FLAT`].
pub const INITIAL_FLAT_FACTOR: f64 = 1e-3;
/// The starting step is at most this multiple of `h0`.
pub const INITIAL_GROWTH: f64 = 100.0;

/// Newton's stopping tolerance `κ = max(10ε/rtol, min(0.03, √rtol))` in the weighted norm
/// (RADAU5's `FNEWT`; Hairer & Wanner II, IV.8), with `ε` the device's machine epsilon.
pub fn newton_tolerance(rtol: f64, epsilon: f64) -> f64 {
    (10.0 * epsilon / rtol).max(0.03f64.min(rtol.sqrt()))
}

/// `max_b sqrt(mean_i (v_{b,i}/w_{b,i})²)`: the RMS norm per trajectory (Hairer I, II.4,
/// (4.11)), and the worst trajectory of the batch, since the batch shares one step size.
/// `inv_weights` holds `1/w` (from [`inverse_weights_into`]: a norm per Newton iteration then
/// multiplies instead of dividing). `v` may hold several blocks (stages) per trajectory-row
/// layout `[blocks][batch][d]`.
pub fn weighted_norm(v: &[f64], inv_weights: &[f64], batch: usize, d: usize) -> f64 {
    if batch == 1 {
        // One trajectory (every per-trajectory solve): its blocks lie one after another, and a
        // flat loop sums them in the same order without the strided indexing.
        let sum = match d {
            1 => blocks_squared::<1>(v, inv_weights),
            2 => blocks_squared::<2>(v, inv_weights),
            3 => blocks_squared::<3>(v, inv_weights),
            4 => blocks_squared::<4>(v, inv_weights),
            _ => v.chunks_exact(d).fold(0.0, |sum, block| squares(sum, block, inv_weights)),
        };
        return rms(sum, v.len());
    }
    let blocks = v.len() / (batch * d);
    let mut worst: f64 = 0.0;
    for (b, iw) in inv_weights.chunks_exact(d).enumerate().take(batch) {
        let sum = (0..blocks).fold(0.0, |sum, k| {
            let off = (k * batch + b) * d;
            squares(sum, &v[off..off + d], iw)
        });
        let rms = rms(sum, blocks * d);
        // NaN compares false: propagate it so that callers see a failed step.
        if rms.is_nan() {
            return f64::NAN;
        }
        worst = worst.max(rms);
    }
    worst
}

/// `Σ_k Σ_i (v_{k,i}·iw_i)²` over the blocks `k` of `D` values in `v`, in order.
fn blocks_squared<const D: usize>(v: &[f64], inv_weights: &[f64]) -> f64 {
    let iw = &inv_weights[..D];
    v.chunks_exact(D).fold(0.0, |sum, block| squares(sum, &block[..D], iw))
}

/// `sum + Σ_i (v_i·iw_i)²`.
#[inline(always)]
fn squares(sum: f64, v: &[f64], inv_weights: &[f64]) -> f64 {
    v.iter().zip(inv_weights).fold(sum, |sum, (x, iw)| {
        let x = x * iw;
        sum + x * x
    })
}

#[inline(always)]
fn rms(sum: f64, count: usize) -> f64 {
    (sum / count as f64).sqrt()
}

/// Inverse weights `1/(atol + rtol·max(|y0|, |y1|))` per trajectory and component, for
/// [`weighted_norm`].
pub fn inverse_weights(tol: &Tolerances, y0: &[f64], y1: Option<&[f64]>, d: usize) -> Vec<f64> {
    let mut w = vec![0.0; y0.len()];
    inverse_weights_into(tol, y0, y1, d, &mut w);
    w
}

/// [`inverse_weights`] into `w`.
pub fn inverse_weights_into(tol: &Tolerances, y0: &[f64], y1: Option<&[f64]>, d: usize, w: &mut [f64]) {
    if let ([atol], [rtol]) = (tol.atol.as_slice(), tol.rtol.as_slice()) {
        // One tolerance for every component (the usual case): no per-component lookups.
        let (atol, rtol) = (*atol, *rtol);
        match y1 {
            None => zip_with(w, y0, |w, a| *w = 1.0 / (atol + rtol * a.abs())),
            Some(y1) => zip2_with(w, y0, y1, |w, a, b| *w = 1.0 / (atol + rtol * a.abs().max(b.abs()))),
        }
        return;
    }
    for (b, (w, y0)) in w.chunks_exact_mut(d).zip(y0.chunks_exact(d)).enumerate() {
        let y1 = y1.map(|y1| &y1[b * d..(b + 1) * d]);
        for (i, (w, &a)) in w.iter_mut().zip(y0).enumerate() {
            let m = y1.map_or(a.abs(), |y1| a.abs().max(y1[i].abs()));
            *w = 1.0 / tol.scale(i, m);
        }
    }
}

/// Which step-size controller a method uses (design.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControllerKind {
    /// PI: `h·0.9·err_n^(−0.7/k)·err_{n−1}^(0.4/k)`, factor in `[0.2, 5]` (Gustafsson 1991;
    /// Söderlind 2002).
    Pi,
    /// RADAU5's (Hairer & Wanner II, IV.8, (8.25)): the standard factor `fac·err^(−1/k)` with a
    /// safety `fac` that shrinks with the step's Newton iterations, and Gustafsson's predictive
    /// factor `fac·(h_n/h_{n−1})·(err_{n−1}/err_n²)^(1/k)`, the smaller of the two, in `[1/5, 8]`.
    Predictive,
}

/// A step-size controller: the factor for the next step after an accepted or rejected one,
/// from the scaled error `err` of an estimate of order `k = q+1`; after a rejection no growth.
#[derive(Debug, Clone)]
pub struct Controller {
    kind: ControllerKind,
    /// `err` and `h` of the last accepted step.
    prev: Option<(f64, f64)>,
    /// `(k, err_acc^(1/k))` for the predictive controller's next step.
    prev_root: Option<(f64, f64)>,
    rejected_last: bool,
}

impl Controller {
    /// A controller with no history.
    pub fn new(kind: ControllerKind) -> Self {
        Self { kind, prev: None, prev_root: None, rejected_last: false }
    }

    /// RADAU5's safety factor for a step that took `newton` Newton iterations out of at most
    /// `max_iter`: `0.9·(1 + 2·max_iter)/(newton + 2·max_iter)` (`FAC = MIN(SAFE, CFAC/(NEWT+2·NIT))`).
    pub fn newton_safety(newton: usize, max_iter: usize) -> f64 {
        (SAFETY * (1 + 2 * max_iter) as f64 / (newton + 2 * max_iter) as f64).min(SAFETY)
    }

    /// Factor for the next step after accepting a step of size `h` with scaled error `err ≤ 1`
    /// from an estimate of order `k`; `safety` is [`newton_safety`](Self::newton_safety)'s (used
    /// by the predictive controller).
    pub fn accept(&mut self, err: f64, k: f64, h: f64, safety: f64) -> f64 {
        let mut fac = match self.kind {
            ControllerKind::Pi => {
                let err = err.max(ERR_FLOOR);
                let mut fac = SAFETY * err.powf(-PI_ALPHA / k);
                if let Some((prev, _)) = self.prev {
                    fac *= prev.powf(PI_BETA / k);
                }
                self.prev = Some((err, h));
                fac.clamp(MIN_FACTOR, MAX_FACTOR)
            }
            ControllerKind::Predictive => {
                let (lo, hi) = (PREDICTIVE_MIN, PREDICTIVE_MAX);
                let err = err.max(ERR_FLOOR);
                // (err_acc/err²)^(1/k) = err_acc^(1/k)·q² with q = err^(−1/k): one root per step,
                // the root of err_acc kept from the step that set it.
                let q = inverse_root(err, k);
                let mut fac = (safety * q).clamp(lo, hi);
                if let Some((err_acc, h_acc)) = self.prev {
                    let root = match self.prev_root {
                        Some((kk, root)) if kk == k => root,
                        _ => 1.0 / inverse_root(err_acc, k),
                    };
                    let gustafsson = safety * (h / h_acc) * root * q * q;
                    fac = fac.min(gustafsson.clamp(lo, hi));
                }
                let err_acc = err.max(ERR_ACC_FLOOR);
                self.prev = Some((err_acc, h));
                // err_acc^(1/k) = 1/q unless the floor 1e-2 applied.
                self.prev_root = Some((k, if err_acc == err { 1.0 / q } else { 1.0 / inverse_root(err_acc, k) }));
                fac
            }
        };
        if self.rejected_last {
            fac = fac.min(1.0);
        }
        self.rejected_last = false;
        fac
    }

    /// Factor for retrying a step rejected with scaled error `err > 1`.
    pub fn reject(&mut self, err: f64, k: f64, safety: f64) -> f64 {
        self.rejected_last = true;
        if !err.is_finite() {
            return MIN_FACTOR;
        }
        match self.kind {
            ControllerKind::Pi => (SAFETY * inverse_root(err, k)).clamp(MIN_FACTOR, 1.0),
            // RADAU5 cuts the very first step by 10 when it is rejected.
            ControllerKind::Predictive if self.prev.is_none() => FIRST_REJECT,
            ControllerKind::Predictive => (safety * inverse_root(err, k)).clamp(PREDICTIVE_MIN, 1.0),
        }
    }
}

/// `x^(−1/k)`: by square roots for the usual error orders `k = 2, 4` (a `sqrt` is a few cycles,
/// libm's `pow` tens), else by `powf`.
fn inverse_root(x: f64, k: f64) -> f64 {
    if k == 4.0 {
        1.0 / x.sqrt().sqrt()
    } else if k == 2.0 {
        1.0 / x.sqrt()
    } else {
        x.powf(-1.0 / k)
    }
}
