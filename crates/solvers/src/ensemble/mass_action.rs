//! A mass-action mechanism evaluated in a GPU thread: reaction tables and rate constants in
//! device memory, `f` and the analytic Jacobian into the thread's local arrays (the formulas of
//! `stiffnode_chemistry::MassActionField`'s host form).
//!
//! Rate of reaction `r`: `k_r Π_q y_{i_q}^{p_q}` over its orders `q`; `f_i += ν_{ri}·rate_r` over
//! its net coefficients; `∂rate_r/∂y_l = k_r·p_l·y_l^{p_l−1}·Π_{q≠l} y_{i_q}^{p_q}`.
//!
//! Tables: `ints = [reactions, order starts (reactions+1), net starts (reactions+1), order species…,
//! net species…]`, `floats = [k…, order powers…, net coefficients…]`.

use cubecl::prelude::*;

/// `x^p`, by products for whole orders as the host form computes it.
#[cube]
pub fn power<F: Float>(x: F, p: F) -> F {
    let mut r = x;
    if p == F::new(0.0) {
        r = F::new(1.0);
    } else if p == F::new(2.0) {
        r = x * x;
    } else if p != F::new(1.0) {
        if F::floor(p) == p && F::abs(p) < F::new(64.0) {
            let n = u32::cast_from(F::abs(p));
            let mut acc = F::new(1.0);
            for _ in 0..n {
                acc *= x;
            }
            r = acc;
            if p < F::new(0.0) {
                r = F::new(1.0) / acc;
            }
        } else {
            r = F::powf(x, p);
        }
    }
    r
}

/// Offsets in the tables: reactions, net starts, order species, net species, net coefficients
/// (order starts at 1, order powers at `reactions`).
#[cube]
fn layout(ints: &[u32]) -> (usize, usize, usize, usize, usize) {
    let nr = ints[0] as usize;
    let ord_species = 3 + 2 * nr;
    let n_ord = ints[1 + nr] as usize;
    (nr, 2 + nr, ord_species, ord_species + n_ord, nr + n_ord)
}

/// `f(y)` into `f`.
#[cube]
pub fn eval<F: Float>(ints: &[u32], floats: &[F], y: &Array<F>, f: &mut Array<F>, #[comptime] d: usize) {
    let (nr, net, ord_species, net_species, coefs) = layout(ints);
    let (ord, powers) = (1usize, nr);
    for i in 0..d {
        f[i] = F::new(0.0);
    }
    for r in 0..nr {
        let mut rate = floats[r];
        for q in ints[ord + r] as usize..ints[ord + r + 1] as usize {
            rate *= power::<F>(y[ints[ord_species + q] as usize], floats[powers + q]);
        }
        for q in ints[net + r] as usize..ints[net + r + 1] as usize {
            let i = ints[net_species + q] as usize;
            f[i] += floats[coefs + q] * rate;
        }
    }
}

/// `∂f/∂y` row-major into `jac` (`d·d` values).
#[cube]
pub fn jacobian<F: Float>(ints: &[u32], floats: &[F], y: &Array<F>, jac: &mut Array<F>, #[comptime] d: usize) {
    let (nr, net, ord_species, net_species, coefs) = layout(ints);
    let (ord, powers) = (1usize, nr);
    for i in 0..d * d {
        jac[i] = F::new(0.0);
    }
    for r in 0..nr {
        let (start, end) = (ints[ord + r] as usize, ints[ord + r + 1] as usize);
        for a in start..end {
            let l = ints[ord_species + a] as usize;
            let pl = floats[powers + a];
            let mut others = floats[r];
            for q in start..end {
                if q != a {
                    others *= power::<F>(y[ints[ord_species + q] as usize], floats[powers + q]);
                }
            }
            let dr = others * pl * power::<F>(y[l], pl - F::new(1.0));
            for q in ints[net + r] as usize..ints[net + r + 1] as usize {
                let i = ints[net_species + q] as usize;
                jac[i * d + l] += floats[coefs + q] * dr;
            }
        }
    }
}

/// Add `(∂f/∂log10 k_r)ᵀc = ln 10 · rate_r(y) · (ν_r·c)` for every reaction `r` to `g[at + r]`
/// (the host form's parameter product, for all reactions; the host keeps the learnable ones).
#[cube]
pub fn vjp<F: Float>(ints: &[u32], floats: &[F], y: &Array<F>, c: &Array<F>, g: &mut [F], at: usize) {
    let (nr, net, ord_species, net_species, coefs) = layout(ints);
    let (ord, powers) = (1usize, nr);
    for r in 0..nr {
        let mut rate = floats[r] * F::new(core::f32::consts::LN_10);
        for q in ints[ord + r] as usize..ints[ord + r + 1] as usize {
            rate *= power::<F>(y[ints[ord_species + q] as usize], floats[powers + q]);
        }
        let mut dot = F::new(0.0);
        for q in ints[net + r] as usize..ints[net + r + 1] as usize {
            dot += floats[coefs + q] * c[ints[net_species + q] as usize];
        }
        g[at + r] += rate * dot;
    }
}
