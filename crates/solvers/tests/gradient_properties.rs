//! Gradients of mechanisms nobody picked: random mass-action networks (3–12 species, 2–20
//! reactions, orders 0–3, rate constants from 1e-3 to 1e11, species that start at 0), each
//! with a unimolecular reaction of k ≥ 1e10 so that `|hλ| ≥ 1e8` on every step longer than
//! 0.01. For every method that claims exact gradients, in both gradient modes, with fixed and
//! adaptive steps, the gradient of `gradcheck`'s loss (each species scaled by its size) with
//! respect to every `log10 k` and `y0` must match central finite differences on the same step
//! grid to 1e-5 relative (`gradient::check::max_rel_err`).
//!
//! A case is set aside only for a reason it measures and names:
//!
//! - the forward solve fails (its typed error);
//! - for each component that disagrees, the finite difference cannot decide: its two estimates
//!   ten times apart in step differ by at least a tenth of the disagreement; or the field's own
//!   rounding (ε times its gross rates) bounds its accuracy above the disagreement; or another
//!   pair of its estimates settles on the gradient (part of the response falls below rounding
//!   at the smallest steps, whose estimates then agree on a value without it); or it drifts
//!   from the gradient at its largest step into such a plateau through differences that grow
//!   as the step shrinks (rounding, not truncation); or the change of the loss the gradient
//!   predicts at its largest step is within ten times the perturbed solves' Newton tolerance
//!   (1e-12) of the loss; or every change of the loss it formed is within 16 ulps;
//! - the forward solve's Newton tolerance ([`unresolved`]): the check agrees on the same steps
//!   with the forward solve's stages converged to 1e-12 of each species' own size.
//!
//! The run prints the shares, and fails if more than a quarter are set aside: a test that sets
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
use stiffnode_solvers::gradient::check::{CheckReport, check_mechanism, rel_errs};
use stiffnode_solvers::problems::{Mechanism, Reaction};
use stiffnode_solvers::{DeviceKind, GradientMode, Method, Request, SolveOptions, Tolerances, methods};

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
fn judge(mech: &Mechanism, r: &CheckReport) -> Result<Outcome, String> {
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
        // Every loss difference the finite differences formed within a few ulps of the loss.
        let ulps = r.estimates[k]
            .iter()
            .enumerate()
            .map(|(i, e)| (e * 2.0 * r.largest_step[k] * 10f64.powi(-(i as i32))).abs())
            .fold(0.0, f64::max)
            / (f64::EPSILON * r.loss.abs().max(1.0));
        if ulps <= 16.0 {
            reasons.push(format!("{} (rel err {err:.1e}; every loss difference within {ulps:.0} ulps)", r.names[k]));
            continue;
        }
        if change <= 10.0 * NEWTON_TOL * r.loss.abs().max(1.0) {
            reasons.push(format!("{} (rel err {err:.1e}; predicted change of the loss {change:.1e})", r.names[k]));
            continue;
        }
        let unsettled = r.unsettled[k];
        if unsettled >= 0.1 * err {
            reasons.push(format!("{} (rel err {err:.1e}, finite difference unsettled {unsettled:.1e})", r.names[k]));
            continue;
        }
        // What the field's own rounding leaves of the finite difference at its largest step.
        let bound = rounding_bound(mech, r) / (2.0 * r.largest_step[k]);
        if (g - fd).abs() <= bound {
            reasons.push(format!(
                "{} (field rounding: ε·Σ|gross rates| bounds the finite difference at {bound:.1e} ≥ |gradient − finite difference| = {:.1e})",
                r.names[k],
                (g - fd).abs()
            ));
            continue;
        }
        // Two settled pairs of estimates, the check's on one value and another on the gradient.
        let scale = (r.gradient[k] - r.finite_difference[k]).abs() / err;
        let settled_on_gradient = r.estimates[k]
            .windows(2)
            .position(|w| (w[0] - w[1]).abs() <= TOLERANCE * scale && (w[1] - g).abs() <= TOLERANCE * scale);
        if let Some(i) = settled_on_gradient {
            reasons.push(format!(
                "{} (finite differences settle twice: at steps 1e-{} and 1e-{} on the gradient, on {fd:.6e} further down)",
                r.names[k],
                i + 3,
                i + 4
            ));
        } else if let Some(drift) = rounding_plateau(&r.estimates[k], g) {
            reasons.push(format!("{} ({drift})", r.names[k]));
        } else {
            return Err(format!(
                "{}: gradient {g:.9e}, finite difference {fd:.9e} (rel err {err:.1e}; the finite difference settled to {unsettled:.1e}; estimates {:?})",
                r.names[k], r.estimates[k]
            ));
        }
    }
    Ok(Outcome::SetAside(format!(
        "finite differences unsettled, ambiguous or below resolution: {}",
        reasons.join(", ")
    )))
}

/// Where the check disagrees, a measured reason in the forward solve, if there is one: Newton
/// converges the forward solve's stages — at which the gradient is taken — to about 1e-3 of
/// `atol + rtol·|y|` with adaptive steps (design.md §3) and to an absolute 1e-12 with fixed
/// ones, while the finite differences' solves converge theirs to 1e-12 of each species' own
/// size. A species far below those absolute levels is not resolved to 1e-5 of its size, while
/// the loss weighs it by its size. If the check on the same steps with the forward solve's
/// stages converged as the finite differences' are agrees, that tolerance is the reason.
fn unresolved(
    mech: &Mechanism,
    device: &Device,
    request: &Request,
    r: &CheckReport,
    adaptive: bool,
) -> Option<Outcome> {
    let d = mech.species.len();
    let atol = (0..d)
        .map(|i| {
            let peak = r.final_state[i].abs().max(mech.initial[i].abs());
            if peak > 0.0 { (1e-12 * peak).max(1e-40) } else { 1e-12 }
        })
        .collect();
    let options = SolveOptions {
        control: r.grid.clone(),
        fixed_newton_tol: Tolerances { rtol: vec![1e-12], atol },
        ..request.options.clone()
    };
    let tight = check_mechanism(mech, device, &Request { options, ..request.clone() }).ok()?;
    let was = if adaptive { "adaptive" } else { "fixed-step" };
    judge(mech, &tight).is_ok().then(|| {
        Outcome::SetAside(format!(
            "{was} Newton tolerance: on the same steps with stages converged to 1e-12 of each species' size, max rel err {:.1e} (was {:.1e})",
            tight.max_rel_err, r.max_rel_err
        ))
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

/// Whether `estimates` (steps 10⁻³, 10⁻⁴, …) start at the gradient `g` (within the difference of
/// the first two) and reach the plateau the check takes through differences that grow as the
/// step shrinks. Truncation error shrinks a hundredfold per decade of step; differences that
/// grow are rounding: the response falls below the rounding of the field's gross rates (a fast
/// reversible pair whose net flux is 1e-7 of its gross ones), where the computed map is flat
/// while the exact discrete map is not.
fn rounding_plateau(estimates: &[f64], g: f64) -> Option<String> {
    let d: Vec<f64> = estimates.windows(2).map(|w| (w[0] - w[1]).abs()).collect();
    let plateau = (0..d.len()).filter(|&i| d[i].is_finite()).min_by(|&a, &b| d[a].total_cmp(&d[b]))?;
    let grows = (0..plateau).any(|i| d[i + 1] > d[i]);
    (grows && (g - estimates[0]).abs() <= d[0]).then(|| {
        format!(
            "finite differences drift from {:.6e} at step 1e-3 with growing differences to a rounding plateau at step 1e-{}",
            estimates[0],
            plateau + 4
        )
    })
}

#[test]
#[ignore = "not yet green (issue 29, open): a species that should stay 0 ends at 1e-33 by rounding, and the loss scaled by its size weighs that noise (see the closing note)"]
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
            Ok(r) => match judge(&mech, &r) {
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
