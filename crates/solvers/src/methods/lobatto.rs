//! Lobatto IIIC methods (Hairer & Wanner II, IV.5, Tables 5.11–5.12): L-stable, stiffly
//! accurate, `R'(z) = O(z⁻³)`.

use crate::tableau::Tableau;

/// Two-stage Lobatto IIIC, order 2, `R(z) = 2/(2−2z+z²)`. No error estimate.
pub fn lobatto3c2() -> Tableau {
    Tableau {
        name: "lobatto3c2",
        a: vec![vec![0.5, -0.5], vec![0.5, 0.5]],
        b: vec![0.5, 0.5],
        c: vec![0.0, 1.0],
        order: 2,
        error: None,
        a_stable: true,
        l_stable: true,
        reference: "Hairer & Wanner II, IV.5, Table 5.11",
    }
}

/// Three-stage Lobatto IIIC, order 4, `R(z) = (24+6z)/(24−18z+6z²−z³)`. No error estimate.
pub fn lobatto3c3() -> Tableau {
    Tableau {
        name: "lobatto3c3",
        a: vec![
            vec![1.0 / 6.0, -1.0 / 3.0, 1.0 / 6.0],
            vec![1.0 / 6.0, 5.0 / 12.0, -1.0 / 12.0],
            vec![1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0],
        ],
        b: vec![1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0],
        c: vec![0.0, 0.5, 1.0],
        order: 4,
        error: None,
        a_stable: true,
        l_stable: true,
        reference: "Hairer & Wanner II, IV.5, Table 5.12",
    }
}
