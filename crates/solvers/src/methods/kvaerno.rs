//! Kværnø's ESDIRK 4/3 (Kværnø, BIT 44 (2004) 489–502): five stages, explicit first stage,
//! order 4, L-stable and stiffly accurate, with the fourth stage as an order-3 stiffly accurate
//! embedded solution (so the error estimate needs no filter).

use crate::step_control::ControllerKind;
use crate::tableau::{ErrorEstimate, Tableau};

/// `esdirk4`: Kværnø 4/3, `γ = 0.5728160625`; every coefficient is a rational function of `γ`
/// as given in the paper.
pub fn esdirk4() -> Tableau {
    let g: f64 = 0.5728160625;
    // Horner evaluation of a polynomial in γ, highest degree first.
    let p = |cs: &[f64]| cs.iter().fold(0.0, |acc, &c| acc * g + c);
    let a21 = g;
    let a31 = p(&[144.0, -180.0, 81.0, -15.0, 1.0]) * g / p(&[12.0, -6.0, 1.0]).powi(2);
    let a32 = p(&[-36.0, 39.0, -15.0, 2.0]) * g / p(&[12.0, -6.0, 1.0]).powi(2);
    let a41 = p(&[-144.0, 396.0, -330.0, 117.0, -18.0, 1.0]) / (12.0 * g * g * p(&[12.0, -9.0, 2.0]));
    let a42 = p(&[72.0, -126.0, 69.0, -15.0, 1.0]) / (12.0 * g * g * p(&[3.0, -1.0]));
    let a43 = p(&[-6.0, 6.0, -1.0]) * p(&[12.0, -6.0, 1.0]).powi(2)
        / (12.0 * g * g * p(&[12.0, -9.0, 2.0]) * p(&[3.0, -1.0]));
    let a51 = p(&[288.0, -312.0, 120.0, -18.0, 1.0]) / (48.0 * g * g * p(&[12.0, -9.0, 2.0]));
    let a52 = p(&[24.0, -12.0, 1.0]) / (48.0 * g * g * p(&[3.0, -1.0]));
    let a53 = -p(&[12.0, -6.0, 1.0]).powi(3)
        / (48.0 * g * g * p(&[3.0, -1.0]) * p(&[12.0, -9.0, 2.0]) * p(&[6.0, -6.0, 1.0]));
    let a54 = p(&[-24.0, 36.0, -12.0, 1.0]) / p(&[24.0, -24.0, 4.0]);
    let a = vec![
        vec![0.0, 0.0, 0.0, 0.0, 0.0],
        vec![a21, g, 0.0, 0.0, 0.0],
        vec![a31, a32, g, 0.0, 0.0],
        vec![a41, a42, a43, g, 0.0],
        vec![a51, a52, a53, a54, g],
    ];
    let c = a.iter().map(|row| row.iter().sum()).collect();
    let e = (0..5).map(|j| a[4][j] - a[3][j]).collect();
    Tableau {
        name: "esdirk4",
        b: a[4].clone(),
        a,
        c,
        order: 4,
        error: Some(ErrorEstimate { f0: 0.0, e, order: 3, filter: None, controller: ControllerKind::Pi }),
        a_stable: true,
        l_stable: true,
        reference: "Kvaerno, BIT 44 (2004) 489-502, ESDIRK 4/3",
    }
}
