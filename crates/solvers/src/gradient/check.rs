//! Gradient check for a mechanism: the solver's gradient of a fixed loss with respect to the
//! `log10` rate constants and the initial state against central finite differences of plain
//! f64 CPU forward solves on the same step grid (step sizes frozen, as the gradient assumes).

use std::time::Instant;

use burn::tensor::Device;

use super::graph::solve_on_graph;
use crate::device::DeviceKind;
use crate::error::{SetupError, SolveError};
use crate::field::{from_host, to_host};
use crate::problems::{MassActionField, Mechanism};
use crate::request::{Request, SolveOptions, StepControl};
use crate::solve;

/// Gradient and finite differences, component by component.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// `log10 k[j]` (reaction `j`) and `y0[species]`, in that order.
    pub names: Vec<String>,
    /// The solver's gradient (mode (a), autodiff graph).
    pub gradient: Vec<f64>,
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
    /// Seconds for the whole check.
    pub wall_s: f64,
}

/// `L = Σ_i (y_i(t_end) / s_i)²`, `s_i` the largest `|y_i|` over the output times (1 for a
/// species that stays 0), with every rate learnable, for the request's one initial state (the
/// gradient by the request's gradient mode, through [`solve_on_graph`] and `backward()`).
pub fn check_mechanism(mech: &Mechanism, device: &Device, request: &Request) -> Result<CheckReport, SolveError> {
    let start = Instant::now();
    let d = mech.species.len();
    let nr = mech.reactions.len();
    if request.y0.len() != d {
        let why = format!("{} values for one state of {d} species", request.y0.len());
        return Err(SetupError::InvalidInitialState(why).into());
    }
    let ad = device.clone().autodiff();
    let field = MassActionField::with_learnable(mech, &ad, &(0..nr).collect::<Vec<_>>());
    let rec = solve_on_graph(&field, request)?;
    let (sol, initial) = (&rec.record.solution, &request.y0);
    let scale: Vec<f64> = (0..d)
        .map(|i| sol.states.iter().map(|s| s[i].abs()).fold(initial[i].abs(), f64::max))
        .map(|s| if s > 0.0 { s } else { 1.0 })
        .collect();
    let inv_scale = from_host(scale.iter().map(|s| 1.0 / s).collect(), [1, d], &ad);
    let last = rec.states.last().expect("at least one output time").clone();
    let loss = (last * inv_scale).powi_scalar(2).sum();
    let loss_value = to_host(loss.clone().without_autodiff())[0];
    let grads = loss.backward();
    if let Some(Err(e)) = rec.backward.result() {
        return Err(e);
    }
    let param = field.log10_rates.as_ref().expect("every rate is learnable");
    let mut gradient = to_host(param.val().grad(&grads).expect("rates take part in the loss"));
    gradient.extend(rec.y0.grad(&grads).map_or_else(|| vec![0.0; d], to_host));

    // Finite differences on the frozen step grid, with the forward solve's options otherwise.
    let traj = &rec.record.trajectories()[0];
    let grid = SolveOptions {
        control: StepControl::Grid { times: traj.grid(), orders: traj.orders() },
        ..request.options.clone()
    };
    let cpu = DeviceKind::Cpu.open()?;
    let host_loss = |m: &Mechanism, y0: &[f64]| -> Result<f64, SolveError> {
        let at = Request { y0: y0.to_vec(), options: grid.clone(), ..request.clone() };
        let sol = solve(&MassActionField::new(m, &cpu), &at)?;
        let y = &sol.states[sol.states.len() - 1];
        Ok(y.iter().zip(&scale).map(|(v, s)| (v / s).powi(2)).sum())
    };
    let mut fd = Vec::with_capacity(nr + d);
    for j in 0..nr {
        let at = |delta: f64| {
            let mut m = mech.clone();
            m.reactions[j].rate = 10f64.powf(mech.reactions[j].rate.log10() + delta);
            host_loss(&m, initial)
        };
        fd.push(derivative(at, 1.0, false)?);
    }
    // Steps for the initial state on the scale of the largest species: the loss carries that
    // scale's rounding, which a step on a tiny species' own scale would amplify.
    let y_scale = scale.iter().fold(0.0f64, |m, s| m.max(*s));
    for i in 0..d {
        let h = y_scale;
        let at = |delta: f64| {
            let mut y = initial.clone();
            y[i] += delta;
            host_loss(mech, &y)
        };
        // A species at 0 is perturbed upwards only: fractional orders have no negative states.
        fd.push(derivative(at, h, initial[i] == 0.0)?);
    }
    let spread: Vec<f64> = fd.iter().map(|e| e.spread).collect();
    let (fd, estimates): (Vec<f64>, Vec<Vec<f64>>) = fd.into_iter().map(|e| (e.value, e.all)).unzip();
    let names = mech
        .reactions
        .iter()
        .enumerate()
        .map(|(j, r)| format!("log10 k[{}]", r.name.clone().unwrap_or_else(|| (j + 1).to_string())));
    let names = names.chain(mech.species.iter().map(|s| format!("y0[{s}]"))).collect();
    Ok(CheckReport {
        names,
        max_rel_err: max_rel_err(&gradient, &fd),
        unsettled: relative_to(&spread, &gradient, &fd),
        estimates,
        largest_step: std::iter::repeat_n(1e-3, nr).chain(std::iter::repeat_n(1e-3 * y_scale, d)).collect(),
        gradient,
        finite_difference: fd,
        loss: loss_value,
        steps: sol.stats.steps,
        final_state: sol.states.last().cloned().unwrap_or_default(),
        scale: scale.clone(),
        grid: grid.control.clone(),
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// A finite difference: the estimate taken, how far it is from its neighbour, every estimate.
struct Estimate {
    value: f64,
    spread: f64,
    all: Vec<f64>,
}

/// `f'(0)` by central differences `(f(h) − f(−h))/2h`, or one-sided second order
/// `(−3f(0) + 4f(h) − f(2h))/2h`, for `h = scale·10⁻³ … scale·10⁻⁹`: the estimate at the
/// smaller step of the two consecutive steps that agree best, where truncation error (large
/// steps) and rounding (small steps) balance (Press et al., *Numerical Recipes*, §5.7), and how
/// far apart the two are. Steps whose perturbed solves fail (too large a perturbation for the
/// step grid) are skipped. Known weakness: where part of the loss's response falls below the
/// rounding of the field's gross rates at the smallest steps (a fast reversible pair), those
/// steps can agree closely on a value without that part (a random mechanism's estimates at 1e-8
/// and 1e-9 agreed to 1e-8 on a value 3 % off, while 1e-3 and 1e-4 agreed with the gradient to
/// 3e-6; design.md §4).
fn derivative(f: impl Fn(f64) -> Result<f64, SolveError>, scale: f64, one_sided: bool) -> Result<Estimate, SolveError> {
    let f0 = if one_sided { f(0.0)? } else { 0.0 };
    let estimates: Vec<Result<f64, SolveError>> = (3..=9)
        .map(|k| {
            let h = scale * 10f64.powi(-k);
            Ok(if one_sided {
                (-3.0 * f0 + 4.0 * f(h)? - f(2.0 * h)?) / (2.0 * h)
            } else {
                (f(h)? - f(-h)?) / (2.0 * h)
            })
        })
        .collect();
    let pairs = estimates.windows(2).filter_map(|w| match w {
        [Ok(a), Ok(b)] => Some((*a, *b)),
        _ => None,
    });
    let all = estimates.iter().map(|e| e.as_ref().map_or(f64::NAN, |v| *v)).collect();
    match pairs.min_by(|a, b| (a.0 - a.1).abs().total_cmp(&(b.0 - b.1).abs())) {
        Some((a, best)) => Ok(Estimate { value: best, spread: (a - best).abs(), all }),
        None => estimates
            .into_iter()
            .rev()
            .find(Result::is_err)
            .expect("no pair means a failed solve")
            .map(|value| Estimate { value, spread: 0.0, all }),
    }
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
