//! A Runge–Kutta method as data: its Butcher tableau, its embedded error estimate and the
//! facts a user chooses it by (Hairer & Wanner, *Solving ODEs II*, IV.5 and IV.8).

use crate::step_control::ControllerKind;

/// How the stage equations couple, read off the coefficient matrix `A`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// `A` strictly lower triangular: every stage is an explicit formula.
    Explicit,
    /// `A` lower triangular: stages are solved one after another (SDIRK, ESDIRK).
    Diagonal,
    /// `A` full: all stages are solved together as one `s·d` system (Radau, Gauss, Lobatto).
    Full,
}

/// The embedded error estimate of one step:
/// `err = h·(f0·f(t_n, y_n) + Σ_j e_j F_j)`, optionally filtered by `(I − hγJ)⁻¹`
/// (Hairer & Wanner II, IV.8, eq. (8.19)–(8.20), used by RADAU5; the filter keeps the estimate
/// bounded on stiff components).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorEstimate {
    /// Weight of `f(t_n, y_n)` (nonzero for estimates that need an extra explicit stage).
    pub f0: f64,
    /// Weights of the stage derivatives `F_j`: the solution weights minus the embedded ones.
    pub e: Vec<f64>,
    /// The order `q` of the embedded solution: the estimate is `O(h^{q+1})`.
    pub order: u32,
    /// `γ` of the filter `(I − hγJ)⁻¹`, if the estimate is filtered.
    pub filter: Option<f64>,
    /// The step-size controller the estimate drives.
    pub controller: ControllerKind,
}

/// A Runge–Kutta method: coefficients and metadata. One generic engine runs them all.
#[derive(Debug, Clone, PartialEq)]
pub struct Tableau {
    /// The name the CLI spells.
    pub name: &'static str,
    /// Coefficient matrix `A`, row-major, `s×s`.
    pub a: Vec<Vec<f64>>,
    /// Solution weights `b`.
    pub b: Vec<f64>,
    /// Nodes `c`.
    pub c: Vec<f64>,
    /// Classical order of the solution.
    pub order: u32,
    /// Embedded error estimate, if the method has one.
    pub error: Option<ErrorEstimate>,
    /// A-stable: `|R(z)| ≤ 1` on the closed left half-plane.
    pub a_stable: bool,
    /// L-stable: A-stable and `R(−∞) = 0`.
    pub l_stable: bool,
    /// Where the coefficients come from.
    pub reference: &'static str,
}

impl Tableau {
    /// Number of stages `s`.
    pub fn stages(&self) -> usize {
        self.b.len()
    }

    /// The coupling of the stage equations.
    pub fn structure(&self) -> Structure {
        let s = self.stages();
        let upper = (0..s).any(|i| (i + 1..s).any(|j| self.a[i][j] != 0.0));
        if upper {
            Structure::Full
        } else if (0..s).all(|i| self.a[i][i] == 0.0) {
            Structure::Explicit
        } else {
            Structure::Diagonal
        }
    }

    /// Stiffly accurate: the last row of `A` equals `b`, so `y_{n+1}` is the last stage.
    pub fn stiffly_accurate(&self) -> bool {
        let last = &self.a[self.stages() - 1];
        last.iter().zip(&self.b).all(|(x, y)| (x - y).abs() <= 1e-15 * (1.0 + y.abs()))
    }

    /// Explicit first stage (`a_11 = 0`, `c_1 = 0`): the stage is `y_n` itself, as in ESDIRKs.
    pub fn explicit_first_stage(&self) -> bool {
        self.a[0].iter().all(|&x| x == 0.0) && self.c[0] == 0.0
    }
}
