//! What a lane leaves behind between launches: the step record (what the backward kernel walks)
//! and the checkpoints it resumes from. Software Vulkan stops every loop of an invocation after
//! 65,535 iterations in all ([`limiter_fired`]); a trajectory that the limiter or the attempt
//! budget stopped resumes in the next launch from the last whole one of its two checkpoint slots.

use cubecl::prelude::*;

use super::lane::{CONTROL_ERR, CONTROL_H, ETA_CARRIED, H_PREV, HISTORY, JACOBIAN_HELD, Lane, RESTORED, Z_PREV_HELD};
use super::layout::{CHECKPOINT_SCALARS, COUNTERS, I_TWO, checkpoint_width};

/// Write the accepted step to the record: `t`, `h`, `t_next`, `y_new`, the stage values.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn record_step<F: Float>(
    lane: &mut Lane<F>,
    record: &mut [F],
    at: usize,
    t: F,
    h: F,
    t_next: F,
    #[comptime] d: usize,
    #[comptime] s: usize,
) {
    record[at] = t;
    record[at + 1] = h;
    record[at + 2] = t_next;
    for p in 0..d {
        record[at + 3 + p] = lane.y_new[p];
    }
    for q in 0..s * d {
        record[at + 3 + d + q] = lane.sy[q];
    }
}

/// Whether the device's loop limiter has fired (software Vulkan ends every loop of an invocation
/// after 65,535 iterations in all): a loop of `ints[I_TWO]` iterations then runs only once.
#[cube]
pub(in crate::ensemble) fn limiter_fired(ints: &[u32]) -> bool {
    let mut n = 0u32;
    for _ in 0..ints[I_TWO] {
        n += 1;
    }
    n < ints[I_TWO]
}

/// Save the state after an accepted step into the slot after the current one, then make it
/// current — unless the loop limiter fired while writing, which leaves the last slot current.
/// `at` is the trajectory's first slot, `tc` its counters' base.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn checkpoint<F: Float>(
    lane: &mut Lane<F>,
    state: &mut [F],
    counters: &mut [u32],
    ints: &[u32],
    at: usize,
    tc: usize,
    t: F,
    h: F,
    o: u32,
    #[comptime] d: usize,
    #[comptime] s: usize,
) {
    let width = comptime!(checkpoint_width(d, s));
    let slot = 1 - counters[tc + 2 * COUNTERS];
    let base = at + slot as usize * width;
    state[base] = t;
    state[base + 1] = h;
    state[base + 2] = F::cast_from(o);
    state[base + 3] = F::cast_from(lane.flag[JACOBIAN_HELD]);
    state[base + 4] = F::cast_from(lane.flag[Z_PREV_HELD]);
    state[base + 5] = lane.val[H_PREV];
    state[base + 6] = F::cast_from(lane.flag[HISTORY]);
    state[base + 7] = lane.val[CONTROL_ERR];
    state[base + 8] = lane.val[CONTROL_H];
    state[base + 9] = lane.val[ETA_CARRIED];
    let arrays = base + CHECKPOINT_SCALARS;
    for p in 0..d {
        state[arrays + p] = lane.y[p];
    }
    for q in 0..s * d {
        state[arrays + d + q] = lane.z_prev[q];
    }
    for q in 0..d * d {
        state[arrays + d + s * d + q] = lane.jac[q];
    }
    for k in 0..COUNTERS {
        counters[tc + slot as usize * COUNTERS + k] = lane.cnt[k];
    }
    if !limiter_fired(ints) {
        counters[tc + 2 * COUNTERS] = slot;
    }
}

/// Load the current checkpoint into the lane; `t`, `h` and the next output index go to
/// `val[RESTORED..RESTORED + 3]`.
#[cube]
pub(super) fn restore<F: Float>(
    lane: &mut Lane<F>,
    state: &mut [F],
    counters: &mut [u32],
    at: usize,
    tc: usize,
    #[comptime] d: usize,
    #[comptime] s: usize,
) {
    let width = comptime!(checkpoint_width(d, s));
    let slot = counters[tc + 2 * COUNTERS];
    let base = at + slot as usize * width;
    lane.val[RESTORED] = state[base];
    lane.val[RESTORED + 1] = state[base + 1];
    lane.val[RESTORED + 2] = state[base + 2];
    lane.flag[JACOBIAN_HELD] = u32::cast_from(state[base + 3]);
    lane.flag[Z_PREV_HELD] = u32::cast_from(state[base + 4]);
    lane.val[H_PREV] = state[base + 5];
    lane.flag[HISTORY] = u32::cast_from(state[base + 6]);
    lane.val[CONTROL_ERR] = state[base + 7];
    lane.val[CONTROL_H] = state[base + 8];
    lane.val[ETA_CARRIED] = state[base + 9];
    let arrays = base + CHECKPOINT_SCALARS;
    for p in 0..d {
        lane.y[p] = state[arrays + p];
    }
    for q in 0..s * d {
        lane.z_prev[q] = state[arrays + d + q];
    }
    for q in 0..d * d {
        lane.jac[q] = state[arrays + d + s * d + q];
    }
    for k in 0..COUNTERS {
        lane.cnt[k] = counters[tc + slot as usize * COUNTERS + k];
    }
}
