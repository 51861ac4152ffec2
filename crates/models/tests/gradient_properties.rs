//! Gradients of fields nobody picked, beyond mass action (`stiffnode-solvers`'
//! `gradient_properties.rs`): random MLPs and the shipped H2/O2 mechanism in random reactors.
//! For every implicit method with exact gradients, in both gradient modes, with fixed and
//! adaptive steps, the gradient of the check's loss (each component scaled by its size) with
//! respect to chosen parameters and the initial state must match central finite differences on
//! the same step grid to 1e-5 relative, or the case is set aside for a measured, named reason
//! (`solvers/tests/common/properties.rs`); and in every case the two gradient modes must agree
//! with each other to 1e-6 of the gradient's size.
//!
//! - MLPs: 2–5 state components, one or two hidden layers of 2–12 units, every activation,
//!   scaled (time scale 1e-4…1: `|λ|` up to about 1e4) or not, 8 of their weights and biases.
//! - Reactors: constant pressure, constant volume or isothermal; 950–1400 K, 0.5–5 atm,
//!   φ 0.5–2; to an end time from 1e-5 to 5e-4 s (before, across or after ignition); the
//!   `log10` rate factors of 4 reactions. Not the Rosenbrock methods: their gradients need
//!   `∂J`, which the reactor's host Jacobian does not carry, and they are refused.
//!
//! The cases are the same in every run; `PROPTEST_CASES=N` runs `N` of them, `PROPTEST_SEED=S`
//! another sequence.

#[path = "../../solvers/tests/common/properties.rs"]
mod properties;

use std::path::PathBuf;

use properties::Outcome;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use stiffnode_models::chemistry::{self, ReactorType};
use stiffnode_models::{Activation, Mlp, MlpConfig};
use stiffnode_solvers::gradient::check::{CheckReport, CheckSpec, check_field};
use stiffnode_solvers::gradient::params;
use stiffnode_solvers::{DeviceKind, GradientMode, Method, Request, SolveOptions, VectorField, methods};

/// The methods with exact gradients that can take stiff steps.
fn implicit_methods() -> Vec<Method> {
    methods::all().into_iter().filter(|m| m.name() != "dopri5").collect()
}

/// How one case is solved: method, gradient mode, step control.
#[derive(Debug, Clone)]
struct Solver {
    method: Method,
    graph: bool,
    adaptive: bool,
}

impl Solver {
    fn strategy(list: Vec<Method>) -> impl Strategy<Value = Self> {
        (0..list.len(), any::<bool>(), any::<bool>()).prop_map(move |(m, graph, adaptive)| {
            let method = list[m].clone();
            Self { adaptive: adaptive && method.info().embedded, method, graph }
        })
    }

    /// The request from `y0` to `t_end`: adaptive at `rtol` (atol `atol`), or `substeps` equal
    /// steps.
    fn request(&self, y0: Vec<f64>, t_end: f64, (rtol, atol): (f64, f64), substeps: usize) -> Request {
        let mode = if self.graph { GradientMode::Graph } else { GradientMode::Adjoint { keep_steps: false } };
        let options = if self.adaptive { SolveOptions::adaptive(rtol, atol) } else { SolveOptions::fixed(substeps) };
        let options = SolveOptions { max_steps: 20_000, ..options };
        Request::new(self.method.clone(), y0, 0.0, vec![t_end]).with_options(options).with_gradient(mode)
    }

    fn label(&self) -> String {
        let control = if self.adaptive { "adaptive" } else { "fixed" };
        format!("{} {} {control}", self.method.name(), if self.graph { "graph" } else { "adjoint" })
    }
}

/// Check, judge, and where the judgement fails re-check with the forward solve's stages
/// converged as the finite differences' are (`properties::tightened`).
fn judged(
    check: impl Fn(&Request) -> Result<CheckReport, stiffnode_solvers::SolveError>,
    request: &Request,
    solver: &Solver,
    case: &str,
) -> Result<Outcome, TestCaseError> {
    let r = match check(request) {
        Err(e) => return Ok(Outcome::SetAside(format!("forward solve failed: {e} ({case})"))),
        Ok(r) => r,
    };
    properties::modes_agree(&r).map_err(|why| TestCaseError::fail(format!("{}: {why}\n{case}", solver.label())))?;
    match properties::judge(&r, |_| None) {
        Ok(outcome) => Ok(outcome),
        Err(why) => check(&properties::tightened(request, &r))
            .ok()
            .filter(|tight| properties::judge(tight, |_| None).is_ok())
            .map(|tight| properties::newton_tolerance(solver.adaptive, &tight, &r))
            .ok_or_else(|| TestCaseError::fail(format!("{}: {why}\n{case}", solver.label()))),
    }
}

/// `count` indices of `0..n` from `offset` with an even stride.
fn chosen(n: usize, count: usize, offset: usize) -> Vec<usize> {
    let stride = (n / count).max(1);
    let mut idx: Vec<usize> = (0..count.min(n)).map(|i| (offset + i * stride) % n).collect();
    idx.sort_unstable();
    idx.dedup();
    idx
}

#[test]
fn random_mlp_gradients_match_finite_differences_for_every_method_mode_and_step_control() {
    let cpu = DeviceKind::Cpu.open().unwrap();
    let network = (
        2usize..=5,
        prop::collection::vec(2usize..=12, 1..=2),
        0..Activation::NAMES.len(),
        prop::option::of(-4.0f64..0.0),
        any::<u64>(),
    );
    let start = (prop::collection::vec(-1.0f64..1.0, 5), 0.5f64..3.0, 10usize..=40, any::<usize>());
    let strategy = (network, start, Solver::strategy(implicit_methods()));
    properties::check_all(
        48,
        strategy,
        |((d, hidden, act, log_span, seed), (y, horizon, substeps, offset), solver)| {
            let activation: Activation = Activation::NAMES[act].parse().unwrap();
            let config = MlpConfig { hidden, activation, scaled: log_span.is_some() };
            let span = 10f64.powf(log_span.unwrap_or(0.0));
            let y_hat: Vec<f64> = (0..d).map(|i| 0.5 + 0.25 * i as f64).collect();
            let mlp = |device| Mlp::new(d, &config, Some((&y_hat, span)), seed, device);
            let (field, host) = (mlp(&cpu.clone().autodiff()), mlp(&cpu));
            let n = params::values(&host).len();
            let spec = CheckSpec {
                params: chosen(n, 8, offset % n).into_iter().map(|k| (k, format!("θ[{k}]"))).collect(),
                ..CheckSpec::default()
            };
            let request = solver.request(y[..d].to_vec(), horizon * span, (1e-6, 1e-10), substeps);
            let case = format!("{config:?}, span {span:e}, seed {seed}, y0 {:?}", &y[..d]);
            let outcome = judged(|r| check_field(&field, &host, r, &spec), &request, &solver, &case)?;
            Ok((solver.label(), outcome))
        },
    );
}

#[test]
fn random_reactor_gradients_match_finite_differences_for_every_method_mode_and_step_control() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let base = chemistry::load_problem(root.join("examples/h2-air-ignition.yaml").to_str().unwrap()).unwrap();
    let cpu = DeviceKind::Cpu.open().unwrap();
    let kinds = [ReactorType::ConstantPressure, ReactorType::ConstantVolume, ReactorType::Isothermal];
    let condition = (0..kinds.len(), 950.0f64..1400.0, 0.5f64..5.0, 0.5f64..2.0, -5.0f64..-3.3);
    // Not Rosenbrock methods: their gradients need `∂J`, which the reactor's Jacobian (exact, on
    // the host) does not carry, and the check refuses them (`gradient::differentiable`).
    let methods = implicit_methods().into_iter().filter(|m| !matches!(m, Method::Rosenbrock(_))).collect();
    let strategy = (condition, 50usize..=200, any::<usize>(), Solver::strategy(methods));
    properties::check_all(24, strategy, |((kind, t, atm, phi, log_t_end), substeps, offset, solver)| {
        let mut problem = base.at(t, atm * 101_325.0, Some(phi));
        problem.reactor = kinds[kind];
        let all: Vec<usize> = (0..problem.mechanism.reactions.len()).collect();
        let (field, y0) = problem.reactor_learning(&cpu.clone().autodiff(), &all);
        let (host, _) = problem.reactor_learning(&cpu, &all);
        let names = problem.state_names();
        // Temperature on its own scale; the species on the largest initial one.
        let species = (0..y0.len()).filter(|&i| names[i] != "T").map(|i| y0[i].abs()).fold(0.0, f64::max);
        let state_steps = (0..y0.len()).map(|i| if names[i] == "T" { y0[i] } else { species }).collect();
        let spec = CheckSpec {
            params: chosen(all.len(), 4, offset % all.len())
                .into_iter()
                .map(|j| (j, format!("log10 f[{j}]")))
                .collect(),
            state_names: names,
            states: (0..y0.len()).filter(|&i| y0[i] != 0.0).collect(),
            state_steps,
            targets: Vec::new(),
        };
        assert_eq!(field.dim(), y0.len());
        let atol = if kinds[kind] == ReactorType::Isothermal { 1e-14 } else { 1e-12 };
        let request = solver.request(y0, 10f64.powf(log_t_end), (1e-7, atol), substeps);
        let case = format!(
            "{} at {t:.1} K, {atm:.2} atm, φ {phi:.2}, t_end {:.3e}",
            kinds[kind].name(),
            10f64.powf(log_t_end)
        );
        let outcome = judged(|r| check_field(&field, &host, r, &spec), &request, &solver, &case)?;
        Ok((solver.label(), outcome))
    });
}

/// The parameter values the check perturbs are the module's own: reading and writing them back
/// round-trips, and a changed value changes the field.
#[test]
fn parameter_values_round_trip_and_change_the_field() {
    let cpu = DeviceKind::Cpu.open().unwrap();
    let config = MlpConfig { hidden: vec![3], activation: Activation::Tanh, scaled: false };
    let mlp = Mlp::new(2, &config, None, 3, &cpu);
    let values = params::values(&mlp);
    assert_eq!(values.len(), 2 * 3 + 3 + 3 * 2 + 2);
    assert_eq!(params::values(&params::with_values(mlp.clone(), &values)), values);
    let mut changed = values.clone();
    changed[0] += 0.5;
    let y = || stiffnode_solvers::field::from_host(vec![0.3, -0.7], [1, 2], &cpu);
    let f = |m: &Mlp| stiffnode_solvers::field::to_host(m.eval(&[0.0], y()));
    assert_ne!(f(&params::with_values(mlp.clone(), &changed)), f(&mlp));
    assert_eq!(f(&params::with_values(mlp.clone(), &values)), f(&mlp));
}
