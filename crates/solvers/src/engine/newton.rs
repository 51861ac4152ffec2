//! Simplified Newton for the implicit stages (design.md §3; Hairer & Wanner II, IV.8): the
//! iteration matrix is built from a Jacobian that is reused while Newton converges, and
//! convergence is judged by the observed contraction rate `θ`.
//!
//! Under fixed steps (tight mode) a solve is converged only when a correction computed with the
//! Jacobian taken at its own iterate is within the tolerance (Newton's method proper, Deuflhard
//! 2004, §2.1): a Jacobian from the step's start can be wrong by orders of magnitude in a
//! component whose rate changes within the step (a species consumed by a radical that the
//! step's fast transient removes). Simplified Newton then contracts that component at a rate
//! near 1 with corrections far below the tolerance, and stops with the component's error
//! untouched; the corrections cannot show it, the fresh Jacobian's correction does.

use num_complex::Complex64;

use crate::error::SolveError;
use crate::linalg::{BatchLu, Scalar};
use crate::rhs::Rhs;
use crate::step_control::{NEWTON_DIVERGENCE, NEWTON_FLOOR, REUSE_THETA, newton_tolerance, weighted_norm};

/// Tight mode: Jacobians taken at the iterate per solve before Newton is judged to fail.
const MAX_VERIFICATIONS: usize = 4;

/// Verdict after one Newton iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Continue,
    Converged,
    Diverged,
    /// Tight mode: converged by the corrections of a Jacobian taken elsewhere; take one at the
    /// current iterate ([`IterationMatrix::evaluate_at`]), call [`NewtonControl::verifying`]
    /// and iterate on.
    Verify,
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
    /// The most iterations one converged solve took since the stepper last reset it (per step).
    pub longest: usize,
}

/// State of one Newton solve.
pub(crate) struct NewtonRun {
    k: usize,
    prev_norm: f64,
    eta: f64,
    /// Largest contraction rate seen.
    pub theta: f64,
    /// The next iteration's Jacobian was taken at its iterate.
    at_iterate: bool,
    /// Jacobians taken at the iterate so far.
    verifications: usize,
}

impl NewtonControl {
    /// Tolerance `max(10ε/rtol, min(0.03, √rtol))` as in RADAU5, with `ε` the device's.
    /// Tight mode allows twice the iterations: it converges to rounding, not to a step
    /// tolerance.
    pub fn new(rtol: f64, epsilon: f64, max_iter: usize, tight: bool) -> Self {
        let tol = newton_tolerance(rtol, epsilon);
        let max_iter = if tight { 2 * max_iter } else { max_iter };
        Self { tol, max_iter, eta_carry: 1.0, tight, iterations: 0, longest: 0 }
    }

    pub fn start(&self) -> NewtonRun {
        let eta = self.eta_carry.max(f64::EPSILON);
        NewtonRun { k: 0, prev_norm: 0.0, eta, theta: 0.0, at_iterate: false, verifications: 0 }
    }

    /// After [`Verdict::Verify`]: the Jacobian is now the current iterate's; the next
    /// iteration starts a new convergence test.
    pub fn verifying(&self, run: &mut NewtonRun) {
        let theta = run.theta;
        *run = NewtonRun { theta, at_iterate: true, verifications: run.verifications + 1, ..self.start() };
    }

    /// Judge iteration `k` whose correction has weighted norm `norm` (already applied).
    pub fn check(&mut self, run: &mut NewtonRun, norm: f64) -> Verdict {
        let verdict = self.judge(run, norm);
        let exact = std::mem::replace(&mut run.at_iterate, false);
        match verdict {
            Verdict::Converged if self.tight && !exact => {
                if run.verifications < MAX_VERIFICATIONS {
                    Verdict::Verify
                } else {
                    Verdict::Diverged
                }
            }
            Verdict::Converged => self.converged(run),
            other => other,
        }
    }

    fn judge(&mut self, run: &mut NewtonRun, norm: f64) -> Verdict {
        self.iterations += 1;
        if !norm.is_finite() {
            return Verdict::Diverged;
        }
        if run.k == 0 {
            // The first iteration's η is RADAU5's `FACCON = max(η_carry, ε)^0.8`. For
            // `η_carry ≤ 1` it is at least `η_carry`, so when `η_carry·‖Δ‖` already exceeds the
            // tolerance the iteration goes on and the power is not needed (it is one libm `pow`
            // per step otherwise).
            let carry = run.eta;
            let may_stop = carry > 1.0 || carry * norm <= self.tol || norm <= NEWTON_FLOOR * self.tol;
            run.eta = if may_stop { carry.powf(0.8) } else { f64::INFINITY };
        } else {
            let theta = norm / run.prev_norm;
            run.theta = run.theta.max(theta);
            if norm <= NEWTON_FLOOR * self.tol {
                // At rounding level the contraction rate means nothing.
                return Verdict::Converged;
            }
            if theta >= NEWTON_DIVERGENCE {
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
        if run.eta * norm <= self.tol || norm <= NEWTON_FLOOR * self.tol {
            return Verdict::Converged;
        }
        run.prev_norm = norm;
        run.k += 1;
        if run.k >= self.max_iter { Verdict::Diverged } else { Verdict::Continue }
    }

    fn converged(&mut self, run: &NewtonRun) -> Verdict {
        self.longest = self.longest.max(run.k + 1);
        if !self.tight {
            self.eta_carry = run.eta;
        }
        Verdict::Converged
    }
}

/// The Jacobian at the start of the step and the factored iteration matrices built from it,
/// all of the form `σI − J` per trajectory: `σ = 1/(hγ)` for a diagonally implicit stage, BDF2
/// and the error filters (`I − hγJ = hγ(σI − J)`), and `σ = λ/h` for each eigenvalue `λ` of `A⁻¹`
/// of a fully implicit method (real, or complex for RADAU5's complex block; Hairer & Wanner II,
/// IV.8). Factors are cached by `σ`; buffers are reused, so a step allocates nothing.
pub(crate) struct IterationMatrix {
    batch: usize,
    d: usize,
    /// `J` per trajectory, row-major `d×d` each.
    jac: Vec<f64>,
    /// A Jacobian is held.
    held: bool,
    /// The Jacobian was evaluated at the current step's initial state.
    fresh: bool,
    real: Vec<Shifted<f64>>,
    complex: Vec<Shifted<Complex64>>,
    /// Batched factorizations so far.
    pub factorizations: usize,
    /// Keep the Jacobian across steps while Newton contracts fast.
    reuse: bool,
    times: Vec<f64>,
}

/// The factors of `σI − J` for one shift `σ`.
struct Shifted<T> {
    sigma: Option<T>,
    lu: BatchLu<T>,
    /// The factorization succeeded for every trajectory.
    ok: bool,
}

/// Factor caches kept per scalar kind: enough for a DIRK stage and its error filter, or a fully
/// implicit method's real and complex blocks and its filter.
const SLOTS: usize = 3;

impl IterationMatrix {
    pub fn new(batch: usize, d: usize, reuse: bool) -> Self {
        Self {
            batch,
            d,
            jac: vec![0.0; batch * d * d],
            held: false,
            fresh: false,
            real: Vec::new(),
            complex: Vec::new(),
            factorizations: 0,
            reuse,
            times: vec![0.0; batch],
        }
    }

    /// Drop the Jacobian so that the next step evaluates a new one.
    pub fn invalidate(&mut self) {
        self.held = false;
        self.forget_factors();
    }

    fn forget_factors(&mut self) {
        self.real.iter_mut().for_each(|s| s.sigma = None);
        self.complex.iter_mut().for_each(|s| s.sigma = None);
    }

    /// A step was accepted whose Newton solves contracted at a largest rate `theta`: keep the
    /// Jacobian for the next step if reuse is on and Newton contracted fast (`θ ≤ THET`), or —
    /// given `iterations`, the most one solve took, for a method with one solve per step
    /// (RADAU5's rule as SciPy's `Radau` states it) — also when no solve needed more than two
    /// iterations. A kept Jacobian is no longer fresh.
    pub fn step_accepted(&mut self, theta: f64, iterations: Option<usize>) {
        self.fresh = false;
        let slow = theta > REUSE_THETA && iterations.is_none_or(|k| k > 2);
        if !self.reuse || slow {
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

    /// Evaluate `J(t, y)` afresh, at a stage's current iterate ([`Verdict::Verify`]).
    pub fn evaluate_at(&mut self, rhs: &Rhs, t: f64, y: &[f64]) -> Result<(), SolveError> {
        self.held = false;
        self.ensure(rhs, t, y)
    }

    /// Evaluate `J(t, y)` unless a Jacobian is held.
    pub fn ensure(&mut self, rhs: &Rhs, t: f64, y: &[f64]) -> Result<(), SolveError> {
        if !self.held {
            self.times.fill(t);
            rhs.jacobian_into(&self.times, y, &mut self.jac)?;
            (self.held, self.fresh) = (true, true);
            self.forget_factors();
        }
        Ok(())
    }

    /// Solve `(σI − J) x_b = r_b` in place for every trajectory (`x` holds `batch·d` values);
    /// false if the matrix is singular.
    pub fn solve_real(&mut self, sigma: f64, x: &mut [f64]) -> bool {
        let (batch, d) = (self.batch, self.d);
        let (jac, counter) = (&self.jac, &mut self.factorizations);
        let slot = shifted(&mut self.real, sigma, batch, d, jac, counter);
        slot.ok && {
            slot.lu.solve_each(x);
            true
        }
    }

    /// Solve `(σI − J) x_b = r_b` in place for every trajectory with a complex shift `σ`.
    pub fn solve_complex(&mut self, sigma: Complex64, x: &mut [Complex64]) -> bool {
        let (batch, d) = (self.batch, self.d);
        let (jac, counter) = (&self.jac, &mut self.factorizations);
        let slot = shifted(&mut self.complex, sigma, batch, d, jac, counter);
        slot.ok && {
            slot.lu.solve_each(x);
            true
        }
    }
}

/// The slot holding the factors of `σI − J`, factored now unless a slot holds them already (the
/// least recently factored slot is reused).
fn shifted<'s, T: Scalar + PartialEq>(
    slots: &'s mut Vec<Shifted<T>>,
    sigma: T,
    batch: usize,
    d: usize,
    jac: &[f64],
    factorizations: &mut usize,
) -> &'s mut Shifted<T> {
    if let Some(k) = slots.iter().position(|s| s.sigma == Some(sigma)) {
        return &mut slots[k];
    }
    if slots.len() < SLOTS {
        slots.push(Shifted { sigma: None, lu: BatchLu::new(batch, d), ok: false });
    } else {
        slots.rotate_left(1);
    }
    let slot = slots.last_mut().expect("a slot");
    let dd = d * d;
    slot.ok = true;
    for b in 0..batch {
        let m = slot.lu.matrix_mut(b);
        for (m, &j) in m.iter_mut().zip(&jac[b * dd..(b + 1) * dd]) {
            *m = T::ZERO - T::from_real(j);
        }
        for i in 0..d {
            m[i * d + i] = m[i * d + i] + sigma;
        }
        slot.ok &= slot.lu.factor(b);
    }
    slot.sigma = Some(sigma);
    *factorizations += 1;
    slot
}

/// The shift `σ` with `I − hγJ = hγ(σI − J)`. Every caller forms it the same way, so that a
/// stage and an error filter with the same `γ` share one factorization.
pub(crate) fn shift(gamma: f64, h: f64) -> f64 {
    (1.0 / gamma) / h
}

/// One implicit stage `W = v + hγ f(t, W)` of a batch (`v` holds `batch·d` values).
pub(crate) struct ImplicitStage<'v> {
    pub t: f64,
    pub v: &'v [f64],
    pub h: f64,
    pub gamma: f64,
}

/// Buffers of [`solve_stage`]: `f` and the correction, `batch·d` values each, and the row times.
pub(crate) struct StageWork {
    pub f: Vec<f64>,
    pub delta: Vec<f64>,
    pub times: Vec<f64>,
}

impl StageWork {
    pub fn new(batch: usize, d: usize) -> Self {
        Self { f: vec![0.0; batch * d], delta: vec![0.0; batch * d], times: vec![0.0; batch] }
    }
}

/// Solve `stage` by simplified Newton with the matrix `I − hγJ`, from the start value in `w`
/// (overwritten with the solution); `wt` are the norm weights. Returns the largest contraction
/// rate, or `None` when Newton fails (diverges, stalls, meets a non-finite value of `f` or a
/// singular matrix).
pub(crate) fn solve_stage(
    rhs: &Rhs,
    matrix: &mut IterationMatrix,
    newton: &mut NewtonControl,
    stage: ImplicitStage,
    w: &mut [f64],
    wt: &[f64],
    work: &mut StageWork,
) -> Result<Option<f64>, SolveError> {
    let ImplicitStage { t, v, h, gamma } = stage;
    let (batch, sigma) = (v.len() / rhs.d, shift(gamma, h));
    work.times.fill(t);
    let mut run = newton.start();
    loop {
        match rhs.eval_into(&work.times, w, &mut work.f) {
            Ok(()) => {}
            Err(SolveError::NonFinite { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
        // (I − hγJ)Δ = −(W − v − hγF)  ⇔  (σI − J)Δ = −σ(W − v) + F,  σ = 1/(hγ).
        for (((dl, &wi), &vi), &fi) in work.delta.iter_mut().zip(w.iter()).zip(v).zip(&work.f) {
            *dl = fi - sigma * (wi - vi);
        }
        if !matrix.solve_real(sigma, &mut work.delta) {
            return Ok(None);
        }
        w.iter_mut().zip(&work.delta).for_each(|(x, dx)| *x += dx);
        match newton.check(&mut run, weighted_norm(&work.delta, wt, batch, rhs.d)) {
            Verdict::Continue => {}
            Verdict::Converged => return Ok(Some(run.theta)),
            Verdict::Diverged => return Ok(None),
            Verdict::Verify => {
                matrix.evaluate_at(rhs, t, w)?;
                newton.verifying(&mut run);
            }
        }
    }
}
