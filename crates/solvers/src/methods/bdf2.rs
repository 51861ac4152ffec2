//! Variable-step BDF2 (Hairer, Nørsett & Wanner I, III.5, (5.5)): its coefficients as functions
//! of the step ratio `ω = h_n / h_{n−1}`, its error constant and its stability function.

use num_complex::Complex64;

use super::MethodInfo;

/// The variable-step two-step backward differentiation formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdf2;

/// One BDF2 step as `y_{n+1} = α₁y_n + α₀y_{n−1} + hβ f(y_{n+1})`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bdf2Coefficients {
    /// Weight of `y_n`.
    pub alpha1: f64,
    /// Weight of `y_{n−1}`.
    pub alpha0: f64,
    /// Weight of `h f(y_{n+1})`.
    pub beta: f64,
}

impl Bdf2 {
    /// CLI name.
    pub const NAME: &'static str = "bdf2";

    /// The row of the `methods` table.
    pub fn info() -> MethodInfo {
        MethodInfo {
            name: Self::NAME,
            order: 2,
            stages: 1,
            a_stable: true,
            l_stable: true,
            stiffly_accurate: true,
            embedded: true,
        }
    }

    /// Coefficients for step ratio `ω = h_n / h_{n−1}` (HNW I, III.5, (5.5)).
    pub fn coefficients(omega: f64) -> Bdf2Coefficients {
        let den = 1.0 + 2.0 * omega;
        Bdf2Coefficients {
            alpha1: (1.0 + omega).powi(2) / den,
            alpha0: -omega * omega / den,
            beta: (1.0 + omega) / den,
        }
    }

    /// Local error of the step `h` after a step `h_prev`, per unit third divided difference:
    /// the residual of the formula on `p(t) = (t − t_{n+1})³`, so `LTE ≈ C · y[t_{n+1},…,t_{n−2}]`.
    pub fn error_constant(h: f64, h_prev: f64) -> f64 {
        let k = Self::coefficients(h / h_prev);
        k.alpha1 * h.powi(3) + k.alpha0 * (h + h_prev).powi(3)
    }

    /// Principal root of `(3/2 − z)ζ² − 2ζ + 1/2 = 0` (constant steps), the growth factor of
    /// the solution component: `R(z) = (2 + √(1+2z))/(3 − 2z)`, and its derivative.
    pub fn stability(z: Complex64) -> (Complex64, Complex64) {
        let s = (1.0 + 2.0 * z).sqrt();
        let den = 3.0 - 2.0 * z;
        let r = (2.0 + s) / den;
        let dr = (den / s + 2.0 * (2.0 + s)) / (den * den);
        (r, dr)
    }
}
