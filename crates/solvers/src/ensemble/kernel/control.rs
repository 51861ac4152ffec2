//! Step-size control in a lane, as the host engine's (`engine/rk.rs` `error`, `driver.rs`
//! `initial_step`, `step_control.rs` `Controller`): the scaled error of an attempt, the starting
//! step (Hairer, Nørsett & Wanner I, II.4), RADAU5's Newton-dependent safety factor, and the PI
//! (Gustafsson 1991; Söderlind 2002) and predictive (Gustafsson 1994, RADAU5) controllers.

use cubecl::prelude::*;

use super::lane::{
    ATTEMPT_ERR, CONTROL_ERR, CONTROL_H, DONE, HISTORY, LAST_REJECTED, Lane, NON_FINITE, RETRY, all_finite, ensure_f0,
    ensure_jacobian, eval, finite, flag, rms, set_flag,
};
use super::layout::{C_F0, C_FILTER, scalars_at, tol_at};
use super::newton::{shift, solve_real};
use crate::step_control as host;

// The host controllers' constants (`step_control.rs`), in the kernel's literal type.
const SAFETY: f32 = host::SAFETY as f32;
const NEG_PI_ALPHA: f32 = -host::PI_ALPHA as f32;
const PI_BETA: f32 = host::PI_BETA as f32;
const MIN_FACTOR: f32 = host::MIN_FACTOR as f32;
const MAX_FACTOR: f32 = host::MAX_FACTOR as f32;
const PREDICTIVE_MIN: f32 = host::PREDICTIVE_MIN as f32;
const PREDICTIVE_MAX: f32 = host::PREDICTIVE_MAX as f32;
const ERR_FLOOR: f32 = host::ERR_FLOOR as f32;
const ERR_ACC_FLOOR: f32 = host::ERR_ACC_FLOOR as f32;
const FIRST_REJECT: f32 = host::FIRST_REJECT as f32;
const INITIAL_FRACTION: f32 = host::INITIAL_FRACTION as f32;
const INITIAL_SMALL_NORM: f32 = host::INITIAL_SMALL_NORM as f32;
const INITIAL_FALLBACK: f32 = host::INITIAL_FALLBACK as f32;
const INITIAL_FLAT: f32 = host::INITIAL_FLAT as f32;
const INITIAL_FLAT_FACTOR: f32 = host::INITIAL_FLAT_FACTOR as f32;
const INITIAL_GROWTH: f32 = host::INITIAL_GROWTH as f32;

/// The scaled error of the attempt (`rk.rs`, `error`) into `val[ATTEMPT_ERR]`: adds `h·f0c·f(y_n)`,
/// filters by `(I − hγJ)⁻¹` when the method does, and takes the weighted norm with weights at
/// `max(|y_n|, |y_new|)`. [`DONE`], [`RETRY`] for a singular filter, [`NON_FINITE`] for a
/// non-finite `f(y_n)`.
#[cube]
pub(super) fn error<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let sc = comptime!(scalars_at(s));
    let mut outcome = DONE.runtime();
    let f0c = coef[sc + C_F0];
    if f0c != F::new(0.0) {
        if ensure_f0::<F>(lane, fi, fd, d) {
            for p in 0..d {
                lane.err[p] += h * f0c * lane.f0[p];
            }
        } else {
            outcome = NON_FINITE;
        }
    }
    let g = coef[sc + C_FILTER];
    if outcome == DONE && g != F::new(0.0) {
        if !ensure_jacobian::<F>(lane, fi, fd, d) {
            outcome = NON_FINITE;
        } else {
            let sigma = shift::<F>(g, h);
            for p in 0..d {
                lane.tmp[p] = lane.err[p] * sigma;
            }
            if solve_real::<F>(lane, sigma, d) {
                for p in 0..d {
                    lane.err[p] = lane.tmp[p];
                }
            } else {
                outcome = RETRY;
            }
        }
    }
    if outcome == DONE {
        for p in 0..d {
            let m = F::max(F::abs(lane.y[p]), F::abs(lane.y_new[p]));
            lane.ftmp[p] = coef[comptime!(tol_at(s)) + d + p] + coef[comptime!(tol_at(s)) + p] * m;
        }
        lane.val[ATTEMPT_ERR] = rms::<F>(&lane.err, &lane.ftmp, d, d);
    }
    outcome
}

/// Starting step (Hairer, Nørsett & Wanner I, II.4; `driver.rs`, `initial_step`); 0 if `f(y0)`
/// is not finite.
#[cube]
pub(super) fn initial_step<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], span: F, #[comptime] d: usize) -> F {
    for p in 0..d {
        lane.tmp[p] = lane.y[p];
    }
    eval::<F>(lane, fi, fd, d);
    let mut h = F::new(0.0);
    if all_finite::<F>(&lane.ftmp, d) {
        let d0 = rms::<F>(&lane.y, &lane.wt, d, d);
        let d1 = rms::<F>(&lane.ftmp, &lane.wt, d, d);
        let mut h0 = F::min(F::new(INITIAL_FRACTION) * d0 / d1, span);
        if d0 < F::new(INITIAL_SMALL_NORM) || d1 < F::new(INITIAL_SMALL_NORM) {
            h0 = F::new(INITIAL_FALLBACK) * span;
        }
        for p in 0..d {
            lane.err[p] = lane.ftmp[p];
            lane.tmp[p] = lane.y[p] + h0 * lane.ftmp[p];
        }
        eval::<F>(lane, fi, fd, d);
        for p in 0..d {
            lane.err[p] = lane.ftmp[p] - lane.err[p];
        }
        let d2 = rms::<F>(&lane.err, &lane.wt, d, d) / h0;
        let dm = F::max(d1, d2);
        let mut h1 = F::sqrt(F::new(INITIAL_FRACTION) / dm);
        if dm <= F::new(INITIAL_FLAT) {
            h1 = F::max(h0 * F::new(INITIAL_FLAT_FACTOR), F::new(INITIAL_FALLBACK) * span);
        }
        // A non-finite f(y0 + h0 f0) gives h1 = 0: the solve stops with a step too small.
        if finite::<F>(d2) {
            h = F::min(F::min(F::new(INITIAL_GROWTH) * h0, h1), span);
        }
    }
    h
}

/// RADAU5's safety factor `min(0.9, 0.9(1 + 2k_max)/(k + 2k_max))` for `k` Newton iterations.
#[cube]
pub(super) fn newton_safety<F: Float>(k: u32, max_iter: u32) -> F {
    let num = F::new(SAFETY) * F::cast_from(1 + 2 * max_iter);
    F::min(num / F::cast_from(k + 2 * max_iter), F::new(SAFETY))
}

/// Factor for the next step after an accepted step (`step_control.rs`, `Controller::accept`).
#[cube]
pub(super) fn controller_accept<F: Float>(lane: &mut Lane<F>, err_in: F, k: F, h: F, safety: F, predictive: bool) -> F {
    let err = F::max(err_in, F::new(ERR_FLOOR));
    let mut fac = F::new(SAFETY) * F::powf(err, F::new(NEG_PI_ALPHA) / k);
    if predictive {
        fac = F::clamp(safety * F::powf(err, F::new(-1.0) / k), F::new(PREDICTIVE_MIN), F::new(PREDICTIVE_MAX));
        if flag::<F>(lane, HISTORY) {
            let g = safety * (h / lane.val[CONTROL_H]) * F::powf(lane.val[CONTROL_ERR] / (err * err), F::new(1.0) / k);
            fac = F::min(fac, F::clamp(g, F::new(PREDICTIVE_MIN), F::new(PREDICTIVE_MAX)));
        }
        lane.val[CONTROL_ERR] = F::max(err, F::new(ERR_ACC_FLOOR));
    } else {
        if flag::<F>(lane, HISTORY) {
            fac *= F::powf(lane.val[CONTROL_ERR], F::new(PI_BETA) / k);
        }
        lane.val[CONTROL_ERR] = err;
        fac = F::clamp(fac, F::new(MIN_FACTOR), F::new(MAX_FACTOR));
    }
    lane.val[CONTROL_H] = h;
    set_flag::<F>(lane, HISTORY, true);
    if flag::<F>(lane, LAST_REJECTED) {
        fac = F::min(fac, F::new(1.0));
    }
    set_flag::<F>(lane, LAST_REJECTED, false);
    fac
}

/// Factor for retrying a rejected step (`Controller::reject`).
#[cube]
pub(super) fn controller_reject<F: Float>(lane: &mut Lane<F>, err: F, k: F, safety: F, predictive: bool) -> F {
    set_flag::<F>(lane, LAST_REJECTED, true);
    let mut fac = F::new(MIN_FACTOR);
    if finite::<F>(err) {
        if predictive {
            if flag::<F>(lane, HISTORY) {
                fac = F::clamp(safety * F::powf(err, F::new(-1.0) / k), F::new(PREDICTIVE_MIN), F::new(1.0));
            } else {
                fac = F::new(FIRST_REJECT);
            }
        } else {
            fac = F::clamp(F::new(SAFETY) * F::powf(err, F::new(-1.0) / k), F::new(MIN_FACTOR), F::new(1.0));
        }
    }
    fac
}
