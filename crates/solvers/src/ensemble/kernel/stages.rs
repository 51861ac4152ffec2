//! The stages of one step attempt, for the two kinds of implicit Runge–Kutta method the host
//! engine has (`engine/rk.rs`, `full.rs`): diagonally implicit stages solved one after another
//! by simplified Newton, or all stages together by RADAU5's transformed simplified Newton
//! iteration (Hairer & Wanner II, IV.8, (8.15)–(8.20)) with its starting values. Each leaves the
//! new state in `y_new` and the embedded error (before the error estimate's `f0` term and filter)
//! in `err`, and returns [`DONE`], [`RETRY`] or [`NON_FINITE`].

use cubecl::prelude::*;

use super::lane::{
    ATTEMPT_THETA, DONE, F0_HELD, H_PREV, Lane, NON_FINITE, RETRY, RUN_THETA, Z_PREV_HELD, all_finite, ensure_jacobian,
    eval, field, flag, rms,
};
use super::layout::{
    C_ALPHA, C_BETA, C_COLLOCATION, C_COMPLEX_ROW, C_REAL_GAMMA, C_REAL_ROW, EVALS, S_NEWTON_TOL, b_at, c_at, e_at,
    m_at, scalars_at, settings_at, t_at, t_inv_at,
};
use super::newton::{CONTINUE, CONVERGED, DIVERGED, newton_check, newton_start, shift, solve_complex, solve_real};

/// Diagonally implicit stages, one after another (`rk.rs`, `sequential_stages`).
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn dirk_stages<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    max_iter: u32,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let c = comptime!(c_at(s));
    let mut outcome = DONE.runtime();
    for i in 0..s {
        if outcome == DONE {
            // known = y + h Σ_{j<i} a_ij F_j, kept in y_new while the stage value is solved.
            for p in 0..d {
                let mut v = lane.y[p];
                for j in 0..i {
                    v += h * coef[i * s + j] * lane.sf[j * d + p];
                }
                lane.y_new[p] = v;
                lane.sy[i * d + p] = v;
            }
            let g = coef[i * s + i];
            if g == F::new(0.0) {
                if i == 0 && coef[c] == F::new(0.0) && flag::<F>(lane, F0_HELD) {
                    for p in 0..d {
                        lane.sf[p] = lane.f0[p];
                    }
                } else {
                    outcome = explicit_stage::<F>(lane, fi, fd, i, d);
                }
            } else if !ensure_jacobian::<F>(lane, fi, fd, d) {
                outcome = NON_FINITE;
            } else {
                outcome = implicit_stage::<F>(lane, coef, fi, fd, h, g, i, max_iter, d, s);
            }
        }
    }
    if outcome == DONE {
        dirk_result::<F>(lane, coef, h, d, s);
    }
    outcome
}

/// Stage `i` with `a_ii = 0`: `F_i = f(known)`, `known` in `y_new`.
#[cube]
fn explicit_stage<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], i: usize, #[comptime] d: usize) -> u32 {
    let mut outcome = DONE.runtime();
    for p in 0..d {
        lane.tmp[p] = lane.y_new[p];
    }
    eval::<F>(lane, fi, fd, d);
    if !all_finite::<F>(&lane.ftmp, d) {
        outcome = NON_FINITE;
    }
    for p in 0..d {
        lane.sf[i * d + p] = lane.ftmp[p];
    }
    outcome
}

/// Stage `i` with `a_ii = γ > 0`: `W = known + hγ f(W)` by simplified Newton from `W = known`,
/// `(σI − J)Δ = F − σ(W − known)` with `σ = 1/(hγ)`; then `F_i = (W − known)/(hγ)`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn implicit_stage<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    g: F,
    i: usize,
    max_iter: u32,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let sigma = shift::<F>(g, h);
    newton_start::<F>(lane);
    // At most `max_iter` iterations (the check diverges at the cap); a bounded loop without
    // `break`, as the stages loop around it.
    let mut verdict = CONTINUE.runtime();
    for _ in 0..max_iter {
        if verdict == CONTINUE {
            for p in 0..d {
                lane.tmp[p] = lane.sy[i * d + p];
            }
            eval::<F>(lane, fi, fd, d);
            for p in 0..d {
                lane.tmp[p] = lane.ftmp[p] - sigma * (lane.sy[i * d + p] - lane.y_new[p]);
            }
            if !solve_real::<F>(lane, sigma, d) {
                verdict = DIVERGED;
            } else {
                for p in 0..d {
                    lane.sy[i * d + p] += lane.tmp[p];
                }
                let norm = rms::<F>(&lane.tmp, &lane.wt, d, d);
                verdict = newton_check::<F>(lane, norm, coef[comptime!(settings_at(s)) + S_NEWTON_TOL], max_iter);
            }
        }
    }
    let mut outcome = RETRY.runtime();
    if verdict == CONVERGED {
        outcome = DONE;
        lane.val[ATTEMPT_THETA] = F::max(lane.val[ATTEMPT_THETA], lane.run[RUN_THETA]);
        let inv = F::new(1.0) / (h * g);
        for p in 0..d {
            lane.sf[i * d + p] = (lane.sy[i * d + p] - lane.y_new[p]) * inv;
        }
    }
    outcome
}

/// `y_new = y + h Σ b_i F_i` and `err = h Σ e_j F_j`.
#[cube]
fn dirk_result<F: Float>(lane: &mut Lane<F>, coef: &[F], h: F, #[comptime] d: usize, #[comptime] s: usize) {
    let (b, e) = (comptime!(b_at(s)), comptime!(e_at(s)));
    for p in 0..d {
        let mut v = lane.y[p];
        for i in 0..s {
            v += h * coef[b + i] * lane.sf[i * d + p];
        }
        lane.y_new[p] = v;
    }
    for p in 0..d {
        let mut v = F::new(0.0);
        for j in 0..s {
            v += h * coef[e + j] * lane.sf[j * d + p];
        }
        lane.err[p] = v;
    }
}

/// `out = (M⊗I)x` for an `s×s` matrix `M` at `coef[at..]` and `x`, `out` of `s·d` values.
#[cube]
fn apply<F: Float>(
    coef: &[F],
    at: usize,
    x: &Array<F>,
    out: &mut Array<F>,
    #[comptime] d: usize,
    #[comptime] s: usize,
) {
    for i in 0..s {
        for p in 0..d {
            let mut v = F::new(0.0);
            for j in 0..s {
                v += coef[at + i * s + j] * x[j * d + p];
            }
            out[i * d + p] = v;
        }
    }
}

/// All stages together by the transformed simplified Newton iteration (`full.rs`).
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn full_stages<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    max_iter: u32,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let mut outcome = DONE.runtime();
    if !ensure_jacobian::<F>(lane, fi, fd, d) {
        outcome = NON_FINITE;
    }
    if outcome == DONE {
        starting_values::<F>(lane, coef, h, d, s);
        newton_start::<F>(lane);
        let mut verdict = CONTINUE.runtime();
        while verdict == CONTINUE {
            verdict = full_iteration::<F>(lane, coef, fi, fd, h, max_iter, d, s);
        }
        if verdict != CONVERGED {
            outcome = RETRY;
        }
    }
    if outcome == DONE {
        lane.val[ATTEMPT_THETA] = F::max(lane.val[ATTEMPT_THETA], lane.run[RUN_THETA]);
        full_result::<F>(lane, coef, d, s);
    }
    outcome
}

/// Starting values: `W = (Σ_k r^k M_k ⊗ I) Z_prev` with `r = h/h_prev` for a collocation method
/// after an accepted step (Hairer & Wanner II, IV.8, (8.18)), else 0.
#[cube]
fn starting_values<F: Float>(lane: &mut Lane<F>, coef: &[F], h: F, #[comptime] d: usize, #[comptime] s: usize) {
    let (sc, m) = (comptime!(scalars_at(s)), comptime!(m_at(s)));
    for q in 0..s * d {
        lane.w[q] = F::new(0.0);
    }
    if flag::<F>(lane, Z_PREV_HELD) && coef[sc + C_COLLOCATION] == F::new(1.0) {
        let r = h / lane.val[H_PREV];
        let mut rk = F::new(1.0);
        for k in 0..s {
            rk *= r;
            for i in 0..s {
                for p in 0..d {
                    let mut v = F::new(0.0);
                    for j in 0..s {
                        v += coef[m + k * s * s + i * s + j] * lane.z_prev[j * d + p];
                    }
                    lane.w[i * d + p] += rk * v;
                }
            }
        }
    }
}

/// One transformed Newton iteration: `Y = y + (T⊗I)W`, `G = (T⁻¹⊗I)F(Y)`, the real and the
/// complex block solved for `ΔW`, `W += ΔW`, then the verdict.
#[cube]
#[allow(clippy::too_many_arguments)]
fn full_iteration<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    max_iter: u32,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let (t_m, t_inv_m) = (comptime!(t_at(s)), comptime!(t_inv_at(s)));
    let mut verdict = DIVERGED.runtime();
    apply::<F>(coef, t_m, &lane.w, &mut lane.sy, d, s);
    for i in 0..s {
        for p in 0..d {
            lane.tmp[p] = lane.y[p] + lane.sy[i * d + p];
        }
        field::<F>(lane, fi, fd, d);
        for p in 0..d {
            lane.dw[i * d + p] = lane.ftmp[p];
        }
    }
    lane.cnt[EVALS] += 1;
    if all_finite::<F>(&lane.dw, comptime!(s * d)) {
        apply::<F>(coef, t_inv_m, &lane.dw, &mut lane.sf, d, s);
        if solve_blocks::<F>(lane, coef, h, d, s) {
            for q in 0..s * d {
                lane.w[q] += lane.dw[q];
            }
            let norm = rms::<F>(&lane.dw, &lane.wt, comptime!(s * d), d);
            verdict = newton_check::<F>(lane, norm, coef[comptime!(settings_at(s)) + S_NEWTON_TOL], max_iter);
        }
    }
    verdict
}

/// `ΔW` of the real block (`(σI − J)ΔW_k = G_k − σW_k`) and of the complex pair
/// (`((α + iβ)/h·I − J)ΔW = G − (α + iβ)/h·W` on rows `k`, `k + 1`) into `dw`; false if a matrix
/// is singular.
#[cube]
fn solve_blocks<F: Float>(lane: &mut Lane<F>, coef: &[F], h: F, #[comptime] d: usize, #[comptime] s: usize) -> bool {
    let sc = comptime!(scalars_at(s));
    let real_row = coef[sc + C_REAL_ROW];
    let complex_row = coef[sc + C_COMPLEX_ROW];
    let mut ok = true;
    if real_row >= F::new(0.0) {
        let k = usize::cast_from(u32::cast_from(real_row));
        let sigma = shift::<F>(coef[sc + C_REAL_GAMMA], h);
        for p in 0..d {
            lane.tmp[p] = lane.sf[k * d + p] - sigma * lane.w[k * d + p];
        }
        ok = solve_real::<F>(lane, sigma, d);
        for p in 0..d {
            lane.dw[k * d + p] = lane.tmp[p];
        }
    }
    if complex_row >= F::new(0.0) && ok {
        let k = usize::cast_from(u32::cast_from(complex_row));
        let (sr, si) = (coef[sc + C_ALPHA] / h, coef[sc + C_BETA] / h);
        for p in 0..d {
            let (wr, wi) = (lane.w[k * d + p], lane.w[(k + 1) * d + p]);
            lane.cr[p] = lane.sf[k * d + p] - (sr * wr - si * wi);
            lane.ci[p] = lane.sf[(k + 1) * d + p] - (sr * wi + si * wr);
        }
        ok = solve_complex::<F>(lane, sr, si, d);
        for p in 0..d {
            lane.dw[k * d + p] = lane.cr[p];
            lane.dw[(k + 1) * d + p] = lane.ci[p];
        }
    }
    ok
}

/// `Z = (T⊗I)W` in `dw`, `Y = y + Z`, `y_new = y + Σ (bᵀA⁻¹)_j Z_j`, `err = Σ (eᵀA⁻¹)_j Z_j`.
#[cube]
fn full_result<F: Float>(lane: &mut Lane<F>, coef: &[F], #[comptime] d: usize, #[comptime] s: usize) {
    let (b, e, t_m) = (comptime!(b_at(s)), comptime!(e_at(s)), comptime!(t_at(s)));
    apply::<F>(coef, t_m, &lane.w, &mut lane.dw, d, s);
    for p in 0..d {
        let (mut v, mut er) = (lane.y[p], F::new(0.0));
        for j in 0..s {
            lane.sy[j * d + p] = lane.y[p] + lane.dw[j * d + p];
            v += coef[b + j] * lane.dw[j * d + p];
            er += coef[e + j] * lane.dw[j * d + p];
        }
        lane.y_new[p] = v;
        lane.err[p] = er;
    }
}
