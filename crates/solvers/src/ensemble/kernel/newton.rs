//! Simplified Newton in a lane: the linear solves with the iteration matrices `σI − J` (real)
//! and `(σr + iσi)I − J` (complex), factored once per shift and Jacobian, and the stopping rule
//! of the host engine (`engine/newton.rs`, `NewtonControl`; Hairer & Wanner II, IV.8,
//! (8.10)–(8.11)): stop when `η‖Δ_k‖ ≤ tol` with `η = θ/(1 − θ)`, give up when `θ ≥ 0.99` or when
//! the error predicted after the remaining iterations stays above `tol`.

use cubecl::prelude::*;

use super::lane::{
    ATTEMPT_ITERATIONS, COMPLEX_FACTORS, COMPLEX_SHIFT, ETA_CARRIED, Lane, NEWTON_FLOOR, REAL_FACTORS, REAL_SHIFT,
    RUN_ETA, RUN_K, RUN_PREV_NORM, RUN_THETA, finite, flag, set_flag,
};
use super::layout::{FACTORS, NEWTON};
use crate::ensemble::lu;
use crate::step_control as host;

// The host's Newton constants (`step_control.rs`), in the kernel's literal type.
const FLOOR: f32 = host::NEWTON_FLOOR as f32;
const DIVERGENCE: f32 = host::NEWTON_DIVERGENCE as f32;

/// Verdict: iterate on.
pub(super) const CONTINUE: u32 = 0;
/// Verdict: converged.
pub(super) const CONVERGED: u32 = 1;
/// Verdict: diverged, or the iteration limit reached.
pub(super) const DIVERGED: u32 = 2;

/// Solve `(σI − J)x = x` in place (`x` is `lane.tmp`), factoring unless the factors for `σ` are
/// held; false if the matrix is singular.
#[cube]
pub(super) fn solve_real<F: Float>(lane: &mut Lane<F>, sigma: F, #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !(flag::<F>(lane, REAL_FACTORS) && lane.val[REAL_SHIFT] == sigma) {
        for k in 0..d * d {
            lane.lu[k] = -lane.jac[k];
        }
        for i in 0..d {
            lane.lu[i * d + i] += sigma;
        }
        ok = lu::factor::<F>(&mut lane.lu, &mut lane.piv, d);
        lane.cnt[FACTORS] += 1;
        lane.val[REAL_SHIFT] = sigma;
        set_flag::<F>(lane, REAL_FACTORS, ok);
    }
    if ok {
        lu::solve::<F>(&lane.lu, &lane.piv, &mut lane.tmp, d);
    }
    ok
}

/// Solve `((σr + iσi)I − J)x = x` in place (`x` is `cr + i·ci`).
#[cube]
pub(super) fn solve_complex<F: Float>(lane: &mut Lane<F>, sr: F, si: F, #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !(flag::<F>(lane, COMPLEX_FACTORS) && lane.val[COMPLEX_SHIFT] == sr && lane.val[COMPLEX_SHIFT + 1] == si) {
        for k in 0..d * d {
            lane.lu_re[k] = -lane.jac[k];
            lane.lu_im[k] = F::new(0.0);
        }
        for i in 0..d {
            lane.lu_re[i * d + i] += sr;
            lane.lu_im[i * d + i] = si;
        }
        ok = lu::factor_complex::<F>(&mut lane.lu_re, &mut lane.lu_im, &mut lane.piv_c, d);
        lane.cnt[FACTORS] += 1;
        lane.val[COMPLEX_SHIFT] = sr;
        lane.val[COMPLEX_SHIFT + 1] = si;
        set_flag::<F>(lane, COMPLEX_FACTORS, ok);
    }
    if ok {
        lu::solve_complex::<F>(&lane.lu_re, &lane.lu_im, &lane.piv_c, &mut lane.cr, &mut lane.ci, d);
    }
    ok
}

/// The shift `σ = (1/γ)/h` with `I − hγJ = hγ(σI − J)`, formed as the host engine forms it.
#[cube]
pub(super) fn shift<F: Float>(gamma: F, h: F) -> F {
    (F::new(1.0) / gamma) / h
}

/// One Newton verdict (`newton.rs`, `NewtonControl::check`): [`CONTINUE`], [`CONVERGED`] or
/// [`DIVERGED`], for the correction of weighted norm `norm`.
#[cube]
pub(super) fn newton_check<F: Float>(lane: &mut Lane<F>, norm: F, tol: F, max_iter: u32) -> u32 {
    lane.cnt[NEWTON] += 1;
    let k = u32::cast_from(lane.run[RUN_K]);
    let mut verdict = CONTINUE.runtime();
    let floor = F::max(F::new(FLOOR) * tol, lane.val[NEWTON_FLOOR]);
    if !finite::<F>(norm) {
        verdict = DIVERGED;
    } else {
        if k > 0 {
            let theta = norm / lane.run[RUN_PREV_NORM];
            lane.run[RUN_THETA] = F::max(lane.run[RUN_THETA], theta);
            if norm <= floor {
                verdict = CONVERGED;
            } else if theta >= F::new(DIVERGENCE) {
                verdict = DIVERGED;
            } else {
                lane.run[RUN_ETA] = theta / (F::new(1.0) - theta);
                let remaining = max_iter - 1 - k;
                let mut tk = F::new(1.0);
                for _ in 0..remaining {
                    tk *= theta;
                }
                if tk / (F::new(1.0) - theta) * norm > tol {
                    verdict = DIVERGED;
                }
            }
        }
        if verdict == CONTINUE && (lane.run[RUN_ETA] * norm <= tol || norm <= floor) {
            verdict = CONVERGED;
        }
        if verdict == CONVERGED {
            lane.val[ATTEMPT_ITERATIONS] = F::max(lane.val[ATTEMPT_ITERATIONS], F::cast_from(k + 1));
            lane.val[ETA_CARRIED] = lane.run[RUN_ETA];
        } else if verdict == CONTINUE {
            lane.run[RUN_PREV_NORM] = norm;
            lane.run[RUN_K] = F::cast_from(k + 1);
            if k + 1 >= max_iter {
                verdict = DIVERGED;
            }
        }
    }
    verdict
}

/// A fresh Newton run: `k = 0`, `η = max(η_carried, ε_f64)^0.8`.
#[cube]
pub(super) fn newton_start<F: Float>(lane: &mut Lane<F>) {
    lane.run[RUN_K] = F::new(0.0);
    lane.run[RUN_PREV_NORM] = F::new(0.0);
    // The floor is f64's ε in every precision, as the host engine's (`NewtonControl::start`).
    lane.run[RUN_ETA] = F::powf(F::max(lane.val[ETA_CARRIED], F::new(2.220_446e-16)), F::new(0.8));
    lane.run[RUN_THETA] = F::new(0.0);
}
