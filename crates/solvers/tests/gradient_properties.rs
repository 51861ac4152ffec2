//! Gradients of mechanisms nobody picked: random mass-action networks (3–12 species, 2–20
//! reactions, orders 0–3, rate constants from 1e-3 to 1e11, species that start at 0), each
//! with a unimolecular reaction of k ≥ 1e10 so that `|hλ| ≥ 1e8` on every step longer than
//! 0.01. For every method that claims exact gradients, in both gradient modes, with fixed and
//! adaptive steps, the gradient of `gradcheck`'s loss (each species scaled by its size) with
//! respect to every `log10 k` and `y0` must match central finite differences on the same step
//! grid to 1e-5 relative (`gradient::check::max_rel_err`).
//!
//! A case is set aside only for a reason it measures and names (`common/properties.rs`): the
//! forward solve fails (its typed error) or leaves the bound every solution keeps; or, for each
//! component that disagrees, the check's finite difference cannot decide
//! (`CheckReport::component` lists the reasons), or the field's own rounding (ε times its
//! gross rates) bounds the finite difference above the disagreement, or the check agrees once
//! every stage is converged to 1e-9 of its weight in the loss. Rosenbrock methods run with
//! error control only (their fixed steps at `|hλ| ~ 1e9` blow up: see [`unstable`]). Whatever
//! the finite differences decide, the two gradient modes must agree to 1e-6 of the gradient's
//! size in every case whose forward solve succeeds (`properties::modes_agree`).
//!
//! The run prints the shares, and fails if more than a quarter are set aside: a test that sets
//! everything aside tests nothing.
//!
//! The cases are the same in every run (a fixed seed); `PROPTEST_CASES=N` runs `N` of them
//! (default 160), `PROPTEST_SEED=S` another sequence.

mod common;

#[path = "common/properties.rs"]
mod properties;

use std::collections::BTreeMap;

use properties::Outcome;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use stiffnode_solvers::gradient::check::{CheckReport, check_mechanism};
use stiffnode_solvers::problems::{Mechanism, Reaction};
use stiffnode_solvers::{DeviceKind, GradientMode, Method, SolveOptions, methods};

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
fn implicit_methods() -> Vec<Method> {
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
#[ignore = "not yet green (issue 29, open): every one of the 160 cases now passes every decisive comparison (the two gradient modes agree within 1e-6 in all; no component disagrees with a finite difference that can decide), but 83 are set aside (36 forward solves fail: adaptive trapezoid, backward Euler and sdirk2 reach 5,000 steps at |hλ| ≥ 1e8, and fixed-step diagonally implicit methods fail Newton in step 1; 47 finite differences cannot decide), more than the quarter the run allows. Run by hand: PROPTEST_MAX_SHRINK_ITERS=0 cargo test --release -p stiffnode-solvers --test gradient_properties -- --ignored"]
fn random_mechanism_gradients_match_finite_differences_for_every_method_mode_and_step_control() {
    let device = DeviceKind::Cpu.open().unwrap();
    let list = implicit_methods();
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
        let options = SolveOptions { max_steps: 5_000, ..options };
        let request = common::request(method, &mech.initial, &[1.0], &options).with_gradient(mode);
        let control = if adaptive { "adaptive" } else { "fixed" };
        let label = format!("{} {} {control}", method.name(), if graph { "graph" } else { "adjoint" });
        let outcome = match check_mechanism(&mech, &device, &request) {
            Err(e) => Outcome::SetAside(format!("forward solve failed: {e}")),
            Ok(r) if properties::modes_agree(&r).is_err() => {
                let why = properties::modes_agree(&r).unwrap_err();
                return Err(TestCaseError::fail(format!("{label}: {why}\n{mech:?}")));
            }
            Ok(r) if unstable(&mech, &r).is_some() => Outcome::SetAside(unstable(&mech, &r).unwrap_or_default()),
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
