//! Linear invariants of the state held exactly by a network's output (design.md §13).
//!
//! A reactor conserves each element: with `c_e = (a_{e,k}·W_e/W_k)_k` on the mass fractions,
//! `c_e·dY/dt = 0`, and an inert species is one more such row. A network `f_raw` does not know
//! this; its output is mapped onto the null space of the invariant rows `C`:
//!
//! ```text
//!   f = D·P·f_raw,   P = I − S Cᵀ (C S Cᵀ)⁺ C,   S = diag(ŷ²)
//! ```
//!
//! `P` is the oblique projection that removes the imbalance with the smallest correction in
//! the data's scale, `min Σ (δ_i/ŷ_i)²` subject to `C(f_raw + δ) = 0`: the major species, not
//! the radicals, absorb it (the scaled least-norm correction; Golub & Van Loan, *Matrix
//! Computations*, 4th ed., §6.2). `D` zeroes the components held constant (a carried
//! pressure, an inert species), exactly. `C P = 0`, so every invariant is held to rounding
//! along any solve, whatever the weights; the map is linear, so the Jacobian is `M·J_raw`
//! and a vector–Jacobian product is `Mᵀ` first (`M = D·P`), and gradients stay exact.
//! `(C S Cᵀ)⁺` is formed by modified Gram–Schmidt on the rows of `C·S^{1/2}`: dependent rows
//! (an element that only one species carries and that species also named inert) drop out.

/// The map `M = D·P` on a network's raw output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputMap {
    d: usize,
    /// `M`, row-major `[d, d]`.
    m: Vec<f64>,
}

impl OutputMap {
    /// The map that holds the rows `invariants` (each of length `scale.len()`) with the scaled
    /// least correction, then zeroes the components `constant`. `None` without invariants: a
    /// mask alone needs no map.
    pub fn new(invariants: &[Vec<f64>], constant: &[usize], scale: &[f64]) -> Option<Self> {
        if invariants.is_empty() {
            return None;
        }
        let d = scale.len();
        // Orthonormal rows spanning C·S^{1/2}.
        let mut q: Vec<Vec<f64>> = Vec::new();
        for c in invariants {
            let mut b: Vec<f64> = c.iter().zip(scale).map(|(c, s)| c * s).collect();
            let norm0 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
            for r in &q {
                let dot: f64 = b.iter().zip(r).map(|(x, y)| x * y).sum();
                b.iter_mut().zip(r).for_each(|(x, y)| *x -= dot * y);
            }
            let norm = b.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-10 * norm0 && norm > 0.0 {
                q.push(b.into_iter().map(|x| x / norm).collect());
            }
        }
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            if constant.contains(&i) {
                continue;
            }
            for j in 0..d {
                let qq: f64 = q.iter().map(|r| r[i] * r[j]).sum();
                m[i * d + j] = f64::from(u8::from(i == j)) - scale[i] * qq / scale[j];
            }
        }
        Some(Self { d, m })
    }

    /// `M`, row-major `[d, d]`.
    pub fn matrix(&self) -> &[f64] {
        &self.m
    }

    /// `f ← M f`, with `tmp` (at least `d` values) as scratch.
    pub fn apply(&self, f: &mut [f64], tmp: &mut [f64]) {
        let d = self.d;
        tmp[..d].copy_from_slice(&f[..d]);
        for (i, fi) in f[..d].iter_mut().enumerate() {
            *fi = self.m[i * d..(i + 1) * d].iter().zip(&tmp[..d]).map(|(m, x)| m * x).sum();
        }
    }

    /// `(Mᵀ c)_o`.
    pub fn transposed(&self, c: &[f64], o: usize) -> f64 {
        (0..self.d).map(|i| self.m[i * self.d + o] * c[i]).sum()
    }

    /// `J ← M J` for a row-major `[d, d]` Jacobian, with `tmp` (at least `d·d` values).
    pub fn apply_rows(&self, jac: &mut [f64], tmp: &mut [f64]) {
        let d = self.d;
        tmp[..d * d].copy_from_slice(&jac[..d * d]);
        for i in 0..d {
            for j in 0..d {
                jac[i * d + j] = (0..d).map(|k| self.m[i * d + k] * tmp[k * d + j]).sum();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random raw outputs keep every invariant to rounding after the map, the constant
    /// components are exactly 0, the map is a projection (`M² = M`), and it leaves alone an
    /// output that already keeps the invariants.
    #[test]
    fn the_map_holds_the_invariants_and_is_a_projection() {
        let scale = [1.0, 0.2, 1e-3, 0.5, 2e-4, 1.0];
        // Two "elements" over components 1..5, one dependent copy, component 5 held.
        let invariants = vec![
            vec![0.0, 2.0, 1.0, 0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0, 2.0, 1.0, 0.0],
            vec![0.0, 2.0, 2.0, 2.0, 2.0, 0.0],
        ];
        let map = OutputMap::new(&invariants, &[5], &scale).unwrap();
        let mut seed = 7u64;
        let mut draw = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut tmp = vec![0.0; 36];
        for _ in 0..100 {
            let mut f: Vec<f64> = scale.iter().map(|s| s * draw()).collect();
            let largest = f.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            map.apply(&mut f, &mut tmp);
            assert_eq!(f[5], 0.0);
            for c in &invariants {
                let held: f64 = c.iter().zip(&f).map(|(c, f)| c * f).sum();
                let size = c.iter().map(|c| c.abs()).sum::<f64>() * largest;
                assert!(held.abs() <= 1e-14 * size, "{held} of {size}");
            }
            let mut again = f.clone();
            map.apply(&mut again, &mut tmp);
            assert!(again.iter().zip(&f).all(|(a, b)| (a - b).abs() <= 1e-13 * largest), "M² = M: {again:?} vs {f:?}");
        }
        // Component 0 (a temperature) is in no invariant: the map leaves it alone.
        let mut f = vec![3.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        map.apply(&mut f, &mut tmp);
        assert_eq!(f, [3.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // The transposed product and the map on rows agree with M.
        let c = [0.3, -1.0, 2.0, 0.5, 7.0, 1.0];
        for o in 0..6 {
            let direct: f64 = (0..6).map(|i| map.matrix()[i * 6 + o] * c[i]).sum();
            assert_eq!(map.transposed(&c, o), direct);
        }
    }
}
