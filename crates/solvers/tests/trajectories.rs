//! Every trajectory of a batch takes its own steps: in a batch that mixes easy and hard
//! trajectories each one's result and step count equal its own single solve's, whatever the
//! number of threads; shared steps remain available. RADAU5's step counts on ROBER match the
//! RADAU5 logic as SciPy's `Radau` ports it. A fixed-step solve's record is a frozen grid that
//! lands on its output times and repeats the solve bit for bit.

mod common;

use common::{method, request};
use stiffnode_chemistry::mass_action::{MassActionField, rober};
use stiffnode_solvers::{DeviceKind, Evaluation, Request, SolveOptions, StepControl, solve, solve_record};

/// ROBER from states of very different stiffness (B far from its quasi-steady state is hard).
const STARTS: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 1e-3, 0.5], [2.0, 0.0, 0.1], [1e-3, 1e-6, 1.0]];

#[test]
fn each_trajectory_of_a_batch_takes_its_own_steps_on_any_number_of_threads() {
    let device = DeviceKind::Cpu.open().unwrap();
    let field = MassActionField::new(&rober::robertson(), &device);
    let radau5 = method("radau5");
    let opts = SolveOptions::adaptive(1e-6, 1e-10);
    let batch: Vec<f64> = STARTS.iter().flatten().copied().collect();
    let together = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| solve_record(&field, &request(&radau5, &batch, &[40.0, 1e5], &opts)).unwrap())
    };
    let (one, two) = (together(1), together(2));
    assert_eq!(one, two, "the result depends on the number of threads");
    let steps: Vec<usize> = one.trajectories().iter().map(|t| t.steps().len()).collect();
    println!("steps per trajectory: {steps:?}");
    assert!(steps.iter().max() > steps.iter().min(), "the trajectories should differ in difficulty: {steps:?}");
    for (b, y0) in STARTS.iter().enumerate() {
        let alone = solve_record(&field, &request(&radau5, y0, &[40.0, 1e5], &opts)).unwrap();
        assert_eq!(one.trajectories()[b], alone.trajectories()[0], "trajectory {b}");
        for k in 0..2 {
            assert_eq!(one.solution().state(k, b), alone.solution().state(k, 0), "trajectory {b}, output {k}");
        }
    }
    // Shared steps: one step sequence for all, at least as many steps as the hardest one's own.
    let shared = request(&radau5, &batch, &[40.0, 1e5], &opts).with_evaluation(Evaluation::SharedSteps);
    let shared = solve_record(&field, &shared).unwrap();
    let grids: Vec<Vec<f64>> = shared.trajectories().iter().map(|t| t.grid()).collect();
    assert!(grids.windows(2).all(|w| w[0] == w[1]), "shared steps differ between trajectories");
    assert!(grids[0].len() >= *steps.iter().max().unwrap(), "{} shared steps vs {steps:?}", grids[0].len());
}

/// RADAU5's step-size control, Newton iteration and Jacobian reuse as SciPy 1.17.1's
/// `scipy.integrate.Radau` implements them, on ROBER to t = 1e5 with atol = rtol·1e-4 and the
/// analytic Jacobian: accepted steps and LU factorizations (real and complex counted apart) from
/// `solve_ivp(f, (0, 1e5), [1, 0, 0], method='Radau', rtol=r, atol=r*1e-4, jac=jac)`
/// (`len(sol.t) - 1`, `sol.nlu`).
const SCIPY_RADAU: [(f64, usize, usize); 4] = [(1e-4, 66, 126), (1e-6, 188, 206), (1e-8, 573, 314), (1e-10, 1776, 476)];

#[test]
fn radau5_takes_the_steps_of_radau5_as_scipy_ports_it() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    let field = MassActionField::new(&mech, &device);
    for (rtol, steps, lus) in SCIPY_RADAU {
        let opts = SolveOptions::adaptive(rtol, rtol * 1e-4);
        let sol = solve_record(&field, &request(&method("radau5"), &mech.initial, &[1e5], &opts)).unwrap();
        let s = &sol.solution().stats;
        println!("rtol {rtol:e}: steps {} (SciPy {steps}), LU {} (SciPy {lus})", s.steps, s.factorizations);
        assert!(s.steps.abs_diff(steps) * 100 <= 2 * steps, "rtol {rtol:e}: {} steps, SciPy {steps}", s.steps);
        assert!(s.factorizations <= lus * 6 / 5, "rtol {rtol:e}: {} LU, SciPy {lus}", s.factorizations);
    }
}

/// Over random start times, output times and step counts, each output time of a fixed-step
/// solve is a step end of its record exactly (not `t + (t_next − t)`, which can miss it by an
/// ulp), and that record's grid (with its orders, for BDF) solves to the same states bit for
/// bit: what a gradient check's frozen grid relies on.
#[test]
fn a_fixed_step_record_lands_on_its_output_times_and_repeats_as_a_grid() {
    use proptest::prelude::*;
    let cpu = DeviceKind::Cpu.open().unwrap();
    let field = MassActionField::new(&rober::robertson(), &cpu);
    let names = ["backward-euler", "radau5", "esdirk4", "bdf"];
    let drawn = (-1e3f64..1e3, prop::collection::vec(1e-6f64..10.0, 1..4), 1usize..40, 0..names.len());
    let config = common::seeded::seeded(64, 80);
    proptest!(config, |((t0, spans, substeps, m) in drawn)| {
        let times: Vec<f64> = spans.iter().scan(t0, |t, s| { *t += s; Some(*t) }).collect();
        let req = Request::new(method(names[m]), vec![1.0, 0.0, 0.0], t0, times.clone())
            .with_options(SolveOptions::fixed(substeps));
        let rec = solve_record(&field, &req).unwrap();
        let traj = &rec.trajectories()[0];
        let grid = traj.grid();
        for t in &times {
            prop_assert!(grid.contains(t), "{}: output time {t:e} is not a step end of {grid:?}", names[m]);
        }
        let frozen = SolveOptions { control: StepControl::Grid { times: grid, orders: traj.orders() }, ..req.options.clone() };
        let again = solve(&field, &Request { options: frozen, ..req.clone() }).unwrap();
        prop_assert_eq!(&again.states, &rec.solution().states, "{}: the grid solve differs", names[m]);
    });
}
