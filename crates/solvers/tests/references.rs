//! ROBER and POLLU against the Test Set for IVP Solvers' reference solutions, with the two
//! high-order adaptive methods (radau5, esdirk4), the Rosenbrock methods (rodas4, rodas5p) and the
//! variable-order BDF at rtol 1e-10, atol 1e-14 (= rtol·1e-4; BDF on ROBER 1e-16, see there) on
//! the CPU (f64).

mod common;

use common::{method, request};
use stiffnode_chemistry::mass_action::{MassActionField, pollu, rober};
use stiffnode_solvers::{DeviceKind, Evaluation, SolveError, SolveOptions, solve, solve_record};

fn max_rel_err(y: &[f64], reference: &[f64], floor: f64) -> f64 {
    y.iter().zip(reference).filter(|(_, r)| r.abs() >= floor).map(|(y, r)| ((y - r) / r).abs()).fold(0.0, f64::max)
}

#[test]
fn rober_matches_reference_at_40_1e5_1e11() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    let times: Vec<f64> = rober::REFERENCE.iter().map(|(t, _)| *t).collect();
    for name in ["radau5", "esdirk4", "rodas4", "rodas5p", "bdf"] {
        // At t = 1e11, A ≈ 2e-8 and B ≈ 8e-14 sit below atol's scale, so their error is a few
        // atol. The one-step methods' estimates are of a lower-order solution than the one they
        // keep, and their global error lands far below that (radau5 1.6e-8 relative); BDF's
        // estimate is of its own solution, and with atol 1e-14 A's error was 1.8e-6 to 3.1e-6
        // relative (6e-14 absolute), so BDF gets atol = rtol·1e-6 (error 8.9e-8).
        let atol = if name == "bdf" { 1e-16 } else { 1e-14 };
        let sol = solve(&field, &request(&method(name), &mech.initial, &times, &SolveOptions::adaptive(1e-10, atol)))
            .unwrap();
        for (k, (t, reference)) in rober::REFERENCE.iter().enumerate() {
            let err = max_rel_err(sol.state(k, 0), reference, 0.0);
            println!("{name} t = {t:e}: max rel err {err:.2e}, stats {:?}", sol.stats);
            assert!(err <= 1e-6, "{name} at t = {t}: {:?} vs {reference:?}, rel err {err:e}", sol.state(k, 0));
        }
    }
}

#[test]
fn pollu_matches_reference_at_60() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = pollu::pollu();
    let field = MassActionField::new(&mech, &device);
    for name in ["radau5", "esdirk4", "rodas4", "rodas5p", "bdf"] {
        let sol = solve(&field, &request(&method(name), &mech.initial, &[60.0], &SolveOptions::adaptive(1e-10, 1e-14)))
            .unwrap();
        let err = max_rel_err(sol.state(0, 0), &pollu::REFERENCE_T60, 1e-12);
        println!("{name}: max rel err {err:.2e} (components ≥ 1e-12), stats {:?}", sol.stats);
        assert!(err <= 1e-6, "{name}: rel err {err:e}");
    }
}

#[test]
fn dopri5_on_rober_stops_at_its_step_limit() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    let err = solve(&field, &request(&method("dopri5"), &mech.initial, &[1e5], &SolveOptions::adaptive(1e-6, 1e-10)))
        .unwrap_err();
    match &err {
        SolveError::MaxSteps { max_steps, t, t_end } => {
            assert_eq!(*max_steps, SolveOptions::DEFAULT_MAX_STEPS);
            assert!(*t < 1e5 && *t_end == 1e5);
        }
        other => panic!("expected MaxSteps, got {other:?}"),
    }
    assert!(err.to_string().contains("maximum number of steps"), "{err}");
}

#[test]
fn a_record_past_its_memory_limit_stops_the_solve_and_its_trajectories_share_the_limit() {
    // dopri5 on ROBER needs more than the default 20,000 steps; a recording solve with a 1 MiB
    // limit stops at the limit, a plain solve runs on to the step limit.
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    let opts = SolveOptions { max_record_bytes: 1 << 20, ..SolveOptions::adaptive(1e-6, 1e-10) };
    let stopped_at = |batch: usize| {
        let y0 = mech.initial.repeat(batch);
        match solve_record(&field, &request(&method("dopri5"), &y0, &[1e5], &opts)) {
            Err(e @ SolveError::RecordTooLarge { limit, step, .. }) => {
                assert_eq!(limit, 1 << 20);
                assert!(
                    e.to_string().starts_with("the record kept for the gradient passed its limit of 1 MiB in step"),
                    "{e}"
                );
                step
            }
            other => panic!("expected RecordTooLarge, got {other:?}"),
        }
    };
    let (one, four) = (stopped_at(1), stopped_at(4));
    println!("1 trajectory: stopped in step {one}; 4 trajectories: in step {four}");
    assert!(one > 1000 && one < SolveOptions::DEFAULT_MAX_STEPS, "{one}");
    assert!((four as f64 - one as f64 / 4.0).abs() <= 2.0, "a quarter of the limit each: {four} vs {one}");
    let plain = solve(&field, &request(&method("dopri5"), &mech.initial, &[1e5], &opts));
    assert!(matches!(plain, Err(SolveError::MaxSteps { .. })), "{plain:?}");
}

#[test]
fn batched_trajectories_match_single_solves() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    let (radau5, opts) = (method("radau5"), SolveOptions::adaptive(1e-8, 1e-14));
    let starts = [[1.0, 0.0, 0.0], [0.5, 1e-5, 0.5], [2.0, 0.0, 0.1]];
    let batch: Vec<f64> = starts.iter().flatten().copied().collect();
    let together = solve(&field, &request(&radau5, &batch, &[40.0], &opts)).unwrap();
    for (b, y0) in starts.iter().enumerate() {
        let alone = solve(&field, &request(&radau5, y0, &[40.0], &opts)).unwrap();
        // The shared step sequence differs from each single one, so they agree to the
        // tolerance, not to rounding.
        let err = max_rel_err(together.state(0, b), alone.state(0, 0), 1e-12);
        assert!(err < 1e-5, "trajectory {b}: rel diff {err:e}");
    }
}

#[test]
fn host_fast_path_and_tensor_path_agree() {
    // The same solve with the field evaluated on host slices and as Burn tensor programs:
    // identical algorithm, so the results differ only by rounding.
    let device = DeviceKind::Cpu.open().unwrap();
    for mech in [rober::robertson(), pollu::pollu()] {
        let field = MassActionField::new(&mech, &device);
        let mut req =
            request(&method("radau5"), &mech.initial, &[mech.t_end.unwrap()], &SolveOptions::adaptive(1e-8, 1e-12));
        let host = solve(&field, &req).unwrap();
        req.evaluation = Evaluation::Tensor;
        let tensor = solve(&field, &req).unwrap();
        let err = max_rel_err(host.state(0, 0), tensor.state(0, 0), 1e-12);
        assert!(err < 1e-8, "{}: host and tensor paths differ by {err:e}", mech.name);
        assert!(
            host.stats.steps.abs_diff(tensor.stats.steps) <= host.stats.steps / 20,
            "{}: {:?} vs {:?}",
            mech.name,
            host.stats,
            tensor.stats
        );
    }
}
