//! Gradients of the discrete solution against independent truth: central finite differences
//! of plain forward solves, and the closed form of backward Euler on `y' = λy`.

use stiffnode_solvers::gradient::check::{check_mechanism, max_rel_err};
use stiffnode_solvers::problems::rober;
use stiffnode_solvers::{DeviceKind, Method, SolveOptions, methods};

/// ROBER output times and fixed steps per interval: implicit methods to t = 10, the explicit
/// dopri5 to t = 0.01 (stiffness bounds its step).
fn rober_setup(method: &Method) -> (Vec<f64>, usize) {
    if method.name() == "dopri5" { (vec![0.005, 0.01], 25) } else { (vec![1.0, 10.0], 16) }
}

/// The three log10 rate constants of ROBER for every method, and its initial state for the
/// L-stable ones. (Methods with |R(−∞)| = 1 carry a perturbation of the fast species B
/// undamped through every step, where ROBER's 3·10⁷·B² term makes the loss curve within any
/// step that finite differences can resolve in f64; their initial-state gradient is checked
/// against the adjoint mode and the closed form instead.)
#[test]
fn rober_gradients_match_finite_differences_with_fixed_steps() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    for method in methods::all() {
        let (times, substeps) = rober_setup(&method);
        let r = check_mechanism(&mech, &device, &method, &times, &SolveOptions::fixed(substeps)).unwrap();
        let rates = max_rel_err(&r.gradient[..3], &r.finite_difference[..3]);
        let y0 = max_rel_err(&r.gradient[3..], &r.finite_difference[3..]);
        println!("{:<14} steps {:>4}  log-rates {rates:.1e}  y0 {y0:.1e}", method.name(), r.steps);
        assert!(rates <= 1e-6, "{}: {r:?}", method.name());
        if method.info().l_stable || method.name() == "dopri5" {
            assert!(y0 <= 1e-6, "{}: {r:?}", method.name());
        }
    }
}
