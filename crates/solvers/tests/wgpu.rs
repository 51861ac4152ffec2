//! The same solver and gradients on the wgpu device (f32; CI runs it on a software Vulkan
//! driver): ROBER to t = 40 within 1e-3 of the reference, and gradients within 1e-3 of the
//! CPU's f64 gradients on a mildly stiff mechanism, by both modes and as the sum of the
//! per-mode split.

mod common;

use burn::tensor::{Device, Tensor};
use common::{method, request, sum_of_squares};
use stiffnode_chemistry::mass_action::{MassActionField, mechanism_file, rober};
use stiffnode_solvers::field::to_host;
use stiffnode_solvers::gradient::modes::split;
use stiffnode_solvers::gradient::{gradient, solve_on_graph};
use stiffnode_solvers::{DeviceKind, GradientMode, SolveOptions, solve};

#[test]
fn rober_on_wgpu_matches_reference_at_40() {
    let device = DeviceKind::Wgpu.open().expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    let (t, reference) = rober::REFERENCE[0];
    for name in ["radau5", "esdirk4"] {
        let sol =
            solve(&field, &request(&method(name), &mech.initial, &[t], &SolveOptions::adaptive(1e-6, 1e-12))).unwrap();
        let y = sol.state(0, 0);
        for i in 0..3 {
            let rel = ((y[i] - reference[i]) / reference[i]).abs();
            assert!(rel <= 1e-3, "{name} on wgpu: y{i} = {} vs {}, rel err {rel:e}", y[i], reference[i]);
        }
        println!("{name} on wgpu: {y:?}, stats {:?}", sol.stats);
    }
}

/// Rates spanning a factor 50: mildly stiff, well inside f32's range.
const MILD: &str = r#"
name = "mild"
species = ["A", "B", "C"]
[initial]
A = 1.0
B = 0.2
[[reactions]]
equation = "A => B"
rate = 1.0
[[reactions]]
equation = "B => C"
rate = 50.0
[[reactions]]
equation = "A + B => C"
rate = 5.0
"#;

/// `∂L/∂log10 k` and `∂L/∂y0` for `L = Σ_k |y(t_k)|²`, by the graph mode, the adjoint mode,
/// and as the sum of the per-mode parts of the adjoint's parameter gradient (with its `∂L/∂y0`).
fn gradients(device: &Device, name: &str) -> [Vec<f64>; 3] {
    let mech = mechanism_file::parse(MILD, "mild.toml").unwrap();
    let ad = device.clone().autodiff();
    let field = MassActionField::with_learnable(&mech, &ad, &[0, 1, 2]);
    let req = request(&method(name), &mech.initial, &[0.25, 0.5, 1.0], &SolveOptions::fixed(8));
    let loss = |s: &[Tensor<2>]| sum_of_squares(s);
    let rec = solve_on_graph(&field, &req).unwrap();
    let grads = loss(&rec.states).backward();
    let param = field.log10_rates.as_ref().unwrap();
    let mut graph = to_host(param.val().grad(&grads).unwrap());
    graph.extend(to_host(rec.y0.grad(&grads).unwrap()));
    let adj = gradient(&field, &req.with_gradient(GradientMode::Adjoint { keep_steps: true }), loss).unwrap();
    let mut adjoint = to_host(adj.params.get::<1>(param.id).unwrap());
    adjoint.extend(adj.y0.iter());
    let modes = split(&field, &adj).unwrap();
    let mut by_modes = vec![0.0; 3];
    for g in modes.gradients(&field, 3, |s| Some(s.rank)) {
        if let Some(g) = g.get::<1>(param.id) {
            by_modes.iter_mut().zip(to_host(g)).for_each(|(a, b)| *a += b);
        }
    }
    by_modes.extend(adj.y0.iter());
    [graph, adjoint, by_modes]
}

#[test]
fn wgpu_gradients_match_cpu_f64_gradients() {
    let cpu = DeviceKind::Cpu.open().unwrap();
    let gpu = DeviceKind::Wgpu.open().expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    for method in ["radau5", "esdirk4", "bdf2"] {
        let [reference, _, _] = gradients(&cpu, method);
        for (mode, g) in ["graph", "adjoint", "sum of modes"].iter().zip(gradients(&gpu, method)) {
            let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let rel =
                g.iter().zip(&reference).map(|(a, b)| (a - b).abs() / b.abs().max(1e-3 * scale)).fold(0.0, f64::max);
            println!("{method} {mode}: wgpu {g:?}\n  cpu {reference:?}\n  max rel {rel:.1e}");
            assert!(rel <= 1e-3, "{method} {mode}: wgpu {g:?} vs cpu {reference:?}");
        }
    }
}
