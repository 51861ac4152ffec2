//! What the gradient property tests share (the mass-action and reactor ones in
//! `stiffnode-chemistry`, the MLP ones in `stiffnode-models`, which include this file by path):
//! a seeded runner, the tally of clean and set-aside cases, how a case is solved, and the
//! judgement of one check.
//!
//! A case is clean when every component agrees to [`TOLERANCE`]; set aside when each component
//! that does not has a measured reason why its finite difference cannot decide
//! (`CheckReport::component`), or the check agrees once the forward solve's stages are
//! converged as tightly as the finite differences' ([`tightened`]); a failure otherwise. Whatever
//! the finite differences decide, the two gradient modes (graph replay, adjoint walk) must agree
//! to [`MODES_TOLERANCE`] ([`modes_agree`]).
#![allow(dead_code)]

#[path = "seeded.rs"]
mod seeded;

use std::cell::RefCell;
use std::collections::BTreeMap;

use proptest::prelude::{Strategy, any};
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRng, TestRunner};
use stiffnode_solvers::gradient::check::{Agreement, CheckReport};
use stiffnode_solvers::{GradientMode, Method, Request, SolveOptions, Tolerances, methods};

/// The agreement asked of the gradient.
pub const TOLERANCE: f64 = 1e-5;

/// The agreement asked of the two gradient modes on the same steps, normwise
/// (`CheckReport::modes_rel_diff`): they are two implementations of one derivative, so only
/// rounding separates them, amplified by the conditioning of the stage matrices `I − hγJ` (the
/// graph replay inverts them, the adjoint walk solves with their factors). POLLU: 1e-13 to
/// 3e-13 apart; on random mechanisms with `|hλ|` to 1e9 up to 2.6e-7 relative in one
/// component. A structural error is of order one (the reactor's graph mode that lost `∂f/∂y`:
/// 0.5).
pub const MODES_TOLERANCE: f64 = 1e-6;

/// Whether the check's two gradient modes agree to [`MODES_TOLERANCE`] (decisive where the
/// finite differences are not: the graph mode of reactors once lost `∂f/∂y` at computed states).
pub fn modes_agree(r: &CheckReport) -> Result<(), String> {
    match r.modes_rel_diff() {
        Some(diff) if diff.is_nan() || diff > MODES_TOLERANCE => Err(format!(
            "the graph and adjoint gradient modes differ by {diff:.1e}: {:?} against {:?}",
            r.gradient, r.other_mode_gradient
        )),
        _ => Ok(()),
    }
}

/// What a case came to, with the number of its components (gradient entries) each way.
#[derive(Debug)]
pub enum Outcome {
    /// Every one of its components compared within the tolerance: how many there were.
    Clean(usize),
    /// Set aside for `why`: `undecided` of its `of` components (all of them where the forward
    /// solve failed or the case is set aside as a whole).
    SetAside { why: String, undecided: usize, of: usize },
}

impl Outcome {
    /// The whole case, all `of` components, set aside for `why`.
    pub fn set_aside(why: String, of: usize) -> Self {
        Outcome::SetAside { why, undecided: of, of }
    }
}

/// A runner of `PROPTEST_CASES` cases (default `default_cases`) from `PROPTEST_SEED` (default
/// `seed`): the same cases in every run unless asked otherwise. Returns the case count too.
pub fn runner(default_cases: u32, seed: u64) -> (TestRunner, u32) {
    let config = seeded::seeded(default_cases, seed);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seeded::seed_from_env(seed).to_le_bytes());
    let cases = config.cases;
    (TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes)), cases)
}

/// Run `case` on `PROPTEST_CASES` values of `strategy` (default `default_cases`, seed 29 or
/// `PROPTEST_SEED`): each returns its label (method, mode, step control) and outcome, or fails.
/// Prints the tally; panics on a failure or when more than a quarter are set aside.
pub fn check_all<S: Strategy>(
    default_cases: u32,
    strategy: S,
    case: impl Fn(S::Value) -> Result<(String, Outcome), TestCaseError>,
) {
    let (mut runner, cases) = runner(default_cases, 29);
    let tally = RefCell::new(Tally::default());
    let result = runner.run(&strategy, |value| {
        let (label, outcome) = case(value)?;
        tally.borrow_mut().count(&label, &outcome);
        Ok(())
    });
    if let Err(e) = result {
        tally.borrow().print();
        panic!("{e}");
    }
    tally.borrow().finish(cases);
}

/// The tally's key for the components of every case.
const COMPONENTS: &str = "components";
/// The tally's key for the components set aside.
const UNDECIDED: &str = "components undecided";

/// Counts of what the cases came to, by label.
#[derive(Default)]
pub struct Tally(BTreeMap<String, usize>);

impl Tally {
    /// Count `outcome` of a case labelled `label` (method, mode, step control).
    pub fn count(&mut self, label: &str, outcome: &Outcome) {
        self.add(&format!("covered {label}"));
        match outcome {
            Outcome::Clean(of) => {
                self.add("clean");
                self.add_n(COMPONENTS, *of);
            }
            Outcome::SetAside { why, undecided, of } => {
                println!("set aside ({label}, {undecided} of {of} components): {why}");
                self.add(&format!("set aside: {}", why.split(':').next().unwrap_or_default()));
                self.add_n(COMPONENTS, *of);
                self.add_n(UNDECIDED, *undecided);
            }
        }
    }

    fn add(&mut self, key: &str) {
        self.add_n(key, 1);
    }

    fn add_n(&mut self, key: &str, n: usize) {
        *self.0.entry(key.to_string()).or_default() += n;
    }

    /// Print the counts.
    pub fn print(&self) {
        for (key, n) in &self.0 {
            println!("{key:<48} {n:>5}");
        }
    }

    /// Print the tally and the shares; panic unless all `cases` were judged and at most a
    /// quarter of all their components were left undecided (a test that sets everything aside
    /// tests nothing). Components, not cases: a case with one undecided component of twenty
    /// still compares the other nineteen; a case whose forward solve fails compares none.
    pub fn finish(&self, cases: u32) {
        self.print();
        let get = |key: &str| self.0.get(key).copied().unwrap_or(0);
        let clean = get("clean");
        let set_aside: usize = self.0.iter().filter(|(k, _)| k.starts_with("set aside")).map(|(_, n)| n).sum();
        let (components, undecided) = (get(COMPONENTS), get(UNDECIDED));
        println!("{clean} of {} cases checked cleanly, {set_aside} set aside", clean + set_aside);
        println!("{} of {components} components compared, {undecided} undecided", components - undecided);
        assert_eq!(clean + set_aside, cases as usize);
        assert!(undecided * 4 <= components, "{undecided} of {components} components undecided");
    }
}

/// Judge a report by the check's own reasons; `extra` may name one more for a component whose
/// finite difference could decide (its message given), or return `None` to fail on it.
pub fn judge(r: &CheckReport, extra: impl Fn(usize) -> Option<String>) -> Result<Outcome, String> {
    if r.max_rel_err <= TOLERANCE {
        return Ok(Outcome::Clean(r.names.len()));
    }
    let mut reasons = Vec::new();
    for k in 0..r.names.len() {
        match r.component(k, TOLERANCE) {
            Agreement::Agrees => {}
            Agreement::Undecided(why) => reasons.push(why),
            Agreement::Disagrees(why) => reasons.push(extra(k).ok_or(why)?),
        }
    }
    Ok(Outcome::SetAside {
        why: format!("finite differences unsettled, ambiguous or below resolution: {}", reasons.join(", ")),
        undecided: reasons.len(),
        of: r.names.len(),
    })
}

/// `request` on the check's frozen step grid with the stages converged to 1e-9 of each
/// component's scale in the loss (`CheckReport::scale`). The check converges its solves' stages
/// to `fixed_newton_tol` (about 2e-15 absolute), and floors the loss's scales at the request's
/// own Newton resolution; a species between the two (a radical at 3e-14 scaled by 1e-13) is then
/// resolved to only a tenth of its weight, and both the gradient and the finite differences
/// carry that. Where the check agrees with every component resolved to 1e-9 of its weight,
/// that resolution is the reason it did not.
pub fn tightened(request: &Request, r: &CheckReport) -> Request {
    let atol = r.scale.iter().map(|s| 1e-9 * s).collect();
    let options = SolveOptions {
        control: r.grid.clone(),
        fixed_newton_tol: Tolerances { rtol: vec![1e-12], atol },
        ..request.options.clone()
    };
    Request { options, ..request.clone() }
}

/// The set-aside outcome of a check that agreed once [`tightened`], against the first's error.
pub fn newton_tolerance(adaptive: bool, tight: &CheckReport, was: &CheckReport) -> Outcome {
    let control = if adaptive { "adaptive" } else { "fixed-step" };
    let why = format!(
        "{control} Newton resolution: on the same steps with stages converged to 1e-9 of each component's weight, max rel err {:.1e} (was {:.1e})",
        tight.max_rel_err, was.max_rel_err
    );
    Outcome::set_aside(why, was.names.len())
}

/// The methods with exact gradients that can take stiff steps.
pub fn implicit_methods() -> Vec<Method> {
    methods::all().into_iter().filter(|m| m.name() != "dopri5").collect()
}

/// How one case is solved: method, gradient mode, step control.
#[derive(Debug, Clone)]
pub struct Solver {
    /// The method.
    pub method: Method,
    /// Graph mode (else the adjoint walk).
    pub graph: bool,
    /// Adaptive steps (else fixed).
    pub adaptive: bool,
}

impl Solver {
    /// Any of `list`, in either mode, adaptive where the method has an error estimate.
    pub fn strategy(list: Vec<Method>) -> impl Strategy<Value = Self> {
        (0..list.len(), any::<bool>(), any::<bool>()).prop_map(move |(m, graph, adaptive)| {
            let method = list[m].clone();
            Self { adaptive: adaptive && method.info().embedded, method, graph }
        })
    }

    /// The request from `y0` to `t_end`: adaptive at `rtol` (atol `atol`), or `substeps` equal
    /// steps.
    pub fn request(&self, y0: Vec<f64>, t_end: f64, (rtol, atol): (f64, f64), substeps: usize) -> Request {
        let mode = if self.graph { GradientMode::Graph } else { GradientMode::Adjoint { keep_steps: false } };
        let options = if self.adaptive { SolveOptions::adaptive(rtol, atol) } else { SolveOptions::fixed(substeps) };
        let options = SolveOptions { max_steps: 20_000, ..options };
        Request::new(self.method.clone(), y0, 0.0, vec![t_end]).with_options(options).with_gradient(mode)
    }

    /// Method, mode and step control, as the tally counts them.
    pub fn label(&self) -> String {
        let control = if self.adaptive { "adaptive" } else { "fixed" };
        format!("{} {} {control}", self.method.name(), if self.graph { "graph" } else { "adjoint" })
    }
}

/// Check, judge, and where the judgement fails re-check with the forward solve's stages
/// converged as the finite differences' are (`tightened`). `components`: how many
/// the check compares (all set aside if the forward solve fails).
pub fn judged(
    check: impl Fn(&Request) -> Result<CheckReport, stiffnode_solvers::SolveError>,
    components: usize,
    request: &Request,
    solver: &Solver,
    case: &str,
) -> Result<Outcome, TestCaseError> {
    let r = match check(request) {
        Err(e) => return Ok(Outcome::set_aside(format!("forward solve failed: {e} ({case})"), components)),
        Ok(r) => r,
    };
    modes_agree(&r).map_err(|why| TestCaseError::fail(format!("{}: {why}\n{case}", solver.label())))?;
    match judge(&r, |_| None) {
        Ok(outcome) => Ok(outcome),
        Err(why) => check(&tightened(request, &r))
            .ok()
            .filter(|tight| judge(tight, |_| None).is_ok())
            .map(|tight| newton_tolerance(solver.adaptive, &tight, &r))
            .ok_or_else(|| TestCaseError::fail(format!("{}: {why}\n{case}", solver.label()))),
    }
}

/// `count` indices of `0..n` from `offset` with an even stride.
pub fn chosen(n: usize, count: usize, offset: usize) -> Vec<usize> {
    let stride = (n / count).max(1);
    let mut idx: Vec<usize> = (0..count.min(n)).map(|i| (offset + i * stride) % n).collect();
    idx.sort_unstable();
    idx.dedup();
    idx
}
