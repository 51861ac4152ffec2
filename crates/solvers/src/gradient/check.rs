//! Gradient check for any field with parameters (a mechanism's `log10` rate constants, a
//! reactor's rate factors, a network's weights): the solver's gradient of a fixed loss with
//! respect to chosen parameters and the initial state against central finite differences of
//! plain f64 CPU forward solves on the same step grid (step sizes frozen, as the gradient
//! assumes). Parameters are read and perturbed in their visiting order ([`params::values`]).

use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::graph::{OnGraph, solve_on_graph};
use super::params;
use crate::device::epsilon_of;
use crate::error::{SetupError, SolveError};
use crate::field::{VectorField, from_host, to_host};
use crate::request::{GradientMode, Request, SolveOptions, StepControl};
use crate::solve;

/// Gradient and finite differences, component by component.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// `log10 k[j]` (reaction `j`) and `y0[species]`, in that order.
    pub names: Vec<String>,
    /// The solver's gradient (by the request's gradient mode) on the forward solve's steps, with
    /// its stages converged as the finite differences' are (`fixed_newton_tol`).
    pub gradient: Vec<f64>,
    /// With adaptive steps, the gradient of the adaptive solve itself, whose stages Newton
    /// converged to its step tolerance's level (what training differentiates): it differs from
    /// [`gradient`](Self::gradient) by that tolerance's effect.
    pub adaptive_gradient: Option<Vec<f64>>,
    /// The same gradient by the other [`GradientMode`] (the graph replay for an adjoint request,
    /// the adjoint walk for a graph one), in f64: a second implementation of one derivative,
    /// which must agree with [`gradient`](Self::gradient) to rounding whatever the finite
    /// differences can decide ([`modes_rel_diff`](Self::modes_rel_diff)). `None` in f32, where
    /// the graph replay is one tensor program per step on the device.
    pub other_mode_gradient: Option<Vec<f64>>,
    /// Central finite differences.
    pub finite_difference: Vec<f64>,
    /// How far each finite difference is from settled: the difference of the two consecutive
    /// estimates it was taken from (steps ten times apart), on the scale of
    /// [`max_rel_err`](Self::max_rel_err). Where this is not well below the tolerance, the
    /// finite difference cannot decide the comparison (the loss is too curved or too noisy
    /// within every step it tried).
    pub unsettled: Vec<f64>,
    /// Largest relative error, `|g − fd| / max(|g|, |fd|, 1e-6·max|fd|)`: components below a
    /// millionth of the largest are compared on that scale.
    pub max_rel_err: f64,
    /// Every estimate each finite difference took, from its largest step to its smallest (steps
    /// ten times apart; NaN where a perturbed solve failed).
    pub estimates: Vec<Vec<f64>>,
    /// The largest step each finite difference tried (`10⁻³` of its scale).
    pub largest_step: Vec<f64>,
    /// Where the gradient and the finite difference disagree by more than 1e-6: the step at
    /// which the gradient's predicted change of the loss is 10⁵ ulps of it, and the estimate
    /// there, if that step is below the ones tried (`None` otherwise).
    pub fine: Vec<Option<(f64, f64)>>,
    /// Loss at the unperturbed point.
    pub loss: f64,
    /// Steps of the forward solve.
    pub steps: usize,
    /// The forward solve's state at the last output time.
    pub final_state: Vec<f64>,
    /// Each species' scale `s_i` in the loss.
    pub scale: Vec<f64>,
    /// The forward solve's steps, frozen: the finite differences' step control.
    pub grid: StepControl,
    /// The relative tolerance the finite differences' solves converge their stages to (the
    /// request's `fixed_newton_tol`, which a frozen step grid uses).
    pub newton_rtol: f64,
    /// The absolute level each component of the finite differences' stages is converged to
    /// (`κ·atol_i` of `fixed_newton_tol`): what Newton leaves of them.
    pub leftover: Vec<f64>,
    /// Seconds for the whole check.
    pub wall_s: f64,
}

/// How one component of a check came out against a tolerance ([`CheckReport::component`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Agreement {
    /// Within the tolerance.
    Agrees,
    /// Outside it, where the finite difference measurably cannot decide; the reason.
    Undecided(String),
    /// Outside it, with a finite difference that can decide: what disagrees.
    Disagrees(String),
}

impl CheckReport {
    /// Component `k` against `tolerance` (relative, as [`max_rel_err`]). A finite difference
    /// cannot decide when (each measured on its own estimates):
    ///
    /// - every change of the loss it formed is within 16 ulps of the loss;
    /// - the change of the loss the gradient predicts at its largest step is within ten times
    ///   the perturbed solves' Newton tolerance of the loss;
    /// - its two estimates (steps ten times apart) differ by at least a tenth of the
    ///   disagreement (the loss is too curved or too noisy at every step tried: a kink of ReLU);
    /// - another pair of its estimates settles on the gradient (part of the response falls below
    ///   rounding at the smallest steps, whose estimates then agree on a value without it);
    /// - it starts at the gradient at its largest step and drifts into the plateau it took
    ///   through differences that grow as the step shrinks (rounding, not truncation);
    /// - some of its steps see no change of the loss at all, and the others never settle;
    /// - three of its consecutive steps each form the same change of the loss: the computed
    ///   loss jumps at the unperturbed point;
    /// - Newton's leftover in its solves, weighed by the loss, bounds its error above the
    ///   disagreement;
    /// - the loss is nonlinear at the scale of its steps: below the plateau it took, each
    ///   smaller step's estimate is nearer the gradient than the one before, and the smallest
    ///   closes all but 5 % of the gap (a species that starts at 0 and saturates a reaction at
    ///   1e-8 of its step scale: forward differences 6.28e-4 at steps 1e-4…1e-6, then 9.39e-4,
    ///   1.169e-3 against a gradient of 1.176e-3);
    /// - the loss is nonlinear below its steps: at the step where the gradient's predicted
    ///   change is 10⁵ ulps of the loss ([`fine`](Self::fine)) the estimate leaves the plateau
    ///   the larger steps settled on (by ten times their spread, and 1e-3 of it).
    pub fn component(&self, k: usize, tolerance: f64) -> Agreement {
        let (g, fd) = (self.gradient[k], self.finite_difference[k]);
        let err = rel_errs(&self.gradient, &self.finite_difference)[k];
        let name = &self.names[k];
        if err.is_nan() {
            return Agreement::Disagrees(format!("{name}: gradient {g:e}, finite difference {fd:e}"));
        }
        if err <= tolerance {
            return Agreement::Agrees;
        }
        let h = self.largest_step[k];
        let loss = self.loss.abs().max(f64::MIN_POSITIVE);
        let formed = self.estimates[k].iter().enumerate().map(|(i, e)| (e * 2.0 * h * 10f64.powi(-(i as i32))).abs());
        let ulps = formed.fold(0.0, f64::max) / (f64::EPSILON * loss);
        let change = (g * h).abs();
        let unsettled = self.unsettled[k];
        let scale = (g - fd).abs() / err;
        let settled_on_gradient = self.estimates[k]
            .windows(2)
            .position(|w| (w[0] - w[1]).abs() <= tolerance * scale && (w[1] - g).abs() <= tolerance * scale);
        let why = if ulps <= 16.0 {
            format!("every loss difference within {ulps:.0} ulps")
        } else if change <= 10.0 * self.newton_rtol * loss {
            format!("predicted change of the loss {change:.1e}, within the solves' Newton tolerance")
        } else if unsettled >= 0.1 * err {
            format!("finite difference unsettled {unsettled:.1e}")
        } else if let Some(i) = settled_on_gradient {
            format!("finite differences settle twice: at steps 1e-{} and 1e-{} on the gradient", i + 3, i + 4)
        } else if let Some(drift) = rounding_plateau(&self.estimates[k], g) {
            drift
        } else if let Some(flat) = flat_below(&self.estimates[k], tolerance * scale) {
            flat
        } else if let Some(jump) = jump(&self.estimates[k], h) {
            jump
        } else if let Some(approach) = approaches(&self.estimates[k], fd, g) {
            approach
        } else if let Some(bound) = self.leftover_bound(k).filter(|b| (g - fd).abs() <= *b) {
            format!(
                "Newton's leftover in the perturbed solves, weighed by the loss, bounds the finite difference's error at {bound:.1e} ≥ |gradient − finite difference| = {:.1e}",
                (g - fd).abs()
            )
        } else if let Some((h, e)) =
            self.fine[k].filter(|(_, e)| (e - fd).abs() > (10.0 * self.spread(k)).max(1e-3 * fd.abs()))
        {
            format!(
                "the loss is nonlinear below the steps tried: at step {h:.1e}, where the gradient predicts a change of 10⁵ ulps (rounding about 4e-5 of it), the finite difference is {e:.6e}, not the {fd:.6e} the larger steps settled on"
            )
        } else {
            return Agreement::Disagrees(format!(
                "{name}: gradient {g:.9e}, finite difference {fd:.9e} (rel err {err:.1e}; the finite difference settled to {unsettled:.1e}; estimates {:?}; at a finer step {:?})",
                self.estimates[k], self.fine[k]
            ));
        };
        Agreement::Undecided(format!("{name} (rel err {err:.1e}; {why})"))
    }
}

impl CheckReport {
    /// How far the two gradient modes are apart, normwise: `max_k |g_k − o_k| / max_k |g_k|`
    /// for [`gradient`](Self::gradient) `g` and [`other_mode_gradient`](Self::other_mode_gradient)
    /// `o`. Normwise, because both carry rounding amplified by the stage matrices' conditioning
    /// on the scale of the whole gradient: a component 4e-4 of the largest, of a trapezoid solve
    /// at `hλ = 1e9` whose fast mode is not damped, came out 5.9e-4 apart relative to itself
    /// (and 2e-3 from finite differences), 2.3e-7 of the largest.
    pub fn modes_rel_diff(&self) -> Option<f64> {
        let size = self.gradient.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        self.other_mode_gradient.as_ref().map(|other| {
            // `f64::max` passes over NaN: a non-finite gradient is NaN here, not hidden.
            if other.iter().chain(&self.gradient).any(|v| !v.is_finite()) {
                return f64::NAN;
            }
            let diff = other.iter().zip(&self.gradient).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            if diff == 0.0 { 0.0 } else { diff / size }
        })
    }

    /// How far apart the two estimates were that finite difference `k` was taken from
    /// (absolute).
    fn spread(&self, k: usize) -> f64 {
        let (g, fd) = (self.gradient[k], self.finite_difference[k]);
        let err = rel_errs(&self.gradient, &self.finite_difference)[k];
        if err > 0.0 { self.unsettled[k] * (g - fd).abs() / err } else { 0.0 }
    }

    /// What Newton's leftover can do to finite difference `k`: each stage component of the
    /// perturbed solves is converged only to [`leftover`](Self::leftover), which moves the loss
    /// by up to `B = Σ_i 2|y_i|/s_i²·leftover_i` (at the final state); over the step of the
    /// estimate taken that is an error of up to `B/h`.
    fn leftover_bound(&self, k: usize) -> Option<f64> {
        let taken = self.estimates[k].iter().position(|e| *e == self.finite_difference[k])?;
        let h = self.largest_step[k] * 10f64.powi(-(taken as i32));
        let moved: f64 = (0..self.scale.len())
            .map(|i| 2.0 * self.final_state[i].abs() / (self.scale[i] * self.scale[i]) * self.leftover[i])
            .sum();
        Some(moved / h)
    }
}

/// Whether three consecutive estimates grow tenfold per tenfold smaller step (within 10 %):
/// each formed the same nonzero change `C` of the loss, which therefore jumps at the
/// unperturbed point (a perturbation that changes how many Newton iterations a stage takes
/// moves the result by Newton's leftover, whatever its size) instead of having a slope there.
fn jump(estimates: &[f64], largest_step: f64) -> Option<String> {
    let change: Vec<f64> =
        estimates.iter().enumerate().map(|(i, e)| e * largest_step * 10f64.powi(-(i as i32))).collect();
    let same = |w: &[f64]| w[0] != 0.0 && w.iter().all(|c| c.is_finite() && (c - w[0]).abs() <= 0.1 * w[0].abs());
    let at = change.windows(3).position(same)?;
    Some(format!(
        "the computed loss jumps by {:.1e} at the unperturbed point: steps 1e-{} to 1e-{} each form that change",
        2.0 * change[at],
        3 + at,
        5 + at
    ))
}

/// Whether the estimates after the plateau `fd` (the last of the pair it was taken from) move
/// to the gradient `g` step by step, the smallest within 5 % of the plateau's distance from it:
/// the loss bends at a scale below the plateau's steps, and the smallest steps resolve the
/// derivative there.
fn approaches(estimates: &[f64], fd: f64, g: f64) -> Option<String> {
    let at = estimates.iter().rposition(|e| *e == fd)?;
    let tail = &estimates[at..];
    let gap = |e: &f64| (e - g).abs();
    let nearer = tail.windows(2).all(|w| gap(&w[1]) < gap(&w[0]));
    let last = *tail.last()?;
    (tail.len() >= 3 && nearer && gap(&last) <= 0.05 * gap(&fd)).then(|| {
        format!(
            "the loss bends below the steps of the plateau: the {} smaller steps' estimates move to the gradient, the smallest at {last:.6e}",
            tail.len() - 1
        )
    })
}

/// Whether at least two estimates are exactly 0 — their perturbed solves returned the
/// unperturbed loss bit for bit, so the perturbation did not reach it — while the others see a
/// change and never settle (consecutive ones more than `within` apart): no step both sees the
/// response and is free of the loss's curvature.
fn flat_below(estimates: &[f64], within: f64) -> Option<String> {
    let zeros = estimates.iter().filter(|e| **e == 0.0).count();
    let seen: Vec<f64> = estimates.iter().copied().filter(|e| *e != 0.0 && e.is_finite()).collect();
    let settles = seen.windows(2).any(|w| (w[0] - w[1]).abs() <= within);
    (zeros >= 2 && !seen.is_empty() && !settles).then(|| {
        format!(
            "perturbed solves at {zeros} of its steps return the loss unchanged bit for bit while the other steps see a change, and those never settle"
        )
    })
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

/// What [`check_field`] compares: which parameters, under which names, and the loss's data.
#[derive(Debug, Clone, Default)]
pub struct CheckSpec {
    /// The parameters to check, by their index among the field's parameter values in visiting
    /// order ([`params::values`]), with their names; empty: every parameter, named `θ[k]`.
    pub params: Vec<(usize, String)>,
    /// The names of the state's components (the initial state is checked as `y0[name]`).
    pub state_names: Vec<String>,
    /// The initial-state components to check; empty: all of them.
    pub states: Vec<usize>,
    /// The scale of each initial-state component's finite-difference steps (`10⁻³` to `10⁻⁹` of
    /// it); empty: the largest loss scale `max_i s_i` for every component, which suits states
    /// in one unit (a step on a tiny species' own scale would amplify the loss's rounding).
    pub state_steps: Vec<f64>,
    /// The data the loss compares each output time's state with; empty: zero.
    pub targets: Vec<Vec<f64>>,
}

/// `L = Σ_t Σ_i ((y_i(t) − ŷ_i(t)) / s_i)²` over the request's output times, with `ŷ` the
/// spec's targets (zero without), and `s_i` the largest `|y_i|` over the initial state and the
/// output times, but at least the forward solve's Newton resolution `κ·atol_i`
/// ([`Tolerances::newton_resolution`](crate::Tolerances::newton_resolution); `ε²` of the
/// largest component's where atol is 0), or 1 for a component that stays exactly 0. The gradient is that of the discrete solution with
/// its stages solved exactly, the finite differences see the stages as Newton left them: the
/// two agree to within Newton's tolerance, so a component below it — a species that decays to
/// 1e-21 while Newton resolves 1e-13, or should stay 0 and ends at −5e-23 — is noise to the
/// comparison, and a loss that weighed it by its own size (1e44) would compare noise.
/// The request's one initial state and the field's parameters as [`check_field`] compares them.
///
/// `field` lives on an autodiff device and gives the gradient (by the request's gradient mode,
/// through [`solve_on_graph`] and `backward()`); `host` is the same field with the same
/// parameter values on the CPU in f64 without autodiff, whose values are perturbed one at a time
/// for the finite differences (steps `10⁻³ … 10⁻⁹`: parameters are `log10` factors or network
/// weights, of order one) on the forward solve's frozen step grid.
pub fn check_field<F: VectorField + Module + 'static>(
    field: &F,
    host: &F,
    request: &Request,
    spec: &CheckSpec,
) -> Result<CheckReport, SolveError> {
    let start = Instant::now();
    let d = field.dim();
    if request.y0.len() != d {
        let why = format!("{} values for one state of {d} components", request.y0.len());
        return Err(SetupError::InvalidInitialState(why).into());
    }
    let times = request.save_at.len();
    if !(spec.targets.is_empty() || spec.targets.len() == times && spec.targets.iter().all(|t| t.len() == d)) {
        let why = format!("the check's targets are not {times} states of {d} components");
        return Err(SetupError::InvalidInitialState(why).into());
    }
    let rec = solve_on_graph(field, request)?;
    let (sol, initial) = (&rec.record.solution, &request.y0);
    // What the forward solve resolves: Newton converges stage component i to κ·atol_i.
    let epsilon = epsilon_of(rec.states[0].dtype());
    let tol = request.options.newton_tolerances();
    let floor: Vec<f64> = (0..d).map(|i| tol.newton_resolution(i, epsilon)).collect();
    let scale = loss_scale(initial, &sol.states, &floor);
    let (steps, final_state) = (sol.stats.steps, sol.states.last().cloned().unwrap_or_default());
    let zero = vec![0.0; d];
    let target = |t: usize| spec.targets.get(t).unwrap_or(&zero);
    // The finite differences' step control: the forward solve's steps, frozen.
    let traj = &rec.record.trajectories()[0];
    let grid = SolveOptions {
        control: StepControl::Grid { times: traj.grid(), orders: traj.orders() },
        ..request.options.clone()
    };
    let differentiate = |rec: OnGraph| -> Result<(f64, Vec<f64>, Vec<f64>), SolveError> {
        let ad = field.device();
        let inv_scale = from_host(scale.iter().map(|s| 1.0 / s).collect(), [1, d], &ad);
        let term = |(t, y): (usize, &Tensor<2>)| {
            ((y.clone() - from_host(target(t).clone(), [1, d], &ad)) * inv_scale.clone()).powi_scalar(2).sum()
        };
        let loss = rec.states.iter().enumerate().map(term).reduce(|a, b| a + b).expect("at least one output time");
        let loss_value = to_host(loss.clone().without_autodiff())[0];
        let grads = loss.backward();
        if let Some(Err(e)) = rec.backward.result() {
            return Err(e);
        }
        let y0_grad = rec.y0.grad(&grads).map_or_else(|| vec![0.0; d], to_host);
        Ok((loss_value, params::flatten(field, &GradientsParams::from_grads(grads, field)), y0_grad))
    };
    // With adaptive steps the forward solve's stages are converged to its step tolerance's
    // Newton level, the finite differences' to `fixed_newton_tol`: the gradient compared is
    // taken on the frozen steps as they are, and the solve's own is reported beside it.
    let frozen_request = Request { options: grid.clone(), ..request.clone() };
    let (own, frozen) = if request.options.is_adaptive() {
        let own = differentiate(rec)?;
        (Some(own), differentiate(solve_on_graph(field, &frozen_request)?)?)
    } else {
        (None, differentiate(rec)?)
    };
    let other_mode = match request.gradient {
        GradientMode::Graph => GradientMode::Adjoint { keep_steps: false },
        GradientMode::Adjoint { .. } => GradientMode::Graph,
    };
    let other = (epsilon == f64::EPSILON)
        .then(|| differentiate(solve_on_graph(field, &frozen_request.clone().with_gradient(other_mode))?))
        .transpose()?;
    let (loss_value, all, y0_grad) = frozen;
    let chosen: Vec<(usize, String)> = if spec.params.is_empty() {
        (0..all.len()).map(|k| (k, format!("θ[{k}]"))).collect()
    } else {
        spec.params.clone()
    };
    let values = params::values(host);
    if values.len() != all.len() {
        let why = format!("the host field has {} parameter values, the checked one {}", values.len(), all.len());
        return Err(SetupError::InvalidOption { what: "host", why }.into());
    }
    if let Some((k, name)) = chosen.iter().find(|(k, _)| *k >= all.len()) {
        let why = format!("parameter {name} is number {k} of a field with {} parameter values", all.len());
        return Err(SetupError::InvalidOption { what: "params", why }.into());
    }
    let states: Vec<usize> = if spec.states.is_empty() { (0..d).collect() } else { spec.states.clone() };
    if let Some(i) = states.iter().find(|&&i| i >= d) {
        let why = format!("state component {i} of a state of {d}");
        return Err(SetupError::InvalidOption { what: "states", why }.into());
    }
    let pick = |all: &[f64], y0: Vec<f64>| -> Vec<f64> {
        chosen.iter().map(|(k, _)| all[*k]).chain(states.iter().map(|&i| y0[i])).collect()
    };
    let adaptive_gradient = own.map(|(_, all, y0)| pick(&all, y0));
    let gradient = pick(&all, y0_grad);
    let other_mode_gradient = other.map(|(_, all, y0)| pick(&all, y0));
    let host_loss = |theta: Option<&[f64]>, y0: &[f64]| -> Result<f64, SolveError> {
        let at = Request { y0: y0.to_vec(), options: grid.clone(), ..request.clone() };
        let sol = match theta {
            Some(theta) => solve(&params::with_values(host.clone(), theta), &at)?,
            None => solve(host, &at)?,
        };
        let term = |(t, y): (usize, &Vec<f64>)| -> f64 {
            y.iter().zip(target(t)).zip(&scale).map(|((v, g), s)| ((v - g) / s).powi(2)).sum()
        };
        Ok(sol.states.iter().enumerate().map(term).sum())
    };
    let y_scale = scale.iter().fold(0.0f64, |m, s| m.max(*s));
    let state_steps: Vec<f64> = if spec.state_steps.len() == d { spec.state_steps.clone() } else { vec![y_scale; d] };
    // Component k: a parameter (log10 factors and weights are of order one: steps on the scale
    // 1), then the initial state; a component at 0 is perturbed upwards only (fractional
    // orders have no negative states).
    let np = chosen.len();
    let loss_at = |k: usize, delta: f64| {
        if k < np {
            let mut theta = values.clone();
            theta[chosen[k].0] += delta;
            host_loss(Some(&theta), initial)
        } else {
            let mut y = initial.clone();
            y[states[k - np]] += delta;
            host_loss(None, &y)
        }
    };
    let step_scale = |k: usize| if k < np { 1.0 } else { state_steps[states[k - np]] };
    let one_sided = |k: usize| k >= np && initial[states[k - np]] == 0.0;
    let n = np + states.len();
    let f0 = host_loss(None, initial)?;
    let fd: Vec<Estimate> = (0..n)
        .map(|k| derivative(|delta| loss_at(k, delta), step_scale(k), f0, one_sided(k)))
        .collect::<Result<_, _>>()?;
    // Where the two disagree, one more estimate at the step where the gradient's predicted
    // change of the loss is 10⁵ ulps of it, if that is below the steps tried: a map that is
    // nonlinear below them shows it there (`CheckReport::fine`).
    let errs = rel_errs(&gradient, &fd.iter().map(|e| e.value).collect::<Vec<_>>());
    let fine = (0..n)
        .map(|k| {
            let h = 1e5 * f64::EPSILON * f0.abs() / gradient[k].abs();
            let below = h > 0.0 && h < 1e-9 * step_scale(k) && errs[k] > 1e-6;
            below.then(|| difference(|delta| loss_at(k, delta), h, one_sided(k).then_some(f0)).ok().map(|v| (h, v)))?
        })
        .collect();
    let spread: Vec<f64> = fd.iter().map(|e| e.spread).collect();
    let (fd, estimates): (Vec<f64>, Vec<Vec<f64>>) = fd.into_iter().map(|e| (e.value, e.all)).unzip();
    let state_name = |i: usize| spec.state_names.get(i).cloned().unwrap_or_else(|| i.to_string());
    let names = chosen.iter().map(|(_, n)| n.clone()).chain(states.iter().map(|&i| format!("y0[{}]", state_name(i))));
    Ok(CheckReport {
        names: names.collect(),
        max_rel_err: max_rel_err(&gradient, &fd),
        unsettled: relative_to(&spread, &gradient, &fd),
        estimates,
        largest_step: (0..n).map(|k| 1e-3 * step_scale(k)).collect(),
        fine,
        adaptive_gradient,
        gradient,
        other_mode_gradient,
        finite_difference: fd,
        loss: loss_value,
        steps,
        final_state,
        scale,
        grid: grid.control.clone(),
        newton_rtol: grid.fixed_newton_tol.rtol.iter().fold(0.0, |m, v| m.max(*v)),
        leftover: (0..d).map(|i| grid.fixed_newton_tol.newton_resolution(i, f64::EPSILON)).collect(),
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// Each component's loss scale: its largest `|y_i|` over `initial` and `states`, at least
/// `floor_i` and `ε²` of the largest component's; 1 for a component that stays exactly 0 (a
/// scale at the floor would make the loss as curved as `1/floor²` in every direction that
/// populates it, which no finite difference resolves). Below the floor a value is not resolved
/// by the forward solve (see [`check_field`]), so weighing it by its own size would weigh noise.
fn loss_scale(initial: &[f64], states: &[Vec<f64>], floor: &[f64]) -> Vec<f64> {
    let peak: Vec<f64> =
        (0..initial.len()).map(|i| states.iter().map(|s| s[i].abs()).fold(initial[i].abs(), f64::max)).collect();
    let noise = f64::EPSILON * f64::EPSILON * peak.iter().fold(0.0f64, |m, p| m.max(*p));
    peak.into_iter().zip(floor).map(|(p, f)| if p > 0.0 { p.max(*f).max(noise) } else { 1.0 }).collect()
}

/// A finite difference: the estimate taken, how far it is from its neighbour, every estimate.
struct Estimate {
    value: f64,
    spread: f64,
    all: Vec<f64>,
}

/// `f'(0)` by central differences `(f(h) − f(−h))/2h`, or `one_sided` by the second-order
/// `(−3f(0) + 4f(h) − f(2h))/2h` (`f0 = f(0)`), for `h = scale·10⁻³ … scale·10⁻⁹`: the estimate at
/// the smaller step of the two consecutive steps that agree best, their difference counted no
/// smaller than the rounding of the loss `f0` at the smaller step, `ε|f0|/h`: where
/// truncation error (large steps) and rounding (small steps) balance (Press et al., *Numerical
/// Recipes*, §5.7), and how far apart the two are. Steps whose perturbed solves fail (too large
/// a perturbation for the step grid) are skipped. Known weaknesses (design.md §4): where part of the loss's response
/// falls below the rounding of the field's gross rates at the smallest steps, those steps can
/// agree closely on a value without that part; where the map is nonlinear below the smallest
/// step, consecutive steps can agree on a plateau that is not the derivative.
fn derivative(
    f: impl Fn(f64) -> Result<f64, SolveError>,
    scale: f64,
    f0: f64,
    one_sided: bool,
) -> Result<Estimate, SolveError> {
    let steps: Vec<f64> = (3..=9).map(|k| scale * 10f64.powi(-k)).collect();
    let estimates: Vec<Result<f64, SolveError>> =
        steps.iter().map(|&h| difference(&f, h, one_sided.then_some(f0))).collect();
    // Two estimates agree no better than the rounding of the loss lets the smaller step's
    // resolve (`ε|L|/h`): below that, agreement is a coincidence of the last bits (two steps whose
    // differences happen to be 310 and 31 ulps of the loss).
    let pairs = estimates.windows(2).zip(&steps[1..]).filter_map(|(w, &h)| match w {
        [Ok(a), Ok(b)] => Some((*a, *b, (a - b).abs() + f64::EPSILON * f0.abs() / h)),
        _ => None,
    });
    let all = estimates.iter().map(|e| e.as_ref().map_or(f64::NAN, |v| *v)).collect();
    match pairs.min_by(|a, b| a.2.total_cmp(&b.2)) {
        Some((a, best, _)) => Ok(Estimate { value: best, spread: (a - best).abs(), all }),
        None => estimates
            .into_iter()
            .rev()
            .find(Result::is_err)
            .expect("no pair means a failed solve")
            .map(|value| Estimate { value, spread: 0.0, all }),
    }
}

/// One difference quotient of `f` at step `h`: central, or one-sided second order from
/// `f0 = f(0)`.
fn difference(f: impl Fn(f64) -> Result<f64, SolveError>, h: f64, f0: Option<f64>) -> Result<f64, SolveError> {
    Ok(match f0 {
        Some(f0) => (-3.0 * f0 + 4.0 * f(h)? - f(2.0 * h)?) / (2.0 * h),
        None => (f(h)? - f(-h)?) / (2.0 * h),
    })
}

/// Each `|x_i|` on the scale of [`max_rel_err`]: `max(|g_i|, |f_i|, 1e-6·max|f|)`.
fn relative_to(x: &[f64], g: &[f64], f: &[f64]) -> Vec<f64> {
    let floor = 1e-6 * f.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    x.iter()
        .zip(g.iter().zip(f))
        .map(|(x, (a, b))| x.abs() / a.abs().max(b.abs()).max(floor).max(f64::MIN_POSITIVE))
        .collect()
}

/// `max_i |g_i − f_i| / max(|g_i|, |f_i|, 1e-6·max|f|)`; NaN where any component is NaN (a
/// NaN gradient must not pass as agreement).
pub fn max_rel_err(g: &[f64], f: &[f64]) -> f64 {
    rel_errs(g, f).into_iter().fold(0.0, |m, v| if v.is_nan() || m.is_nan() { f64::NAN } else { m.max(v) })
}

/// Each component's `|g_i − f_i| / max(|g_i|, |f_i|, 1e-6·max|f|)`, whose largest is
/// [`max_rel_err`].
pub fn rel_errs(g: &[f64], f: &[f64]) -> Vec<f64> {
    let diff: Vec<f64> = g.iter().zip(f).map(|(a, b)| a - b).collect();
    relative_to(&diff, g, f)
}

#[cfg(test)]
mod tests {
    use super::approaches;

    /// The property test's rosenbrock23 case (y0[S6] of a species that starts at 0): named only
    /// while the small steps move steadily to the gradient and get within 5 % of the gap.
    #[test]
    fn a_bend_below_the_plateau_is_named_only_where_the_small_steps_reach_the_gradient() {
        let estimates = [6.6779e-4, 6.28154e-4, 6.278406e-4, 6.290036e-4, 6.435185e-4, 9.391416e-4, 1.1689415e-3];
        let (fd, g) = (estimates[2], 1.1763293e-3);
        assert!(approaches(&estimates, fd, g).is_some());
        // A wrong gradient the small steps do not reach.
        assert!(approaches(&estimates, fd, 1.3e-3).is_none());
        // Noise that wanders: one step moves away.
        let wandering = [6.6779e-4, 6.28154e-4, 6.278406e-4, 6.1e-4, 6.435185e-4, 9.391416e-4, 1.1689415e-3];
        assert!(approaches(&wandering, fd, g).is_none());
        // Too few steps below the plateau to show a trend.
        assert!(approaches(&estimates[..4], fd, 6.2901e-4).is_none());
    }
}
