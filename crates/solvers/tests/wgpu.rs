//! The same solver on the wgpu device (f32 vector field; CI runs it on a software Vulkan
//! driver): ROBER to t = 40 within 1e-3 of the reference.

use stiffnode_solvers::problems::{MassActionField, rober};
use stiffnode_solvers::{DeviceKind, SolveOptions, methods, solve};

#[test]
fn rober_on_wgpu_matches_reference_at_40() {
    let device = DeviceKind::Wgpu.open().expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    let (t, reference) = rober::REFERENCE[0];
    for name in ["radau5", "esdirk4"] {
        let sol = solve(&field, &methods::by_name(name).unwrap(), &mech.initial, 0.0, &[t], &SolveOptions::adaptive(1e-6, 1e-12)).unwrap();
        let y = sol.state(0, 0);
        for i in 0..3 {
            let rel = ((y[i] - reference[i]) / reference[i]).abs();
            assert!(rel <= 1e-3, "{name} on wgpu: y{i} = {} vs {}, rel err {rel:e}", y[i], reference[i]);
        }
        println!("{name} on wgpu: {y:?}, stats {:?}", sol.stats);
    }
}
