//! Dormand–Prince 5(4) (Dormand & Prince, J. Comput. Appl. Math. 6 (1980); Hairer, Nørsett &
//! Wanner I, II.5, Table 5.2): the explicit, non-stiff baseline.

use crate::step_control::ControllerKind;
use crate::tableau::{ErrorEstimate, Tableau};

/// `dopri5`: explicit, seven stages (FSAL), order 5 with an order-4 embedded solution.
pub fn dopri5() -> Tableau {
    let b = vec![35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0, 0.0];
    let b_hat =
        [5179.0 / 57600.0, 0.0, 7571.0 / 16695.0, 393.0 / 640.0, -92097.0 / 339200.0, 187.0 / 2100.0, 1.0 / 40.0];
    let a = vec![
        vec![0.0; 7],
        vec![0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        vec![3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        vec![44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0, 0.0],
        vec![19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0, 0.0],
        vec![9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0, 0.0],
        b.clone(),
    ];
    let e = b.iter().zip(b_hat).map(|(x, y)| x - y).collect();
    Tableau {
        name: "dopri5",
        a,
        b,
        c: vec![0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0],
        order: 5,
        error: Some(ErrorEstimate { f0: 0.0, e, order: 4, filter: None, controller: ControllerKind::Pi }),
        a_stable: false,
        l_stable: false,
        reference: "Dormand & Prince, J. Comput. Appl. Math. 6 (1980)",
    }
}
