//! NASA 7-coefficient polynomials for the standard-state properties of an ideal-gas species
//! (McBride, Gordon & Reno, NASA TM-4513, 1993; Cantera's `NasaPoly2`):
//!
//! ```text
//! cp/R  = a0 + a1 T + a2 T² + a3 T³ + a4 T⁴
//! h/RT  = a0 + a1 T/2 + a2 T²/3 + a3 T³/4 + a4 T⁴/5 + a5/T
//! s/R   = a0 ln T + a1 T + a2 T²/2 + a3 T³/3 + a4 T⁴/4 + a6
//! ```
//!
//! with one coefficient set below the midpoint temperature and one above (at the midpoint the
//! low set, as Cantera). Outside the fitted range the polynomials are extrapolated, as Cantera
//! does. Generic over the [`Real`]: `f64`, or a dual number for exact derivatives.

use super::Real;

/// One species' NASA-7 fit: `low` applies for `T ≤ t_mid`, `high` above.
#[derive(Debug, Clone, PartialEq)]
pub struct Nasa7 {
    /// `[T_min, T_mid, T_max]` in K (`T_mid = T_max` for a single range).
    pub ranges: [f64; 3],
    /// Coefficients `a0 … a6` below the midpoint.
    pub low: [f64; 7],
    /// Coefficients above the midpoint.
    pub high: [f64; 7],
}

impl Nasa7 {
    fn coefficients<S: Real>(&self, t: S) -> &[f64; 7] {
        if t.re() <= self.ranges[1] { &self.low } else { &self.high }
    }

    /// `cp/R` at `t`.
    pub fn cp_r<S: Real>(&self, t: S) -> S {
        let a = self.coefficients(t);
        (((t * a[4] + a[3]) * t + a[2]) * t + a[1]) * t + a[0]
    }

    /// `h/(RT)` at `t`.
    pub fn h_rt<S: Real>(&self, t: S) -> S {
        let a = self.coefficients(t);
        (((t * (a[4] / 5.0) + a[3] / 4.0) * t + a[2] / 3.0) * t + a[1] / 2.0) * t + a[0] + t.recip() * a[5]
    }

    /// `s°/R` at `t` and the reference pressure (1 atm).
    pub fn s_r<S: Real>(&self, t: S) -> S {
        let a = self.coefficients(t);
        t.ln() * a[0] + (((t * (a[4] / 4.0) + a[3] / 3.0) * t + a[2] / 2.0) * t + a[1]) * t + a[6]
    }

    /// `g°/(RT) = h/(RT) − s°/R` at `t`.
    pub fn g_rt<S: Real>(&self, t: S) -> S {
        self.h_rt(t) - self.s_r(t)
    }
}
