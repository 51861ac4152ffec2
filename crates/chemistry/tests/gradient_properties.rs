//! Gradients of mechanisms nobody picked (the MLPs' are in `stiffnode-models`), for every method
//! that claims exact gradients, in both gradient modes, with fixed and adaptive steps: the
//! gradient of `gradcheck`'s loss (each component scaled by its size) must match central finite
//! differences on the same step grid to 1e-5 relative (`gradient::check::max_rel_err`).
//!
//! - Mass action: random networks (3–12 species, 2–20 reactions, orders 0–3, rate constants
//!   from 1e-3 to 1e11, species that start at 0), each with a unimolecular reaction of
//!   k ≥ 1e10 so that `|hλ| ≥ 1e8` on every step longer than 0.01; every `log10 k` and `y0`.
//!   Rosenbrock methods and those that are not L-stable run with error control only (see the
//!   test). Work limit 20,000 steps, the command line's default.
//! - Reactors: the shipped H2/O2 mechanism at constant pressure, constant volume or
//!   isothermal; 950–1400 K, 0.5–5 atm, φ 0.5–2; to an end time from 1e-5 to 5e-4 s (before,
//!   across or after ignition); the `log10` rate factors of 4 reactions and the nonzero initial
//!   state. Not the Rosenbrock methods: their gradients need `∂J`, which the reactor's host
//!   Jacobian does not carry, and they are refused.
//!
//! A component is set aside only for a reason it measures and names (`properties.rs`): the
//! forward solve fails (its typed error: all the case's components) or leaves the bound every
//! solution keeps; or the check's finite difference cannot decide (`CheckReport::component`
//! lists the reasons), or the field's own rounding (ε times its gross rates) bounds the finite
//! difference above the disagreement, or the check agrees once every stage is converged to 1e-9
//! of its weight in the loss. Whatever the finite differences decide, the two gradient modes
//! must agree to 1e-6 of the gradient's size in every case whose forward solve succeeds
//! (`properties::modes_agree`). Each run prints its shares and fails if more than a quarter of
//! all components are set aside: a test that sets everything aside tests nothing.
//!
//! The cases are the same in every run (a fixed seed); `PROPTEST_CASES=N` runs `N` of them
//! (default 160 mass-action, 24 reactor), `PROPTEST_SEED=S` another sequence.

#[path = "../../solvers/tests/common/properties.rs"]
mod properties;

use std::collections::BTreeMap;
use std::path::PathBuf;

use properties::{Outcome, Solver, chosen, implicit_methods, judged};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use stiffnode_chemistry::check::check_mechanism;
use stiffnode_chemistry::gas::{self, ReactorType};
use stiffnode_chemistry::mass_action::{Mechanism, Reaction};
use stiffnode_solvers::gradient::check::{CheckReport, CheckSpec, check_field};
use stiffnode_solvers::{DeviceKind, GradientMode, Method, Request, SolveOptions, VectorField, methods};

/// One reaction as drawn: reactant species (a repeat is a higher order), product species,
/// `log10 k`.
type Drawn = (Vec<usize>, Vec<usize>, f64);

/// A random mechanism: `d` species, a fast unimolecular reaction first, then the drawn ones. A
/// reaction makes at most as many molecules as it consumes (so every state stays bounded);
/// one with no reactants makes one, at `k ≤ 1`.
fn mechanism() -> impl Strategy<Value = Mechanism> {
    (3usize..=12)
        .prop_flat_map(|d| {
            let reaction = (prop::collection::vec(0..d, 0..=3), prop::collection::vec(0..d, 0..=3), -3.0f64..11.0);
            let fast = (0..d, 0..d, 10.0f64..11.0);
            let initial = prop::collection::vec(prop_oneof![Just(0.0), 0.05f64..1.0], d);
            (Just(d), fast, prop::collection::vec(reaction, 1..=19), initial)
        })
        .prop_map(|(d, (from, to, log_k), drawn, initial)| {
            let fast: Drawn = (vec![from], vec![(from + 1 + to % (d - 1)) % d], log_k);
            let reactions = std::iter::once(fast).chain(drawn).map(reaction).collect();
            let species = (0..d).map(|i| format!("S{i}")).collect();
            Mechanism { name: "random".into(), species, initial, reactions, t_end: Some(1.0) }
        })
}

fn reaction((reactants, mut products, log_k): Drawn) -> Reaction {
    let count = |list: &[usize]| {
        let mut counts: BTreeMap<usize, f64> = BTreeMap::new();
        list.iter().for_each(|&i| *counts.entry(i).or_default() += 1.0);
        counts.into_iter().collect::<Vec<_>>()
    };
    let log_k = if reactants.is_empty() { log_k.min(0.0) } else { log_k };
    products.truncate(reactants.len().max(1));
    Reaction::mass_action(&count(&reactants), &count(&products), 10f64.powf(log_k))
}

/// The methods with exact gradients that can take stiff steps (dopri5, explicit, cannot: its
/// gradients are checked on ROBER with short steps in `gradients.rs`), less those that run
/// with error control only ([`controlled_only`]) and have none.
fn mass_action_methods() -> Vec<Method> {
    let stiff = methods::all().into_iter().filter(|m| m.name() != "dopri5");
    stiff.filter(|m| m.info().embedded || !controlled_only(m)).collect()
}

/// Whether `method` runs with error control only here (see the test).
fn controlled_only(method: &Method) -> bool {
    matches!(method, Method::Rosenbrock(_)) || !method.info().l_stable
}

/// Judge a report by the check's reasons and one of the mechanism's: its gross rates' rounding
/// bounds the finite difference ([`rounding_bound`]).
fn judge(mech: &Mechanism, r: &CheckReport) -> Result<Outcome, String> {
    properties::judge(r, |k| {
        // What the field's own rounding leaves of the finite difference at its largest step.
        let bound = rounding_bound(mech, r) / (2.0 * r.largest_step[k]);
        let off = (r.gradient[k] - r.finite_difference[k]).abs();
        (off <= bound).then(|| {
            format!(
                "{} (field rounding: ε·Σ|gross rates| bounds the finite difference at {bound:.1e} ≥ |gradient − finite difference| = {off:.1e})",
                r.names[k]
            )
        })
    })
}

/// Whether the forward solve left the bound every solution of the mechanism keeps: no
/// reaction makes more molecules than it consumes, so `Σ_i y_i(t) ≤ Σ_i y_i(0) + t·Σ k` over
/// the reactions without reactants (each makes at most one). A solve beyond it (Rosenbrock's
/// linearly implicit steps at `|hλ| ~ 1e9` can take a state from 0.7 to 1e4) amplifies every
/// perturbation, rounding included: its finite differences measure the amplified rounding.
fn unstable(mech: &Mechanism, r: &CheckReport) -> Option<String> {
    let sources: f64 = mech.reactions.iter().filter(|re| re.reactants.is_empty()).map(|re| re.rate).sum();
    let bound = mech.initial.iter().sum::<f64>() + mech.t_end.unwrap_or(1.0) * sources;
    let total: f64 = r.final_state.iter().sum();
    (total > 1.01 * bound + 1e-9).then(|| {
        format!("forward solve unstable: Σy(t_end) = {total:.3e} above the bound {bound:.3e} every solution keeps")
    })
}

/// How much the loss can move by rounding alone in the forward solve: each species' rate is a
/// sum of gross rates `ν·r` that can be far larger than it (a fast reversible pair: 1e6 each
/// way for a net 1e-4), so a solve over `[0, 1]` carries an absolute error of about
/// `ρ_i = ε·Σ_r |ν_ir·r_r|` in species `i` whatever its step, and the loss `Σ (y_i/s_i)²` one of
/// `Σ_i 2|y_i|/s_i²·ρ_i` (the gross rates taken at the initial and the final state, the larger).
/// A finite difference with step `h` cannot resolve a change of the loss below that: its error
/// is at least this over `2h`.
fn rounding_bound(mech: &Mechanism, r: &CheckReport) -> f64 {
    let gross = |y: &[f64]| -> Vec<f64> {
        let rates = mech.rates(y);
        (0..mech.species.len())
            .map(|i| mech.reactions.iter().zip(&rates).map(|(re, rate)| (re.net(i) * rate).abs()).sum())
            .collect()
    };
    let (start, end) = (gross(&mech.initial), gross(&r.final_state));
    (0..mech.species.len())
        .map(|i| {
            let (y, s) = (r.final_state[i].abs(), r.scale[i]);
            2.0 * y / (s * s) * f64::EPSILON * start[i].max(end[i])
        })
        .sum()
}

#[test]
fn random_mechanism_gradients_match_finite_differences_for_every_method_mode_and_step_control() {
    let device = DeviceKind::Cpu.open().unwrap();
    let list = mass_action_methods();
    let strategy = (mechanism(), 0..list.len(), any::<bool>(), any::<bool>(), 10usize..=40);
    properties::check_all(160, strategy, |(mech, m, graph, adaptive, substeps)| {
        let method = &list[m];
        // Two kinds of method run with error control only, as users run them on stiff
        // problems. Rosenbrock steps are linearly implicit: fixed steps of |hλ| ~ 1e9 across
        // fast nonlinear terms blow up (rodas5p took a state of 1.5 to 1e79 in 10 steps, where
        // radau5 split its steps). Methods that are not L-stable (|R(∞)| = 1) carry a fast
        // mode's perturbation undamped through every fixed step: trapezoid's finite
        // differences over steps 1e-4…1e-9 read 0.90, 1.0, 1.9, 11, 105, −340 — no derivative
        // at any scale they probe. (gauss2 and implicit-midpoint, without an error estimate,
        // are checked on ROBER and POLLU in `gradients.rs`.)
        let adaptive = (adaptive || controlled_only(method)) && method.info().embedded;
        let mode = if graph { GradientMode::Graph } else { GradientMode::Adjoint { keep_steps: false } };
        let options = if adaptive { SolveOptions::adaptive(1e-6, 1e-10) } else { SolveOptions::fixed(substeps) };
        let options = SolveOptions { max_steps: 20_000, ..options };
        let request = Request::new(method.clone(), mech.initial.clone(), 0.0, vec![1.0])
            .with_options(options)
            .with_gradient(mode);
        let control = if adaptive { "adaptive" } else { "fixed" };
        let label = format!("{} {} {control}", method.name(), if graph { "graph" } else { "adjoint" });
        let components = mech.reactions.len() + mech.species.len();
        let outcome = match check_mechanism(&mech, &device, &request) {
            Err(e) => Outcome::set_aside(format!("forward solve failed: {e}"), components),
            Ok(r) if properties::modes_agree(&r).is_err() => {
                let why = properties::modes_agree(&r).unwrap_err();
                return Err(TestCaseError::fail(format!("{label}: {why}\n{mech:?}")));
            }
            Ok(r) if unstable(&mech, &r).is_some() => {
                Outcome::set_aside(unstable(&mech, &r).unwrap_or_default(), components)
            }
            Ok(r) => match judge(&mech, &r) {
                Ok(outcome) => outcome,
                Err(why) => check_mechanism(&mech, &device, &properties::tightened(&request, &r))
                    .ok()
                    .filter(|tight| judge(&mech, tight).is_ok())
                    .map(|tight| properties::newton_tolerance(adaptive, &tight, &r))
                    .ok_or_else(|| TestCaseError::fail(format!("{label}: {why}\n{mech:?}")))?,
            },
        };
        Ok((label, outcome))
    });
}

#[test]
fn random_reactor_gradients_match_finite_differences_for_every_method_mode_and_step_control() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let base = gas::load_problem(root.join("examples/h2-air-ignition.yaml").to_str().unwrap()).unwrap();
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
        let components = spec.params.len() + spec.states.len();
        let outcome = judged(|r| check_field(&field, &host, r, &spec), components, &request, &solver, &case)?;
        Ok((solver.label(), outcome))
    });
}
