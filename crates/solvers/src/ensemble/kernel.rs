//! The forward solve as one device kernel: a thread per trajectory runs the whole adaptive
//! integration in its local memory — the stages, simplified Newton with a pivoted LU, the
//! embedded error estimate, the step-size controller and exact landing on every output time —
//! and writes the states at the output times, its status and counters, and (optionally) its
//! step record. It is the host engine's algorithm step for step (`engine/driver.rs`, `rk.rs`,
//! `newton.rs`, `full.rs`; design.md §3, §8, §11): Runge–Kutta stages solved one by one for a
//! diagonally implicit tableau, or all together by RADAU5's transformed Newton iteration
//! (Hairer & Wanner II, IV.8, (8.15)–(8.20)) for a fully implicit one; RADAU5's Jacobian reuse,
//! starting values and controllers (Gustafsson 1991).
//!
//! The method arrives as data ([`Coefficients`](super::program::Coefficients), built from the
//! same tableau as the host engine uses); `d`, `s` and the method's structure are compile-time.

use cubecl::prelude::*;

use super::lu;
use super::mass_action;
use super::mlp;

/// Per-trajectory counters written to `counters` (`COUNTERS` per trajectory).
pub const STEPS: usize = 0;
/// Rejected steps.
pub const REJECTED: usize = 1;
/// Newton iterations.
pub const NEWTON: usize = 2;
/// LU factorizations.
pub const FACTORS: usize = 3;
/// Right-hand-side evaluations (all stages of one Newton iteration count once).
pub const EVALS: usize = 4;
/// Jacobian evaluations.
pub const JACOBIANS: usize = 5;
/// The trajectory's status: one of the `STATUS_*` codes.
pub const STATUS: usize = 6;
/// Counters per trajectory.
pub const COUNTERS: usize = 7;

/// Status: reached the last output time.
pub const STATUS_OK: u32 = 0;
/// Status: the step limit was reached.
pub const STATUS_MAX_STEPS: u32 = 1;
/// Status: the step size fell below the float type's resolution of `t`.
pub const STATUS_STEP_TOO_SMALL: u32 = 2;
/// Status: `f` or `J` was not finite where no retry is possible.
pub const STATUS_NON_FINITE: u32 = 3;
/// Status: the step record is full.
pub const STATUS_RECORD_FULL: u32 = 4;
/// Status: the device stopped the kernel's loops before the trajectory finished.
pub const STATUS_INTERRUPTED: u32 = 5;

/// `ints`: batch size, output times, step limit, Newton iteration limit, record capacity (steps
/// per trajectory, 0 without a record).
pub const I_BATCH: usize = 0;
/// See [`I_BATCH`].
pub const I_OUTPUTS: usize = 1;
/// See [`I_BATCH`].
pub const I_MAX_STEPS: usize = 2;
/// See [`I_BATCH`].
pub const I_MAX_ITER: usize = 3;
/// See [`I_BATCH`].
pub const I_RECORD: usize = 4;
/// 1 when the launch resumes interrupted trajectories from their checkpoints.
pub const I_RESUME: usize = 5;
/// The number 2, as data: a loop of this many iterations tells whether the device's loop
/// limiter has fired (a constant trip count would be unrolled by the shader compiler).
pub const I_TWO: usize = 6;
/// Step attempts a launch may make before it stops its trajectories as interrupted, to resume
/// in the next launch (0: no limit).
pub const I_BUDGET: usize = 7;
/// 1 when trajectories write checkpoints (a device that may stop the kernel's loops, or a
/// budget of attempts per launch); without them an interrupted trajectory cannot resume.
pub const I_CHECKPOINTS: usize = 8;
/// Length of `ints`.
pub const I_LEN: usize = 9;

/// Scalars of a checkpoint: `t`, `h`, the next output index, Jacobian held, previous `Z` held,
/// previous `h`, controller history, its last error and step, the carried Newton `η`.
const CHECKPOINT_SCALARS: usize = 10;

/// Values per checkpoint slot: the scalars, `y`, the previous `Z`, the Jacobian. Two slots per
/// trajectory, written alternately, so that an interrupted write leaves the last one whole.
pub const fn checkpoint_width(d: usize, s: usize) -> usize {
    CHECKPOINT_SCALARS + d + s * d + d * d
}

/// Counters per trajectory in the counters buffer: the live counters are followed by two saved
/// sets (one per checkpoint slot) and the index of the current slot.
pub const fn counters_len(batch: usize) -> usize {
    batch * (3 * COUNTERS + 1)
}

/// Settings: `t0`, the first step (≤ 0: choose it), the Newton tolerance, the float type's
/// epsilon, the span to the first output time.
pub const S_T0: usize = 0;
/// See [`S_T0`].
pub const S_H0: usize = 1;
/// See [`S_T0`].
pub const S_NEWTON_TOL: usize = 2;
/// See [`S_T0`].
pub const S_EPS: usize = 3;
/// See [`S_T0`].
pub const S_SPAN: usize = 4;
/// Length of `settings`.
pub const S_LEN: usize = 5;

/// Scalars after the coefficient arrays (see [`Coefficients`](super::program::Coefficients)).
pub const C_F0: usize = 0;
/// `γ` of the error filter, 0 when unfiltered.
pub const C_FILTER: usize = 1;
/// Order `k = q + 1` of the error estimate.
pub const C_ERR_ORDER: usize = 2;
/// 1 for RADAU5's predictive controller, 0 for PI.
pub const C_PREDICTIVE: usize = 3;
/// Row of the real block of `Λ` (−1 without one) and its `γ`.
pub const C_REAL_ROW: usize = 4;
/// See [`C_REAL_ROW`].
pub const C_REAL_GAMMA: usize = 5;
/// Row of the complex block (−1 without one) and its eigenvalue `α + iβ`.
pub const C_COMPLEX_ROW: usize = 6;
/// See [`C_COMPLEX_ROW`].
pub const C_ALPHA: usize = 7;
/// See [`C_COMPLEX_ROW`].
pub const C_BETA: usize = 8;
/// 1 for a collocation method (starting values by extrapolation).
pub const C_COLLOCATION: usize = 9;
/// 1 when the first stage is explicit (`a_1j = 0`, `c_1 = 0`).
pub const C_EXPLICIT_FIRST: usize = 10;
/// Number of scalars.
pub const C_SCALARS: usize = 11;

/// Offsets in the coefficient buffer of an `s`-stage method: `A` (`s×s`, at 0), the solution
/// weights, the nodes `c`, the error weights, `T`, `T⁻¹`, the `s` extrapolation matrices, then
/// the scalars.
pub const fn b_at(s: usize) -> usize {
    s * s
}
/// See [`b_at`].
pub const fn c_at(s: usize) -> usize {
    s * s + s
}
/// See [`b_at`].
pub const fn e_at(s: usize) -> usize {
    s * s + 2 * s
}
/// See [`b_at`].
pub const fn t_at(s: usize) -> usize {
    s * s + 3 * s
}
/// See [`b_at`].
pub const fn t_inv_at(s: usize) -> usize {
    2 * s * s + 3 * s
}
/// See [`b_at`].
pub const fn m_at(s: usize) -> usize {
    3 * s * s + 3 * s
}
/// See [`b_at`].
pub const fn scalars_at(s: usize) -> usize {
    3 * s * s + 3 * s + s * s * s
}
/// Offset of the settings in the input buffer, after the coefficients; the tolerances (`rtol`
/// then `atol`, `d` each), the output times and the initial states (`batch·d`) follow.
pub const fn settings_at(s: usize) -> usize {
    scalars_at(s) + C_SCALARS
}
/// See [`settings_at`].
pub const fn tol_at(s: usize) -> usize {
    settings_at(s) + S_LEN
}
/// See [`settings_at`].
pub const fn times_at(d: usize, s: usize) -> usize {
    tol_at(s) + 2 * d
}

/// Values per recorded step: `t`, `h`, `t_next`, the new state and the stage values.
pub const fn record_width(d: usize, s: usize) -> usize {
    3 + d + s * d
}

/// One trajectory's working memory.
#[derive(CubeType)]
pub struct Lane<F: Float> {
    pub(super) y: Array<F>,
    y_new: Array<F>,
    /// Newton weights at the step's start, then the error weights.
    wt: Array<F>,
    f0: Array<F>,
    tmp: Array<F>,
    ftmp: Array<F>,
    err: Array<F>,
    /// Stage values `[s][d]`, stage derivatives `F` (or `(T⁻¹⊗I)F`), `W`, `ΔW` (then `Z`), and
    /// the last accepted step's `Z`.
    sy: Array<F>,
    sf: Array<F>,
    w: Array<F>,
    dw: Array<F>,
    z_prev: Array<F>,
    pub(super) jac: Array<F>,
    lu: Array<F>,
    piv: Array<u32>,
    lu_re: Array<F>,
    lu_im: Array<F>,
    piv_c: Array<u32>,
    cr: Array<F>,
    ci: Array<F>,
    /// Counters (`STEPS`…`STATUS`).
    cnt: Array<u32>,
    /// The Newton run: `k`, the previous norm, `η`, the largest `θ`.
    run: Array<F>,
    /// Flags: 0 Jacobian held, 1 fresh, 2 real factors held, 3 complex factors held, 4 `f0`
    /// valid, 5 previous step's `Z` held, 6 controller history, 7 last step rejected.
    flag: Array<u32>,
    /// MLP scratch: `x`, `z` (`width`), their derivatives (`width·d`).
    mx: Array<F>,
    mz: Array<F>,
    mdx: Array<F>,
    mdz: Array<F>,
    /// The field is an MLP (else mass action).
    #[cube(comptime)]
    mlp: bool,
    /// Scalars: 0 real shift, 1–2 complex shift, 3 previous `h`, 4–5 controller's last accepted
    /// error and step, 6 carried Newton `η`, 7 the attempt's error, 8 its largest contraction
    /// rate, 9 the most iterations one Newton solve of the attempt took.
    val: Array<F>,
}

#[cube]
fn flag<F: Float>(lane: &mut Lane<F>, i: usize) -> bool {
    lane.flag[i] == 1
}

#[cube]
fn set_flag<F: Float>(lane: &mut Lane<F>, i: usize, on: bool) {
    lane.flag[i] = u32::cast_from(on);
}

/// `sqrt(mean_k (v_k / w_{k mod d})²)` over `n` values (Hairer I, II.4, (4.11)).
#[cube]
fn rms<F: Float>(v: &Array<F>, w: &Array<F>, #[comptime] n: usize, #[comptime] d: usize) -> F {
    let mut sum = F::new(0.0);
    for k in 0..n {
        let x = v[k] / w[k % d];
        sum += x * x;
    }
    F::sqrt(sum / F::cast_from(n as u32))
}

#[cube]
fn finite<F: Float>(x: F) -> bool {
    u32::cast_from(x.is_nan()) + u32::cast_from(x.is_inf()) == 0
}

#[cube]
fn all_finite<F: Float>(v: &Array<F>, #[comptime] n: usize) -> bool {
    let mut ok = true;
    for k in 0..n {
        ok = ok && finite::<F>(v[k]);
    }
    ok
}

/// `f(tmp)` into `ftmp`: the field the kernel was compiled for.
#[cube]
fn field<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) {
    if comptime!(lane.mlp) {
        mlp::eval::<F>(fi, fd, &lane.tmp, &mut lane.ftmp, &mut lane.mx, &mut lane.mz, d);
    } else {
        mass_action::eval::<F>(fi, fd, &lane.tmp, &mut lane.ftmp, d);
    }
}

/// `∂f/∂y` at `y` into `jac`.
#[cube]
pub(super) fn field_jacobian<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) {
    if comptime!(lane.mlp) {
        mlp::jacobian::<F>(fi, fd, &lane.y, &mut lane.jac, &mut lane.mx, &mut lane.mz, &mut lane.mdx, &mut lane.mdz, d);
    } else {
        mass_action::jacobian::<F>(fi, fd, &lane.y, &mut lane.jac, d);
    }
}

/// `f(tmp)` into `ftmp`, counted.
#[cube]
fn eval<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) {
    field::<F>(lane, fi, fd, d);
    lane.cnt[EVALS] += 1;
}

/// `J(y)` unless one is held; false if it is not finite.
#[cube]
fn ensure_jacobian<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !flag::<F>(lane, 0) {
        field_jacobian::<F>(lane, fi, fd, d);
        lane.cnt[JACOBIANS] += 1;
        set_flag::<F>(lane, 0, true);
        set_flag::<F>(lane, 1, true);
        set_flag::<F>(lane, 2, false);
        set_flag::<F>(lane, 3, false);
        ok = all_finite::<F>(&lane.jac, comptime!(d * d));
    }
    ok
}

/// Drop the Jacobian and its factors.
#[cube]
fn invalidate<F: Float>(lane: &mut Lane<F>) {
    set_flag::<F>(lane, 0, false);
    set_flag::<F>(lane, 2, false);
    set_flag::<F>(lane, 3, false);
}

/// Solve `(σI − J)x = x` in place (`x` is `lane.tmp`), factoring unless the factors for `σ` are
/// held; false if the matrix is singular.
#[cube]
fn solve_real<F: Float>(lane: &mut Lane<F>, sigma: F, #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !(flag::<F>(lane, 2) && lane.val[0] == sigma) {
        for k in 0..d * d {
            lane.lu[k] = -lane.jac[k];
        }
        for i in 0..d {
            lane.lu[i * d + i] += sigma;
        }
        ok = lu::factor::<F>(&mut lane.lu, &mut lane.piv, d);
        lane.cnt[FACTORS] += 1;
        lane.val[0] = sigma;
        set_flag::<F>(lane, 2, ok);
    }
    if ok {
        lu::solve::<F>(&lane.lu, &lane.piv, &mut lane.tmp, d);
    }
    ok
}

/// Solve `((σr + iσi)I − J)x = x` in place (`x` is `cr + i·ci`).
#[cube]
fn solve_complex<F: Float>(lane: &mut Lane<F>, sr: F, si: F, #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !(flag::<F>(lane, 3) && lane.val[1] == sr && lane.val[2] == si) {
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
        lane.val[1] = sr;
        lane.val[2] = si;
        set_flag::<F>(lane, 3, ok);
    }
    if ok {
        lu::solve_complex::<F>(&lane.lu_re, &lane.lu_im, &lane.piv_c, &mut lane.cr, &mut lane.ci, d);
    }
    ok
}

/// The shift `σ = (1/γ)/h` with `I − hγJ = hγ(σI − J)`, formed as the host engine forms it.
#[cube]
fn shift<F: Float>(gamma: F, h: F) -> F {
    (F::new(1.0) / gamma) / h
}

/// One Newton verdict (`newton.rs`, `NewtonControl::check`): 0 continue, 1 converged, 2
/// diverged. `run` holds `k`, the previous norm, `η` and the largest `θ`.
#[cube]
fn newton_check<F: Float>(lane: &mut Lane<F>, norm: F, tol: F, max_iter: u32) -> u32 {
    lane.cnt[NEWTON] += 1;
    let k = u32::cast_from(lane.run[0]);
    let mut verdict = 0u32;
    if !finite::<F>(norm) {
        verdict = 2;
    } else {
        if k > 0 {
            let theta = norm / lane.run[1];
            lane.run[3] = F::max(lane.run[3], theta);
            if norm <= F::max(F::new(1e-3) * tol, lane.val[13]) {
                verdict = 1;
            } else if theta >= F::new(0.99) {
                verdict = 2;
            } else {
                lane.run[2] = theta / (F::new(1.0) - theta);
                let remaining = max_iter - 1 - k;
                let mut tk = F::new(1.0);
                for _ in 0..remaining {
                    tk *= theta;
                }
                if tk / (F::new(1.0) - theta) * norm > tol {
                    verdict = 2;
                }
            }
        }
        if verdict == 0 && (lane.run[2] * norm <= tol || norm <= F::max(F::new(1e-3) * tol, lane.val[13])) {
            verdict = 1;
        }
        if verdict == 1 {
            lane.val[9] = F::max(lane.val[9], F::cast_from(k + 1));
            lane.val[6] = lane.run[2];
        } else if verdict == 0 {
            lane.run[1] = norm;
            lane.run[0] = F::cast_from(k + 1);
            if k + 1 >= max_iter {
                verdict = 2;
            }
        }
    }
    verdict
}

/// A fresh Newton run: `k = 0`, `η = max(η_carried, ε_f64)^0.8`.
#[cube]
fn newton_start<F: Float>(lane: &mut Lane<F>) {
    lane.run[0] = F::new(0.0);
    lane.run[1] = F::new(0.0);
    // The floor is f64's ε in every precision, as the host engine's (`NewtonControl::start`).
    lane.run[2] = F::powf(F::max(lane.val[6], F::new(2.220_446e-16)), F::new(0.8));
    lane.run[3] = F::new(0.0);
}

/// `f(t_n, y_n)` into `f0` unless it is held; false if it is not finite.
#[cube]
fn ensure_f0<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !flag::<F>(lane, 4) {
        for i in 0..d {
            lane.tmp[i] = lane.y[i];
        }
        eval::<F>(lane, fi, fd, d);
        for i in 0..d {
            lane.f0[i] = lane.ftmp[i];
        }
        ok = all_finite::<F>(&lane.f0, d);
        set_flag::<F>(lane, 4, ok);
    }
    ok
}

/// Diagonally implicit stages, one after another (`rk.rs`, `sequential_stages`): 0 done, 1
/// Newton failed, 2 a non-finite explicit stage.
#[cube]
fn dirk_stages<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    max_iter: u32,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let (b, c, e) = (comptime!(b_at(s)), comptime!(c_at(s)), comptime!(e_at(s)));
    let mut outcome = 0u32;
    for i in 0..s {
        if outcome == 0 {
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
                if i == 0 && coef[c] == F::new(0.0) && flag::<F>(lane, 4) {
                    for p in 0..d {
                        lane.sf[p] = lane.f0[p];
                    }
                } else {
                    for p in 0..d {
                        lane.tmp[p] = lane.y_new[p];
                    }
                    eval::<F>(lane, fi, fd, d);
                    if !all_finite::<F>(&lane.ftmp, d) {
                        outcome = 2;
                    }
                    for p in 0..d {
                        lane.sf[i * d + p] = lane.ftmp[p];
                    }
                }
            } else if !ensure_jacobian::<F>(lane, fi, fd, d) {
                outcome = 2;
            } else {
                // W = known + hγ f(W) by simplified Newton from W = known:
                // (σI − J)Δ = F − σ(W − known), σ = 1/(hγ).
                let sigma = shift::<F>(g, h);
                newton_start::<F>(lane);
                // At most `max_iter` iterations (the check diverges at the cap); a bounded loop
                // without `break`, as the stages loop around it.
                let mut verdict = 0u32;
                for _ in 0..max_iter {
                    if verdict == 0 {
                        for p in 0..d {
                            lane.tmp[p] = lane.sy[i * d + p];
                        }
                        eval::<F>(lane, fi, fd, d);
                        for p in 0..d {
                            lane.tmp[p] = lane.ftmp[p] - sigma * (lane.sy[i * d + p] - lane.y_new[p]);
                        }
                        if !solve_real::<F>(lane, sigma, d) {
                            verdict = 2;
                        } else {
                            for p in 0..d {
                                lane.sy[i * d + p] += lane.tmp[p];
                            }
                            let norm = rms::<F>(&lane.tmp, &lane.wt, d, d);
                            verdict =
                                newton_check::<F>(lane, norm, coef[comptime!(settings_at(s)) + S_NEWTON_TOL], max_iter);
                        }
                    }
                }
                if verdict != 1 {
                    outcome = 1;
                } else {
                    lane.val[8] = F::max(lane.val[8], lane.run[3]);
                    let inv = F::new(1.0) / (h * g);
                    for p in 0..d {
                        lane.sf[i * d + p] = (lane.sy[i * d + p] - lane.y_new[p]) * inv;
                    }
                }
            }
        }
    }
    // y_new = y + h Σ b_i F_i.
    if outcome == 0 {
        for p in 0..d {
            let mut v = lane.y[p];
            for i in 0..s {
                v += h * coef[b + i] * lane.sf[i * d + p];
            }
            lane.y_new[p] = v;
        }
        // h Σ e_j F_j into err.
        for p in 0..d {
            let mut v = F::new(0.0);
            for j in 0..s {
                v += h * coef[e + j] * lane.sf[j * d + p];
            }
            lane.err[p] = v;
        }
    }
    outcome
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

/// All stages together by the transformed simplified Newton iteration (`full.rs`): 0 done, 1
/// Newton failed, 2 a non-finite Jacobian.
#[cube]
fn full_stages<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    max_iter: u32,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let (b, e, sc) = (comptime!(b_at(s)), comptime!(e_at(s)), comptime!(scalars_at(s)));
    let (t_m, t_inv_m, m) = (comptime!(t_at(s)), comptime!(t_inv_at(s)), comptime!(m_at(s)));
    let mut outcome = 0u32;
    if !ensure_jacobian::<F>(lane, fi, fd, d) {
        outcome = 2;
    }
    if outcome == 0 {
        // Starting values: W = (Σ_k r^k M_k ⊗ I) Z_prev, or 0.
        if flag::<F>(lane, 5) && coef[sc + C_COLLOCATION] == F::new(1.0) {
            let r = h / lane.val[3];
            for q in 0..s * d {
                lane.w[q] = F::new(0.0);
            }
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
        } else {
            for q in 0..s * d {
                lane.w[q] = F::new(0.0);
            }
        }
        newton_start::<F>(lane);
        let real_row = coef[sc + C_REAL_ROW];
        let complex_row = coef[sc + C_COMPLEX_ROW];
        let mut verdict = 0u32;
        while verdict == 0 {
            // Y = y + (T⊗I)W, F_i = f(Y_i), G = (T⁻¹⊗I)F.
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
            if !all_finite::<F>(&lane.dw, comptime!(s * d)) {
                verdict = 2;
            } else {
                apply::<F>(coef, t_inv_m, &lane.dw, &mut lane.sf, d, s);
                if real_row >= F::new(0.0) {
                    let k = usize::cast_from(u32::cast_from(real_row));
                    let sigma = shift::<F>(coef[sc + C_REAL_GAMMA], h);
                    for p in 0..d {
                        lane.tmp[p] = lane.sf[k * d + p] - sigma * lane.w[k * d + p];
                    }
                    if !solve_real::<F>(lane, sigma, d) {
                        verdict = 2;
                    }
                    for p in 0..d {
                        lane.dw[k * d + p] = lane.tmp[p];
                    }
                }
                if complex_row >= F::new(0.0) && verdict == 0 {
                    let k = usize::cast_from(u32::cast_from(complex_row));
                    let (sr, si) = (coef[sc + C_ALPHA] / h, coef[sc + C_BETA] / h);
                    for p in 0..d {
                        let (wr, wi) = (lane.w[k * d + p], lane.w[(k + 1) * d + p]);
                        lane.cr[p] = lane.sf[k * d + p] - (sr * wr - si * wi);
                        lane.ci[p] = lane.sf[(k + 1) * d + p] - (sr * wi + si * wr);
                    }
                    if !solve_complex::<F>(lane, sr, si, d) {
                        verdict = 2;
                    }
                    for p in 0..d {
                        lane.dw[k * d + p] = lane.cr[p];
                        lane.dw[(k + 1) * d + p] = lane.ci[p];
                    }
                }
                if verdict == 0 {
                    for q in 0..s * d {
                        lane.w[q] += lane.dw[q];
                    }
                    let norm = rms::<F>(&lane.dw, &lane.wt, comptime!(s * d), d);
                    verdict = newton_check::<F>(lane, norm, coef[comptime!(settings_at(s)) + S_NEWTON_TOL], max_iter);
                }
            }
        }
        if verdict != 1 {
            outcome = 1;
        }
    }
    if outcome == 0 {
        lane.val[8] = F::max(lane.val[8], lane.run[3]);
        // Z = (T⊗I)W in dw, Y = y + Z, y_new = y + Σ (bᵀA⁻¹)_j Z_j, err = Σ (eᵀA⁻¹)_j Z_j.
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
    outcome
}

/// The scaled error of the attempt (`rk.rs`, `error`) into `val[7]`: adds `h·f0c·f(y_n)`,
/// filters by `(I − hγJ)⁻¹` when the method does, and takes the weighted norm with weights at
/// `max(|y_n|, |y_new|)`. 0 done, 1 singular filter, 2 non-finite `f(y_n)`.
#[cube]
fn error<F: Float>(
    lane: &mut Lane<F>,
    coef: &[F],
    fi: &[u32],
    fd: &[F],
    h: F,
    #[comptime] d: usize,
    #[comptime] s: usize,
) -> u32 {
    let sc = comptime!(scalars_at(s));
    let mut outcome = 0u32;
    let f0c = coef[sc + C_F0];
    if f0c != F::new(0.0) {
        if ensure_f0::<F>(lane, fi, fd, d) {
            for p in 0..d {
                lane.err[p] += h * f0c * lane.f0[p];
            }
        } else {
            outcome = 2;
        }
    }
    let g = coef[sc + C_FILTER];
    if outcome == 0 && g != F::new(0.0) {
        if !ensure_jacobian::<F>(lane, fi, fd, d) {
            outcome = 2;
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
                outcome = 1;
            }
        }
    }
    if outcome == 0 {
        for p in 0..d {
            let m = F::max(F::abs(lane.y[p]), F::abs(lane.y_new[p]));
            lane.ftmp[p] = coef[comptime!(tol_at(s)) + d + p] + coef[comptime!(tol_at(s)) + p] * m;
        }
        lane.val[7] = rms::<F>(&lane.err, &lane.ftmp, d, d);
    }
    outcome
}

/// Newton weights `atol + rtol·|y|` into `wt`.
#[cube]
fn newton_weights<F: Float>(lane: &mut Lane<F>, coef: &[F], #[comptime] d: usize, #[comptime] s: usize) {
    let tol = comptime!(tol_at(s));
    let mut floor = F::new(0.0);
    for p in 0..d {
        lane.wt[p] = coef[tol + d + p] + coef[tol + p] * F::abs(lane.y[p]);
        floor = F::max(floor, F::abs(lane.y[p]) / lane.wt[p]);
    }
    // The smallest correction the float type resolves, in the weighted norm: Newton corrections
    // at this level are rounding, converged (in f64 it is far below the Newton tolerance).
    lane.val[13] = F::new(4.0) * coef[comptime!(settings_at(s)) + S_EPS] * floor;
}

/// Starting step (Hairer, Nørsett & Wanner I, II.4; `driver.rs`, `initial_step`); 0 if `f(y0)`
/// is not finite.
#[cube]
fn initial_step<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], span: F, #[comptime] d: usize) -> F {
    for p in 0..d {
        lane.tmp[p] = lane.y[p];
    }
    eval::<F>(lane, fi, fd, d);
    let mut h = F::new(0.0);
    if all_finite::<F>(&lane.ftmp, d) {
        let d0 = rms::<F>(&lane.y, &lane.wt, d, d);
        let d1 = rms::<F>(&lane.ftmp, &lane.wt, d, d);
        let mut h0 = F::min(F::new(0.01) * d0 / d1, span);
        if d0 < F::new(1e-5) || d1 < F::new(1e-5) {
            h0 = F::new(1e-6) * span;
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
        let mut h1 = F::sqrt(F::new(0.01) / dm);
        if dm <= F::new(1e-15) {
            h1 = F::max(h0 * F::new(1e-3), F::new(1e-6) * span);
        }
        // A non-finite f(y0 + h0 f0) gives h1 = 0: the solve stops with a step too small.
        if finite::<F>(d2) {
            h = F::min(F::min(F::new(100.0) * h0, h1), span);
        }
    }
    h
}

/// RADAU5's safety factor `min(0.9, 0.9(1 + 2k_max)/(k + 2k_max))` for `k` Newton iterations.
#[cube]
fn newton_safety<F: Float>(k: u32, max_iter: u32) -> F {
    let num = F::new(0.9) * F::cast_from(1 + 2 * max_iter);
    F::min(num / F::cast_from(k + 2 * max_iter), F::new(0.9))
}

/// Factor for the next step after an accepted step (`step_control.rs`, `Controller::accept`).
#[cube]
fn controller_accept<F: Float>(lane: &mut Lane<F>, err_in: F, k: F, h: F, safety: F, predictive: bool) -> F {
    let err = F::max(err_in, F::new(1e-10));
    let mut fac = F::new(0.9) * F::powf(err, F::new(-0.7) / k);
    if predictive {
        fac = F::clamp(safety * F::powf(err, F::new(-1.0) / k), F::new(0.2), F::new(8.0));
        if flag::<F>(lane, 6) {
            let g = safety * (h / lane.val[5]) * F::powf(lane.val[4] / (err * err), F::new(1.0) / k);
            fac = F::min(fac, F::clamp(g, F::new(0.2), F::new(8.0)));
        }
        lane.val[4] = F::max(err, F::new(1e-2));
    } else {
        if flag::<F>(lane, 6) {
            fac *= F::powf(lane.val[4], F::new(0.4) / k);
        }
        lane.val[4] = err;
        fac = F::clamp(fac, F::new(0.2), F::new(5.0));
    }
    lane.val[5] = h;
    set_flag::<F>(lane, 6, true);
    if flag::<F>(lane, 7) {
        fac = F::min(fac, F::new(1.0));
    }
    set_flag::<F>(lane, 7, false);
    fac
}

/// Factor for retrying a rejected step (`Controller::reject`).
#[cube]
fn controller_reject<F: Float>(lane: &mut Lane<F>, err: F, k: F, safety: F, predictive: bool) -> F {
    set_flag::<F>(lane, 7, true);
    let mut fac = F::new(0.2);
    if finite::<F>(err) {
        if predictive {
            if flag::<F>(lane, 6) {
                fac = F::clamp(safety * F::powf(err, F::new(-1.0) / k), F::new(0.2), F::new(1.0));
            } else {
                fac = F::new(0.1);
            }
        } else {
            fac = F::clamp(F::new(0.9) * F::powf(err, F::new(-1.0) / k), F::new(0.2), F::new(1.0));
        }
    }
    fac
}

/// Write the accepted step to the record: `t`, `h`, `t_next`, `y_new`, the stage values.
#[cube]
#[allow(clippy::too_many_arguments)]
fn record_step<F: Float>(
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

/// A lane with its arrays sized for `d`, `s` and the field, counters and flags cleared, the
/// carried Newton `η` at 1.
#[cube]
pub(super) fn new_lane<F: Float>(
    #[comptime] d: usize,
    #[comptime] s: usize,
    #[comptime] mlp: bool,
    #[comptime] width: usize,
) -> Lane<F> {
    let mut lane = Lane::<F> {
        y: Array::new(d),
        y_new: Array::new(d),
        wt: Array::new(d),
        f0: Array::new(d),
        tmp: Array::new(d),
        ftmp: Array::new(d),
        err: Array::new(d),
        sy: Array::new(comptime!(s * d)),
        sf: Array::new(comptime!(s * d)),
        w: Array::new(comptime!(s * d)),
        dw: Array::new(comptime!(s * d)),
        z_prev: Array::new(comptime!(s * d)),
        jac: Array::new(comptime!(d * d)),
        lu: Array::new(comptime!(d * d)),
        piv: Array::new(d),
        lu_re: Array::new(comptime!(d * d)),
        lu_im: Array::new(comptime!(d * d)),
        piv_c: Array::new(d),
        cr: Array::new(d),
        ci: Array::new(d),
        cnt: Array::new(COUNTERS),
        run: Array::new(4usize),
        flag: Array::new(8usize),
        val: Array::new(14usize),
        mx: Array::new(width),
        mz: Array::new(width),
        mdx: Array::new(comptime!(width * d)),
        mdz: Array::new(comptime!(width * d)),
        mlp,
    };
    for k in 0..COUNTERS {
        lane.cnt[k] = 0;
    }
    for k in 0..8 {
        lane.flag[k] = 0;
    }
    for k in 0..14 {
        lane.val[k] = F::new(0.0);
    }
    lane.val[6] = F::new(1.0);
    lane
}

/// Whether the device's loop limiter has fired (software Vulkan ends every loop of an invocation
/// after 65,535 iterations in all): a loop of `ints[I_TWO]` iterations then runs only once.
#[cube]
pub(super) fn limiter_fired(ints: &[u32]) -> bool {
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
fn checkpoint<F: Float>(
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
    state[base + 3] = F::cast_from(lane.flag[0]);
    state[base + 4] = F::cast_from(lane.flag[5]);
    state[base + 5] = lane.val[3];
    state[base + 6] = F::cast_from(lane.flag[6]);
    state[base + 7] = lane.val[4];
    state[base + 8] = lane.val[5];
    state[base + 9] = lane.val[6];
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

/// Load the current checkpoint into the lane; returns `(t, h, o)` in `val[10..13]`.
#[cube]
fn restore<F: Float>(
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
    lane.val[10] = state[base];
    lane.val[11] = state[base + 1];
    lane.val[12] = state[base + 2];
    lane.flag[0] = u32::cast_from(state[base + 3]);
    lane.flag[5] = u32::cast_from(state[base + 4]);
    lane.val[3] = state[base + 5];
    lane.flag[6] = u32::cast_from(state[base + 6]);
    lane.val[4] = state[base + 7];
    lane.val[5] = state[base + 8];
    lane.val[6] = state[base + 9];
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
    let y0 = times + ints[I_OUTPUTS] as usize;
    for p in 0..d {
        lane.y[p] = coef[y0 + b * d + p];
    }
    let (n_out, max_steps, max_iter) = (ints[I_OUTPUTS] as usize, ints[I_MAX_STEPS], ints[I_MAX_ITER]);
    let capacity = ints[I_RECORD];
    let sc = comptime!(scalars_at(s));
    let (err_order, predictive) = (coef[sc + C_ERR_ORDER], coef[sc + C_PREDICTIVE] == F::new(1.0));
    let explicit_first = coef[sc + C_EXPLICIT_FIRST] == F::new(1.0);
    let eps = coef[st + S_EPS];
    let at = b * 2 * comptime!(checkpoint_width(d, s));
    let mut t = coef[st + S_T0];
    let mut status = STATUS_OK.runtime();
    let mut h = coef[st + S_H0];
    let mut o = 0u32;
    if resume {
        restore::<F>(&mut lane, state, counters, at, tc, d, s);
        t = lane.val[10];
        h = lane.val[11];
        o = u32::cast_from(lane.val[12]);
    } else {
        newton_weights::<F>(&mut lane, coef, d, s);
        if h <= F::new(0.0) {
            h = initial_step::<F>(&mut lane, fi, fd, coef[st + S_SPAN], d);
        }
        if checkpoints {
            counters[tc + 2 * COUNTERS] = 1;
            checkpoint::<F>(&mut lane, state, counters, ints, at, tc, t, h, o, d, s);
        }
    }
    let mut step = h;
    let (budget, mut attempts) = (ints[I_BUDGET], 0u32);
    // One flat loop: write the outputs the trajectory has reached, else attempt a step towards
    // the next output time (landing on it exactly).
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
            // Land exactly on t_out; split a remainder below two steps evenly.
            let last = t + h >= t_out;
            step = h;
            if last {
                step = t_out - t;
            } else if t + F::new(2.0) * h > t_out {
                step = F::new(0.5) * (t_out - t);
            }
            if status == STATUS_OK && (step < F::new(16.0) * eps * F::abs(t) || step <= F::new(0.0)) {
                status = STATUS_STEP_TOO_SMALL;
            }
            if status == STATUS_OK {
                let newton_before = lane.cnt[NEWTON];
                lane.val[8] = F::new(0.0);
                lane.val[9] = F::new(0.0);
                let mut outcome = 0u32;
                if explicit_first && !ensure_f0::<F>(&mut lane, fi, fd, d) {
                    outcome = 2;
                }
                if outcome == 0 {
                    if full {
                        outcome = full_stages::<F>(&mut lane, coef, fi, fd, step, max_iter, d, s);
                    } else {
                        outcome = dirk_stages::<F>(&mut lane, coef, fi, fd, step, max_iter, d, s);
                    }
                }
                if outcome == 0 {
                    outcome = error::<F>(&mut lane, coef, fi, fd, step, d, s);
                }
                if limiter_fired(ints) {
                    // The attempt's loops were cut short: its results are not to be used.
                    status = STATUS_INTERRUPTED;
                } else if outcome == 2 {
                    status = STATUS_NON_FINITE;
                } else if outcome == 1 {
                    // Newton failed: retry with a fresh Jacobian, else halve the step.
                    if flag::<F>(&mut lane, 1) {
                        lane.cnt[REJECTED] += 1;
                        h = F::new(0.5) * step;
                    } else {
                        invalidate::<F>(&mut lane);
                    }
                } else {
                    let err = lane.val[7];
                    let safety = newton_safety::<F>(lane.cnt[NEWTON] - newton_before, max_iter);
                    if err <= F::new(1.0) {
                        let mut t_next = t + step;
                        if last {
                            t_next = t_out;
                        }
                        lane.cnt[STEPS] += 1;
                        if capacity > 0 {
                            if lane.cnt[STEPS] > capacity {
                                status = STATUS_RECORD_FULL;
                            } else {
                                let width = comptime!(record_width(d, s));
                                let at = (b * capacity as usize + lane.cnt[STEPS] as usize - 1) * width;
                                record_step::<F>(&mut lane, record, at, t, step, t_next, d, s);
                            }
                        }
                        for p in 0..d {
                            lane.y[p] = lane.y_new[p];
                        }
                        // The step's Newton solves: keep the Jacobian while they contract
                        // fast (RADAU5's rule; one solve per step for a full method).
                        set_flag::<F>(&mut lane, 4, false);
                        set_flag::<F>(&mut lane, 1, false);
                        if full {
                            for q in 0..s * d {
                                lane.z_prev[q] = lane.dw[q];
                            }
                            lane.val[3] = step;
                            set_flag::<F>(&mut lane, 5, true);
                        }
                        let slow = lane.val[8] > F::new(1e-3) && (!full || lane.val[9] > F::new(2.0));
                        if slow {
                            invalidate::<F>(&mut lane);
                        }
                        let mut fac = controller_accept::<F>(&mut lane, err, err_order, step, safety, predictive);
                        if fac >= F::new(1.0) && fac <= F::new(1.2) {
                            fac = F::new(1.0);
                        }
                        let mut h_next = step * fac;
                        if last {
                            h_next = F::max(step * fac, F::min(h, step * F::new(5.0)));
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
    // Loops that end with the trajectory unfinished and no failure were stopped by the device:
    // software Vulkan (llvmpipe) ends every loop of an invocation after 65,535 iterations in all.
    if status == STATUS_OK && (o as usize) < n_out {
        status = STATUS_INTERRUPTED;
    }
    // After a failure the host reads the remaining outputs as NaN (past the time reached).
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
