//! Simplified Newton for the implicit stages (design.md §3; Hairer & Wanner II, IV.8): the
//! iteration matrix is built from a Jacobian that is reused while Newton converges, and
//! convergence is judged by the observed contraction rate `θ`.

use crate::error::SolveError;
use crate::linalg::{BatchedLu, stage_matrix};
use crate::rhs::Rhs;
use crate::step_control::weighted_norm;

/// Jacobian reuse threshold on the contraction rate (RADAU5's `THET`).
const REUSE_THETA: f64 = 1e-3;

/// Verdict after one Newton iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Continue,
    Converged,
    Diverged,
}

/// Stopping rule: stop when `η‖Δ_k‖ ≤ κ·tol` with `η = θ/(1−θ)`, `θ = ‖Δ_k‖/‖Δ_{k−1}‖`;
/// give up when `θ ≥ 0.99`, or when the predicted error after the remaining iterations
/// `θ^{k_max−k}/(1−θ)‖Δ_k‖` stays above the tolerance (Hairer & Wanner II, IV.8, (8.10)–(8.11)).
pub(crate) struct NewtonControl {
    /// `κ·tol` in the weighted norm (RADAU5's `FNEWT`).
    pub tol: f64,
    pub max_iter: usize,
    /// `η` of the last converged solve, the first iteration's estimate of the next.
    eta_carry: f64,
    /// Fixed-step mode: stage values are converged to the tight fixed-step tolerance, which
    /// gradients and finite-difference checks rely on, so `η` is not carried between solves
    /// (carrying lets a solve stop after one iteration, RADAU5's `FACCON`, at an error up to
    /// the step tolerance) and the Jacobian is evaluated afresh every step (a stale one
    /// contracts slowly and makes the `θ` estimate unreliable).
    pub tight: bool,
    /// Newton iterations so far (all solves).
    pub iterations: usize,
}

/// State of one Newton solve.
pub(crate) struct NewtonRun {
    k: usize,
    prev_norm: f64,
    eta: f64,
    /// Largest contraction rate seen.
    pub theta: f64,
}

impl NewtonControl {
    /// Tolerance `max(10ε/rtol, min(0.03, √rtol))` as in RADAU5, with `ε` the device's.
    /// Tight mode allows twice the iterations: it converges to rounding, not to a step
    /// tolerance.
    pub fn new(rtol: f64, epsilon: f64, max_iter: usize, tight: bool) -> Self {
        let tol = (10.0 * epsilon / rtol).max(0.03f64.min(rtol.sqrt()));
        let max_iter = if tight { 2 * max_iter } else { max_iter };
        Self { tol, max_iter, eta_carry: 1.0, tight, iterations: 0 }
    }

    pub fn start(&self) -> NewtonRun {
        NewtonRun { k: 0, prev_norm: 0.0, eta: self.eta_carry.max(f64::EPSILON).powf(0.8), theta: 0.0 }
    }

    /// Judge iteration `k` whose correction has weighted norm `norm` (already applied).
    pub fn check(&mut self, run: &mut NewtonRun, norm: f64) -> Verdict {
        self.iterations += 1;
        if !norm.is_finite() {
            return Verdict::Diverged;
        }
        if run.k > 0 {
            let theta = norm / run.prev_norm;
            run.theta = run.theta.max(theta);
            if norm <= 1e-3 * self.tol {
                // At rounding level the contraction rate means nothing.
                return self.converged(run);
            }
            if theta >= 0.99 {
                return Verdict::Diverged;
            }
            run.eta = theta / (1.0 - theta);
            if self.tight {
                // Contraction rates estimated from two corrections can be far too small when
                // fast and slow components converge at different rates; tight mode stops only
                // once the correction itself is within the tolerance.
                run.eta = run.eta.max(1.0);
            }
            let remaining = (self.max_iter - 1 - run.k) as i32;
            if theta.powi(remaining) / (1.0 - theta) * norm > self.tol {
                return Verdict::Diverged;
            }
        }
        if run.eta * norm <= self.tol || norm <= 1e-3 * self.tol {
            return self.converged(run);
        }
        run.prev_norm = norm;
        run.k += 1;
        if run.k >= self.max_iter { Verdict::Diverged } else { Verdict::Continue }
    }

    fn converged(&mut self, run: &NewtonRun) -> Verdict {
        if !self.tight {
            self.eta_carry = run.eta;
        }
        Verdict::Converged
    }
}

/// The Jacobian at the start of the step and the factored iteration matrices built from it:
/// `I − hγJ` (DIRK, BDF2, error filters) and `I − h(A⊗J)` (fully implicit RK).
pub(crate) struct IterationMatrix {
    batch: usize,
    d: usize,
    jac: Option<Vec<f64>>,
    /// The Jacobian was evaluated at the current step's initial state.
    fresh: bool,
    /// Factorizations cached by a key (`hγ`, or `h` for the full system), at most two.
    cache: Vec<(Key, BatchedLu)>,
    pub factorizations: usize,
    /// Keep the Jacobian across steps while Newton contracts fast.
    reuse: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Diagonal(f64),
    Full(f64),
}

impl IterationMatrix {
    pub fn new(batch: usize, d: usize, reuse: bool) -> Self {
        Self { batch, d, jac: None, fresh: false, cache: Vec::new(), factorizations: 0, reuse }
    }

    /// Drop the Jacobian so that the next step evaluates a new one.
    pub fn invalidate(&mut self) {
        self.jac = None;
        self.cache.clear();
    }

    /// A step was accepted: keep the Jacobian for the next step only if reuse is on and Newton
    /// contracted fast (`θ ≤ THET`, RADAU5); a kept Jacobian is no longer fresh.
    pub fn step_accepted(&mut self, theta: f64) {
        self.fresh = false;
        if theta > REUSE_THETA || !self.reuse {
            self.invalidate();
        }
    }

    /// After a Newton failure: drop a stale Jacobian and return true (retry the same step),
    /// or return false if it was fresh (the step must shrink).
    pub fn refresh(&mut self) -> bool {
        if self.fresh {
            false
        } else {
            self.invalidate();
            true
        }
    }

    /// Evaluate `J(t, y)` unless a Jacobian is held.
    pub fn ensure(&mut self, rhs: &Rhs, t: f64, y: &[f64]) -> Result<(), SolveError> {
        if self.jac.is_none() {
            self.jac = Some(rhs.jacobian(&vec![t; self.batch], y)?);
            self.fresh = true;
            self.cache.clear();
        }
        Ok(())
    }

    /// Factors of `I − hγJ` per trajectory.
    pub fn diagonal(&mut self, hg: f64) -> &BatchedLu {
        let d = self.d;
        self.factor(Key::Diagonal(hg), d, |jac, m| stage_matrix(&[vec![hg]], d, |_| jac, m))
    }

    /// Factors of `I − h(A⊗J)` per trajectory, `sd×sd`, index `(i·d+p, j·d+q)`.
    pub fn full(&mut self, h: f64, a: &[Vec<f64>]) -> &BatchedLu {
        let (d, s) = (self.d, a.len());
        let ha: Vec<Vec<f64>> = a.iter().map(|row| row.iter().map(|x| h * x).collect()).collect();
        self.factor(Key::Full(h), s * d, |jac, m| stage_matrix(&ha, d, |_| jac, m))
    }

    fn factor(&mut self, key: Key, n: usize, fill: impl Fn(&[f64], &mut [f64])) -> &BatchedLu {
        if let Some(pos) = self.cache.iter().position(|(k, _)| *k == key) {
            return &self.cache[pos].1;
        }
        let jac = self.jac.as_ref().expect("Jacobian evaluated before factorization");
        let dd = self.d * self.d;
        let mut mats = vec![0.0; self.batch * n * n];
        for (b, m) in mats.chunks_exact_mut(n * n).enumerate() {
            fill(&jac[b * dd..(b + 1) * dd], m);
        }
        self.factorizations += 1;
        if self.cache.len() >= 2 {
            self.cache.remove(0);
        }
        self.cache.push((key, BatchedLu::factor(&mats, n)));
        &self.cache.last().unwrap().1
    }
}

/// One implicit stage `W = v + hγ f(t, W)` of a batch (`v` holds `batch·d` values).
pub(crate) struct ImplicitStage<'v> {
    pub t: f64,
    pub v: &'v [f64],
    /// `hγ`.
    pub hg: f64,
}

/// Solve `stage` by simplified Newton from `start`, with the matrix `I − hγJ`; `w` are the norm
/// weights. Returns `W` and the largest contraction rate, or `None` when Newton fails (diverges,
/// stalls, or meets a non-finite value of `f`).
pub(crate) fn solve_stage(
    rhs: &Rhs,
    matrix: &mut IterationMatrix,
    newton: &mut NewtonControl,
    stage: ImplicitStage,
    start: Vec<f64>,
    w: &[f64],
) -> Result<Option<(Vec<f64>, f64)>, SolveError> {
    let ImplicitStage { t, v, hg } = stage;
    let (n, batch) = (v.len(), v.len() / rhs.d);
    let times = vec![t; batch];
    let mut wv = start;
    let mut run = newton.start();
    loop {
        let fw = match rhs.eval(&times, &wv) {
            Ok(f) => f,
            Err(SolveError::NonFinite { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut delta: Vec<f64> = (0..n).map(|i| -(wv[i] - v[i] - hg * fw[i])).collect();
        matrix.diagonal(hg).solve_in_place(&mut delta);
        wv.iter_mut().zip(&delta).for_each(|(x, dx)| *x += dx);
        match newton.check(&mut run, weighted_norm(&delta, w, batch, rhs.d)) {
            Verdict::Continue => {}
            Verdict::Converged => return Ok(Some((wv, run.theta))),
            Verdict::Diverged => return Ok(None),
        }
    }
}
