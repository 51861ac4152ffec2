//! Small dense linear algebra shared by the engine and the gradients: batched LU on the host
//! (faer), one small matrix per trajectory; the stage matrix of implicit Runge–Kutta steps; the
//! inverse of a coefficient matrix. The Newton matrices are `d×d` (DIRK, BDF2) or `sd×sd` (fully
//! implicit RK), small enough that a factorization per trajectory on the host is cheaper than any
//! device round trip. Factors of the whole batch live in one buffer and reuse one scratch
//! buffer, so no allocation happens per matrix.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting::{factor, solve};
use faer::perm::PermRef;
use faer::{Conj, MatMut, MatRef, Par};

/// LU factors with partial pivoting of `batch` matrices of size `n×n`.
pub struct BatchedLu {
    n: usize,
    /// Column-major `L\U` per matrix.
    lu: Vec<f64>,
    fwd: Vec<usize>,
    inv: Vec<usize>,
}

impl BatchedLu {
    /// Factor the row-major matrices `mats` (`batch·n·n` values).
    pub fn factor(mats: &[f64], n: usize) -> Self {
        let nn = n * n;
        let batch = mats.len() / nn;
        let mut lu = vec![0.0; mats.len()];
        for (dst, src) in lu.chunks_exact_mut(nn).zip(mats.chunks_exact(nn)) {
            for r in 0..n {
                for c in 0..n {
                    dst[c * n + r] = src[r * n + c];
                }
            }
        }
        let (mut fwd, mut inv) = (vec![0usize; batch * n], vec![0usize; batch * n]);
        let mut buf = MemBuffer::new(factor::lu_in_place_scratch::<usize, f64>(n, n, Par::Seq, Default::default()));
        for b in 0..batch {
            factor::lu_in_place(
                MatMut::from_column_major_slice_mut(&mut lu[b * nn..(b + 1) * nn], n, n),
                &mut fwd[b * n..(b + 1) * n],
                &mut inv[b * n..(b + 1) * n],
                Par::Seq,
                MemStack::new(&mut buf),
                Default::default(),
            );
        }
        Self { n, lu, fwd, inv }
    }

    /// Solve `M_b x_b = r_b` in place for every trajectory `b`; `rhs` holds `batch·n` values.
    pub fn solve_in_place(&self, rhs: &mut [f64]) {
        let mut buf = MemBuffer::new(solve::solve_in_place_scratch::<usize, f64>(self.n, 1, Par::Seq));
        for (b, r) in rhs.chunks_exact_mut(self.n).enumerate() {
            self.solve_columns(b, r, 1, &mut buf);
        }
    }

    /// Solve `M_b X = R` in place for `cols` right-hand sides of matrix `b`, stored one after
    /// another in `rhs` (`cols·n` values).
    pub fn solve_many_in_place(&self, b: usize, rhs: &mut [f64], cols: usize) {
        let mut buf = MemBuffer::new(solve::solve_in_place_scratch::<usize, f64>(self.n, cols, Par::Seq));
        self.solve_columns(b, rhs, cols, &mut buf);
    }

    /// The inverses `M_b⁻¹`, row-major (`batch·n·n` values), by solving against the identity.
    pub fn inverse(&self) -> Vec<f64> {
        let (n, nn) = (self.n, self.n * self.n);
        let mut buf = MemBuffer::new(solve::solve_in_place_scratch::<usize, f64>(n, n, Par::Seq));
        let mut out = vec![0.0; self.lu.len()];
        for (b, inv) in out.chunks_exact_mut(nn).enumerate() {
            (0..n).for_each(|i| inv[i * n + i] = 1.0);
            // The identity is symmetric, so the column-major solution read row-major is `M⁻ᵀ`.
            self.solve_columns(b, inv, n, &mut buf);
            for i in 0..n {
                for j in 0..i {
                    inv.swap(i * n + j, j * n + i);
                }
            }
        }
        out
    }

    /// Solve `M_b X = R` in place for the `cols` column-major right-hand sides in `r`.
    fn solve_columns(&self, b: usize, r: &mut [f64], cols: usize, buf: &mut MemBuffer) {
        let (n, nn) = (self.n, self.n * self.n);
        let lu = MatRef::from_column_major_slice(&self.lu[b * nn..(b + 1) * nn], n, n);
        let perm = PermRef::new_checked(&self.fwd[b * n..(b + 1) * n], &self.inv[b * n..(b + 1) * n], n);
        let rhs = MatMut::from_column_major_slice_mut(r, n, cols);
        solve::solve_in_place_with_conj(lu, lu, perm, Conj::No, rhs, Par::Seq, MemStack::new(buf));
    }
}

/// Fill `m` (row-major, `sd×sd`, index `(i·d+p, j·d+q)`) with the Jacobian of the stage
/// equations `I − (hA ⊗ I)·blockdiag(J_1 … J_s)` (design.md §3–4); `jac(j)` is stage `j`'s
/// `d×d` Jacobian (simplified Newton passes one Jacobian for every stage; gradients the exact
/// ones).
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
