//! All stages of a fully implicit method (Radau IIA, Gauss, Lobatto IIIC) at once, by RADAU5's
//! transformed simplified Newton iteration (Hairer & Wanner II, IV.8, (8.15)–(8.18)).
//!
//! The stage equations for the increments `Z_i = Y_i − y_n` are `(A⁻¹⊗I)Z/h − F(Z) = 0`. With a
//! real `T` that brings `A⁻¹` to blocks, `T⁻¹A⁻¹T = Λ` (`1×1` blocks `λ` for real eigenvalues,
//! `2×2` blocks `[[α, −β], [β, α]]` for pairs `α ± iβ`), and `Z = (T⊗I)W`, simplified Newton
//! is `(Λ/h ⊗ I − I⊗J)ΔW = −(Λ⊗I)W/h + (T⁻¹⊗I)F`: one real `d×d` system `(λ/h·I − J)` per real
//! eigenvalue and one complex `((α+iβ)/h·I − J)` per pair, instead of one `sd×sd` system.
//!
//! For collocation methods the Newton iteration starts from the previous step's collocation
//! polynomial extrapolated to the new stage times (IV.8, "starting values").

use faer::Mat;
use num_complex::Complex64;

use crate::linalg::{invert, zero};
use crate::short::zip_with;
use crate::tableau::Tableau;

/// One diagonal block of `Λ`, at row `k` of `W` (and `k+1` for a pair).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Block {
    /// A real eigenvalue `λ = 1/γ` of `A⁻¹`, held as `γ` (the shift is `1/(hγ)`, formed as
    /// everywhere else by [`shift`](super::newton::shift)).
    Real { k: usize, gamma: f64 },
    /// A pair `α ± iβ` (`β > 0`): rows `k` (`u`) and `k+1` (`v`) of `W` are `u + iv`.
    Complex { k: usize, lambda: Complex64 },
}

/// What a fully implicit tableau's stages need, computed once per solve.
#[derive(Debug, Clone)]
pub(crate) struct FullPlan {
    pub s: usize,
    /// `T` and `T⁻¹`, row-major `s×s`.
    pub t: Vec<f64>,
    pub t_inv: Vec<f64>,
    pub blocks: Vec<Block>,
    /// `bᵀA⁻¹`: `y_{n+1} = y_n + Σ_j (bᵀA⁻¹)_j Z_j`.
    pub b_z: Vec<f64>,
    /// `eᵀA⁻¹` of the error estimate: `h Σ_j e_j F_j = Σ_j (eᵀA⁻¹)_j Z_j`.
    pub e_z: Vec<f64>,
    /// The nodes `c` when the method is a collocation method (starting values by extrapolation).
    pub collocation: Option<Vec<f64>>,
    /// For collocation methods, `M_k` (`s×s` each, `k = 1 … s`) with
    /// `W₀ = (Σ_k r^k M_k ⊗ I) Z_prev`, `r = h/h_prev`: the extrapolation as a polynomial in the
    /// step ratio (see [`FullPlan::extrapolate`]).
    extrapolation: Vec<f64>,
}

impl FullPlan {
    /// The transformation of `tab`'s `A⁻¹`; a real eigenvalue `1/γ` with `γ` equal to the error
    /// filter's to rounding takes the filter's `γ` exactly, so that the filter reuses its factors.
    pub fn new(tab: &Tableau) -> Self {
        let s = tab.stages();
        let a_inv = invert(&tab.a);
        let m = Mat::<f64>::from_fn(s, s, |i, j| a_inv[i][j]);
        let eig = m.eigen().expect("the eigendecomposition of a method's A⁻¹ exists");
        let (u, lambda) = (eig.U(), eig.S().column_vector());
        let filter = tab.error.as_ref().and_then(|e| e.filter);
        let mut columns: Vec<Vec<f64>> = Vec::with_capacity(s);
        let mut blocks = Vec::new();
        for k in 0..s {
            let l = lambda[k];
            if l.im.abs() <= 1e-12 * l.norm() {
                let gamma = match filter {
                    Some(g) if (1.0 / l.re - g).abs() <= 1e-12 * g.abs() => g,
                    _ => 1.0 / l.re,
                };
                blocks.push(Block::Real { k: columns.len(), gamma });
                columns.push((0..s).map(|i| u[(i, k)].re).collect());
            } else if l.im > 0.0 {
                blocks.push(Block::Complex { k: columns.len(), lambda: l });
                columns.push((0..s).map(|i| u[(i, k)].re).collect());
                columns.push((0..s).map(|i| -u[(i, k)].im).collect());
            }
        }
        assert_eq!(columns.len(), s, "{}: eigenvalues of A⁻¹ neither real nor in conjugate pairs", tab.name);
        let t: Vec<Vec<f64>> = (0..s).map(|i| (0..s).map(|j| columns[j][i]).collect()).collect();
        let t_inv = invert(&t);
        let collocation = is_collocation(tab).then(|| tab.c.clone());
        let times_a_inv = |v: &[f64]| (0..s).map(|j| (0..s).map(|i| v[i] * a_inv[i][j]).sum()).collect();
        let b_z = times_a_inv(&tab.b);
        let e_z = tab.error.as_ref().map_or_else(Vec::new, |e| times_a_inv(&e.e));
        let extrapolation = if collocation.is_some() { extrapolation(&tab.c, &t_inv) } else { Vec::new() };
        Self { s, t: t.concat(), t_inv: t_inv.concat(), blocks, b_z, e_z, collocation, extrapolation }
    }

    /// `out_i = Σ_j m_ij x_j` for the `s` blocks of `n` values in `x` (`m` row-major `s×s`):
    /// `(M⊗I)x`. Specialized for the stage counts of the shipped methods: with `d` small, loop
    /// overhead is most of the work.
    pub fn apply(&self, m: &[f64], x: &[f64], out: &mut [f64]) {
        self.apply_to(m, x, None, out);
    }

    /// `out_i = base + Σ_j m_ij x_j` (`base` holds `n` values): the stage values `y_n + (T⊗I)W`
    /// in one pass.
    pub fn apply_plus(&self, m: &[f64], x: &[f64], base: &[f64], out: &mut [f64]) {
        self.apply_to(m, x, Some(base), out);
    }

    fn apply_to(&self, m: &[f64], x: &[f64], base: Option<&[f64]>, out: &mut [f64]) {
        match self.s {
            2 => apply_fixed::<2>(x.len() / 2, m, x, base, out),
            3 => apply_three(m, x, base, out),
            s => apply_any(s, m, x, base, out),
        }
    }

    /// The extrapolation matrices `M_1 … M_s` (`s×s` each) of a collocation method.
    pub fn extrapolation(&self) -> Option<&[f64]> {
        self.collocation.as_ref().map(|_| self.extrapolation.as_slice())
    }

    /// Starting values `W = (T⁻¹⊗I)Z` for a step of size `h`, from the last accepted step's
    /// increments `z_prev` (size `h_prev`): its collocation polynomial `q` (`q(0) = 0`,
    /// `q(c_j) = Z_j`) at the new stage times, `Z_i = q(1 + c_i h/h_prev) − q(1)`; `weights` is
    /// `s×s` scratch. Returns false for methods that are not collocation methods (start from
    /// zero).
    pub fn extrapolate(&self, z_prev: &[f64], h_prev: f64, h: f64, weights: &mut [f64], w: &mut [f64]) -> bool {
        if self.collocation.is_none() {
            return false;
        }
        let (r, ss) = (h / h_prev, self.s * self.s);
        zero(weights);
        let mut rk = 1.0;
        for m in self.extrapolation.chunks_exact(ss) {
            rk *= r;
            zip_with(weights, m, |w, m| *w += rk * m);
        }
        self.apply(weights, z_prev, w);
        true
    }
}

/// `M_k = T⁻¹·[c_i^k β_jk]_ij`, `k = 1 … s`, for the extrapolation `Z_i = Σ_j (ℓ_j(1 + c_i r) −
/// ℓ_j(1)) Z_j` with `ℓ_j` the Lagrange basis on the nodes `0, c_1, …, c_s`: writing
/// `ℓ_j(x) = Σ_m a_jm x^m`, `ℓ_j(1 + c_i r) − ℓ_j(1) = Σ_{k≥1} r^k c_i^k β_jk` with
/// `β_jk = Σ_{m≥k} a_jm·binom(m, k)`.
fn extrapolation(c: &[f64], t_inv: &[Vec<f64>]) -> Vec<f64> {
    let s = c.len();
    let binom = |m: usize, k: usize| (0..k).fold(1.0, |acc, i| acc * (m - i) as f64 / (i + 1) as f64);
    let mut out = vec![0.0; s * s * s];
    for j in 0..s {
        // a_j: coefficients of x·Π_{m≠j}(x − c_m) / (c_j·Π_{m≠j}(c_j − c_m)).
        let mut a = vec![0.0, 1.0];
        let mut denom = c[j];
        for (m, &cm) in c.iter().enumerate().filter(|&(m, _)| m != j) {
            let mut next = vec![0.0; a.len() + 1];
            for (p, &ap) in a.iter().enumerate() {
                next[p + 1] += ap;
                next[p] -= cm * ap;
            }
            a = next;
            denom *= c[j] - c[m];
        }
        for k in 1..=s {
            let beta: f64 = (k..a.len()).map(|m| a[m] * binom(m, k)).sum::<f64>() / denom;
            for i in 0..s {
                // E_k[l][j] = c_l^k β_jk; M_k[i][j] = Σ_l T⁻¹_il E_k[l][j].
                let mk = (0..s).map(|l| t_inv[i][l] * c[l].powi(k as i32) * beta).sum::<f64>();
                out[(k - 1) * s * s + i * s + j] = mk;
            }
        }
    }
    out
}

/// Three stages (RADAU5). The block length of one trajectory of a small system (the
/// per-trajectory solve) becomes a compile-time constant, so that the loops unroll instead of
/// paying for vector set-up.
fn apply_three(m: &[f64], x: &[f64], base: Option<&[f64]>, out: &mut [f64]) {
    match x.len() {
        3 => apply_fixed::<3>(1, m, x, base, out),
        6 => apply_fixed::<3>(2, m, x, base, out),
        9 => apply_fixed::<3>(3, m, x, base, out),
        12 => apply_fixed::<3>(4, m, x, base, out),
        len => apply_fixed::<3>(len / 3, m, x, base, out),
    }
}

/// `(M⊗I)x (+ base)` for `S` blocks of `n` values (inlined, so that a constant `n` unrolls).
#[inline(always)]
fn apply_fixed<const S: usize>(n: usize, m: &[f64], x: &[f64], base: Option<&[f64]>, out: &mut [f64]) {
    assert!(m.len() == S * S && x.len() == S * n && out.len() == S * n && base.is_none_or(|b| b.len() == n));
    let mm: [[f64; S]; S] = std::array::from_fn(|i| std::array::from_fn(|j| m[i * S + j]));
    for p in 0..n {
        let xp: [f64; S] = std::array::from_fn(|j| x[j * n + p]);
        let b = base.map(|b| b[p]);
        for i in 0..S {
            let mut acc = mm[i][0] * xp[0];
            for j in 1..S {
                acc += mm[i][j] * xp[j];
            }
            out[i * n + p] = b.map_or(acc, |b| acc + b);
        }
    }
}

fn apply_any(s: usize, m: &[f64], x: &[f64], base: Option<&[f64]>, out: &mut [f64]) {
    let n = x.len() / s;
    for i in 0..s {
        for p in 0..n {
            let acc: f64 = (0..s).map(|j| m[i * s + j] * x[j * n + p]).sum();
            out[i * n + p] = base.map_or(acc, |b| acc + b[p]);
        }
    }
}

/// Whether `tab` is a collocation method: distinct nodes and `Σ_j a_ij c_j^(k−1) = c_i^k/k` for
/// `k = 1 … s` (the simplifying assumption `C(s)`, Hairer & Wanner II, IV.5, Thm. 5.2).
fn is_collocation(tab: &Tableau) -> bool {
    let (s, c) = (tab.stages(), &tab.c);
    let distinct = (0..s).all(|i| (0..i).all(|j| c[i] != c[j])) && c.iter().all(|&x| x != 0.0);
    distinct
        && (1..=s).all(|k| {
            (0..s).all(|i| {
                let lhs: f64 = (0..s).map(|j| tab.a[i][j] * c[j].powi(k as i32 - 1)).sum();
                (lhs - c[i].powi(k as i32) / k as f64).abs() <= 1e-13
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::{self, Method};

    fn tableau(name: &str) -> Tableau {
        match methods::by_name(name).unwrap() {
            Method::RungeKutta(t) => t,
            Method::Bdf2(_) | Method::Bdf(_) | Method::Rosenbrock(_) => unreachable!(),
        }
    }

    #[test]
    fn the_transformation_brings_a_inverse_to_its_blocks() {
        for name in ["radau3", "radau5", "gauss2", "lobatto3c2", "lobatto3c3", "implicit-midpoint"] {
            let tab = tableau(name);
            let p = FullPlan::new(&tab);
            let (s, a_inv) = (p.s, invert(&tab.a).concat());
            // Λ = T⁻¹ A⁻¹ T must hold only the blocks.
            let mut lambda = vec![0.0; s * s];
            for i in 0..s {
                for j in 0..s {
                    lambda[i * s + j] = (0..s)
                        .map(|k| (0..s).map(|l| p.t_inv[i * s + k] * a_inv[k * s + l] * p.t[l * s + j]).sum::<f64>())
                        .sum();
                }
            }
            let mut expected = vec![0.0; s * s];
            for b in &p.blocks {
                match *b {
                    Block::Real { k, gamma } => expected[k * s + k] = 1.0 / gamma,
                    Block::Complex { k, lambda } => {
                        let (a, b) = (lambda.re, lambda.im);
                        (expected[k * s + k], expected[k * s + k + 1]) = (a, -b);
                        (expected[(k + 1) * s + k], expected[(k + 1) * s + k + 1]) = (b, a);
                    }
                }
            }
            let err = lambda.iter().zip(&expected).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            assert!(err < 1e-11, "{name}: T⁻¹A⁻¹T = {lambda:?}, blocks {expected:?}");
        }
    }

    #[test]
    fn radau_and_gauss_are_collocation_methods_lobatto_iiic_is_not() {
        for (name, colloc) in [("radau3", true), ("radau5", true), ("gauss2", true), ("lobatto3c3", false)] {
            assert_eq!(FullPlan::new(&tableau(name)).collocation.is_some(), colloc, "{name}");
        }
    }

    #[test]
    fn extrapolation_is_exact_for_a_polynomial_of_the_collocation_degree() {
        // Increments of u(t) = t + t² + t³ from t_n = 0 with h = 1 (degree 3 = s for radau5):
        // the extrapolated increments of the next step (h = 0.5) are exact.
        let p = FullPlan::new(&tableau("radau5"));
        let u = |t: f64| t + t * t + t * t * t;
        let c = p.collocation.clone().unwrap();
        let z_prev: Vec<f64> = c.iter().map(|&ci| u(ci)).collect();
        let (mut w, mut z) = (vec![0.0; 3], vec![0.0; 3]);
        assert!(p.extrapolate(&z_prev, 1.0, 0.5, &mut [0.0; 9], &mut w));
        p.apply(&p.t, &w, &mut z);
        for (i, ci) in c.iter().enumerate() {
            let exact = u(1.0 + 0.5 * ci) - u(1.0);
            assert!((z[i] - exact).abs() < 1e-12, "stage {i}: {} vs {exact}", z[i]);
        }
    }
}
