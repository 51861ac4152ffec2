//! Gauss–Legendre collocation (Hairer & Wanner II, IV.5, Table 5.1).

use crate::tableau::Tableau;

/// Two-stage Gauss–Legendre, order 4, `R(z) = (12+6z+z²)/(12−6z+z²)`. No error estimate.
pub fn gauss2() -> Tableau {
    let r = 3f64.sqrt() / 6.0;
    Tableau {
        name: "gauss2",
        a: vec![vec![0.25, 0.25 - r], vec![0.25 + r, 0.25]],
        b: vec![0.5, 0.5],
        c: vec![0.5 - r, 0.5 + r],
        order: 4,
        error: None,
        a_stable: true,
        l_stable: false,
        reference: "Hairer & Wanner II, IV.5, Table 5.1",
    }
}
