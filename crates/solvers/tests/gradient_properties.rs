//! Gradients of mechanisms nobody picked: random mass-action networks (3–12 species, 2–20
//! reactions, orders 0–3, rate constants from 1e-3 to 1e11, species that start at 0), each
//! with a unimolecular reaction of k ≥ 1e10 so that `|hλ| ≥ 1e8` on every step longer than
//! 0.01. For every method that claims exact gradients, in both gradient modes, with fixed and
//! adaptive steps, the gradient of `gradcheck`'s loss (each species scaled by its size) with
//! respect to every `log10 k` and `y0` must match central finite differences on the same step
//! grid to 1e-5 relative (`gradient::check::max_rel_err`).
//!
//! A case is set aside only for a reason it measures and names: the forward solve fails (its
//! typed error); for each component that disagrees, the finite difference itself has not
//! settled (its two estimates ten times apart in step differ by at least a tenth of the
//! disagreement), or the change of the loss the gradient predicts at the largest step is
//! within ten times the Newton tolerance of the perturbed solves; or species end below a
//! hundred times the absolute tolerance that Newton converges them to (their values, and the
//! gradient taken at them, are not resolved to 1e-5 of their own size, and the loss weighs them
//! by it) and the check agrees once those species are scaled by that level instead. The run
//! prints the shares, and fails if more than a quarter are set aside: a test that sets
//! everything aside tests nothing.
//!
//! The cases are the same in every run (a fixed seed); `PROPTEST_CASES=N` runs `N` of them
//! (default 160), `PROPTEST_SEED=S` another sequence.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use burn::tensor::Device;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use stiffnode_solvers::gradient::check::{CheckReport, check_mechanism, check_mechanism_scaled, rel_errs};
use stiffnode_solvers::problems::{Mechanism, Reaction};
use stiffnode_solvers::{DeviceKind, GradientMode, Method, Request, SolveOptions, methods};

/// The agreement asked of the gradient.
const TOLERANCE: f64 = 1e-5;

/// The tolerance Newton converges the perturbed solves' stages to (`fixed_newton_tol`).
const NEWTON_TOL: f64 = 1e-12;

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
/// gradients are checked on ROBER with short steps in `gradients.rs`).
fn implicit_methods() -> Vec<Method> {
    methods::all().into_iter().filter(|m| m.name() != "dopri5").collect()
}

/// What a case came to.
#[derive(Debug)]
enum Outcome {
    Clean,
    SetAside(String),
}

/// Judge a report: clean, set aside with a measured reason, or a failure naming the worst
/// component.
fn judge(r: &CheckReport) -> Result<Outcome, String> {
    if r.max_rel_err <= TOLERANCE {
        return Ok(Outcome::Clean);
    }
    let mut reasons = Vec::new();
    let errs = rel_errs(&r.gradient, &r.finite_difference);
    for (k, err) in errs.into_iter().enumerate() {
        let (g, fd) = (r.gradient[k], r.finite_difference[k]);
        if err.is_nan() {
            return Err(format!("{}: gradient {g:e}, finite difference {fd:e}", r.names[k]));
        }
        if err <= TOLERANCE {
            continue;
        }
        // The change the gradient predicts at the largest finite-difference step, against what
        // the perturbed solves resolve: Newton converges their stages to 1e-12 (relative).
        let change = (g * r.largest_step[k]).abs();
        if change <= 10.0 * NEWTON_TOL * r.loss.abs().max(1.0) {
            reasons.push(format!("{} (rel err {err:.1e}; predicted change of the loss {change:.1e})", r.names[k]));
            continue;
        }
        let unsettled = r.unsettled[k];
        if unsettled < 0.1 * err {
            return Err(format!(
                "{}: gradient {g:.9e}, finite difference {fd:.9e} (rel err {err:.1e}; the finite difference settled to {unsettled:.1e})",
                r.names[k]
            ));
        }
        reasons.push(format!("{} (rel err {err:.1e}, finite difference unsettled {unsettled:.1e})", r.names[k]));
    }
    Ok(Outcome::SetAside(format!("finite differences unsettled or below resolution: {}", reasons.join(", "))))
}

/// Where the check disagrees: the species whose outputs stay below a hundred times the absolute
/// tolerance Newton converges their stages to (the forward solve's `atol` with adaptive steps,
/// the fixed-step Newton floor otherwise), if any, and whether the check with those species
/// scaled by that level agrees. Newton stops at about 1e-3 of `atol + rtol·|y|` (design.md §3),
/// so such a species' stage values, and the gradient taken at them, are resolved to no better
/// than 1e-5 of its size, while the loss weighs it by its size.
fn unresolved(
    mech: &Mechanism,
    device: &Device,
    request: &Request,
    r: &CheckReport,
    adaptive: bool,
) -> Option<Outcome> {
    let atol = if adaptive { 1e-10 } else { request.options.fixed_newton_tol.atol_of(0) };
    let floor = 100.0 * atol;
    let (last, d) = (&r.final_state, mech.species.len());
    let below: Vec<String> = (0..d)
        .filter(|&i| last[i].abs().max(mech.initial[i].abs()) < floor && last[i] != 0.0)
        .map(|i| format!("{} ({:.1e})", mech.species[i], last[i]))
        .collect();
    if below.is_empty() {
        return None;
    }
    let scaled = check_mechanism_scaled(mech, device, request, floor).ok()?;
    judge(&scaled).is_ok().then(|| {
        Outcome::SetAside(format!(
            "unresolved species: {} end below 100× Newton's absolute tolerance ({floor:.0e}); scaled by that, max rel err {:.1e}",
            below.join(", "),
            scaled.max_rel_err
        ))
    })
}

#[test]
#[ignore = "not yet passing: an esdirk4 adaptive case disagrees with settled finite differences (issue 29, left open)"]
fn random_mechanism_gradients_match_finite_differences_for_every_method_mode_and_step_control() {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(160);
    let seed: u64 = std::env::var("PROPTEST_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(29);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let device = DeviceKind::Cpu.open().unwrap();
    let list = implicit_methods();
    let tally: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
    let count = |key: &str| *tally.borrow_mut().entry(key.to_string()).or_default() += 1;
    let strategy = (mechanism(), 0..list.len(), any::<bool>(), any::<bool>(), 10usize..=40);
    let result = runner.run(&strategy, |(mech, m, graph, adaptive, substeps)| {
        let method = &list[m];
        let adaptive = adaptive && method.info().embedded;
        let mode = if graph { GradientMode::Graph } else { GradientMode::Adjoint { keep_steps: false } };
        let options = if adaptive { SolveOptions::adaptive(1e-6, 1e-10) } else { SolveOptions::fixed(substeps) };
        let options = SolveOptions { max_steps: 5_000, ..options };
        let request = common::request(method, &mech.initial, &[1.0], &options).with_gradient(mode);
        let control = if adaptive { "adaptive" } else { "fixed" };
        let label = format!("{} {} {control}", method.name(), if graph { "graph" } else { "adjoint" });
        let outcome = match check_mechanism(&mech, &device, &request) {
            Err(e) => Outcome::SetAside(format!("forward solve failed: {e}")),
            Ok(r) => match judge(&r) {
                Ok(outcome) => outcome,
                Err(why) => unresolved(&mech, &device, &request, &r, adaptive)
                    .ok_or_else(|| TestCaseError::fail(format!("{label}: {why}\n{mech:?}")))?,
            },
        };
        count(&format!("covered {label}"));
        match outcome {
            Outcome::Clean => count("clean"),
            Outcome::SetAside(why) => {
                println!("set aside ({label}): {why}");
                let kind = why.split(':').next().unwrap_or_default();
                count(&format!("set aside: {kind}"));
            }
        }
        Ok(())
    });
    let tally = tally.into_inner();
    for (key, n) in &tally {
        println!("{key:<48} {n:>5}");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
    let clean = tally.get("clean").copied().unwrap_or(0);
    let set_aside: usize = tally.iter().filter(|(k, _)| k.starts_with("set aside")).map(|(_, n)| n).sum();
    println!("{clean} of {} cases checked cleanly, {set_aside} set aside", clean + set_aside);
    assert_eq!(clean + set_aside, cases as usize);
    assert!(set_aside * 4 <= cases as usize, "{set_aside} of {cases} cases set aside");
}
