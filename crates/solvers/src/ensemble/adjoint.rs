//! The backward pass as a device kernel: a thread per trajectory walks its recorded steps in
//! reverse with the discrete adjoint of the Runge–Kutta step in stage form (design.md §4; Hager
//! 2000, Sandu 2006), the formula the host walk uses (`gradient/stages.rs`): with
//! `a = ∂L/∂y_{n+1}` and the step's result `y_{n+1} = δv + Σ_j w_j Y_j + hΣ_j e_j F_j`,
//! `Mᵀξ = w⊗a + blockdiag(J_j)ᵀ(he⊗a)` with `M = I − h(A⊗I)blockdiag(J_j)`,
//! `μ = he⊗a + h(Aᵀ⊗I)ξ`, `a_n = δa + Σ_j ξ_j`, and the parameter product `Σ_j (∂f(Y_j)/∂θ)ᵀμ_j`
//! accumulated per trajectory in the thread (the field's own backpropagation: mass action, MLP).
//! It writes each trajectory's parameter product and `∂L/∂y0`.
//!
//! Inputs: `input = [A (s×s), w (s), e (s), δ, output times, output cotangents (outputs·batch·d)]`,
//! `ints` as the forward kernel's (batch, outputs, record capacity, resume, the number 2) followed
//! by each trajectory's accepted steps, the field's tables, the forward's `record`. Outputs:
//! `state` (two checkpoint slots per trajectory: steps walked, outputs left, `a`), `grad` (the
//! parameter product in the same two slots, `grad.len()/(2·batch)` values each: the field's
//! kernel parameters), `slots` (per trajectory: current slot, status). Like the forward kernel it
//! resumes where software Vulkan's loop limiter stopped it; a slot's product and state are
//! committed together.

use cubecl::prelude::*;

use super::kernel::{
    I_BATCH, I_LEN, I_OUTPUTS, I_RECORD, I_RESUME, STATUS_INTERRUPTED, STATUS_NON_FINITE, STATUS_OK, field_jacobian,
    limiter_fired, new_lane, record_width,
};
use super::{lu, mass_action, mlp};

/// Values per checkpoint slot: steps walked, outputs left, `a`.
pub const fn adjoint_state_width(d: usize) -> usize {
    2 + d
}

/// Save `(q, o, a)` into the slot after the current one and make it current, unless the loop
/// limiter fired meanwhile; whether it did.
#[cube]
#[allow(clippy::too_many_arguments)]
fn save<F: Float>(
    state: &mut [F],
    slots: &mut [u32],
    ints: &[u32],
    b: usize,
    q: u32,
    o: u32,
    a: &Array<F>,
    #[comptime] d: usize,
) -> bool {
    let width = comptime!(adjoint_state_width(d));
    let slot = 1 - slots[2 * b];
    let base = (2 * b + slot as usize) * width;
    state[base] = F::cast_from(q);
    state[base + 1] = F::cast_from(o);
    for p in 0..d {
        state[base + 2 + p] = a[p];
    }
    let committed = !limiter_fired(ints);
    if committed {
        slots[2 * b] = slot;
    }
    committed
}

/// Copy trajectory `b`'s parameter product from its current slot to the next (to be added to and
/// committed by the next [`save`]), or zero the next slot.
#[cube]
fn carry<F: Float>(grad: &mut [F], slots: &mut [u32], b: usize, params: usize, zero: bool) {
    let current = (2 * b + slots[2 * b] as usize) * params;
    let next = (2 * b + 1 - slots[2 * b] as usize) * params;
    for k in 0..params {
        let mut v = F::new(0.0);
        if !zero {
            v = grad[current + k];
        }
        grad[next + k] = v;
    }
}

/// Add `(∂f(y)/∂θ)ᵀc` to `grad[at..]` by the field's backpropagation.
#[cube]
#[allow(clippy::too_many_arguments)]
fn field_vjp<F: Float>(
    fi: &[u32],
    fd: &[F],
    y: &Array<F>,
    c: &Array<F>,
    grad: &mut [F],
    at: usize,
    st: &mut Array<F>,
    delta: &mut Array<F>,
    prev: &mut Array<F>,
    #[comptime] d: usize,
    #[comptime] mlp: bool,
    #[comptime] width: usize,
) {
    if comptime!(mlp) {
        mlp::vjp::<F>(fi, fd, y, c, grad, at, st, delta, prev, d, width);
    } else {
        mass_action::vjp::<F>(fi, fd, y, c, grad, at);
    }
}

/// The backward walk of trajectory `ABSOLUTE_POS`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn adjoint_ensemble<F: Float>(
    input: &[F],
    ints: &[u32],
    fi: &[u32],
    fd: &[F],
    record: &[F],
    grad: &mut [F],
    state: &mut [F],
    slots: &mut [u32],
    #[comptime] d: usize,
    #[comptime] s: usize,
    #[comptime] mlp: bool,
    #[comptime] width: usize,
    #[comptime] depth: usize,
) {
    let b = ABSOLUTE_POS;
    let batch = ints[I_BATCH] as usize;
    let resume = ints[I_RESUME] == 1;
    if b >= batch {
        terminate!();
    }
    if resume && slots[2 * b + 1] != STATUS_INTERRUPTED {
        terminate!();
    }
    let (n_out, capacity, steps) = (ints[I_OUTPUTS] as usize, ints[I_RECORD] as usize, ints[I_LEN + b]);
    let (w_at, e_at, start_at) = (comptime!(s * s), comptime!(s * s + s), comptime!(s * s + 2 * s));
    let (save_at, cot) = (comptime!(s * s + 2 * s + 1), comptime!(s * s + 2 * s + 1) + n_out);
    let rw = comptime!(record_width(d, s));
    let n = comptime!(s * d);
    let mut lane = new_lane::<F>(d, s, mlp, width);
    let mut js = Array::<F>::new(comptime!(s * d * d));
    let mut mt = Array::<F>::new(comptime!(s * d * s * d));
    let mut piv = Array::<u32>::new(comptime!(s * d));
    let mut x = Array::<F>::new(comptime!(s * d));
    let mut u = Array::<F>::new(comptime!(s * d));
    let mut a = Array::<F>::new(d);
    let mut mu = Array::<F>::new(d);
    // The MLP's backpropagation: each layer's input and pre-activation, δ and its successor.
    let mut st = Array::<F>::new(comptime!(2 * depth * width));
    let mut delta = Array::<F>::new(width);
    let mut prev = Array::<F>::new(width);
    let params = grad.len() / (2 * batch);
    let mut q = 0u32;
    let mut o = n_out as u32;
    let mut status = STATUS_OK.runtime();
    if resume {
        let base = (2 * b + slots[2 * b] as usize) * comptime!(adjoint_state_width(d));
        q = u32::cast_from(state[base]);
        o = u32::cast_from(state[base + 1]);
        for p in 0..d {
            a[p] = state[base + 2 + p];
        }
    } else {
        for p in 0..d {
            a[p] = F::new(0.0);
        }
        slots[2 * b] = 1;
        carry::<F>(grad, slots, b, params, true);
        if !save::<F>(state, slots, ints, b, q, o, &a, d) {
            status = STATUS_INTERRUPTED;
        }
    }
    while status == STATUS_OK && q < steps {
        let step = (steps - 1 - q) as usize;
        let at = (b * capacity + step) * rw;
        let (h, t_next) = (record[at + 1], record[at + 2]);
        // a = ∂L/∂y_{n+1}: the cotangent of an output the step lands on joins it.
        if o > 0 && input[save_at + o as usize - 1] == t_next {
            for p in 0..d {
                a[p] += input[cot + ((o as usize - 1) * batch + b) * d + p];
            }
            o -= 1;
        }
        for j in 0..s {
            for p in 0..d {
                lane.y[p] = record[at + 3 + d + j * d + p];
            }
            field_jacobian::<F>(&mut lane, fi, fd, d);
            for k in 0..d * d {
                js[j * d * d + k] = lane.jac[k];
            }
        }
        // Mᵀ[(j,q),(i,p)] = M[(i,p),(j,q)] = δ − h·a_ij·J_j[p,q].
        for j in 0..s {
            for qq in 0..d {
                for i in 0..s {
                    for p in 0..d {
                        let (row, col) = (j * d + qq, i * d + p);
                        let mut v = -h * input[i * s + j] * js[j * d * d + p * d + qq];
                        if row == col {
                            v += F::new(1.0);
                        }
                        mt[row * n + col] = v;
                    }
                }
            }
        }
        // u_j = h·e_j·a; the right-hand side w_j·a + J_jᵀu_j.
        for j in 0..s {
            for p in 0..d {
                u[j * d + p] = h * input[e_at + j] * a[p];
            }
            for qq in 0..d {
                let mut acc = input[w_at + j] * a[qq];
                for p in 0..d {
                    acc += js[j * d * d + p * d + qq] * u[j * d + p];
                }
                x[j * d + qq] = acc;
            }
        }
        if lu::factor::<F>(&mut mt, &mut piv, n) {
            lu::solve::<F>(&mt, &piv, &mut x, n);
            carry::<F>(grad, slots, b, params, false);
            let next = (2 * b + 1 - slots[2 * b] as usize) * params;
            for j in 0..s {
                for p in 0..d {
                    let mut m = u[j * d + p];
                    for i in 0..s {
                        m += h * input[i * s + j] * x[i * d + p];
                    }
                    mu[p] = m;
                    lane.y[p] = record[at + 3 + d + j * d + p];
                }
                field_vjp::<F>(fi, fd, &lane.y, &mu, grad, next, &mut st, &mut delta, &mut prev, d, mlp, width);
            }
            for p in 0..d {
                let mut v = input[start_at] * a[p];
                for j in 0..s {
                    v += x[j * d + p];
                }
                a[p] = v;
            }
            q += 1;
            // A step whose loops were cut short is walked again in the next launch.
            if limiter_fired(ints) || !save::<F>(state, slots, ints, b, q, o, &a, d) {
                status = STATUS_INTERRUPTED;
            }
        } else {
            status = STATUS_NON_FINITE;
        }
    }
    if status == STATUS_OK && q < steps {
        status = STATUS_INTERRUPTED;
    }
    if status == STATUS_OK {
        // Outputs at the initial time belong to y0 itself.
        for k in 0..o as usize {
            for p in 0..d {
                a[p] += input[cot + (k * batch + b) * d + p];
            }
        }
        carry::<F>(grad, slots, b, params, false);
        if !save::<F>(state, slots, ints, b, q, 0, &a, d) {
            status = STATUS_INTERRUPTED;
        }
    }
    slots[2 * b + 1] = status;
}
