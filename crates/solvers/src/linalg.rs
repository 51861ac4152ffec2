//! Batched dense LU on the host (faer): one small matrix per trajectory. The Newton matrices
//! are `d×d` (DIRK, BDF2) or `sd×sd` (fully implicit RK), small enough that a factorization
//! per trajectory on the host is cheaper than any device round trip.

use faer::linalg::solvers::{PartialPivLu, Solve};
use faer::{MatMut, MatRef};

/// LU factors of `batch` matrices of size `n×n`.
pub struct BatchedLu {
    n: usize,
    factors: Vec<PartialPivLu<f64>>,
}

impl BatchedLu {
    /// Factor the row-major matrices `mats` (`batch·n·n` values).
    pub fn factor(mats: &[f64], n: usize) -> Self {
        let factors = mats
            .chunks_exact(n * n)
            // Row-major storage read as column-major is the transpose; `MatRef::transpose`
            // restores the matrix without a copy.
            .map(|m| PartialPivLu::new(MatRef::from_column_major_slice(m, n, n).transpose()))
            .collect();
        Self { n, factors }
    }

    /// Size `n` of each matrix.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Solve `M_b x_b = r_b` in place for every trajectory `b`; `rhs` holds `batch·n` values.
    pub fn solve_in_place(&self, rhs: &mut [f64]) {
        for (lu, r) in self.factors.iter().zip(rhs.chunks_exact_mut(self.n)) {
            lu.solve_in_place(MatMut::from_column_major_slice_mut(r, self.n, 1));
        }
    }
}
