//! Radau IIA collocation (Hairer & Wanner II, IV.5, Table 5.6): L-stable, stiffly accurate.

use crate::step_control::ControllerKind;
use crate::tableau::{ErrorEstimate, Tableau};

/// Two-stage Radau IIA, order 3, `R(z) = (6+2z)/(6−4z+z²)`.
///
/// Error estimate built here in the manner of RADAU5 (Hairer & Wanner II, IV.8, (8.19)): an
/// order-2 embedded solution `y_n + h(¼f(y_n) + ⅜F_1 + ⅜F_2)`, the difference filtered by
/// `(I − h/4·J)⁻¹`.
pub fn radau3() -> Tableau {
    Tableau {
        name: "radau3",
        a: vec![vec![5.0 / 12.0, -1.0 / 12.0], vec![0.75, 0.25]],
        b: vec![0.75, 0.25],
        c: vec![1.0 / 3.0, 1.0],
        order: 3,
        error: Some(ErrorEstimate {
            f0: -0.25,
            e: vec![0.375, -0.125],
            order: 2,
            filter: Some(0.25),
            controller: ControllerKind::Predictive,
        }),
        a_stable: true,
        l_stable: true,
        reference: "Hairer & Wanner II, IV.5, Table 5.5",
    }
}

/// Three-stage Radau IIA, order 5, `R(z) = (60+24z+3z²)/(60−36z+9z²−z³)`, with RADAU5's
/// embedded estimate (Hairer & Wanner II, IV.8, (8.19)–(8.20); constants `DD1..DD3`, `U1` of
/// RADAU5): `err = γ₀(I − hγ₀J)⁻¹(h f(y_n) + Σ dd_i Z_i)`, `Z = h(A⊗I)F`.
pub fn radau5() -> Tableau {
    let s6 = 6f64.sqrt();
    let a = vec![
        vec![(88.0 - 7.0 * s6) / 360.0, (296.0 - 169.0 * s6) / 1800.0, (-2.0 + 3.0 * s6) / 225.0],
        vec![(296.0 + 169.0 * s6) / 1800.0, (88.0 + 7.0 * s6) / 360.0, (-2.0 - 3.0 * s6) / 225.0],
        vec![(16.0 - s6) / 36.0, (16.0 + s6) / 36.0, 1.0 / 9.0],
    ];
    let dd = [-(13.0 + 7.0 * s6) / 3.0, (-13.0 + 7.0 * s6) / 3.0, -1.0 / 3.0];
    // γ₀ = 1/U1, the real eigenvalue of A (RADAU5: U1 = 30/(6 + 81^⅓ − 9^⅓)).
    let gamma0 = (6.0 + 81f64.cbrt() - 9f64.cbrt()) / 30.0;
    // Σ_i dd_i Z_i = h Σ_j (Aᵀdd)_j F_j.
    let e = (0..3).map(|j| gamma0 * (0..3).map(|i| dd[i] * a[i][j]).sum::<f64>()).collect();
    Tableau {
        name: "radau5",
        b: a[2].clone(),
        a,
        c: vec![(4.0 - s6) / 10.0, (4.0 + s6) / 10.0, 1.0],
        order: 5,
        error: Some(ErrorEstimate {
            f0: gamma0,
            e,
            order: 3,
            filter: Some(gamma0),
            controller: ControllerKind::Predictive,
        }),
        a_stable: true,
        l_stable: true,
        reference: "Hairer & Wanner II, IV.5, Table 5.6; RADAU5",
    }
}
