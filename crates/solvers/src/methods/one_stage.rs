//! The three classical one-implicit-stage methods (Hairer & Wanner II, IV.3).

use crate::step_control::ControllerKind;
use crate::tableau::{ErrorEstimate, Tableau};

/// Backward Euler, `R(z) = 1/(1−z)`. Error estimate `h/2·(F_1 − f(y_n))`, filtered by the
/// Newton matrix `(I − hJ)⁻¹` (Hairer & Wanner II, IV.8).
pub fn backward_euler() -> Tableau {
    Tableau {
        name: "backward-euler",
        a: vec![vec![1.0]],
        b: vec![1.0],
        c: vec![1.0],
        order: 1,
        error: Some(ErrorEstimate {
            f0: -0.5,
            e: vec![0.5],
            order: 1,
            filter: Some(1.0),
            controller: ControllerKind::Pi,
        }),
        a_stable: true,
        l_stable: true,
        reference: "Hairer & Wanner II, IV.3",
    }
}

/// Trapezoid rule (Crank–Nicolson) as a two-stage ESDIRK, `R(z) = (2+z)/(2−z)`. Error estimate
/// against the order-1 `y_n + hF_2`, filtered by `(I − h/2·J)⁻¹`.
pub fn trapezoid() -> Tableau {
    Tableau {
        name: "trapezoid",
        a: vec![vec![0.0, 0.0], vec![0.5, 0.5]],
        b: vec![0.5, 0.5],
        c: vec![0.0, 1.0],
        order: 2,
        error: Some(ErrorEstimate {
            f0: 0.0,
            e: vec![0.5, -0.5],
            order: 1,
            filter: Some(0.5),
            controller: ControllerKind::Pi,
        }),
        a_stable: true,
        l_stable: false,
        reference: "Hairer & Wanner II, IV.3",
    }
}

/// Implicit midpoint rule (Gauss–Legendre, one stage), `R(z) = (2+z)/(2−z)`. No error estimate.
pub fn implicit_midpoint() -> Tableau {
    Tableau {
        name: "implicit-midpoint",
        a: vec![vec![0.5]],
        b: vec![1.0],
        c: vec![0.5],
        order: 2,
        error: None,
        a_stable: true,
        l_stable: false,
        reference: "Hairer & Wanner II, IV.5, Table 5.1",
    }
}
