//! One trajectory's working memory (its [`Lane`]) and the named places in it: the flags, the
//! scalars and the Newton run, each by a constant, not a bare index. Also what every part of the
//! step reads a lane through: the field and its Jacobian (the kernel is compiled for one of the
//! two field forms, mass action or MLP), the weighted RMS norm, the finiteness checks and the
//! Newton weights.

use cubecl::prelude::*;

use super::layout::{COUNTERS, EVALS, JACOBIANS, S_EPS, settings_at, tol_at};
use crate::ensemble::{mass_action, mlp};

/// Flag: a Jacobian `J(y_n)` is held.
pub(super) const JACOBIAN_HELD: usize = 0;
/// Flag: the held Jacobian was taken in this attempt (a failed Newton solve then halves the step
/// instead of taking a fresh one).
pub(super) const JACOBIAN_FRESH: usize = 1;
/// Flag: LU factors of `σI − J` are held, for the shift at [`REAL_SHIFT`].
pub(super) const REAL_FACTORS: usize = 2;
/// Flag: LU factors of `(σr + iσi)I − J` are held, for the shift at [`COMPLEX_SHIFT`].
pub(super) const COMPLEX_FACTORS: usize = 3;
/// Flag: `f(t_n, y_n)` is held in `f0`.
pub(super) const F0_HELD: usize = 4;
/// Flag: the last accepted step's `Z` is held (RADAU5's starting values).
pub(super) const Z_PREV_HELD: usize = 5;
/// Flag: the controller has a history (an accepted step before this one).
pub(super) const HISTORY: usize = 6;
/// Flag: the last attempt was rejected (the next accepted step may not grow).
pub(super) const LAST_REJECTED: usize = 7;
/// Number of flags.
pub(super) const FLAGS: usize = 8;

/// Scalar: the shift `σ` of the held real factors.
pub(super) const REAL_SHIFT: usize = 0;
/// Scalars: the shift `σr`, `σi` of the held complex factors (two places).
pub(super) const COMPLEX_SHIFT: usize = 1;
/// Scalar: the last accepted step's `h` (for the starting values).
pub(super) const H_PREV: usize = 3;
/// Scalar: the controller's last accepted error.
pub(super) const CONTROL_ERR: usize = 4;
/// Scalar: the controller's last accepted step.
pub(super) const CONTROL_H: usize = 5;
/// Scalar: `η` carried from the last converged Newton solve to the next one's first iteration.
pub(super) const ETA_CARRIED: usize = 6;
/// Scalar: the attempt's scaled error.
pub(super) const ATTEMPT_ERR: usize = 7;
/// Scalar: the attempt's largest Newton contraction rate `θ`.
pub(super) const ATTEMPT_THETA: usize = 8;
/// Scalar: the most iterations one Newton solve of the attempt took.
pub(super) const ATTEMPT_ITERATIONS: usize = 9;
/// Scalars: `t`, `h` and the next output index as a checkpoint restores them (three places).
pub(super) const RESTORED: usize = 10;
/// Scalar: the smallest Newton correction the float type resolves at `y_n`, in the weighted
/// norm (a correction below it is rounding: converged).
pub(super) const NEWTON_FLOOR: usize = 13;
/// Number of scalars.
pub(super) const SCALARS: usize = 14;

/// The Newton run: the iteration `k`.
pub(super) const RUN_K: usize = 0;
/// The Newton run: the previous correction's norm.
pub(super) const RUN_PREV_NORM: usize = 1;
/// The Newton run: `η = θ/(1 − θ)`.
pub(super) const RUN_ETA: usize = 2;
/// The Newton run: the largest `θ`.
pub(super) const RUN_THETA: usize = 3;
/// Length of the Newton run.
pub(super) const RUN_LEN: usize = 4;

/// Outcome of a part of a step attempt (the stages, the error estimate): done.
pub(super) const DONE: u32 = 0;
/// Outcome: Newton failed or a matrix was singular; retry with a fresh Jacobian, else a smaller
/// step (the host's `Outcome::NewtonFailed`).
pub(super) const RETRY: u32 = 1;
/// Outcome: `f` or `J` was not finite where no retry is possible (the host's non-finite error).
pub(super) const NON_FINITE: u32 = 2;

/// One trajectory's working memory.
#[derive(CubeType)]
pub struct Lane<F: Float> {
    pub(in crate::ensemble) y: Array<F>,
    pub(super) y_new: Array<F>,
    /// Newton weights at the step's start, then the error weights.
    pub(super) wt: Array<F>,
    pub(super) f0: Array<F>,
    pub(super) tmp: Array<F>,
    pub(super) ftmp: Array<F>,
    pub(super) err: Array<F>,
    /// Stage values `[s][d]`, stage derivatives `F` (or `(T⁻¹⊗I)F`), `W`, `ΔW` (then `Z`), and
    /// the last accepted step's `Z`.
    pub(super) sy: Array<F>,
    pub(super) sf: Array<F>,
    pub(super) w: Array<F>,
    pub(super) dw: Array<F>,
    pub(super) z_prev: Array<F>,
    pub(in crate::ensemble) jac: Array<F>,
    pub(super) lu: Array<F>,
    pub(super) piv: Array<u32>,
    pub(super) lu_re: Array<F>,
    pub(super) lu_im: Array<F>,
    pub(super) piv_c: Array<u32>,
    pub(super) cr: Array<F>,
    pub(super) ci: Array<F>,
    /// Counters (`STEPS`…`STATUS`).
    pub(super) cnt: Array<u32>,
    /// The Newton run (`RUN_*`).
    pub(super) run: Array<F>,
    /// Flags (`JACOBIAN_HELD`…`LAST_REJECTED`), 0 or 1.
    pub(super) flag: Array<u32>,
    /// MLP scratch: `x`, `z` (`width`), their derivatives (`width·d`).
    pub(super) mx: Array<F>,
    pub(super) mz: Array<F>,
    pub(super) mdx: Array<F>,
    pub(super) mdz: Array<F>,
    /// The field is an MLP (else mass action).
    #[cube(comptime)]
    pub(super) mlp: bool,
    /// Scalars (`REAL_SHIFT`…`NEWTON_FLOOR`).
    pub(super) val: Array<F>,
}

#[cube]
pub(super) fn flag<F: Float>(lane: &mut Lane<F>, i: usize) -> bool {
    lane.flag[i] == 1
}

#[cube]
pub(super) fn set_flag<F: Float>(lane: &mut Lane<F>, i: usize, on: bool) {
    lane.flag[i] = u32::cast_from(on);
}

/// `sqrt(mean_k (v_k / w_{k mod d})²)` over `n` values (Hairer I, II.4, (4.11)).
#[cube]
pub(super) fn rms<F: Float>(v: &Array<F>, w: &Array<F>, #[comptime] n: usize, #[comptime] d: usize) -> F {
    let mut sum = F::new(0.0);
    for k in 0..n {
        let x = v[k] / w[k % d];
        sum += x * x;
    }
    F::sqrt(sum / F::cast_from(n as u32))
}

#[cube]
pub(super) fn finite<F: Float>(x: F) -> bool {
    u32::cast_from(x.is_nan()) + u32::cast_from(x.is_inf()) == 0
}

#[cube]
pub(super) fn all_finite<F: Float>(v: &Array<F>, #[comptime] n: usize) -> bool {
    let mut ok = true;
    for k in 0..n {
        ok = ok && finite::<F>(v[k]);
    }
    ok
}

/// `f(tmp)` into `ftmp`: the field the kernel was compiled for.
#[cube]
pub(super) fn field<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) {
    if comptime!(lane.mlp) {
        mlp::eval::<F>(fi, fd, &lane.tmp, &mut lane.ftmp, &mut lane.mx, &mut lane.mz, d);
    } else {
        mass_action::eval::<F>(fi, fd, &lane.tmp, &mut lane.ftmp, d);
    }
}

/// `∂f/∂y` at `y` into `jac`.
#[cube]
pub(in crate::ensemble) fn field_jacobian<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) {
    if comptime!(lane.mlp) {
        mlp::jacobian::<F>(fi, fd, &lane.y, &mut lane.jac, &mut lane.mx, &mut lane.mz, &mut lane.mdx, &mut lane.mdz, d);
    } else {
        mass_action::jacobian::<F>(fi, fd, &lane.y, &mut lane.jac, d);
    }
}

/// `f(tmp)` into `ftmp`, counted.
#[cube]
pub(super) fn eval<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) {
    field::<F>(lane, fi, fd, d);
    lane.cnt[EVALS] += 1;
}

/// `J(y)` unless one is held; false if it is not finite.
#[cube]
pub(super) fn ensure_jacobian<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !flag::<F>(lane, JACOBIAN_HELD) {
        field_jacobian::<F>(lane, fi, fd, d);
        lane.cnt[JACOBIANS] += 1;
        set_flag::<F>(lane, JACOBIAN_HELD, true);
        set_flag::<F>(lane, JACOBIAN_FRESH, true);
        set_flag::<F>(lane, REAL_FACTORS, false);
        set_flag::<F>(lane, COMPLEX_FACTORS, false);
        ok = all_finite::<F>(&lane.jac, comptime!(d * d));
    }
    ok
}

/// Drop the Jacobian and its factors.
#[cube]
pub(super) fn invalidate<F: Float>(lane: &mut Lane<F>) {
    set_flag::<F>(lane, JACOBIAN_HELD, false);
    set_flag::<F>(lane, REAL_FACTORS, false);
    set_flag::<F>(lane, COMPLEX_FACTORS, false);
}

/// `f(t_n, y_n)` into `f0` unless it is held; false if it is not finite.
#[cube]
pub(super) fn ensure_f0<F: Float>(lane: &mut Lane<F>, fi: &[u32], fd: &[F], #[comptime] d: usize) -> bool {
    let mut ok = true;
    if !flag::<F>(lane, F0_HELD) {
        for i in 0..d {
            lane.tmp[i] = lane.y[i];
        }
        eval::<F>(lane, fi, fd, d);
        for i in 0..d {
            lane.f0[i] = lane.ftmp[i];
        }
        ok = all_finite::<F>(&lane.f0, d);
        set_flag::<F>(lane, F0_HELD, ok);
    }
    ok
}

/// Newton weights `atol + rtol·|y|` into `wt`.
#[cube]
pub(super) fn newton_weights<F: Float>(lane: &mut Lane<F>, coef: &[F], #[comptime] d: usize, #[comptime] s: usize) {
    let tol = comptime!(tol_at(s));
    let mut floor = F::new(0.0);
    for p in 0..d {
        lane.wt[p] = coef[tol + d + p] + coef[tol + p] * F::abs(lane.y[p]);
        floor = F::max(floor, F::abs(lane.y[p]) / lane.wt[p]);
    }
    // The smallest correction the float type resolves, in the weighted norm: Newton corrections
    // at this level are rounding, converged (in f64 it is far below the Newton tolerance).
    lane.val[NEWTON_FLOOR] = F::new(4.0) * coef[comptime!(settings_at(s)) + S_EPS] * floor;
}

/// A lane with its arrays sized for `d`, `s` and the field, counters and flags cleared, the
/// carried Newton `η` at 1.
#[cube]
pub(in crate::ensemble) fn new_lane<F: Float>(
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
        run: Array::new(RUN_LEN),
        flag: Array::new(FLAGS),
        val: Array::new(SCALARS),
        mx: Array::new(width),
        mz: Array::new(width),
        mdx: Array::new(comptime!(width * d)),
        mdz: Array::new(comptime!(width * d)),
        mlp,
    };
    for k in 0..COUNTERS {
        lane.cnt[k] = 0;
    }
    for k in 0..FLAGS {
        lane.flag[k] = 0;
    }
    for k in 0..SCALARS {
        lane.val[k] = F::new(0.0);
    }
    lane.val[ETA_CARRIED] = F::new(1.0);
    lane
}
