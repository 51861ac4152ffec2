//! Two-stage L-stable singly diagonally implicit methods with `γ = 1 − 1/√2`:
//! `R(z) = (1+(1−2γ)z)/(1−γz)²` for both.

use crate::step_control::ControllerKind;
use crate::tableau::{ErrorEstimate, Tableau};

fn gamma() -> f64 {
    1.0 - 1.0 / 2f64.sqrt()
}

/// Alexander's two-stage SDIRK (Alexander 1977; Hairer & Wanner II, IV.6, (6.18)), order 2,
/// stiffly accurate. Error estimate against `y_n + hF_1`, filtered by `(I − hγJ)⁻¹`.
pub fn sdirk2() -> Tableau {
    let g = gamma();
    Tableau {
        name: "sdirk2",
        a: vec![vec![g, 0.0], vec![1.0 - g, g]],
        b: vec![1.0 - g, g],
        c: vec![g, 1.0],
        order: 2,
        error: Some(ErrorEstimate {
            f0: 0.0,
            e: vec![-g, g],
            order: 1,
            filter: Some(g),
            controller: ControllerKind::Pi,
        }),
        a_stable: true,
        l_stable: true,
        reference: "Alexander, SIAM J. Numer. Anal. 14 (1977)",
    }
}

/// TR-BDF2 as a three-stage ESDIRK (Bank et al. 1985; Hosea & Shampine, Appl. Numer. Math. 20
/// (1996)): a trapezoid stage to `t_n + (2−√2)h`, then BDF2. Order 2 with Hosea & Shampine's
/// third-order companion for the error estimate, filtered by `(I − hγJ)⁻¹`.
pub fn trbdf2() -> Tableau {
    let d = gamma();
    let w = 2f64.sqrt() / 4.0;
    Tableau {
        name: "trbdf2",
        a: vec![vec![0.0, 0.0, 0.0], vec![d, d, 0.0], vec![w, w, d]],
        b: vec![w, w, d],
        c: vec![0.0, 2.0 * d, 1.0],
        order: 2,
        error: Some(ErrorEstimate {
            f0: 0.0,
            e: vec![(4.0 * w - 1.0) / 3.0, -1.0 / 3.0, 2.0 * d / 3.0],
            order: 3,
            filter: Some(d),
            controller: ControllerKind::Pi,
        }),
        a_stable: true,
        l_stable: true,
        reference: "Hosea & Shampine, Appl. Numer. Math. 20 (1996)",
    }
}
