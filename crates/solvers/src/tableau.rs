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

/// How a step's result is made of its start `v`, its stage values `Y_j` and its slopes `F_j`:
/// `y_{n+1} = δ·v + Σ_j w_j Y_j + h Σ_j e_j F_j` (design.md §4). At converged stages all three
/// forms below are the same number; they differ in what the adjoint adds up. A stiff component
/// of `y_{n+1}` is damped by `R(hλ) ≈ 0`: written with the slopes (`δ = 1`, `e = b`) it is the
/// difference of `v` and `hΣb_jF_j`, two terms as large as `v`, and its adjoint inherits that
/// cancellation (absolute error `ε·|a|` for a result of size `|R(hλ)·a|`); written with the stage
/// values it is a solve's result, damped as it is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// `δ`: the weight of the start.
    pub start: f64,
    /// `w`: the weights of the stage values.
    pub values: Vec<f64>,
    /// `e`: the weights of `h·F_j`.
    pub slopes: Vec<f64>,
}

impl StepOutput {
    /// `y_{n+1}` as the `last` of `s` stage values (a stiffly accurate method, a BDF step).
    pub fn last_stage(s: usize) -> Self {
        let mut values = vec![0.0; s];
        values[s - 1] = 1.0;
        Self { start: 0.0, values, slopes: vec![0.0; s] }
    }
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

    /// `y_{n+1}` in terms of the stage values where it can be ([`StepOutput`]): the last stage of
    /// a stiffly accurate method; with `A` invertible, `hF = (A⁻¹⊗I)(Y − 𝟙⊗v)` at the stages gives
    /// `w = A⁻ᵀb` and `δ = 1 − Σw = R(∞)` (Hairer & Wanner II, IV.3); otherwise
    /// (an explicit stage and `b` not the last row) the slopes, `y_{n+1} = v + hΣ b_j F_j`.
    pub fn output(&self) -> StepOutput {
        let s = self.stages();
        if self.stiffly_accurate() {
            return StepOutput::last_stage(s);
        }
        let a_inv = crate::linalg::invert(&self.a);
        // A singular `A` gives non-finite entries, or an inverse that does not invert it.
        let inverts = (0..s).all(|i| {
            (0..s).all(|j| {
                let p: f64 = (0..s).map(|k| self.a[i][k] * a_inv[k][j]).sum();
                (p - if i == j { 1.0 } else { 0.0 }).abs() <= 1e-12
            })
        });
        if !inverts {
            return StepOutput { start: 1.0, values: vec![0.0; s], slopes: self.b.clone() };
        }
        let values: Vec<f64> = (0..s).map(|j| (0..s).map(|i| self.b[i] * a_inv[i][j]).sum()).collect();
        StepOutput { start: 1.0 - values.iter().sum::<f64>(), values, slopes: vec![0.0; s] }
    }

    /// Explicit first stage (`a_11 = 0`, `c_1 = 0`): the stage is `y_n` itself, as in ESDIRKs.
    pub fn explicit_first_stage(&self) -> bool {
        self.a[0].iter().all(|&x| x == 0.0) && self.c[0] == 0.0
    }
}

#[cfg(test)]
mod tests {
    use num_complex::Complex64;

    use crate::methods::{Method, all};
    use crate::stability::evaluate;

    /// On `y' = λy` the stages are `Y = (I − zA)⁻¹𝟙·v` and `hF = zY`, so every output form must
    /// give `y_{n+1} = R(z)·v`, `R` from the stability module (a determinant ratio, computed
    /// independently): `δ + wᵀY + z·eᵀY = R(z)` for `v = 1`.
    #[test]
    fn every_output_form_reproduces_the_stability_function() {
        for method in all() {
            let Method::RungeKutta(tab) = &method else { continue };
            let out = tab.output();
            let s = tab.stages();
            for z in [-0.3, -2.0, -50.0, -1e4, 0.7] {
                // An explicit method's R grows like z⁵ out there: rounding, not a test.
                if tab.structure() == super::Structure::Explicit && z < -2.0 {
                    continue;
                }
                let m: Vec<Vec<f64>> = (0..s)
                    .map(|i| (0..s).map(|j| if i == j { 1.0 } else { 0.0 } - z * tab.a[i][j]).collect())
                    .collect();
                let inv = crate::linalg::invert(&m);
                let y: Vec<f64> = (0..s).map(|i| inv[i].iter().sum()).collect();
                let got = out.start + (0..s).map(|j| (out.values[j] + z * out.slopes[j]) * y[j]).sum::<f64>();
                let r = evaluate(&method, Complex64::new(z, 0.0)).r.re;
                assert!((got - r).abs() <= 1e-12 * (1.0 + r.abs()), "{} at z = {z}: {got} vs R = {r}", tab.name);
            }
        }
    }

    /// The stiffly accurate methods give their last stage; Gauss (invertible `A`, not stiffly
    /// accurate) stage values with `δ = R(∞) = 1` for two stages; dopri5 is stiffly accurate too
    /// (its last row is `b`).
    #[test]
    fn output_forms_are_the_expected_ones() {
        for method in all() {
            let Method::RungeKutta(tab) = &method else { continue };
            let out = tab.output();
            let last = out.values.last().copied();
            match tab.name {
                "gauss2" => assert!((out.start - 1.0).abs() < 1e-12 && out.slopes.iter().all(|e| *e == 0.0)),
                "implicit-midpoint" => assert!((out.start + 1.0).abs() < 1e-12, "{out:?}"),
                "trapezoid" => assert_eq!(last, Some(1.0)),
                _ if tab.stiffly_accurate() => assert_eq!((out.start, last), (0.0, Some(1.0)), "{}", tab.name),
                _ => panic!("{}: add its expected output form: {out:?}", tab.name),
            }
        }
    }
}
