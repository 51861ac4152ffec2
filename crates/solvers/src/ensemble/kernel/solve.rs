//! The kernel's entry point: the whole solve of one trajectory, as the host engine's driver
//! (`engine/driver.rs`) runs it. One flat loop writes the outputs the trajectory has reached, else
//! attempts a step towards the next output time, landing on it exactly; an attempt is its stages
//! and error estimate; an accepted step advances the state and the controller, a failed Newton
//! solve retries with a fresh Jacobian and then with half the step, a rejected one with the
//! controller's smaller step.

use cubecl::prelude::*;

use super::checkpoint::{checkpoint, limiter_fired, record_step, restore};
use super::control::{controller_accept, controller_reject, error, initial_step, newton_safety};
use super::lane::{
    ATTEMPT_ERR, ATTEMPT_ITERATIONS, ATTEMPT_THETA, DONE, F0_HELD, H_PREV, JACOBIAN_FRESH, Lane, NON_FINITE, RESTORED,
    RETRY, Z_PREV_HELD, ensure_f0, flag, invalidate, new_lane, newton_weights, set_flag,
};
use super::layout::{
    C_ERR_ORDER, C_EXPLICIT_FIRST, C_PREDICTIVE, COUNTERS, I_BATCH, I_BUDGET, I_CHECKPOINTS, I_MAX_ITER, I_MAX_STEPS,
    I_OUTPUTS, I_RECORD, I_RESUME, NEWTON, REJECTED, S_EPS, S_H0, S_SPAN, S_T0, STATUS, STATUS_INTERRUPTED,
    STATUS_MAX_STEPS, STATUS_NON_FINITE, STATUS_OK, STATUS_RECORD_FULL, STATUS_STEP_TOO_SMALL, STEPS, checkpoint_width,
    record_width, scalars_at, settings_at, times_at,
};
use super::stages::{dirk_stages, full_stages};
use crate::step_control as host;

// The host driver's constants (`step_control.rs`), in the kernel's literal type.
const REUSE_THETA: f32 = host::REUSE_THETA as f32;
const HOLD_MAX: f32 = host::HOLD_MAX as f32;
const LANDED_GROWTH: f32 = host::LANDED_GROWTH as f32;
const MIN_STEP_ULPS: f32 = host::MIN_STEP_ULPS as f32;

/// The whole solve of trajectory `ABSOLUTE_POS`. Inputs: `coef` (the method's coefficients, then
/// the settings, tolerances, output times and initial states: [`settings_at`]), `ints`, the
/// field's tables `fi`/`fd`. Outputs: `out` (the states, `outputs·batch·d`,
/// then `t` and `h` where each trajectory stopped), `counters` (`COUNTERS` per trajectory),
/// `record` (`capacity` steps of [`record_width`] per trajectory, when `ints[I_RECORD] > 0`).
/// Seven buffers: WebGPU guarantees eight per shader stage.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn solve_ensemble<F: Float>(
    coef: &[F],
    ints: &[u32],
    fi: &[u32],
    fd: &[F],
    out: &mut [F],
    counters: &mut [u32],
    record: &mut [F],
    state: &mut [F],
    #[comptime] d: usize,
    #[comptime] s: usize,
    #[comptime] full: bool,
    #[comptime] mlp: bool,
    #[comptime] width: usize,
) {
    let b = ABSOLUTE_POS;
    let batch = ints[I_BATCH] as usize;
    // Counters: live at `b·COUNTERS`, checkpoint sets and the current slot after all live ones.
    let tc = batch * COUNTERS + b * (2 * COUNTERS + 1);
    let resume = ints[I_RESUME] == 1;
    let checkpoints = ints[I_CHECKPOINTS] == 1;
    if b >= batch {
        terminate!();
    }
    if resume && counters[b * COUNTERS + STATUS] != STATUS_INTERRUPTED {
        terminate!();
    }
    let mut lane = new_lane::<F>(d, s, mlp, width);
    let (st, times) = (comptime!(settings_at(s)), comptime!(times_at(d, s)));
    let n_out = ints[I_OUTPUTS] as usize;
    let y0 = times + n_out;
    for p in 0..d {
        lane.y[p] = coef[y0 + b * d + p];
    }
    let (max_steps, max_iter, capacity) = (ints[I_MAX_STEPS], ints[I_MAX_ITER], ints[I_RECORD]);
    let sc = comptime!(scalars_at(s));
    let (err_order, predictive) = (coef[sc + C_ERR_ORDER], coef[sc + C_PREDICTIVE] == F::new(1.0));
    let explicit_first = coef[sc + C_EXPLICIT_FIRST] == F::new(1.0);
    let eps = coef[st + S_EPS];
    let at = b * 2 * comptime!(checkpoint_width(d, s));
    start::<F>(&mut lane, coef, ints, fi, fd, counters, state, at, tc, d, s);
    let mut t = lane.val[RESTORED];
    let mut h = lane.val[RESTORED + 1];
    let mut o = u32::cast_from(lane.val[RESTORED + 2]);
    let mut status = STATUS_OK.runtime();
    let mut step = h;
    let (budget, mut attempts) = (ints[I_BUDGET], 0u32);
    while status == STATUS_OK && (o as usize) < n_out {
        let t_out = coef[times + o as usize];
        if t >= t_out {
            for p in 0..d {
                out[(o as usize * batch + b) * d + p] = lane.y[p];
            }
            o += 1;
        } else {
            newton_weights::<F>(&mut lane, coef, d, s);
            attempts += 1;
            if budget > 0 && attempts > budget {
                status = STATUS_INTERRUPTED;
            }
            if status == STATUS_OK && lane.cnt[STEPS] + lane.cnt[REJECTED] >= max_steps {
                status = STATUS_MAX_STEPS;
            }
            let last = t + h >= t_out;
            step = landing::<F>(t, h, t_out, last);
            if status == STATUS_OK && (step < F::new(MIN_STEP_ULPS) * eps * F::abs(t) || step <= F::new(0.0)) {
                status = STATUS_STEP_TOO_SMALL;
            }
            if status == STATUS_OK {
                let newton_before = lane.cnt[NEWTON];
                let outcome = attempt::<F>(&mut lane, coef, fi, fd, step, max_iter, explicit_first, full, d, s);
                if limiter_fired(ints) {
                    // The attempt's loops were cut short: its results are not to be used.
                    status = STATUS_INTERRUPTED;
                } else if outcome == NON_FINITE {
                    status = STATUS_NON_FINITE;
                } else if outcome == RETRY {
                    // Newton failed: retry with a fresh Jacobian, else halve the step.
                    if flag::<F>(&mut lane, JACOBIAN_FRESH) {
                        lane.cnt[REJECTED] += 1;
                        h = F::new(0.5) * step;
                    } else {
                        invalidate::<F>(&mut lane);
                    }
                } else {
                    let err = lane.val[ATTEMPT_ERR];
                    let safety = newton_safety::<F>(lane.cnt[NEWTON] - newton_before, max_iter);
                    if err <= F::new(1.0) {
                        let mut t_next = t + step;
                        if last {
                            t_next = t_out;
                        }
                        lane.cnt[STEPS] += 1;
                        if !record_accepted::<F>(&mut lane, record, capacity, b, t, step, t_next, d, s) {
                            status = STATUS_RECORD_FULL;
                        }
                        let fac = accept::<F>(&mut lane, err, err_order, step, safety, predictive, full, d, s);
                        let mut h_next = step * fac;
                        if last {
                            h_next = F::max(step * fac, F::min(h, step * F::new(LANDED_GROWTH)));
                        }
                        h = h_next;
                        t = t_next;
                        if checkpoints {
                            checkpoint::<F>(&mut lane, state, counters, ints, at, tc, t, h, o, d, s);
                        }
                    } else {
                        lane.cnt[REJECTED] += 1;
                        h = step * controller_reject::<F>(&mut lane, err, err_order, safety, predictive);
                    }
                }
            }
        }
    }
    finish::<F>(&mut lane, out, counters, status, o, n_out, t, step, batch, b, d);
}

/// Where the trajectory starts, into `val[RESTORED..RESTORED + 3]` (`t`, `h`, the next output
/// index): its current checkpoint when the launch resumes; else `t0` and `y0` with the given
/// first step or the chosen one ([`initial_step`]), saved as the first checkpoint when the
/// trajectory keeps them.
#[cube]
#[allow(clippy::too_many_arguments)]
fn start<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    ints: &[u32],
    fi: &[u32],
    fd: &[F],
    counters: &mut [u32],
    state: &mut [F],
    at: usize,
    tc: usize,
    #[comptime] d: usize,
    #[comptime] s: usize,
) {
    let st = comptime!(settings_at(s));
    if ints[I_RESUME] == 1 {
        restore::<F>(lane, state, counters, at, tc, d, s);
    } else {
        let t = coef[st + S_T0];
        let mut h = coef[st + S_H0];
        newton_weights::<F>(lane, coef, d, s);
        if h <= F::new(0.0) {
            h = initial_step::<F>(lane, fi, fd, coef[st + S_SPAN], d);
        }
        if ints[I_CHECKPOINTS] == 1 {
            counters[tc + 2 * COUNTERS] = 1;
            checkpoint::<F>(lane, state, counters, ints, at, tc, t, h, 0u32, d, s);
        }
        lane.val[RESTORED] = t;
        lane.val[RESTORED + 1] = h;
        lane.val[RESTORED + 2] = F::new(0.0);
    }
}

/// Write accepted step number `cnt[STEPS]` of trajectory `b` to the record, when the solve keeps
/// one (`capacity > 0`); false when the record is full.
#[cube]
#[allow(clippy::too_many_arguments)]
fn record_accepted<F: Float>(
    lane: &mut Lane<F>,
    record: &mut [F],
    capacity: u32,
    b: usize,
    t: F,
    h: F,
    t_next: F,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> bool {
    let mut room = true;
    if capacity > 0 {
        if lane.cnt[STEPS] > capacity {
            room = false;
        } else {
            let width = comptime!(record_width(d, s));
            let at = (b * capacity as usize + lane.cnt[STEPS] as usize - 1) * width;
            record_step::<F>(lane, record, at, t, h, t_next, d, s);
        }
    }
    room
}

/// The step from `t` towards the output time `t_out` for a step size `h`: lands exactly on
/// `t_out` when `h` reaches it (`last`, which the caller also needs), and splits a remainder
/// below two steps evenly.
#[cube]
fn landing<F: Float>(t: F, h: F, t_out: F, last: bool) -> F {
    let mut step = h;
    if last {
        step = t_out - t;
    } else if t + F::new(2.0) * h > t_out {
        step = F::new(0.5) * (t_out - t);
    }
    step
}

/// One attempt of a step of size `h`: `f(y_n)` first when the method's first stage is explicit,
/// the stages, the error estimate; [`DONE`], [`RETRY`] or [`NON_FINITE`].
#[cube]
#[allow(clippy::too_many_arguments)]
fn attempt<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    max_iter: u32,
    explicit_first: bool,
    #[comptime] full: bool,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    lane.val[ATTEMPT_THETA] = F::new(0.0);
    lane.val[ATTEMPT_ITERATIONS] = F::new(0.0);
    let mut outcome = DONE.runtime();
    if explicit_first && !ensure_f0::<F>(lane, fi, fd, d) {
        outcome = NON_FINITE;
    }
    if outcome == DONE {
        if full {
            outcome = full_stages::<F>(lane, coef, fi, fd, h, max_iter, d, s);
        } else {
            outcome = dirk_stages::<F>(lane, coef, fi, fd, h, max_iter, d, s);
        }
    }
    if outcome == DONE {
        outcome = error::<F>(lane, coef, fi, fd, h, d, s);
    }
    outcome
}

/// After an accepted step of size `h` with error `err`: `y_n ← y_new`, the held values the step
/// made stale dropped, and the controller's factor for the next step.
#[cube]
#[allow(clippy::too_many_arguments)]
fn accept<F: Float>(
    lane: &mut Lane<F>,
    err: F,
    err_order: F,
    h: F,
    safety: F,
    predictive: bool,
    #[comptime] full: bool,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> F {
    for p in 0..d {
        lane.y[p] = lane.y_new[p];
    }
    // The step's Newton solves: keep the Jacobian while they contract fast (RADAU5's rule; one
    // solve per step for a full method).
    set_flag::<F>(lane, F0_HELD, false);
    set_flag::<F>(lane, JACOBIAN_FRESH, false);
    if full {
        for q in 0..s * d {
            lane.z_prev[q] = lane.dw[q];
        }
        lane.val[H_PREV] = h;
        set_flag::<F>(lane, Z_PREV_HELD, true);
    }
    let slow = lane.val[ATTEMPT_THETA] > F::new(REUSE_THETA) && (!full || lane.val[ATTEMPT_ITERATIONS] > F::new(2.0));
    if slow {
        invalidate::<F>(lane);
    }
    let mut fac = controller_accept::<F>(lane, err, err_order, h, safety, predictive);
    if fac >= F::new(1.0) && fac <= F::new(HOLD_MAX) {
        fac = F::new(1.0);
    }
    fac
}

/// Write the status, the counters, the remaining outputs (the state reached: the host reads
/// outputs past the time reached as NaN) and where the trajectory stopped (`t`, the last step).
#[cube]
#[allow(clippy::too_many_arguments)]
fn finish<F: Float>(
    lane: &mut Lane<F>,
    out: &mut [F],
    counters: &mut [u32],
    status_in: u32,
    o: u32,
    n_out: usize,
    t: F,
    step: F,
    batch: usize,
    b: usize,
    #[comptime] d: usize,
) {
    let mut status = status_in;
    // Loops that end with the trajectory unfinished and no failure were stopped by the device:
    // software Vulkan (llvmpipe) ends every loop of an invocation after 65,535 iterations in all.
    if status == STATUS_OK && (o as usize) < n_out {
        status = STATUS_INTERRUPTED;
    }
    for k in o as usize..n_out {
        for p in 0..d {
            out[(k * batch + b) * d + p] = lane.y[p];
        }
    }
    lane.cnt[STATUS] = status;
    for k in 0..COUNTERS {
        counters[b * COUNTERS + k] = lane.cnt[k];
    }
    let fail = n_out * batch * d + 2 * b;
    out[fail] = t;
    out[fail + 1] = step;
}
