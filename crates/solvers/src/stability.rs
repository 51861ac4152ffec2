//! Stability functions computed from a method's coefficients (design.md §2; Hairer & Wanner II,
//! IV.3): `R(z) = 1 + z·bᵀ(I − zA)⁻¹𝟙`, `R'(z) = bᵀ(I − zA)⁻²𝟙`, `β(z) = (I − zA)⁻ᵀb`.
//!
//! `R` is evaluated in its equivalent form `det(I − zA + z𝟙bᵀ)/det(I − zA)` (Hairer & Wanner
//! II, IV.3, Prop. 3.2), which avoids the cancellation in `1 + z·bᵀu` when `|R|` is small: both
//! determinants as polynomials in `z` (their coefficients from the characteristic polynomials
//! of `A − 𝟙bᵀ` and `A` by Faddeev–LeVerrier), summed in powers of `1/z` when `|z| > 1`, so that
//! nothing overflows or cancels far out on the axis.

use faer::Mat;
use faer::linalg::solvers::{PartialPivLu, Solve};
use num_complex::Complex64;

use crate::linalg::BatchLu;
use crate::methods::{Bdf, Bdf2, Method};
use crate::tableau::{Structure, Tableau};

/// `R`, `R'` and the per-stage weights `β` at one point `z`.
#[derive(Debug, Clone, PartialEq)]
pub struct StabilityPoint {
    /// The point `z = hλ`.
    pub z: Complex64,
    /// `R(z)`.
    pub r: Complex64,
    /// `R'(z)`.
    pub dr: Complex64,
    /// `β(z) = (I − zA)⁻ᵀb` per stage; `None` for the multistep and Rosenbrock methods.
    pub beta: Option<Vec<Complex64>>,
}

/// Evaluate the stability function of `method` at `z`. For BDF2 and BDF (at its highest order),
/// `R` is the principal root of the characteristic equation (the growth factor of a smooth
/// solution).
pub fn evaluate(method: &Method, z: Complex64) -> StabilityPoint {
    match method {
        Method::RungeKutta(t) => runge_kutta(t, z),
        Method::Bdf2(_) => {
            let (r, dr) = Bdf2::stability(z);
            StabilityPoint { z, r, dr, beta: None }
        }
        Method::Bdf(b) => {
            let (r, dr) = Bdf::stability(b.max_order(), z);
            StabilityPoint { z, r, dr, beta: None }
        }
        Method::Rosenbrock(m) => {
            let (r, dr) = m.stability(z);
            StabilityPoint { z, r, dr, beta: None }
        }
    }
}

/// `R'(z)` of `method` at every `z` of `zs`, as [`evaluate`] gives it but without the rest:
/// `R'(z) = bᵀ(I − zA)⁻²𝟙` by one small LU per point, with one workspace for them all (the
/// mode-balanced updates weigh every step sample by `1/|R'(z)|`).
pub fn derivatives(method: &Method, zs: &[Complex64]) -> Vec<Complex64> {
    let t = match method {
        Method::RungeKutta(t) if t.structure() != Structure::Explicit => t,
        _ => return zs.iter().map(|&z| evaluate(method, z).dr).collect(),
    };
    let s = t.stages();
    let mut lu = BatchLu::<Complex64>::new(1, s);
    let mut v = vec![Complex64::new(0.0, 0.0); s];
    zs.iter()
        .map(|&z| {
            let m = lu.matrix_mut(0);
            for i in 0..s {
                for j in 0..s {
                    m[i * s + j] = Complex64::new(if i == j { 1.0 } else { 0.0 }, 0.0) - z * t.a[i][j];
                }
            }
            if !lu.factor(0) {
                return Complex64::new(f64::NAN, f64::NAN);
            }
            v.fill(Complex64::new(1.0, 0.0));
            lu.solve(0, &mut v);
            lu.solve(0, &mut v);
            v.iter().zip(&t.b).map(|(v, b)| v * b).sum()
        })
        .collect()
}

fn runge_kutta(t: &Tableau, z: Complex64) -> StabilityPoint {
    if t.structure() == Structure::Explicit {
        return explicit(t, z);
    }
    let s = t.stages();
    let m = Mat::<Complex64>::from_fn(s, s, |i, j| {
        let id = if i == j { 1.0 } else { 0.0 };
        Complex64::new(id, 0.0) - z * t.a[i][j]
    });
    let lu = PartialPivLu::new(m.as_ref());
    // u = (I − zA)⁻¹𝟙, then v = (I − zA)⁻¹u.
    let mut u = Mat::<Complex64>::from_fn(s, 1, |_, _| Complex64::new(1.0, 0.0));
    lu.solve_in_place(u.as_mut());
    let mut v = u;
    lu.solve_in_place(v.as_mut());
    let mut beta = Mat::<Complex64>::from_fn(s, 1, |i, _| Complex64::new(t.b[i], 0.0));
    lu.solve_transpose_in_place(beta.as_mut());
    let dot = |x: &Mat<Complex64>| (0..s).map(|i| x[(i, 0)] * t.b[i]).sum::<Complex64>();
    let shifted: Vec<Vec<f64>> = (0..s).map(|i| (0..s).map(|j| t.a[i][j] - t.b[j]).collect()).collect();
    StabilityPoint {
        z,
        r: det_pencil(&shifted, z) / det_pencil(&t.a, z),
        dr: dot(&v),
        beta: Some((0..s).map(|i| beta[(i, 0)]).collect()),
    }
}

/// `det(I − zX)` for a small real `X`, as `Σ_j c_{n−j} z^j` with `c` the coefficients of the
/// characteristic polynomial `det(λI − X) = Σ_k c_k λ^k` (Faddeev–LeVerrier), scaled by `z^{−n}`
/// when `|z| > 1` (the ratio of two such values is unchanged, and the sum runs in powers of
/// `1/z`, which neither overflow nor cancel).
fn det_pencil(x: &[Vec<f64>], z: Complex64) -> Complex64 {
    let n = x.len();
    // c[k] multiplies λ^k; M_k = X·M_{k−1} + c_{n−k+1}I, c_{n−k} = −tr(X·M_k)/k.
    let mut c = vec![0.0; n + 1];
    c[n] = 1.0;
    let mut m = vec![vec![0.0; n]; n];
    for k in 1..=n {
        let mut next = vec![vec![0.0; n]; n];
        for i in 0..n {
            for j in 0..n {
                next[i][j] = (0..n).map(|l| x[i][l] * m[l][j]).sum::<f64>() + if i == j { c[n - k + 1] } else { 0.0 };
            }
        }
        m = next;
        let trace: f64 = (0..n).map(|i| (0..n).map(|l| x[i][l] * m[l][i]).sum::<f64>()).sum();
        c[n - k] = -trace / k as f64;
    }
    // det(I − zX) = z^n·p(1/z) = Σ_j c_{n−j} z^j.
    if z.norm() <= 1.0 {
        (0..=n).rev().fold(Complex64::new(0.0, 0.0), |acc, j| acc * z + c[n - j])
    } else {
        let w = 1.0 / z;
        (0..=n).fold(Complex64::new(0.0, 0.0), |acc, j| acc * w + c[n - j])
    }
}

/// Explicit methods: `A` is nilpotent, so `(I − zA)⁻¹ = Σ_{k<s} zᵏAᵏ` and `R` is the
/// polynomial `1 + Σ_k bᵀAᵏ⁻¹𝟙 zᵏ` (Hairer, Nørsett & Wanner I, IV.2). Summing it by Horner
/// avoids the cancellation that a solve with `I − zA` suffers at large `|z|`.
fn explicit(t: &Tableau, z: Complex64) -> StabilityPoint {
    let s = t.stages();
    let matvec = |v: &[f64]| (0..s).map(|i| (0..s).map(|j| t.a[i][j] * v[j]).sum()).collect::<Vec<f64>>();
    let tmatvec = |v: &[f64]| (0..s).map(|j| (0..s).map(|i| t.a[i][j] * v[i]).sum()).collect::<Vec<f64>>();
    let dot = |v: &[f64]| t.b.iter().zip(v).map(|(b, x)| b * x).sum::<f64>();
    // coef[k] = bᵀAᵏ⁻¹𝟙 for k ≥ 1; powers[k] = (Aᵀ)ᵏb.
    let mut coef = vec![1.0];
    let mut v = vec![1.0; s];
    let mut powers = vec![t.b.clone()];
    for _ in 0..s {
        coef.push(dot(&v));
        v = matvec(&v);
        let next = tmatvec(powers.last().unwrap());
        powers.push(next);
    }
    let horner = |c: &[f64]| c.iter().rev().fold(Complex64::new(0.0, 0.0), |acc, &x| acc * z + x);
    let deriv: Vec<f64> = coef.iter().enumerate().skip(1).map(|(k, c)| k as f64 * c).collect();
    let beta = (0..s).map(|i| horner(&powers.iter().map(|p| p[i]).collect::<Vec<_>>())).collect();
    StabilityPoint { z, r: horner(&coef), dr: horner(&deriv), beta: Some(beta) }
}

/// Parse a complex number as the CLI spells it: `-1e4`, `-100+20i`, `3i`, `-2.5-1e3i`.
pub fn parse_complex(text: &str) -> Option<Complex64> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    let Some(body) = s.strip_suffix('i').or_else(|| s.strip_suffix('j')) else {
        return s.parse::<f64>().ok().filter(|x| x.is_finite()).map(|re| Complex64::new(re, 0.0));
    };
    // Split at the last sign that is not the leading one and not part of an exponent.
    let bytes = body.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&k| (bytes[k] == b'+' || bytes[k] == b'-') && !matches!(bytes[k - 1], b'e' | b'E'));
    let (re, im) = match split {
        Some(k) => (body[..k].parse::<f64>().ok()?, parse_imag(&body[k..])?),
        None => (0.0, parse_imag(body)?),
    };
    (re.is_finite() && im.is_finite()).then(|| Complex64::new(re, im))
}

fn parse_imag(s: &str) -> Option<f64> {
    match s {
        "" | "+" => Some(1.0),
        "-" => Some(-1.0),
        _ => s.parse().ok(),
    }
}
