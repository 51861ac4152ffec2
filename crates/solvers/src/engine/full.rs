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

use crate::linalg::invert;
use crate::tableau::Tableau;

/// One diagonal block of `Λ`, at row `k` of `W` (and `k+1` for a pair).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Block {
    /// A real eigenvalue `λ` of `A⁻¹`.
    Real { k: usize, lambda: f64 },
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
}

impl FullPlan {
    /// The transformation of `tab`'s `A⁻¹`; a real eigenvalue that equals `1/γ` of the error
    /// filter to rounding is taken as exactly that, so that the filter reuses its factors.
    pub fn new(tab: &Tableau) -> Self {
        let s = tab.stages();
        let a_inv = invert(&tab.a);
        let m = Mat::<f64>::from_fn(s, s, |i, j| a_inv[i][j]);
        let eig = m.eigen().expect("the eigendecomposition of a method's A⁻¹ exists");
        let (u, lambda) = (eig.U(), eig.S().column_vector());
        let filter = tab.error.as_ref().and_then(|e| e.filter).map(|g| 1.0 / g);
        let mut columns: Vec<Vec<f64>> = Vec::with_capacity(s);
        let mut blocks = Vec::new();
        for k in 0..s {
            let l = lambda[k];
            if l.im.abs() <= 1e-12 * l.norm() {
                let real = match filter {
                    Some(f) if (l.re - f).abs() <= 1e-12 * f.abs() => f,
                    _ => l.re,
                };
                blocks.push(Block::Real { k: columns.len(), lambda: real });
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
        Self { s, t: t.concat(), t_inv: t_inv.concat(), blocks, b_z, e_z, collocation }
    }

    /// `out_i = Σ_j m_ij x_j` for the `s` blocks of `n` values in `x` (`m` row-major `s×s`):
    /// `(M⊗I)x`. Specialized for the stage counts of the shipped methods: with `d` small, loop
    /// overhead is most of the work.
    pub fn apply(&self, m: &[f64], x: &[f64], out: &mut [f64]) {
        match self.s {
            2 => apply_fixed::<2>(m, x, out),
            3 => apply_fixed::<3>(m, x, out),
            s => apply_any(s, m, x, out),
        }
    }

    /// Starting values `W = (T⁻¹⊗I)Z` for a step of size `h`, from the last accepted step's
    /// increments `z_prev` (size `h_prev`): its collocation polynomial `q` (`q(0) = 0`,
    /// `q(c_j) = Z_j`) at the new stage times, `Z_i = q(1 + c_i h/h_prev) − q(1)`; `weights` is
    /// `2·s×s` scratch. Returns false for methods that are not collocation methods (start from
    /// zero).
    pub fn extrapolate(&self, z_prev: &[f64], h_prev: f64, h: f64, weights: &mut [f64], w: &mut [f64]) -> bool {
        let Some(c) = &self.collocation else { return false };
        let s = self.s;
        // Lagrange basis on the nodes 0, c_1, …, c_s, for the values at c_j (q(0) = 0 drops out).
        let basis = |j: usize, x: f64| {
            let mut l = x / c[j];
            for (m, &cm) in c.iter().enumerate() {
                if m != j {
                    l *= (x - cm) / (c[j] - cm);
                }
            }
            l
        };
        let (e, tw) = weights.split_at_mut(s * s);
        for i in 0..s {
            let x = 1.0 + c[i] * h / h_prev;
            for j in 0..s {
                e[i * s + j] = basis(j, x) - basis(j, 1.0);
            }
        }
        // T⁻¹E, so that one product gives W.
        for i in 0..s {
            for j in 0..s {
                tw[i * s + j] = (0..s).map(|k| self.t_inv[i * s + k] * e[k * s + j]).sum();
            }
        }
        self.apply(tw, z_prev, w);
        true
    }
}

fn apply_fixed<const S: usize>(m: &[f64], x: &[f64], out: &mut [f64]) {
    let n = x.len() / S;
    assert!(m.len() == S * S && x.len() == S * n && out.len() == S * n);
    let mm: [[f64; S]; S] = std::array::from_fn(|i| std::array::from_fn(|j| m[i * S + j]));
    for p in 0..n {
        let xp: [f64; S] = std::array::from_fn(|j| x[j * n + p]);
        for i in 0..S {
            let mut acc = 0.0;
            for j in 0..S {
                acc += mm[i][j] * xp[j];
            }
            out[i * n + p] = acc;
        }
    }
}

fn apply_any(s: usize, m: &[f64], x: &[f64], out: &mut [f64]) {
    let n = x.len() / s;
    for i in 0..s {
        for p in 0..n {
            out[i * n + p] = (0..s).map(|j| m[i * s + j] * x[j * n + p]).sum();
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
            Method::Bdf2(_) => unreachable!(),
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
                    Block::Real { k, lambda } => expected[k * s + k] = lambda,
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
        assert!(p.extrapolate(&z_prev, 1.0, 0.5, &mut [0.0; 18], &mut w));
        p.apply(&p.t, &w, &mut z);
        for (i, ci) in c.iter().enumerate() {
            let exact = u(1.0 + 0.5 * ci) - u(1.0);
            assert!((z[i] - exact).abs() < 1e-12, "stage {i}: {} vs {exact}", z[i]);
        }
    }
}
