//! The GPU ensemble kernel (design.md §11) on the wgpu device (f32; CI runs it on a software
//! Vulkan driver, which caps a kernel's loops, so long solves there resume over several
//! launches) against the CPU f64 engine: ROBER batches with perturbed initial states, each
//! trajectory its own steps, the engine's algorithm step for step, failures reported per
//! trajectory.

mod common;

use common::{method, request};
use stiffnode_chemistry::mass_action::{MassActionField, Mechanism, pollu, rober};
use stiffnode_solvers::ensemble::{EnsembleDevice, EnsembleSolution, TrajectoryStatus, Walk};
use stiffnode_solvers::{DeviceKind, Request, Solution, SolveError, SolveOptions, VectorField, solve};

/// Initial states of `batch` trajectories: the mechanism's, each component scaled by a factor in
/// `[1 − spread, 1 + spread]` from a fixed sequence.
fn perturbed(mech: &Mechanism, batch: usize, spread: f64) -> Vec<f64> {
    let mut y0 = Vec::with_capacity(batch * mech.initial.len());
    for b in 0..batch {
        for (i, y) in mech.initial.iter().enumerate() {
            let u = ((b * 7919 + i * 104729) % 1000) as f64 / 999.0;
            y0.push(y * (1.0 + spread * (2.0 * u - 1.0)));
        }
    }
    y0
}

/// Largest relative difference over components above `floor`.
fn max_rel(a: &Solution, b: &Solution, floor: f64) -> f64 {
    let mut worst: f64 = 0.0;
    for (sa, sb) in a.states.iter().zip(&b.states) {
        for (x, y) in sa.iter().zip(sb) {
            if y.abs() > floor {
                let r = (x - y).abs() / y.abs();
                worst = worst.max(r);
            }
        }
    }
    worst
}

/// Largest difference in units of the step tolerance, `|a − b| / (atol + rtol·|b|)`.
fn max_weighted(a: &Solution, b: &Solution, rtol: f64, atol: f64) -> f64 {
    let pairs = a.states.iter().flatten().zip(b.states.iter().flatten());
    pairs.map(|(x, y)| (x - y).abs() / (atol + rtol * y.abs())).fold(0.0, f64::max)
}

fn gpu() -> EnsembleDevice {
    EnsembleDevice::open(DeviceKind::Wgpu).expect("a wgpu adapter (CI installs mesa-vulkan-drivers)")
}

fn kernel_solve(mech: &Mechanism, req: &Request) -> EnsembleSolution {
    let cpu = DeviceKind::Cpu.open().unwrap();
    gpu().solve(&MassActionField::new(mech, &cpu).kernel().unwrap(), req).unwrap()
}

const TIMES: [f64; 5] = [1e-4, 1e-2, 1.0, 40.0, 1e3];

#[test]
fn rober_batch_agrees_with_the_cpu_engine() {
    let mech = rober::robertson();
    let (batch, atol) = (1024, 1e-9);
    for name in ["radau5", "esdirk4", "backward-euler"] {
        let req = request(&method(name), &mech.initial, &TIMES, &SolveOptions::adaptive(1e-5, atol));
        let req = Request { y0: perturbed(&mech, batch, 0.1), ..req };
        let ens = kernel_solve(&mech, &req);
        let statuses: Vec<_> = ens.trajectories.iter().filter(|t| t.status != TrajectoryStatus::Ok).collect();
        assert!(statuses.is_empty(), "{name}: {} trajectories failed, first {:?}", statuses.len(), statuses.first());
        let cpu = solve(&MassActionField::new(&mech, &DeviceKind::Cpu.open().unwrap()), &req).unwrap();
        let rel = max_rel(&ens.solution, &cpu, atol);
        let rel_governed = max_rel(&ens.solution, &cpu, atol / 1e-5);
        let units = max_weighted(&ens.solution, &cpu, 1e-5, atol);
        println!(
            "{name} ROBER x{batch}: max rel {rel:.2e} ({rel_governed:.2e} where rtol governs), {units:.2} tolerance units, {} launches\n  kernel {:?}\n  cpu    {:?}",
            ens.host_syncs, ens.solution.stats, cpu.stats
        );
        // Two solvers held to the same local tolerance differ by a few tolerance units. Relative
        // to the f64 engine, within 1e-4 where the relative tolerance governs (`rtol·|y| ≥
        // atol`); below, the tolerance allows ±atol and the relative difference says little.
        assert!(units <= 5.0, "{name}: differs by {units} tolerance units (max rel {rel:e})");
        assert!(rel_governed <= 1e-4, "{name}: differs by {rel_governed:e} relative where rtol governs");
    }
}

#[test]
fn every_trajectory_takes_its_own_steps() {
    // Easy (slow kinetics) and hard trajectories mixed: each takes as many steps as alone.
    let mech = rober::robertson();
    let (easy, hard) = ([1.0, 0.0, 0.0], [1.0, 1e-5, 0.5]);
    let y0: Vec<f64> = [easy, hard, easy, hard].concat();
    let req = request(&method("radau5"), &easy, &TIMES, &SolveOptions::adaptive(1e-5, 1e-9));
    let mixed = kernel_solve(&mech, &Request { y0: y0.clone(), ..req.clone() });
    for (b, y) in y0.chunks_exact(3).enumerate() {
        let alone = kernel_solve(&mech, &Request { y0: y.to_vec(), ..req.clone() });
        assert_eq!(mixed.trajectories[b].stats.steps, alone.trajectories[0].stats.steps, "trajectory {b}");
        assert_eq!(mixed.solution.state(4, b), alone.solution.state(4, 0), "trajectory {b}");
    }
    let steps: Vec<usize> = mixed.trajectories.iter().map(|t| t.stats.steps).collect();
    assert_ne!(steps[0], steps[1], "easy and hard trajectories should need different steps: {steps:?}");
}

#[test]
fn a_failed_trajectory_is_named_and_the_others_stand() {
    // A step limit that only the trajectory needing more attempts reaches.
    let mech = rober::robertson();
    let y0 = [[1.0, 0.0, 0.0], [1.0, 1e-5, 0.5]];
    let mut opts = SolveOptions::adaptive(1e-5, 1e-9);
    let alone: Vec<EnsembleSolution> =
        y0.iter().map(|y| kernel_solve(&mech, &request(&method("radau5"), y, &TIMES, &opts))).collect();
    let attempts: Vec<usize> =
        alone.iter().map(|e| e.trajectories[0].stats.steps + e.trajectories[0].stats.rejected).collect();
    assert_ne!(attempts[0], attempts[1]);
    let (ok, failing) = if attempts[0] < attempts[1] { (0, 1) } else { (1, 0) };
    opts.max_steps = attempts[ok];
    let req = request(&method("radau5"), &y0.concat(), &TIMES, &opts);
    let ens = kernel_solve(&mech, &req);
    assert_eq!(ens.trajectories[ok].status, TrajectoryStatus::Ok);
    assert_eq!(ens.trajectories[failing].status, TrajectoryStatus::MaxSteps);
    assert_eq!(ens.solution.state(4, ok), alone[ok].solution.state(4, 0));
    assert!(ens.solution.state(4, failing).iter().all(|v| v.is_nan()));
    match ens.into_result(&req) {
        Err(SolveError::Trajectory { index, source }) => {
            assert_eq!(index, failing);
            assert!(matches!(*source, SolveError::MaxSteps { .. }), "{source}")
        }
        other => panic!("expected trajectory {failing} to fail, got {other:?}"),
    }
}

#[test]
fn methods_without_a_kernel_are_refused_by_name() {
    let mech = rober::robertson();
    let cpu = DeviceKind::Cpu.open().unwrap();
    let field = MassActionField::new(&mech, &cpu).kernel().unwrap();
    let req = request(&method("bdf2"), &mech.initial, &TIMES, &SolveOptions::adaptive(1e-5, 1e-9));
    let err = gpu().solve(&field, &req).unwrap_err().to_string();
    assert!(err.contains("'bdf2' has no device kernel"), "{err}");
    let req = request(&method("radau5"), &mech.initial, &TIMES, &SolveOptions::fixed(4));
    let err = gpu().solve(&field, &req).unwrap_err().to_string();
    assert!(err.contains("adaptive steps"), "{err}");
}

#[test]
fn where_newton_tolerances_agree_the_kernel_takes_the_cpu_engines_steps() {
    // At rtol 1e-3 the Newton tolerance max(10ε/rtol, min(0.03, √rtol)) is 0.03 in f32 and f64:
    // the kernel runs the host engine's algorithm, so a trajectory's steps, Newton iterations,
    // Jacobians and factorizations are the CPU engine's while f32 rounding has not yet moved a
    // step size across a decision (to t = 1e-2 here), and its step sizes stay within f32
    // rounding of the CPU's (the error estimate cancels digits: 1 %).
    let mech = rober::robertson();
    let cpu_device = DeviceKind::Cpu.open().unwrap();
    let field = MassActionField::new(&mech, &cpu_device);
    for name in ["radau5", "esdirk4", "backward-euler"] {
        let req = request(&method(name), &mech.initial, &TIMES[..2], &SolveOptions::adaptive(1e-3, 1e-7));
        let (ens, krec) = gpu().solve_record(&field.kernel().unwrap(), &req, 1000).unwrap();
        let rec = stiffnode_solvers::solve_record(&field, &req).unwrap();
        // Factorizations may differ by one where a landing step `t_out − t` equals the step size
        // in f32 but not in f64 (the cached factors are reused or not).
        let (ks, cs) = (&ens.trajectories[0].stats, &rec.solution().stats);
        assert_eq!(
            (ks.steps, ks.rejected, ks.newton_iterations, ks.jacobian_evaluations, ks.rhs_evaluations),
            (cs.steps, cs.rejected, cs.newton_iterations, cs.jacobian_evaluations, cs.rhs_evaluations),
            "{name}"
        );
        assert!(ks.factorizations.abs_diff(cs.factorizations) <= 1, "{name}: {ks:?} vs {cs:?}");
        let (k, c) = (&krec.trajectories()[0], &rec.trajectories()[0]);
        for (n, (a, b)) in k.steps().iter().zip(c.steps()).enumerate() {
            assert!((a.h - b.h).abs() <= 1e-2 * b.h, "{name} step {n}: h {} vs {}", a.h, b.h);
        }
        assert_eq!(k.output_points(), c.output_points(), "{name}");
        let rel = max_rel(&ens.solution, rec.solution(), 1e-7);
        println!("{name}: {:?}, max rel {rel:.2e}, {} launches", rec.solution().stats, ens.host_syncs);
        assert!(rel <= 1e-4, "{name}: max rel {rel:e}");
    }
}

#[test]
fn a_solve_resumed_over_many_launches_equals_one_launch() {
    // Trajectories paused after every 5 attempts resume from their last accepted step: the same
    // states and work (only LU factors are rebuilt after each pause), more launches.
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &DeviceKind::Cpu.open().unwrap()).kernel().unwrap();
    for name in ["radau5", "esdirk4"] {
        let req = request(&method(name), &mech.initial, &TIMES[..3], &SolveOptions::adaptive(1e-5, 1e-9));
        let req = Request { y0: perturbed(&mech, 16, 0.1), ..req };
        let once = gpu().solve(&field, &req).unwrap();
        let paused = gpu().with_attempts_per_launch(5).solve(&field, &req).unwrap();
        assert_eq!(once.solution.states, paused.solution.states, "{name}");
        let work = |e: &EnsembleSolution| -> Vec<_> {
            let s = e.trajectories.iter().map(|t| &t.stats);
            s.map(|s| (s.steps, s.rejected, s.newton_iterations, s.jacobian_evaluations, s.rhs_evaluations)).collect()
        };
        assert_eq!(work(&once), work(&paused), "{name}");
        println!("{name}: {} launches instead of {}", paused.host_syncs, once.host_syncs);
        assert!(paused.host_syncs > 5 * once.host_syncs, "{name}: {} launches", paused.host_syncs);
    }
}

#[test]
fn pollu_batch_agrees_with_the_cpu_engine() {
    let mech = pollu::pollu();
    let (batch, rtol, atol) = (64, 1e-5, 1e-9);
    let req = request(&method("radau5"), &mech.initial, &[1.0, 10.0, 60.0], &SolveOptions::adaptive(rtol, atol));
    let req = Request { y0: perturbed(&mech, batch, 0.1), ..req };
    let ens = kernel_solve(&mech, &req);
    let failed = ens.trajectories.iter().filter(|t| t.status != TrajectoryStatus::Ok).count();
    assert_eq!(failed, 0, "first: {:?}", ens.trajectories.iter().find(|t| t.status != TrajectoryStatus::Ok));
    let cpu = solve(&MassActionField::new(&mech, &DeviceKind::Cpu.open().unwrap()), &req).unwrap();
    let (rel, units) = (max_rel(&ens.solution, &cpu, atol), max_weighted(&ens.solution, &cpu, rtol, atol));
    let rel_governed = max_rel(&ens.solution, &cpu, atol / rtol);
    println!(
        "radau5 POLLU x{batch}: max rel {rel:.2e} ({rel_governed:.2e} where rtol governs), {units:.2} tolerance units, {} launches",
        ens.host_syncs
    );
    println!("  kernel {:?}\n  cpu    {:?}", ens.solution.stats, cpu.stats);
    assert!(units <= 5.0, "differs by {units} tolerance units (max rel {rel:e})");
    assert!(rel_governed <= 1e-4, "differs by {rel_governed:e} relative where rtol governs");
}

#[test]
fn gradients_from_the_kernels_record_match_the_cpu_engines() {
    // Forward on the device with its step record, the discrete adjoint over the recorded steps
    // on the device (or, keeping the step adjoints, on the host): L, ∂L/∂log10 k and ∂L/∂y0
    // against the CPU f64 engine's adjoint. esdirk4's walk (15×15 stage systems) takes several
    // launches on software Vulkan.
    use burn::tensor::Tensor;
    use stiffnode_solvers::GradientMode;
    use stiffnode_solvers::field::to_host;
    use stiffnode_solvers::gradient::gradient;
    let mech = rober::robertson();
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let field = MassActionField::with_learnable(&mech, &ad, &[0, 1, 2]);
    let loss = |s: &[Tensor<2>]| s.iter().map(|x| x.clone().powi_scalar(2).sum()).reduce(|a, b| a + b).unwrap();
    let id = field.log10_rates.as_ref().unwrap().id;
    let rel = |a: &[f64], b: &[f64]| {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.iter().zip(b).map(|(x, y)| (x - y).abs() / scale).fold(0.0, f64::max)
    };
    for (name, keep_steps) in [("radau5", false), ("radau5", true), ("esdirk4", false)] {
        let req = request(&method(name), &mech.initial, &TIMES[..4], &SolveOptions::adaptive(1e-5, 1e-9));
        let req = Request { y0: perturbed(&mech, 16, 0.1), ..req }.with_gradient(GradientMode::Adjoint { keep_steps });
        let cpu = gradient(&field, &req, loss).unwrap();
        let walk = if keep_steps { Walk::Auto } else { Walk::Device };
        let (ens, dev) = gpu().with_walk(walk).gradient(&field, &req, loss, 2000).unwrap();
        let (g_cpu, g_dev) = (to_host(cpu.params.get::<1>(id).unwrap()), to_host(dev.params.get::<1>(id).unwrap()));
        let (rp, ry, rl) = (rel(&g_dev, &g_cpu), rel(&dev.y0, &cpu.y0), (dev.loss - cpu.loss).abs() / cpu.loss);
        println!("{name} (walk on the {}): {} read-backs", if keep_steps { "host" } else { "device" }, ens.host_syncs);
        println!("  ∂L/∂log10 k: kernel {g_dev:?}\n               cpu    {g_cpu:?}");
        println!("  max rel: rates {rp:.2e}, y0 {ry:.2e}, loss {rl:.2e}");
        assert!(rp <= 1e-3 && ry <= 1e-3 && rl <= 1e-4, "{name}: rates {rp:e}, y0 {ry:e}, loss {rl:e}");
        assert_eq!(dev.step_adjoints.is_some(), keep_steps);
    }
}

#[test]
fn every_method_the_kernel_runs_agrees_with_the_cpu_engine() {
    let mech = rober::robertson();
    let (rtol, atol) = (1e-4, 1e-8);
    for name in ["radau5", "radau3", "esdirk4", "sdirk2", "trbdf2", "trapezoid", "backward-euler"] {
        let req = request(&method(name), &mech.initial, &TIMES[..4], &SolveOptions::adaptive(rtol, atol));
        let req = Request { y0: perturbed(&mech, 8, 0.1), ..req };
        let ens = kernel_solve(&mech, &req);
        assert!(ens.trajectories.iter().all(|t| t.status == TrajectoryStatus::Ok), "{name}: {:?}", ens.trajectories);
        let cpu = solve(&MassActionField::new(&mech, &DeviceKind::Cpu.open().unwrap()), &req).unwrap();
        let units = max_weighted(&ens.solution, &cpu, rtol, atol);
        println!("{name}: {units:.2} tolerance units, {} launches", ens.host_syncs);
        assert!(units <= 5.0, "{name}: differs by {units} tolerance units");
    }
}

#[test]
fn outputs_larger_than_a_device_buffer_are_refused_up_front() {
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &DeviceKind::Cpu.open().unwrap()).kernel().unwrap();
    let req = request(&method("radau5"), &mech.initial, &TIMES, &SolveOptions::adaptive(1e-4, 1e-8));
    let req = Request { y0: perturbed(&mech, 64, 0.1), ..req };
    let err = gpu().solve_record(&field, &req, 10_000_000).unwrap_err().to_string();
    assert!(err.contains("step record") && err.contains("split the batch"), "{err}");
    let tight = request(&method("radau5"), &mech.initial, &TIMES, &SolveOptions::adaptive(1e-7, 1e-11));
    let err = gpu().solve(&field, &tight).unwrap_err().to_string();
    assert!(err.contains("rtol") && err.contains("f32"), "{err}");
}

#[test]
fn one_read_back_however_many_steps() {
    // radau5 on ROBER stays within software Vulkan's loop budget, so the device is read once
    // per solve whether a trajectory takes 20 steps or several times as many.
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &DeviceKind::Cpu.open().unwrap()).kernel().unwrap();
    let solves: Vec<EnsembleSolution> = [&TIMES[..1], &TIMES[..]]
        .iter()
        .map(|times| {
            let req = request(&method("radau5"), &mech.initial, times, &SolveOptions::adaptive(1e-5, 1e-9));
            gpu().solve(&field, &Request { y0: perturbed(&mech, 8, 0.1), ..req }).unwrap()
        })
        .collect();
    let steps: Vec<usize> = solves.iter().map(|e| e.solution.stats.steps).collect();
    assert!(steps[1] > 3 * steps[0], "{steps:?}");
    assert!(solves.iter().all(|e| e.host_syncs == 1), "{:?}", solves.iter().map(|e| e.host_syncs).collect::<Vec<_>>());
}

#[test]
fn without_checkpoints_the_same_results_and_no_resuming() {
    // Hardware GPUs skip the checkpoints (nothing stops their loops); forced off here: a solve
    // that fits one launch is unchanged, one that software Vulkan interrupts is a clear error.
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &DeviceKind::Cpu.open().unwrap()).kernel().unwrap();
    let req = request(&method("radau5"), &mech.initial, &TIMES, &SolveOptions::adaptive(1e-5, 1e-9));
    let req = Request { y0: perturbed(&mech, 8, 0.1), ..req };
    let (with, without) =
        (gpu().solve(&field, &req).unwrap(), gpu().with_checkpoints(false).solve(&field, &req).unwrap());
    assert_eq!(with.solution.states, without.solution.states);
    let long = request(&method("esdirk4"), &mech.initial, &TIMES, &SolveOptions::adaptive(1e-5, 1e-9));
    let ens = gpu().with_checkpoints(false).solve(&field, &long).unwrap();
    assert_eq!((ens.trajectories[0].status, ens.host_syncs), (TrajectoryStatus::Interrupted, 1));
    let err = ens.into_result(&long).unwrap_err().to_string();
    assert!(err.contains("trajectory 0") && err.contains("stopped the solve"), "{err}");
}

#[test]
fn the_ensemble_solve_is_a_differentiable_burn_operation() {
    // `solve_on_graph` puts the kernel's output states on Burn's autodiff graph; a loss of them
    // (here with a direct penalty on the rates too) calls `backward()` as usual, and the walk
    // back on the device reaches the rates and y0. With the field on the wgpu autodiff device
    // (the operation on Autodiff<Cube>, f32) and on the CPU one (Autodiff<Flex>, f64), against
    // the CPU engine's f64 adjoint.
    use burn::tensor::Tensor;
    use stiffnode_solvers::field::to_host;
    use stiffnode_solvers::gradient::gradient;
    let mech = rober::robertson();
    let req = request(&method("radau5"), &mech.initial, &TIMES[..4], &SolveOptions::adaptive(1e-5, 1e-9));
    let req = Request { y0: perturbed(&mech, 16, 0.1), ..req };
    let loss = |field: &MassActionField, s: &[Tensor<2>]| {
        let fit = s.iter().map(|x| x.clone().powi_scalar(2).sum()).reduce(|a, b| a + b).unwrap();
        fit + field.log10_rates.as_ref().unwrap().val().powi_scalar(2).sum()
    };
    let rates = |field: &MassActionField, grads: &burn::tensor::Gradients| {
        to_host(field.log10_rates.as_ref().unwrap().val().grad(grads).unwrap())
    };
    let rel = |a: &[f64], b: &[f64]| {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.iter().zip(b).map(|(x, y)| (x - y).abs() / scale).fold(0.0, f64::max)
    };
    let cpu_ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let reference = MassActionField::with_learnable(&mech, &cpu_ad, &[0, 1, 2]);
    let cpu = gradient(&reference, &req, |s| loss(&reference, s)).unwrap();
    let cpu_rates = to_host(cpu.params.get::<1>(reference.log10_rates.as_ref().unwrap().id).unwrap());
    for device in [DeviceKind::Wgpu.open().unwrap().autodiff(), cpu_ad] {
        let field = MassActionField::with_learnable(&mech, &device, &[0, 1, 2]);
        let (ens, on) = gpu().with_walk(Walk::Device).solve_on_graph(&field, &req, 2000).unwrap();
        assert!(on.backward.result().is_none(), "nothing walked before backward()");
        let grads = loss(&field, &on.states).backward();
        let syncs = on.backward.result().expect("the backward pass reached the solve").unwrap();
        let (g, y0) = (rates(&field, &grads), to_host(on.y0.grad(&grads).unwrap()));
        let (rp, ry) = (rel(&g, &cpu_rates), rel(&y0, &cpu.y0));
        println!("{device:?}: {} + {syncs} read-backs; ∂L/∂log10 k {g:?} (cpu {cpu_rates:?})", ens.host_syncs);
        println!("  max rel: rates {rp:.2e}, y0 {ry:.2e}");
        assert!(syncs >= 1, "the walk ran on the device");
        assert!(rp <= 1e-3 && ry <= 1e-3, "rates {rp:e}, y0 {ry:e}");
    }
}
