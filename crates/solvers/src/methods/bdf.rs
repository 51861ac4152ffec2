//! Variable-order (1–5), variable-step BDF in fixed-leading-coefficient (FLC) form, as DASSL
//! runs it (Brenan, Campbell & Petzold 1996, §5.2; Jackson & Sacks-Davis 1980), its history the
//! accepted points themselves.
//!
//! A step of order `k` from `t_n` to `t_{n+1} = t_n + h` takes the predictor `p`, the polynomial
//! of degree `k` through the last `k+1` accepted points `(τ_j, y_{n−j})`, `τ_j = t_{n−j}`, and
//! the corrector `u` of degree `k` that agrees with `p` at `t_{n+1} − ih` (`i = 1…k`) and with
//! `y_{n+1}` at `t_{n+1}`, and asks `u'(t_{n+1}) = f(t_{n+1}, y_{n+1})`. Then
//! `u − p = c·Π_i (t − t_{n+1} + ih)`, and with `s_j = t_{n+1} − τ_j` and `ℓ_j` the Lagrange basis
//! of the nodes `τ`:
//!
//! `y_{n+1} = Σ_j α_j y_{n−j} + hγ_k f(t_{n+1}, y_{n+1})`, `α_j = ℓ_j(t_{n+1})(1 − hγ_k Σ_{m≠j} 1/s_m)`,
//!
//! `γ_k = 1/Σ_{i=1}^k 1/i`: the leading coefficient is the constant-step BDF's whatever the step
//! history, so the iteration matrix `I − hγ_kJ` changes only with `h` and `k`. With constant steps
//! `α_k = 0` and the formula is the classical BDF_k. Order 1 is backward Euler.
//!
//! The formula is exact for polynomials of degree `k`; its local error is `C·y[t_{n+1}, τ_0, …, τ_k]`
//! with `C` its residual on `(t − t_{n+1})^{k+1}` (`C = −Σ_j α_j(−s_j)^{k+1}`), and since
//! `y_{n+1} − p(t_{n+1}) = Π_j s_j · y[t_{n+1}, τ_0, …, τ_k]` the estimate needs no table:
//! `err_k = C/Π_j s_j · (y_{n+1} − p(t_{n+1}))`.
//!
//! Unlike CVODE's Nordsieck form, whose history after a step-size change is interpolated, every
//! step here is a linear combination of accepted points: its gradient is the one-stage adjoint
//! of BDF2's (design.md §4), the `α_j` and `γ_k` recorded with the step.

use num_complex::Complex64;

use super::MethodInfo;
use crate::error::SetupError;

/// Highest order.
pub const MAX_ORDER: usize = 5;
/// Most past points a step reads (`k+1` at order `k ≥ 2`).
pub const MAX_INPUTS: usize = MAX_ORDER + 1;

/// The variable-order BDF, its order chosen per step between 1 and `max_order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdf {
    max_order: usize,
}

/// One step's formula: `y_{n+1} = Σ_j α_j y_{n−j} + hγ f(t_{n+1}, y_{n+1})`, its predictor
/// `p(t_{n+1}) = Σ_j π_j y_{n−j}` and its error weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BdfFormula {
    /// The order `k`.
    pub order: usize,
    /// `α_j`, weight of `y_{n−j}` (`inputs` of them).
    pub alpha: [f64; MAX_INPUTS],
    /// Number of past points the formula reads (1 at order 1, `k+1` above).
    pub inputs: usize,
    /// The leading coefficient `γ_k`: the weight of `h f(t_{n+1}, y_{n+1})`.
    pub gamma: f64,
    /// `π_j`, weight of `y_{n−j}` in the predictor (over the `k+1` nodes, or the one node there is).
    pub predictor: [f64; MAX_INPUTS],
    /// Number of predictor nodes.
    pub nodes: usize,
    /// `C/Π_j s_j`: the local error is this times `y_{n+1} − p(t_{n+1})`.
    pub error_weight: f64,
}

impl Bdf {
    /// CLI name.
    pub const NAME: &'static str = "bdf";

    /// Orders 1 to `max_order` (at most [`MAX_ORDER`]).
    pub fn new(max_order: usize) -> Result<Self, SetupError> {
        if !(1..=MAX_ORDER).contains(&max_order) {
            let why = format!("{max_order} (BDF orders run from 1 to {MAX_ORDER})");
            return Err(SetupError::InvalidOption { what: "BDF order", why });
        }
        Ok(Self { max_order })
    }

    /// The highest order it takes.
    pub fn max_order(&self) -> usize {
        self.max_order
    }

    /// The row of the `methods` table: BDF3–5 are only A(α)-stable (86.0°, 73.4°, 51.8°).
    pub fn info(&self) -> MethodInfo {
        MethodInfo {
            name: Self::NAME,
            order: self.max_order as u32,
            stages: 1,
            a_stable: self.max_order <= 2,
            l_stable: self.max_order <= 2,
            stiffly_accurate: true,
            embedded: true,
        }
    }

    /// `γ_k = 1/Σ_{i=1}^k 1/i` (1, 2/3, 6/11, 12/25, 60/137).
    pub fn gamma(order: usize) -> f64 {
        const GAMMA: [f64; MAX_ORDER] = [1.0, 2.0 / 3.0, 6.0 / 11.0, 12.0 / 25.0, 60.0 / 137.0];
        GAMMA[order - 1]
    }

    /// The formula of order `k` for a step whose past points lie at `s_j = t_{n+1} − τ_j`
    /// (`s_0 = h`, increasing): `k+1` of them at order `k ≥ 2`; at order 1 one (backward Euler,
    /// predictor `y_n`) or two (the predictor extrapolates, and the error weight is defined).
    pub fn formula(order: usize, s: &[f64]) -> BdfFormula {
        let h = s[0];
        let gamma = Self::gamma(order);
        let nodes = if order == 1 { s.len().min(2) } else { order + 1 };
        let s = &s[..nodes];
        let mut f = BdfFormula {
            order,
            alpha: [0.0; MAX_INPUTS],
            inputs: if order == 1 { 1 } else { nodes },
            gamma,
            predictor: [0.0; MAX_INPUTS],
            nodes,
            error_weight: f64::NAN,
        };
        for j in 0..nodes {
            // ℓ_j(t_{n+1}) = Π_{m≠j} s_m/(s_m − s_j); ℓ'_j(t_{n+1}) = ℓ_j(t_{n+1}) Σ_{m≠j} 1/s_m.
            let (mut l, mut inv) = (1.0, 0.0);
            for (_, &sm) in s.iter().enumerate().filter(|(m, _)| *m != j) {
                l *= sm / (sm - s[j]);
                inv += 1.0 / sm;
            }
            f.predictor[j] = l;
            if order > 1 {
                f.alpha[j] = l * (1.0 - h * gamma * inv);
            }
        }
        if order == 1 {
            f.alpha[0] = 1.0;
        }
        if nodes == order + 1 {
            // C = −Σ_j α_j (−s_j)^{k+1}, over Π_j s_j.
            let c: f64 = -(0..f.inputs).map(|j| f.alpha[j] * (-s[j]).powi(order as i32 + 1)).sum::<f64>();
            f.error_weight = c / s.iter().product::<f64>();
        }
        f
    }

    /// `ρ(ζ) = Σ_{i=1}^k (1/i) ζ^{k−i}(ζ − 1)^i`, constant-step BDF_k's first characteristic
    /// polynomial (Hairer & Wanner II, V.1), by its coefficients, highest power first.
    fn rho(order: usize) -> Vec<f64> {
        let mut rho = vec![0.0; order + 1];
        for i in 1..=order {
            // ζ^{k−i}(ζ − 1)^i = Σ_m C(i,m)(−1)^{i−m} ζ^{k−i+m}: the power k−i+m sits at index i−m.
            let mut binom = 1.0;
            for m in 0..=i {
                rho[i - m] += binom * if (i - m) % 2 == 0 { 1.0 } else { -1.0 } / i as f64;
                binom = binom * (i - m) as f64 / (m + 1) as f64;
            }
        }
        rho
    }

    /// The stability function at order `k`: the principal root `ζ(z)` of `ρ(ζ) − zζ^k = 0`
    /// (constant steps), the one that is `e^z + O(z^{k+1})` near 0 — the factor by which a
    /// smooth solution grows per step, as [`Bdf2::stability`](super::Bdf2::stability) is for
    /// `k = 2` — and its derivative `dζ/dz = ζ^k/(ρ'(ζ) − kzζ^{k−1})`. It is followed from
    /// `z = 10⁻³·z/|z|` outwards along the ray by Newton's method, `|z|` growing by 1.25 a step;
    /// on the real axis along a ray tilted by 10⁻⁶ rad, so that where the principal root meets a
    /// spurious one and the two become a conjugate pair it continues as the member above the
    /// axis (BDF2's principal √). Away from 0 the spurious roots can be larger: BDF5's reach
    /// 0.75 at `z = −0.5`, where `e^z = 0.61`.
    pub fn stability(order: usize, z: Complex64) -> (Complex64, Complex64) {
        let rho = Self::rho(order);
        // p(ζ) = ρ(ζ) − wζ^k and p'(ζ), by Horner (coefficients highest power first).
        let eval = |w: Complex64, x: Complex64| -> (Complex64, Complex64) {
            let (mut v, mut dv) = (Complex64::new(0.0, 0.0), Complex64::new(0.0, 0.0));
            for (i, c) in rho.iter().enumerate() {
                let c = if i == 0 { c - w } else { Complex64::new(*c, 0.0) };
                dv = dv * x + v;
                v = v * x + c;
            }
            (v, dv)
        };
        let newton = |w: Complex64, mut x: Complex64| {
            for _ in 0..50 {
                let (v, dv) = eval(w, x);
                let step = v / dv;
                if !step.is_finite() {
                    break;
                }
                x -= step;
                if step.norm() <= 1e-15 * x.norm() {
                    break;
                }
            }
            x
        };
        let start = 1e-3;
        // On the real axis, tilt the ray into the upper half-plane.
        let tilt = match z.im {
            0.0 => Complex64::from_polar(1.0, if z.re < 0.0 { -1e-6 } else { 1e-6 }),
            _ => Complex64::new(1.0, 0.0),
        };
        let mut w = if z.norm() > start { z / z.norm() * start * tilt } else { z };
        let mut root = newton(w, w.exp());
        while w != z {
            w = if w.norm() * 1.25 >= z.norm() { z } else { w * 1.25 };
            root = newton(w, root);
        }
        let (_, dp) = eval(z, root);
        // p(ζ; z) = ρ(ζ) − zζ^k: ∂p/∂ζ dζ + ∂p/∂z dz = 0, ∂p/∂z = −ζ^k.
        (root, root.powi(order as i32) / dp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Constant steps: the classical BDF_k (Hairer, Nørsett & Wanner I, III.1, Table 1.2, divided
    /// by the coefficient of `y_{n+1}`), no weight on `y_{n−k}`, and the error constant
    /// `C_{k+1} = −γ_k/(k+1)` per `h^{k+1}y^{(k+1)}` (HNW I, III.2).
    #[test]
    fn constant_steps_give_the_classical_formulas_and_error_constants() {
        let classical: [(&[f64], f64); 5] = [
            (&[1.0], 1.0),
            (&[4.0 / 3.0, -1.0 / 3.0], 2.0 / 3.0),
            (&[18.0 / 11.0, -9.0 / 11.0, 2.0 / 11.0], 6.0 / 11.0),
            (&[48.0 / 25.0, -36.0 / 25.0, 16.0 / 25.0, -3.0 / 25.0], 12.0 / 25.0),
            (&[300.0 / 137.0, -300.0 / 137.0, 200.0 / 137.0, -75.0 / 137.0, 12.0 / 137.0], 60.0 / 137.0),
        ];
        let h = 0.3;
        for (k, (alpha, beta)) in classical.iter().enumerate().map(|(i, c)| (i + 1, c)) {
            let s: Vec<f64> = (1..=k + 1).map(|j| j as f64 * h).collect();
            let f = Bdf::formula(k, &s);
            assert!((f.gamma - beta).abs() < 1e-15, "order {k}: γ {}", f.gamma);
            for (j, a) in alpha.iter().enumerate() {
                assert!((f.alpha[j] - a).abs() < 1e-13, "order {k}: α_{j} = {}, classical {a}", f.alpha[j]);
            }
            if k > 1 {
                assert!(f.alpha[k].abs() < 1e-13, "order {k}: weight {} on y_(n−k)", f.alpha[k]);
            }
            // error_weight·(y_{n+1} − p) with y_{n+1} − p = Π s_j · y^{(k+1)}/(k+1)!.
            let lte = f.error_weight * s.iter().product::<f64>() / (1..=k + 1).product::<usize>() as f64;
            let expected = -beta / (k + 1) as f64 * h.powi(k as i32 + 1);
            assert!((lte / expected - 1.0).abs() < 1e-12, "order {k}: error constant {lte:e}, expected {expected:e}");
        }
    }

    /// On any grid the formula of order `k` is exact for polynomials of degree `k`
    /// (`P(t_{n+1}) = Σ α_j P(τ_j) + hγ P'(t_{n+1})`), and its predictor interpolates them.
    #[test]
    fn variable_steps_are_exact_for_polynomials_of_the_order() {
        let grid = [0.0, 0.1, 0.25, 0.31, 0.6, 0.64, 1.1];
        let t_new = 1.6;
        for k in 1..=MAX_ORDER {
            let s: Vec<f64> = grid.iter().rev().take(k + 1).map(|t| t_new - t).collect();
            let f = Bdf::formula(k, &s);
            let p = |t: f64| (0..=k).map(|i| (i as f64 + 1.0) * (t - 0.3).powi(i as i32)).sum::<f64>();
            let dp = |t: f64| (1..=k).map(|i| (i as f64 + 1.0) * i as f64 * (t - 0.3).powi(i as i32 - 1)).sum::<f64>();
            let past = |j: usize| p(t_new - s[j]);
            let formula = (0..f.inputs).map(|j| f.alpha[j] * past(j)).sum::<f64>() + s[0] * f.gamma * dp(t_new);
            assert!((formula - p(t_new)).abs() < 1e-10 * p(t_new).abs(), "order {k}: {formula} vs {}", p(t_new));
            let predicted = (0..f.nodes).map(|j| f.predictor[j] * past(j)).sum::<f64>();
            assert!((predicted - p(t_new)).abs() < 1e-10 * p(t_new).abs(), "order {k}: predictor {predicted}");
        }
    }

    /// The stability function: backward Euler's `1/(1 − z)` at order 1, BDF2's closed form at
    /// order 2, a root of the characteristic polynomial at every order, `≈ e^z` to `O(z^{k+1})`
    /// near 0, and `R'` its central difference.
    #[test]
    fn stability_is_the_principal_root() {
        use super::super::Bdf2;
        let one = Complex64::new(1.0, 0.0);
        for z in [
            Complex64::new(-0.3, 0.2),
            Complex64::new(-40.0, 3.0),
            Complex64::new(-1e5, 0.0),
            Complex64::new(0.2, -0.1),
        ] {
            let (r1, dr1) = Bdf::stability(1, z);
            assert!((r1 - one / (one - z)).norm() < 1e-14 * r1.norm());
            assert!((dr1 - one / ((one - z) * (one - z))).norm() < 1e-13 * dr1.norm());
            let ((r2, dr2), (c2, dc2)) = (Bdf::stability(2, z), Bdf2::stability(z));
            assert!((r2 - c2).norm() < 1e-12 * c2.norm(), "R({z}) = {r2}, BDF2's {c2}");
            assert!((dr2 - dc2).norm() < 1e-10 * dc2.norm(), "R'({z}) = {dr2}, BDF2's {dc2}");
            for k in 1..=MAX_ORDER {
                let (r, dr) = Bdf::stability(k, z);
                let rho: f64 = Bdf::rho(k).iter().sum();
                assert!(rho.abs() < 1e-14, "ρ(1) = 0");
                let residual: Complex64 =
                    Bdf::rho(k).iter().fold(Complex64::new(0.0, 0.0), |v, c| v * r + c) - z * r.powi(k as i32);
                assert!(
                    residual.norm() < 1e-12 * (1.0 + z.norm() * r.norm().powi(k as i32)),
                    "order {k}: residual {residual}"
                );
                let dz = 1e-6 * z.norm().max(1.0);
                let fd = (Bdf::stability(k, z + dz).0 - Bdf::stability(k, z - dz).0) / (2.0 * dz);
                assert!((dr - fd).norm() < 1e-6 * dr.norm(), "order {k}: R'({z}) = {dr}, difference {fd}");
            }
        }
        // Principal, not largest: at z = −0.5 BDF5 has a spurious root of modulus 0.75.
        let z = Complex64::new(-0.5, 0.0);
        let r = Bdf::stability(5, z).0;
        assert!((r - z.exp()).norm() < 0.01, "BDF5's R(−0.5) = {r}, e^z = {}", z.exp());
        for k in 1..=MAX_ORDER {
            let (z1, z2) = (Complex64::new(-0.02, 0.0), Complex64::new(-0.01, 0.0));
            let e = |z: Complex64| (Bdf::stability(k, z).0 - z.exp()).norm();
            let observed = (e(z1) / e(z2)).log2();
            assert!((observed - (k + 1) as f64).abs() < 0.1, "order {k}: R − e^z ~ z^{observed:.2}");
        }
    }
}
