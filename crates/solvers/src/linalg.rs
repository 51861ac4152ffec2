//! Small dense linear algebra shared by the engine and the gradients: LU factors with partial
//! pivoting of one small matrix per trajectory, real or complex (RADAU5's transformed Newton
//! system has a complex block, Hairer & Wanner II, IV.8); the stage matrix of implicit
//! Runge–Kutta steps; the inverse of a coefficient matrix.
//!
//! The Newton matrices are `d×d` (or `sd×sd` in gradients), small enough that an unblocked
//! factorization (Golub & Van Loan, *Matrix Computations*, Alg. 3.4.1, with LAPACK's row
//! interchanges) beats a general library's set-up cost; factors of a whole batch live in one
//! buffer that is refactored in place, so no allocation happens per step.

use std::ops::{Add, Div, Mul, Sub};

use num_complex::Complex64;

/// A number the LU works with: `f64`, or `Complex64` for complex shifts.
pub trait Scalar: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> {
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// The size that partial pivoting compares (`|x|`; `|re| + |im|` for complex numbers, as
    /// LAPACK's `izamax`).
    fn magnitude(self) -> f64;
    /// `x` as this scalar.
    fn from_real(x: f64) -> Self;
}

impl Scalar for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn magnitude(self) -> f64 {
        self.abs()
    }
    fn from_real(x: f64) -> Self {
        x
    }
}

impl Scalar for Complex64 {
    const ZERO: Self = Complex64::new(0.0, 0.0);
    const ONE: Self = Complex64::new(1.0, 0.0);
    fn magnitude(self) -> f64 {
        self.re.abs() + self.im.abs()
    }
    fn from_real(x: f64) -> Self {
        Complex64::new(x, 0.0)
    }
}

/// LU factors with partial pivoting of `batch` matrices of size `n×n`, row-major, in one buffer.
#[derive(Debug, Clone)]
pub struct BatchLu<T> {
    n: usize,
    /// `L\U` per matrix, row-major (unit lower triangle below the diagonal).
    lu: Vec<T>,
    /// Row interchanged with row `k` at step `k`, per matrix.
    piv: Vec<usize>,
    /// `1/U_kk` per matrix: back substitution multiplies instead of dividing.
    inv_diag: Vec<T>,
}

impl<T: Scalar> BatchLu<T> {
    /// Room for `batch` matrices of size `n×n`.
    pub fn new(batch: usize, n: usize) -> Self {
        Self { n, lu: vec![T::ZERO; batch * n * n], piv: vec![0; batch * n], inv_diag: vec![T::ZERO; batch * n] }
    }

    /// Factor the row-major matrices `mats` (`batch·n·n` values).
    pub fn factor_all(mats: &[T], n: usize) -> Self {
        let batch = mats.len() / (n * n);
        let mut lu = Self::new(batch, n);
        lu.lu.copy_from_slice(mats);
        for b in 0..batch {
            lu.factor(b);
        }
        lu
    }

    /// The matrix `b`, to be filled (row-major) before [`factor`](Self::factor).
    pub fn matrix_mut(&mut self, b: usize) -> &mut [T] {
        let nn = self.n * self.n;
        &mut self.lu[b * nn..(b + 1) * nn]
    }

    /// Factor matrix `b` in place; false if a pivot is zero or not finite (the matrix is
    /// singular to working precision, or holds NaN).
    pub fn factor(&mut self, b: usize) -> bool {
        let n = self.n;
        let a = &mut self.lu[b * n * n..(b + 1) * n * n];
        let (piv, inv) = (&mut self.piv[b * n..(b + 1) * n], &mut self.inv_diag[b * n..(b + 1) * n]);
        // A constant `n` for the small sizes lets the compiler unroll the loops and drop the
        // bounds checks.
        match n {
            1 => factor_in_place(1, a, piv, inv),
            2 => factor_in_place(2, a, piv, inv),
            3 => factor_in_place(3, a, piv, inv),
            4 => factor_in_place(4, a, piv, inv),
            6 => factor_in_place(6, a, piv, inv),
            8 => factor_in_place(8, a, piv, inv),
            _ => factor_in_place(n, a, piv, inv),
        }
    }

    /// Solve `M_b x = r` in place (`x` holds `n` values).
    pub fn solve(&self, b: usize, x: &mut [T]) {
        let n = self.n;
        let a = &self.lu[b * n * n..(b + 1) * n * n];
        let (piv, inv) = (&self.piv[b * n..(b + 1) * n], &self.inv_diag[b * n..(b + 1) * n]);
        match n {
            1 => solve_in_place(1, a, piv, inv, x),
            2 => solve_in_place(2, a, piv, inv, x),
            3 => solve_in_place(3, a, piv, inv, x),
            4 => solve_in_place(4, a, piv, inv, x),
            6 => solve_in_place(6, a, piv, inv, x),
            8 => solve_in_place(8, a, piv, inv, x),
            _ => solve_in_place(n, a, piv, inv, x),
        }
    }

    /// Solve `M_b x_b = r_b` in place for every matrix `b`; `x` holds `batch·n` values.
    pub fn solve_each(&self, x: &mut [T]) {
        for (b, r) in x.chunks_exact_mut(self.n).enumerate() {
            self.solve(b, r);
        }
    }

    /// Solve `M_b X = R` in place for the right-hand sides stored one after another in `x`.
    pub fn solve_many(&self, b: usize, x: &mut [T]) {
        for r in x.chunks_exact_mut(self.n) {
            self.solve(b, r);
        }
    }
}

impl BatchLu<f64> {
    /// Solve `M_b x = r` in place and refine the solution twice: the residual `r − M_b x`,
    /// formed with `m` (matrix `b` as it was before factoring, row-major) by a compensated dot
    /// product, is solved for and added (mixed-precision iterative refinement: Higham,
    /// *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §12.1; the residual as
    /// Ogita, Rump & Oishi's `Dot2`, *SIAM J. Sci. Comput.* 26, 2005). Partial pivoting is
    /// backward stable only normwise: on a badly scaled matrix (a stiff species' row 1e9 times
    /// another's) the small components of `x` carry the rounding of the large ones, and a
    /// residual formed in working precision is as inexact as the solution. With the residual
    /// good to twice the precision, refinement brings `x` to working precision whenever
    /// `cond(M)·ε < 1`.
    pub fn solve_refined(&self, b: usize, m: &[f64], x: &mut [f64]) {
        let n = self.n;
        let r = x.to_vec();
        self.solve(b, x);
        for _ in 0..2 {
            let mut res: Vec<f64> = (0..n).map(|i| residual(r[i], &m[i * n..(i + 1) * n], x)).collect();
            self.solve(b, &mut res);
            x.iter_mut().zip(res).for_each(|(x, d)| *x += d);
        }
    }

    /// The inverses `M_b⁻¹` of `mats` (the matrices factored, row-major, `batch·n·n` values),
    /// column by column by [`solve_refined`](Self::solve_refined): each entry to working
    /// precision, so that differences of nearly equal entries (the replay's `M⁻¹·∂G` where
    /// `∂G` conserves a sum) keep their digits.
    pub fn inverse(&self, mats: &[f64]) -> Vec<f64> {
        let (n, nn) = (self.n, self.n * self.n);
        let mut out = vec![0.0; self.lu.len()];
        let mut col = vec![0.0; n];
        for (b, inv) in out.chunks_exact_mut(nn).enumerate() {
            for j in 0..n {
                col.iter_mut().enumerate().for_each(|(i, c)| *c = if i == j { 1.0 } else { 0.0 });
                self.solve_refined(b, &mats[b * nn..(b + 1) * nn], &mut col);
                (0..n).for_each(|i| inv[i * n + j] = col[i]);
            }
        }
        out
    }
}

/// `b − Σ_k a_k x_k`, accurate as if computed in twice the working precision and rounded:
/// every product split exactly by a fused multiply–add (`TwoProduct`) and every sum by
/// `TwoSum` (Knuth), their errors summed apart (Ogita, Rump & Oishi 2005, `Dot2`).
fn residual(b: f64, a: &[f64], x: &[f64]) -> f64 {
    let (mut s, mut c) = (b, 0.0);
    for (a, x) in a.iter().zip(x) {
        let p = -a * x;
        let ep = (-a).mul_add(*x, -p);
        let t = s + p;
        let z = t - s;
        c += (s - (t - z)) + (p - z) + ep;
        s = t;
    }
    s + c
}

/// `x.fill(0.0)` by plain stores for the short arrays of the step loop: glibc's memset writes
/// short arrays with AVX-512 masked stores, from which the loads that follow cannot forward (a
/// stall of tens of cycles each time). The store of an opaque zero is not turned into a memset;
/// the shortest arrays are written as straight stores ([`short::fill`](crate::short::fill)).
/// Fields' host forms on the step loop's hot path (`stiffnode-chemistry`'s mass action) call it
/// too.
#[inline]
pub fn zero(x: &mut [f64]) {
    if x.len() <= 12 {
        crate::short::fill(x, 0.0);
    } else if x.len() > 32 {
        x.fill(0.0);
    } else {
        let z = std::hint::black_box(0.0);
        x.iter_mut().for_each(|v| *v = z);
    }
}

/// Unblocked LU with partial pivoting of the `n×n` row-major `a` (Golub & Van Loan, Alg. 3.4.1,
/// LAPACK's interchanges and `izamax` pivot); `inv` receives `1/U_kk`. False at a zero or
/// non-finite pivot.
#[inline(always)]
fn factor_in_place<T: Scalar>(n: usize, a: &mut [T], piv: &mut [usize], inv: &mut [T]) -> bool {
    let (a, piv, inv) = (&mut a[..n * n], &mut piv[..n], &mut inv[..n]);
    for k in 0..n {
        let (mut p, mut max) = (k, a[k * n + k].magnitude());
        for i in k + 1..n {
            let m = a[i * n + k].magnitude();
            if m > max {
                (p, max) = (i, m);
            }
        }
        piv[k] = p;
        if !(max > 0.0 && max.is_finite()) {
            return false;
        }
        if p != k {
            for j in 0..n {
                a.swap(k * n + j, p * n + j);
            }
        }
        let r = T::ONE / a[k * n + k];
        inv[k] = r;
        for i in k + 1..n {
            let l = a[i * n + k] * r;
            a[i * n + k] = l;
            for j in k + 1..n {
                a[i * n + j] = a[i * n + j] - l * a[k * n + j];
            }
        }
    }
    true
}

/// Forward and back substitution with the factors of [`factor_in_place`].
#[inline(always)]
fn solve_in_place<T: Scalar>(n: usize, a: &[T], piv: &[usize], inv: &[T], x: &mut [T]) {
    let (a, piv, inv, x) = (&a[..n * n], &piv[..n], &inv[..n], &mut x[..n]);
    for (k, &p) in piv.iter().enumerate() {
        if p != k {
            x.swap(k, p);
        }
    }
    for i in 0..n {
        let mut s = x[i];
        for j in 0..i {
            s = s - a[i * n + j] * x[j];
        }
        x[i] = s;
    }
    for i in (0..n).rev() {
        let mut s = x[i];
        for j in i + 1..n {
            s = s - a[i * n + j] * x[j];
        }
        x[i] = s * inv[i];
    }
}

/// Fill `m` (row-major, `sd×sd`, index `(i·d+p, j·d+q)`) with the Jacobian of the stage
/// equations `I − (hA ⊗ I)·blockdiag(J_1 … J_s)` (design.md §3–4); `jac(j)` is stage `j`'s
/// `d×d` Jacobian.
pub fn stage_matrix<'j>(ha: &[Vec<f64>], d: usize, jac: impl Fn(usize) -> &'j [f64], m: &mut [f64]) {
    let n = ha.len() * d;
    for row in 0..n {
        let (i, p) = (row / d, row % d);
        for col in 0..n {
            let (j, q) = (col / d, col % d);
            m[row * n + col] = if row == col { 1.0 } else { 0.0 } - ha[i][j] * jac(j)[p * d + q];
        }
    }
}

/// Inverse of a small dense matrix (a method's `A`), through faer's LU.
pub fn invert(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    use faer::linalg::solvers::DenseSolveCore;
    let s = a.len();
    let m = faer::Mat::<f64>::from_fn(s, s, |i, j| a[i][j]);
    let inv = m.partial_piv_lu().inverse();
    (0..s).map(|i| (0..s).map(|j| inv[(i, j)]).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-conditioned test matrix with a zero leading entry (pivoting needed).
    fn matrix(n: usize) -> Vec<f64> {
        let entry = |i: usize, j: usize| (3.0 * i as f64 + 7.0 * j as f64 + 1.0).sin() + if i == j { 3.0 } else { 0.0 };
        (0..n * n).map(|k| if k == 0 { 0.0 } else { entry(k / n, k % n) }).collect()
    }

    #[test]
    fn real_and_complex_solves_reproduce_the_right_hand_side() {
        for n in [2, 3, 9] {
            let m = matrix(n);
            let lu = BatchLu::factor_all(&m, n);
            let x_true: Vec<f64> = (0..n).map(|i| i as f64 - 1.5).collect();
            let mut x: Vec<f64> = (0..n).map(|i| (0..n).map(|j| m[i * n + j] * x_true[j]).sum()).collect();
            lu.solve(0, &mut x);
            let err = x.iter().zip(&x_true).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err < 1e-13, "n = {n}: {err:e}");
            // (σI − M) with σ complex, as in RADAU5's complex block.
            let sigma = Complex64::new(0.7, 2.3);
            let mc: Vec<Complex64> = (0..n * n)
                .map(|k| if k % (n + 1) == 0 { sigma } else { Complex64::ZERO } - Complex64::from_real(m[k]))
                .collect();
            let lu = BatchLu::factor_all(&mc, n);
            let xt: Vec<Complex64> = (0..n).map(|i| Complex64::new(i as f64, 1.0 - i as f64)).collect();
            let mut x: Vec<Complex64> = (0..n).map(|i| (0..n).map(|j| mc[i * n + j] * xt[j]).sum()).collect();
            lu.solve(0, &mut x);
            let err = x.iter().zip(&xt).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
            assert!(err < 1e-13, "complex n = {n}: {err:e}");
        }
    }

    #[test]
    fn a_singular_matrix_is_reported_not_divided_by() {
        let mut lu = BatchLu::<f64>::new(1, 2);
        lu.matrix_mut(0).copy_from_slice(&[1.0, 2.0, 2.0, 4.0]);
        assert!(!lu.factor(0));
        lu.matrix_mut(0).copy_from_slice(&[1.0, f64::NAN, 2.0, 4.0]);
        assert!(!lu.factor(0));
    }
}
