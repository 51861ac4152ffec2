//! 0-D reactors of the shipped H2/O2 mechanism against Cantera 3.2.0 (`IdealGasConstPressureReactor`,
//! `IdealGasReactor`, rtol 1e-12): the energy equation at Cantera's states, the exact Jacobian
//! against central differences, and H2/air ignition solved by stiffnode's RADAU5 — ignition
//! delay (time of maximum dT/dt) within 0.5 % and the near-equilibrium end state (T and the
//! major species) within 1e-4. Reference numbers: `tests/data/cantera/ignition.json`, from
//! `/tmp/ctenv/bin/python scripts/cantera_references.py`.

#[path = "../../solvers/tests/common/seeded.rs"]
mod seeded;

use std::path::PathBuf;

use serde_json::Value;
use stiffnode_chemistry::dataset::TimeGrid;
use stiffnode_chemistry::gas::{self, Composition, Reactor, ReactorKind};
use stiffnode_solvers::{DeviceKind, Request, SolveOptions, VectorField, methods, solve, solve_record};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ignition() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cantera/ignition.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// The reactor of a case of ignition.json and the case's initial state.
fn reactor_of(case: &Value) -> (Reactor, Vec<f64>) {
    let mech = gas::load(root().join("datasets/mechanisms/h2o2.yaml").to_str().unwrap(), None).unwrap();
    let initial = &case["initial"];
    let y: Vec<f64> = mech.species.iter().map(|s| num(&initial["Y"][&s.name])).collect();
    let (t0, p0, rho0) = (num(&initial["T"]), num(&initial["P"]), num(&initial["density"]));
    let kind = match case["reactor"].as_str().unwrap() {
        "IdealGasConstPressureReactor" => ReactorKind::ConstPressure { p: p0 },
        _ => ReactorKind::ConstVolume { rho: rho0 },
    };
    let reactor = Reactor::new(mech, kind, &DeviceKind::Cpu.open().unwrap());
    let (state, rho) = reactor.initial_state(t0, p0, &Composition::Mass(y));
    assert!((rho - rho0).abs() <= 1e-12 * rho0, "density {rho} vs Cantera {rho0}");
    (reactor, state)
}

/// `[T, Y…]` of a state object of ignition.json.
fn state_of(reactor: &Reactor, s: &Value) -> Vec<f64> {
    std::iter::once(num(&s["T"])).chain(reactor.mechanism().species.iter().map(|sp| num(&s["Y"][&sp.name]))).collect()
}

/// Column `j` of `∂f/∂y` at `y` by central differences with step `h`.
fn central_column(reactor: &Reactor, y: &[f64], j: usize, h: f64) -> Vec<f64> {
    let (mut plus, mut minus) = (y.to_vec(), y.to_vec());
    plus[j] += h;
    minus[j] -= h;
    let (mut fp, mut fm) = (vec![0.0; y.len()], vec![0.0; y.len()]);
    reactor.rhs(&plus, &mut fp);
    reactor.rhs(&minus, &mut fm);
    fp.iter().zip(&fm).map(|(p, m)| (p - m) / (2.0 * h)).collect()
}

#[test]
fn the_energy_equation_matches_cantera_along_its_trajectories() {
    let mut checked = 0;
    for case in ignition()["cases"].as_array().unwrap() {
        let (reactor, _) = reactor_of(case);
        for s in case["trajectory"].as_array().unwrap() {
            let y = state_of(&reactor, s);
            let mut f = vec![0.0; y.len()];
            reactor.rhs(&y, &mut f);
            let expected = num(&s["dTdt"]);
            // Near equilibrium dT/dt (≪ 1 K/s) is the residue of forward and reverse rates that
            // cancel to many digits, in Cantera as here: only its size is compared there.
            if expected.abs() >= 1.0 {
                checked += 1;
                let ok = (f[0] - expected).abs() <= 1e-9 * expected.abs();
                assert!(ok, "{} at t = {}: dT/dt {} vs Cantera {expected}", case["name"], s["t"], f[0]);
            } else {
                assert!(f[0].abs() < 1e-3, "{} at t = {}: dT/dt {} near equilibrium", case["name"], s["t"], f[0]);
            }
        }
    }
    assert!(checked >= 20, "{checked} states compared");
}

#[test]
fn the_jacobian_is_exact_against_central_differences() {
    let all = ignition();
    for case in all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "cp_T1000_phi1.0_P1" || c["name"] == "cv_T1000_phi1.0_P1")
    {
        let (reactor, _) = reactor_of(case);
        // Mid-ignition: every reaction is active.
        let y = state_of(&reactor, &case["trajectory"][2]);
        let d = y.len();
        let mut jac = vec![0.0; d * d];
        reactor.jacobian_at(&y, &mut jac);
        let mut worst: f64 = 0.0;
        for j in 0..d {
            let column = central_column(&reactor, &y, j, 1e-6 * y[j].abs().max(1e-9));
            for (i, fd) in column.into_iter().enumerate() {
                // Relative to the largest entry of the row: the scale of ∂f_i/∂y.
                let scale = (0..d).map(|k| jac[i * d + k].abs() * y[k].abs().max(1e-9)).fold(0.0, f64::max)
                    / y[j].abs().max(1e-9);
                worst = worst.max((jac[i * d + j] - fd).abs() / scale.max(f64::MIN_POSITIVE));
            }
        }
        assert!(worst < 1e-6, "{}: worst Jacobian entry off by {worst:e} of its row's scale", case["name"]);
    }
}

#[test]
fn h2_air_ignition_matches_cantera() {
    let all = ignition();
    for case in all["cases"].as_array().unwrap() {
        let (reactor, y0) = reactor_of(case);
        let (tau_ref, t_end) = (num(&case["ignition_delay"]), num(&case["t_end"]));
        // Dense outputs to 2τ for the maximum of dT/dt, then the end time.
        let n = 4000;
        let mut times: Vec<f64> = (1..=n).map(|k| 2.0 * tau_ref * k as f64 / n as f64).collect();
        times.push(t_end);
        let request = Request::new(methods::by_name("radau5").unwrap(), y0, 0.0, times.clone())
            .with_options(SolveOptions { max_steps: 200_000, ..SolveOptions::adaptive(1e-9, 1e-15) });
        let sol = solve(&reactor, &request).unwrap();
        let rates: Vec<f64> = (0..n)
            .map(|k| {
                let mut f = vec![0.0; reactor.dim()];
                reactor.rhs(sol.state(k, 0), &mut f);
                f[0]
            })
            .collect();
        let k = (1..n - 1).max_by(|&a, &b| rates[a].total_cmp(&rates[b])).unwrap();
        // The vertex of the parabola through the largest sample and its neighbours.
        let (r0, r1, r2) = (rates[k - 1], rates[k], rates[k + 1]);
        let dt = times[1] - times[0];
        let tau = times[k] + 0.5 * dt * (r0 - r2) / (r0 - 2.0 * r1 + r2);
        let rel = (tau - tau_ref).abs() / tau_ref;
        println!(
            "{}: ignition delay {tau:.6e} s vs Cantera {tau_ref:.6e} s ({:.2e} relative), {:?}",
            case["name"], rel, sol.stats
        );
        assert!(rel < 5e-3, "{}: ignition delay {tau} vs Cantera {tau_ref}", case["name"]);
        let end = sol.state(n, 0);
        let expected = state_of(&reactor, &case["final"]);
        let names = reactor.state_names();
        for (i, (a, b)) in end.iter().zip(&expected).enumerate() {
            if i == 0 || *b > 1e-3 {
                assert!((a - b).abs() <= 1e-4 * b.abs(), "{}: {} at t_end {a} vs Cantera {b}", case["name"], names[i]);
            }
        }
    }
}

#[test]
fn the_ignition_delay_from_the_solver_steps_matches_cantera() {
    for case in ignition()["cases"].as_array().unwrap() {
        let (reactor, y0) = reactor_of(case);
        let tau_ref = num(&case["ignition_delay"]);
        let request = Request::new(methods::by_name("radau5").unwrap(), y0, 0.0, vec![num(&case["t_end"])])
            .with_options(SolveOptions { max_steps: 200_000, ..SolveOptions::adaptive(1e-8, 1e-14) });
        let record = solve_record(&reactor, &request).unwrap();
        let tau = reactor.ignition_delay(&record.trajectories()[0], 0.0).expect("it ignites");
        let rel = (tau - tau_ref).abs() / tau_ref;
        println!(
            "{}: {tau:.6e} s from {} steps, Cantera {tau_ref:.6e} s ({rel:.1e})",
            case["name"],
            record.solution().stats.steps
        );
        assert!(rel < 5e-3, "{}: ignition delay {tau} vs Cantera {tau_ref}", case["name"]);
    }
}

#[test]
fn a_reactor_problem_file_builds_the_reactor_and_its_state() {
    let problem = gas::load_problem(root().join("examples/h2-air-ignition.yaml").to_str().unwrap()).unwrap();
    let (reactor, y0) = problem.reactor(&DeviceKind::Cpu.open().unwrap());
    assert_eq!(reactor.state_names()[0], "T");
    assert_eq!(y0[0], 1000.0);
    // H2/air at φ = 1: X_H2 = 2/(2 + 1 + 3.76), mass fraction by the molecular weights.
    let mech = reactor.mechanism();
    let (h2, o2, n2) =
        (mech.species_index("H2").unwrap(), mech.species_index("O2").unwrap(), mech.species_index("N2").unwrap());
    let w = mech.weights();
    let mass = 2.0 * w[h2] + w[o2] + 3.76 * w[n2];
    assert!((y0[1 + h2] - 2.0 * w[h2] / mass).abs() < 1e-15);
    for (bad, expected) in [
        ("reactor: constant-pressure", "reactor: piston", "reactor: 'piston' is not one of"),
        ("X: {H2: 2, O2: 1, N2: 3.76}", "X: {H2: 2, XE: 1}", "X: unknown species 'XE'"),
        ("P: 1 atm", "P: 1 furlong", "P: unknown pressure unit 'furlong'"),
    ]
    .map(|(a, b, c)| ((a, b), c))
    {
        let text = std::fs::read_to_string(root().join("examples/h2-air-ignition.yaml")).unwrap().replace(bad.0, bad.1);
        let path = root().join("examples").join(format!("bad-{}.yaml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let e = gas::load_problem(path.to_str().unwrap()).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(e.contains(expected) && e.contains("bad-"), "{e}");
    }
}

/// `L = (T(t1)/1000)² + (Y_OH(t1)/0.01)²` in the ignition front of the stoichiometric 1000 K
/// case: its gradient with respect to `log10` factors on four rates (elementary, three-body,
/// falloff) and the initial temperature, by the adjoint and on the autodiff graph, against
/// central differences of forward solves on the same frozen step grid.
#[test]
fn gradients_through_an_ignition_solve_match_finite_differences() {
    use burn::module::Param;
    use stiffnode_solvers::field::{from_host, to_host};
    use stiffnode_solvers::gradient::{self, check::max_rel_err};
    use stiffnode_solvers::{GradientMode, StepControl};

    let all = ignition();
    let case = all["cases"].as_array().unwrap().iter().find(|c| c["name"] == "cp_T1000_phi1.0_P1").unwrap();
    let (plain, y0) = reactor_of(case);
    let mech = plain.mechanism().clone();
    let index = |eq: &str| mech.reactions.iter().position(|r| r.equation == eq).unwrap();
    let learnable = [
        index("H + O2 <=> O + OH"),
        index("H + O2 + M <=> HO2 + M"),
        index("O + H2 <=> H + OH"),
        index("2 OH (+M) <=> H2O2 (+M)"),
    ];
    let oh = 1 + mech.species_index("OH").unwrap();
    let kind = plain.kind();
    let t1 = 3.0e-4;
    let request = Request::new(methods::by_name("radau5").unwrap(), y0.clone(), 0.0, vec![t1])
        .with_options(SolveOptions::adaptive(1e-8, 1e-14));
    let cpu = DeviceKind::Cpu.open().unwrap();
    let ad = cpu.clone().autodiff();
    let loss = move |states: &[burn::tensor::Tensor<2>]| {
        let y = states[0].clone();
        let t = y.clone().narrow(1, 0, 1).div_scalar(1000.0);
        let c = y.narrow(1, oh, 1).div_scalar(0.01);
        (t.clone() * t + c.clone() * c).sum()
    };
    let mut results = Vec::new();
    for mode in [GradientMode::Adjoint { keep_steps: false }, GradientMode::Graph] {
        let field = Reactor::with_learnable(mech.clone(), kind, &ad, &learnable);
        let g = gradient::gradient(&field, &request.clone().with_gradient(mode), loss).unwrap();
        let id = field.log10_factors.as_ref().unwrap().id;
        let mut grad = to_host(g.params.get::<1>(id).unwrap_or_else(|| panic!("{mode:?}: no gradient")));
        grad.push(g.y0[0]);
        results.push((mode, grad, g.record.trajectories()[0].grid()));
    }
    // Central differences on the adjoint solve's step grid.
    let grid = SolveOptions {
        control: StepControl::Grid { times: results[0].2.clone(), orders: Vec::new() },
        ..request.options.clone()
    };
    let host_loss = |theta: &[f64], t0: f64| {
        let mut r = Reactor::with_learnable(mech.clone(), kind, &cpu, &learnable);
        r.log10_factors = Some(Param::from_tensor(from_host(theta.to_vec(), [theta.len()], &cpu)));
        let mut y = y0.clone();
        y[0] = t0;
        let sol = solve(&r, &Request { y0: y, options: grid.clone(), ..request.clone() }).unwrap();
        let s = &sol.states[0];
        (s[0] / 1000.0).powi(2) + (s[oh] / 0.01).powi(2)
    };
    let zero = vec![0.0; learnable.len()];
    let mut fd = Vec::new();
    for k in 0..learnable.len() {
        fd.push(central_difference(
            |h| {
                let mut theta = zero.clone();
                theta[k] = h;
                host_loss(&theta, y0[0])
            },
            1.0,
        ));
    }
    fd.push(central_difference(|h| host_loss(&zero, y0[0] + h), y0[0]));
    for (mode, grad, _) in &results {
        let err = max_rel_err(grad, &fd);
        println!("{mode:?}: gradient {grad:?}\n  finite differences {fd:?}\n  max rel err {err:.2e}");
        assert!(err < 1e-5, "{mode:?}: {grad:?} vs finite differences {fd:?} ({err:e})");
    }
}

/// Fourth-order central differences of `f` at 0, `(f(−2h) − 8f(−h) + 8f(h) − f(2h))/(12h)`,
/// with steps `h = scale·10^−k`, `k = 2 … 7`: the estimate of the consecutive pair that agree
/// best (below it rounding and Newton-tolerance noise of the solves dominate, above it
/// truncation; the loss sits in an ignition front, where both are large).
fn central_difference(f: impl Fn(f64) -> f64, scale: f64) -> f64 {
    let estimates: Vec<f64> = (2..=7)
        .map(|k| {
            let h = scale * 10f64.powi(-k);
            (f(-2.0 * h) - 8.0 * f(-h) + 8.0 * f(h) - f(2.0 * h)) / (12.0 * h)
        })
        .collect();
    let best = estimates.windows(2).min_by(|a, b| (a[0] - a[1]).abs().total_cmp(&(b[0] - b[1]).abs())).unwrap();
    best[1]
}

#[test]
fn equivalence_ratio_mixtures_match_cantera() {
    use stiffnode_chemistry::gas::state::{equivalence_ratio_mixture, mole_fractions};
    let mech = gas::load(root().join("datasets/mechanisms/h2o2.yaml").to_str().unwrap(), None).unwrap();
    let by_name = |pairs: &[(&str, f64)]| {
        let mut v = vec![0.0; mech.species.len()];
        pairs.iter().for_each(|(n, x)| v[mech.species_index(n).unwrap()] = *x);
        v
    };
    let (fuel, oxidizer) = (by_name(&[("H2", 1.0)]), by_name(&[("O2", 1.0), ("N2", 3.76)]));
    let mut checked = 0;
    for case in ignition()["cases"].as_array().unwrap() {
        let phi = num(&case["equivalence_ratio"]);
        let y = equivalence_ratio_mixture(phi, &fuel, &oxidizer, &mech).unwrap();
        let x = mole_fractions(&y, &mech.weights());
        for (k, s) in mech.species.iter().enumerate() {
            let expected = num(&case["initial"]["X"][&s.name]);
            assert!(
                (x[k] - expected).abs() <= 1e-14,
                "{} at φ = {phi}: X_{} {} vs Cantera {expected}",
                case["name"],
                s.name,
                x[k]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * 10);
    assert!(equivalence_ratio_mixture(1.0, &oxidizer, &fuel, &mech).is_err());
}

#[test]
fn a_problem_given_by_equivalence_ratio_is_the_same_mixture() {
    let text = std::fs::read_to_string(root().join("examples/h2-air-ignition.yaml")).unwrap();
    let by_phi = text
        .replace("X: {H2: 2, O2: 1, N2: 3.76}", "equivalence-ratio: 1.0\nfuel: {H2: 1}\noxidizer: {O2: 1, N2: 3.76}");
    assert_ne!(by_phi, text);
    let path = root().join("examples").join(format!("phi-{}.yaml", std::process::id()));
    std::fs::write(&path, &by_phi).unwrap();
    let loaded = gas::load_problem(path.to_str().unwrap());
    let only_fuel = gas::load_problem(&{
        std::fs::write(&path, by_phi.replace("oxidizer: {O2: 1, N2: 3.76}\n", "")).unwrap();
        path.to_str().unwrap().to_string()
    });
    std::fs::remove_file(&path).unwrap();
    let device = DeviceKind::Cpu.open().unwrap();
    let (_, y_phi) = loaded.unwrap().reactor(&device);
    let (_, y_x) =
        gas::load_problem(root().join("examples/h2-air-ignition.yaml").to_str().unwrap()).unwrap().reactor(&device);
    for (a, b) in y_phi.iter().zip(&y_x) {
        assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0), "{y_phi:?} vs {y_x:?}");
    }
    assert!(only_fuel.unwrap_err().to_string().contains("equivalence-ratio needs 'oxidizer'"));
}

#[test]
fn reactor_datasets_draw_their_initial_conditions_from_the_sweep() {
    use stiffnode_chemistry::dataset::reactor::{ReactorGeneration, generate};
    let path = root().join("datasets/problems/h2-air.yaml");
    let problem = gas::load_problem(path.to_str().unwrap()).unwrap();
    let spec = |n: usize| ReactorGeneration {
        problem: &problem,
        source: "h2-air.yaml",
        texts: ["problem", "mechanism"],
        times: TimeGrid::Fixed(vec![1e-5, 1e-3]),
        trajectories: n,
        seed: 3,
        validation: 0.25,
        command: "test".into(),
    };
    let (data, meta) = generate(&spec(4)).unwrap();
    assert_eq!(
        (data.trajectories.len(), meta.contents.split.train.len(), meta.contents.split.validation.len()),
        (4, 3, 1)
    );
    assert_eq!(data.species[0], "T");
    let [t_lo, t_hi] = problem.sweep.t.unwrap();
    let [p_lo, p_hi] = problem.sweep.equivalence_ratio.unwrap();
    for (c, tr) in meta.initial_conditions.iter().zip(&data.trajectories) {
        assert!((t_lo..=t_hi).contains(&c.t) && c.p == problem.p, "{c:?}");
        assert!((p_lo..=p_hi).contains(&c.equivalence_ratio.unwrap()), "{c:?}");
        assert_eq!(tr.states[0][0], c.t);
        // Adiabatic at constant pressure: the enthalpy of the mixture is conserved, so the
        // burnt gas is far hotter than the fresh one after 1 ms at T0 ≥ 950 K.
        assert!(tr.states[2][0] > c.t + 500.0, "{c:?}: T(1 ms) = {}", tr.states[2][0]);
    }
    // One trajectory is the problem's own state.
    let (one, meta) = generate(&spec(1)).unwrap();
    assert_eq!((meta.initial_conditions[0].t, meta.initial_conditions[0].equivalence_ratio), (problem.t, Some(1.0)));
    assert_eq!(one.trajectories[0].states[0][0], problem.t);
}

#[test]
fn the_isothermal_reactor_is_cantera_production_rates_with_an_exact_jacobian() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cantera/rates.json");
    let rates: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mech = gas::load(root().join("datasets/mechanisms/h2o2.yaml").to_str().unwrap(), None).unwrap();
    let cpu = DeviceKind::Cpu.open().unwrap();
    let mut checked = 0;
    for case in rates["mechanisms"]["h2o2"]["cases"].as_array().unwrap() {
        let t = num(&case["T"]);
        let conc: Vec<f64> = case["concentrations"].as_array().unwrap().iter().map(num).collect();
        let reactor = Reactor::new(mech.clone(), ReactorKind::Isothermal { t }, &cpu);
        let d = conc.len();
        let mut f = vec![0.0; d];
        reactor.rhs(&conc, &mut f);
        // ω̇ sums terms of both signs: compare on the scale of the largest.
        let expected: Vec<f64> = case["net_production_rates"].as_array().unwrap().iter().map(num).collect();
        let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in f.iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-9 * scale, "T = {t}: ω̇ {a} vs Cantera {b}");
        }
        let mut jac = vec![0.0; d * d];
        reactor.jacobian_at(&conc, &mut jac);
        for j in 0..d {
            let column = central_column(&reactor, &conc, j, 1e-7 * conc[j].abs().max(1e-12));
            let col_scale = (0..d).map(|i| jac[i * d + j].abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
            for (i, fd) in column.into_iter().enumerate() {
                assert!(
                    (jac[i * d + j] - fd).abs() <= 1e-5 * col_scale,
                    "T = {t}: ∂f{i}/∂C{j} {} vs {fd}",
                    jac[i * d + j]
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 20);
}

/// One constant-pressure field carrying `P` in its state serves the five constant-pressure
/// cases of ignition.json (1, 5 and 10 atm) in one batch: its right-hand side is the per-case
/// reactor's bit for bit with `dP/dt = 0`, its Jacobian (the `P` column included) is exact
/// against central differences, and the batch's ignition delays match Cantera's within 0.5 %.
/// The constant-volume case carries its density the same way.
#[test]
fn a_reactor_carrying_its_condition_serves_a_pressure_sweep_with_one_field() {
    let all = ignition();
    let cases: Vec<&Value> = all["cases"].as_array().unwrap().iter().collect();
    let cpu = DeviceKind::Cpu.open().unwrap();
    let (mut y0s, mut taus) = (Vec::new(), Vec::new());
    let mut carrying = None;
    for case in &cases {
        let (plain, y0) = reactor_of(case);
        let held = match plain.kind() {
            ReactorKind::ConstPressure { p } => p,
            ReactorKind::ConstVolume { rho } => rho,
            ReactorKind::Isothermal { t } => t,
        };
        // The default held value (the kind's) differs from the case's: the state's must win.
        let default = match plain.kind() {
            ReactorKind::ConstPressure { .. } => ReactorKind::ConstPressure { p: 1.0 },
            _ => ReactorKind::ConstVolume { rho: 1.0 },
        };
        let field = Reactor::new(plain.mechanism().clone(), default, &cpu).carrying_condition();
        let expected = if matches!(plain.kind(), ReactorKind::ConstPressure { .. }) { "P" } else { "rho" };
        assert_eq!(field.state_names().last().map(String::as_str), Some(expected));
        let y = state_of(&plain, &case["trajectory"][2]);
        let mut carried = y.clone();
        carried.push(held);
        let (mut f, mut g) = (vec![0.0; y.len()], vec![1.0; carried.len()]);
        plain.rhs(&y, &mut f);
        field.rhs(&carried, &mut g);
        assert_eq!((&g[..y.len()], g[y.len()]), (&f[..], 0.0), "{}", case["name"]);
        // The Jacobian's last column, ∂f/∂P (or ∂f/∂ρ), against central differences.
        let d = carried.len();
        let mut jac = vec![0.0; d * d];
        field.jacobian_at(&carried, &mut jac);
        let column = central_column(&field, &carried, d - 1, 1e-6 * held);
        for (i, fd) in column.iter().enumerate() {
            let exact = jac[i * d + d - 1];
            assert!(
                (exact - fd).abs() <= 1e-6 * exact.abs().max(1e-9 * g[i].abs() / held),
                "{}: ∂f_{i}/∂held {exact} vs {fd}",
                case["name"]
            );
        }
        assert!(jac[(d - 1) * d..].iter().all(|&v| v == 0.0), "the held row is 0");
        if matches!(plain.kind(), ReactorKind::ConstPressure { .. }) {
            y0s.extend(y0.iter().copied().chain([held]));
            taus.push(num(&case["ignition_delay"]));
            carrying = Some(field);
        } else {
            // Constant volume: one solve of the carried density against Cantera.
            let mut y = y0.clone();
            y.push(held);
            let request = Request::new(methods::by_name("radau5").unwrap(), y, 0.0, vec![num(&case["t_end"])])
                .with_options(SolveOptions { max_steps: 200_000, ..SolveOptions::adaptive(1e-8, 1e-14) });
            let record = solve_record(&field, &request).unwrap();
            let tau = field.ignition_delay(&record.trajectories()[0], 0.0).expect("it ignites");
            let tau_ref = num(&case["ignition_delay"]);
            assert!((tau - tau_ref).abs() < 5e-3 * tau_ref, "{}: {tau} vs Cantera {tau_ref}", case["name"]);
        }
    }
    let field = carrying.unwrap();
    let t_end = cases.iter().map(|c| num(&c["t_end"])).fold(0.0, f64::max);
    let request = Request::new(methods::by_name("radau5").unwrap(), y0s, 0.0, vec![t_end])
        .with_options(SolveOptions { max_steps: 200_000, ..SolveOptions::adaptive(1e-8, 1e-14) });
    let record = solve_record(&field, &request).unwrap();
    assert_eq!(record.trajectories().len(), taus.len());
    for (k, (tr, tau_ref)) in record.trajectories().iter().zip(&taus).enumerate() {
        let tau = field.ignition_delay(tr, 0.0).expect("it ignites");
        let rel = (tau - tau_ref).abs() / tau_ref;
        println!("trajectory {k}: ignition delay {tau:.6e} s, Cantera {tau_ref:.6e} s ({rel:.1e})");
        assert!(rel < 5e-3, "trajectory {k}: {tau} vs Cantera {tau_ref}");
        assert_eq!(tr.point(tr.n_points() - 1).last(), tr.point(0).last(), "P stays where it started");
    }
}

/// A sweep that varies what a reactor holds puts it in the state: the pressure of a
/// constant-pressure problem swept over pressures, the density of a swept constant-volume one,
/// the temperature of an isothermal one swept over temperatures. A dataset of a pressure sweep
/// then has a `P` column, constant along each trajectory at the trajectory's drawn pressure.
#[test]
fn a_sweep_over_the_held_quantity_carries_it_in_the_state() {
    use stiffnode_chemistry::dataset::reactor::{ReactorGeneration, generate};
    let text = std::fs::read_to_string(root().join("datasets/problems/h2-air.yaml")).unwrap();
    let device = DeviceKind::Cpu.open().unwrap();
    let load = |text: &str| {
        let path = root().join("datasets/problems").join(format!("sweep-{}.yaml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let problem = gas::load_problem(path.to_str().unwrap());
        std::fs::remove_file(&path).unwrap();
        problem.unwrap()
    };
    let swept = text.replace("sweep:\n", "sweep:\n  P: [1 atm, 10 atm]\n");
    for (text, carries, last) in [
        (text.clone(), false, "N2"),
        (swept.clone(), true, "P"),
        (text.replace("constant-pressure", "constant-volume"), true, "rho"),
        (swept.replace("constant-pressure", "isothermal"), true, "T"),
        (
            swept.replace("constant-pressure", "isothermal").replace("  T: [950, 1200]\n", "").replace("  P:", "  #"),
            false,
            "N2",
        ),
    ] {
        let problem = load(&text);
        let (reactor, y0) = problem.reactor(&device);
        let names = problem.state_names();
        assert_eq!((problem.carries_condition(), names.last().unwrap().as_str()), (carries, last), "{text}");
        assert_eq!((reactor.state_names(), y0.len(), reactor.dim()), (names.clone(), names.len(), names.len()));
    }
    let problem = load(&swept);
    let spec = ReactorGeneration {
        problem: &problem,
        source: "sweep.yaml",
        texts: ["problem", "mechanism"],
        times: TimeGrid::Fixed(vec![1e-5, 1e-3]),
        trajectories: 4,
        seed: 5,
        validation: 0.0,
        command: "test".into(),
    };
    let (data, meta) = generate(&spec).unwrap();
    assert_eq!(data.species.last().unwrap(), "P");
    let p = data.species.len() - 1;
    for (c, tr) in meta.initial_conditions.iter().zip(&data.trajectories) {
        assert!((101325.0..=1013250.0).contains(&c.p), "{c:?}");
        assert!(tr.states.iter().all(|s| s[p] == c.p), "{c:?}: the P column is the drawn pressure");
    }
    assert!(meta.initial_conditions.windows(2).any(|w| w[0].p != w[1].p), "pressures drawn, not fixed");
}

/// On Burn's autodiff graph the reactor's right-hand side carries `∂f/∂y` at any state on the
/// graph, computed ones included (a solve's replay evaluates `f` at the states it computed, at
/// an explicit first stage for instance): over random reactors, conditions and states, in a
/// batch, the backward pass of `wᵀf(y)` through a computed `y` is `Jᵀw` with the exact Jacobian
/// (itself checked against central differences above). Testing for a leaf once dropped the term
/// at every computed state (issue 29).
#[test]
fn the_graph_derivative_at_a_computed_state_is_the_exact_jacobian() {
    use proptest::prelude::*;
    use stiffnode_chemistry::gas::ReactorType;
    use stiffnode_solvers::field::{from_host, to_host};

    let base = gas::load_problem(root().join("examples/h2-air-ignition.yaml").to_str().unwrap()).unwrap();
    let kinds = [ReactorType::ConstantPressure, ReactorType::ConstantVolume, ReactorType::Isothermal];
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let condition = (0..kinds.len(), 950.0f64..1400.0, 0.5f64..5.0, 0.5f64..2.0);
    let states = (prop::collection::vec(0.0f64..1e-2, 2 * 12), prop::collection::vec(-1.0f64..1.0, 2 * 12));
    let config = seeded::seeded(32, 576);
    proptest!(config, |((kind, t, atm, phi) in condition, (products, w) in states)| {
        let mut problem = base.at(t, atm * 101_325.0, Some(phi));
        problem.reactor = kinds[kind];
        let all: Vec<usize> = (0..problem.mechanism.reactions.len()).collect();
        let (field, y0) = problem.reactor_learning(&ad, &all);
        let names = problem.state_names();
        let d = y0.len();
        // Two rows: the initial state with products mixed in (mass fractions or concentrations
        // on the scale of the initial ones).
        let scale = (0..d).filter(|&i| names[i] != "T").map(|i| y0[i].abs()).fold(0.0, f64::max);
        let y: Vec<f64> = (0..2 * d)
            .map(|k| if names[k % d] == "T" { y0[k % d] } else { y0[k % d] + scale * products[12 * (k / d) + k % d] })
            .collect();
        let w = &w[..2 * d];
        let leaf = from_host(y.clone(), [2, d], &ad).require_grad();
        let computed = leaf.clone().mul_scalar(1.0);
        let loss = (field.eval(&[0.0, 0.0], computed) * from_host(w.to_vec(), [2, d], &ad)).sum();
        let grad = to_host(leaf.grad(&loss.backward()).expect("the state is on the graph"));
        let jac = to_host(field.jacobian(&[0.0, 0.0], from_host(y, [2, d], &ad)));
        for row in 0..2 {
            for k in 0..d {
                let terms = (0..d).map(|i| jac[(row * d + i) * d + k] * w[row * d + i]);
                let size: f64 = terms.clone().map(f64::abs).sum();
                let exact: f64 = terms.sum();
                let got = grad[row * d + k];
                prop_assert!(
                    (got - exact).abs() <= 1e-12 * size.max(f64::MIN_POSITIVE),
                    "{:?} row {row}: ∂(wᵀf)/∂{} on the graph {got:e}, Jᵀw {exact:e}", kinds[kind], names[k]
                );
            }
        }
    });
}
