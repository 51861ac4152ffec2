//! MLP fields in the GPU ensemble kernel (design.md §11; wgpu, f32 — CI runs it on software
//! Vulkan) against the CPU f64 engine, for every activation: the same steps and Jacobians where
//! the f32 and f64 Newton tolerances agree — a wrong kernel Jacobian changes them — states within
//! tolerance, and gradients of the parameters by the device's step record within 1e-3.

use burn::tensor::Tensor;
use stiffnode_models::{Activation, Mlp, MlpConfig};
use stiffnode_solvers::ensemble::{EnsembleDevice, Walk};
use stiffnode_solvers::gradient::gradient;
use stiffnode_solvers::gradient::params::flatten;
use stiffnode_solvers::{DeviceKind, GradientMode, Request, SolveOptions, VectorField, methods, solve};

const Y_HAT: [f64; 3] = [1.0, 3.6e-5, 0.5];

fn initial_states(batch: usize) -> Vec<f64> {
    (0..batch * 3).map(|k| Y_HAT[k % 3] * (0.5 + 0.37 * ((k * 7) % 5) as f64 / 4.0)).collect()
}

fn mlp(activation: Activation, device: &burn::tensor::Device) -> Mlp {
    let config = MlpConfig {
        hidden: vec![5, 5, 5, 5, 5, 5],
        activation,
        scaled: true,
        conserve: true,
        log_inputs: false,
        log_floor: None,
        time_scale: None,
    };
    Mlp::new(3, &config, Some((&Y_HAT, 1e3)), 11, device)
}

#[test]
fn mlp_fields_take_the_cpu_engines_steps_for_every_activation() {
    let gpu = EnsembleDevice::open(DeviceKind::Wgpu).expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    let cpu = DeviceKind::Cpu.open().unwrap();
    for name in Activation::NAMES {
        let field = mlp(name.parse().unwrap(), &cpu);
        let method = methods::by_name("radau5").unwrap();
        let req = Request::new(method, initial_states(8), 0.0, vec![1e3, 1e4, 1e5])
            .with_options(SolveOptions::adaptive(1e-3, 1e-7));
        let ens = gpu.solve(&field.kernel().unwrap(), &req).unwrap();
        let reference = solve(&field, &req).unwrap();
        let (ks, cs) = (&ens.solution.stats, &reference.stats);
        println!("{name}: kernel {ks:?}\n      cpu    {cs:?}");
        assert_eq!((ks.steps, ks.rejected, ks.jacobian_evaluations), (cs.steps, cs.rejected, cs.jacobian_evaluations));
        // More than one Newton iteration per step: the Jacobian matters (a wrong one changes the
        // steps and Jacobians above). The kernel also stops Newton at f32's rounding floor, which
        // the f64 engine never meets, so its iteration count differs by some percent.
        assert!(cs.newton_iterations > cs.steps, "{name}: too mild a field to test the Jacobian");
        let extra = ks.newton_iterations.abs_diff(cs.newton_iterations) as f64 / cs.newton_iterations as f64;
        assert!(extra <= 0.15, "{name}: Newton iterations {} vs {}", ks.newton_iterations, cs.newton_iterations);
        let pairs = ens.solution.states.iter().flatten().zip(reference.states.iter().flatten());
        let units = pairs.map(|(x, y)| (x - y).abs() / (1e-7 + 1e-3 * y.abs())).fold(0.0, f64::max);
        assert!(units <= 1.0, "{name}: differs by {units} tolerance units");
    }
}

#[test]
fn mlp_gradients_from_the_kernels_record_match_the_cpu_engines() {
    // The backward kernel walks the steps and backpropagates through the network in each thread
    // (the parameter product), for every activation, against the CPU f64 adjoint.
    let gpu = EnsembleDevice::open(DeviceKind::Wgpu).expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let method = methods::by_name("radau5").unwrap();
    let req = Request::new(method, initial_states(16), 0.0, vec![1e3, 1e4, 1e5])
        .with_options(SolveOptions::adaptive(1e-5, 1e-9))
        .with_gradient(GradientMode::Adjoint { keep_steps: false });
    let loss = |s: &[Tensor<2>]| s.iter().map(|x| x.clone().powi_scalar(2).sum()).reduce(|a, b| a + b).unwrap();
    let max_rel = |a: &[f64], b: &[f64]| {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.iter().zip(b).map(|(x, y)| (x - y).abs() / scale).fold(0.0, f64::max)
    };
    for activation in [Activation::Gelu, Activation::Tanh, Activation::Softplus, Activation::Relu, Activation::Swish] {
        let field = mlp(activation, &ad);
        let cpu = gradient(&field, &req, loss).unwrap();
        let (_, dev) = gpu.clone().with_walk(Walk::Device).gradient(&field, &req, loss, 1000).unwrap();
        let (g_cpu, g_dev) = (flatten(&field, &cpu.params), flatten(&field, &dev.params));
        let (rel_p, rel_y) = (max_rel(&g_dev, &g_cpu), max_rel(&dev.y0, &cpu.y0));
        // The same record walked back on the host in f64: what the kernel's walk alone changes.
        let (_, host) = gpu.clone().with_walk(Walk::Host).gradient(&field, &req, loss, 1000).unwrap();
        let (walk_p, walk_y) = (max_rel(&g_dev, &flatten(&field, &host.params)), max_rel(&dev.y0, &host.y0));
        println!(
            "{activation:?}: ∂L/∂θ ({} parameters) max rel {rel_p:.2e}, ∂L/∂y0 {rel_y:.2e}; against the host walk of the same record {walk_p:.2e}, {walk_y:.2e}",
            g_cpu.len()
        );
        assert!(rel_p <= 1e-3 && walk_p <= 1e-3, "{activation:?}: ∂L/∂θ differs by {rel_p:e}, {walk_p:e}");
        assert!(walk_y <= 1e-3, "{activation:?}: ∂L/∂y0 differs from the host walk by {walk_y:e}");
        // ReLU's Jacobian jumps at its kink: where the f32 forward's stage values put a unit on
        // the other side of it than the f64 engine's, ∂L/∂y0 differs by that jump (8e-3 here).
        if activation != Activation::Relu {
            assert!(rel_y <= 1e-3, "{activation:?}: ∂L/∂y0 differs by {rel_y:e}");
        }
    }
}

#[test]
fn a_walk_larger_than_a_device_buffer_is_refused_by_name() {
    // 100,000 trajectories × 188 parameters × two checkpoint slots of f32: 150 MB of parameter
    // gradients, more than software Vulkan's 128 MiB buffers (checked before the forward solve).
    let gpu = EnsembleDevice::open(DeviceKind::Wgpu).expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    let field = mlp(Activation::Tanh, &DeviceKind::Cpu.open().unwrap().autodiff());
    let req = Request::new(methods::by_name("radau5").unwrap(), initial_states(100_000), 0.0, vec![1e3])
        .with_options(SolveOptions::adaptive(1e-4, 1e-8));
    let err = gpu.with_walk(Walk::Device).solve_on_graph(&field, &req, 1).err().expect("refused").to_string();
    assert!(err.contains("adjoint's parameter gradients") && err.contains("split the batch"), "{err}");
}
