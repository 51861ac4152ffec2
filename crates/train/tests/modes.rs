//! The per-mode gradient log: the modes of an MLP field add up to its gradient for every
//! method, training logs `modes.jsonl` on schedule without changing the optimization, and a
//! missing or malformed log is a clear error.

mod common;

use std::path::Path;

use burn::tensor::Tensor;
use common::{losses, scratch};
use num_complex::Complex64;
use stiffnode_models::activation::Activation;
use stiffnode_models::mlp::{Mlp, MlpConfig};
use stiffnode_solvers::diagonal::Diagonal;
use stiffnode_solvers::gradient::gradient;
use stiffnode_solvers::gradient::modes::split;
use stiffnode_solvers::{DeviceKind, GradientMode, Request, SolveOptions, methods, stability};
use stiffnode_train::modes::{self, DecayPoint, ModeLogger, decay_slope};
use stiffnode_train::{RunDir, TrainConfig, TrainError, Trainer};

/// The run's mode log.
fn read(run: &Path) -> Result<Vec<modes::ModeRecord>, TrainError> {
    modes::read(&RunDir::open(run)?)
}

#[test]
fn modes_of_an_mlp_field_add_up_to_its_gradient_for_every_method() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let config = MlpConfig {
        hidden: vec![6, 6],
        activation: Activation::Tanh,
        scaled: false,
        conserve: true,
        log_inputs: false,
        log_floor: None,
        time_scale: None,
    };
    let y0 = [0.5, -0.3, 0.8, 0.1, 0.2, -0.4];
    let loss = |s: &[Tensor<2>]| s.iter().map(|x| x.clone().powi_scalar(2).sum()).reduce(|a, b| a + b).unwrap();
    for method in methods::all().into_iter().filter(|m| m.has_step_adjoints()) {
        let field = Mlp::new(3, &config, None, 7, &ad);
        let request = Request::new(method.clone(), y0.to_vec(), 0.0, vec![0.5, 1.0])
            .with_options(SolveOptions::fixed(20))
            .with_gradient(GradientMode::Adjoint { keep_steps: true });
        let g = gradient(&field, &request, loss).unwrap();
        let s = split(&field, &g).unwrap();
        let mut logger = ModeLogger::default();
        logger.add(&field, &s, &g.params);
        let r = logger.record(1, &method);
        println!(
            "{:<18} ‖∇L‖ {:.3e} residual {:.1e} shares {:?}",
            method.name(),
            r.grad_norm,
            r.decomposition_residual,
            r.modes.iter().map(|m| m.share).collect::<Vec<_>>()
        );
        assert!(r.grad_norm > 0.0 && r.decomposition_residual <= 1e-12, "{}: {r:?}", method.name());
        assert!(!r.modes.is_empty() && r.modes.len() <= 3, "{}: {} modes", method.name(), r.modes.len());
        let samples: usize = r.modes.iter().map(|m| m.samples).sum();
        assert_eq!(samples, r.bins.iter().map(|b| b.samples).sum::<usize>(), "{}", method.name());
    }
}

#[test]
fn the_plotted_gradient_decays_with_hz_as_the_stability_function_predicts() {
    // One fixed step h = 1 of y' = diag(λ)y from y0 = 1 with λ from −1e2 to −1e6, ten per
    // decade, and L = Σ y(h): mode i's gradient is h·R'(hλ_i), so the per-decade curve that
    // `inspect` draws falls like |R'(z)| — slope −2 for backward Euler and radau5, −3 for
    // lobatto3c3 — and so does the stability function's own R' over the same z.
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let lambda: Vec<f64> = (0..40).map(|k| -(10f64.powf(2.0 + k as f64 / 10.0))).collect();
    let loss = |s: &[Tensor<2>]| s[0].clone().sum();
    for (name, expected) in [("backward-euler", -2.0), ("radau5", -2.0), ("lobatto3c3", -3.0)] {
        let method = methods::by_name(name).unwrap();
        let field = Diagonal::new(&lambda, &ad);
        let request = Request::new(method.clone(), vec![1.0; 40], 0.0, vec![1.0])
            .with_options(SolveOptions::fixed(1))
            .with_gradient(GradientMode::Adjoint { keep_steps: true });
        let g = gradient(&field, &request, loss).unwrap();
        let mut logger = ModeLogger::default();
        logger.add(&field, &split(&field, &g).unwrap(), &g.params);
        let record = logger.record(1, &method);
        let points = record.decay(None);
        let slope = decay_slope(&points, 2.0..6.0).unwrap();
        // |R'(z)| at the same z, binned the same way.
        let theory: Vec<DecayPoint> = (2..6)
            .map(|decade| {
                let in_bin = lambda.iter().filter(|l| (l.abs().log10().floor() as i32) == decade);
                let norm =
                    in_bin.map(|&l| stability::evaluate(&method, Complex64::new(l, 0.0)).dr.norm_sqr()).sum::<f64>();
                DecayPoint { log_z: decade as f64 + 0.5, log_grad: norm.sqrt().log10(), samples: 10 }
            })
            .collect();
        let predicted = decay_slope(&theory, 2.0..6.0).unwrap();
        println!("{name}: {} bins, slope {slope:.3} (R' predicts {predicted:.3})", points.len());
        assert_eq!(points.iter().map(|p| p.samples).sum::<usize>(), 40, "{name}: {points:?}");
        assert!((slope - predicted).abs() <= 0.05, "{name}: slope {slope} against R'’s {predicted}");
        assert!((slope - expected).abs() <= 0.1, "{name}: slope {slope}, expected {expected}");
    }
}

/// The multi-trajectory rate identification, 32 trajectories per batch, modes logged every
/// `modes_every` epochs.
fn rates_config(epochs: usize, modes_every: usize) -> String {
    common::rates_config(epochs, 32, &format!("modes_every = {modes_every}"))
}

#[test]
fn training_logs_modes_on_schedule_without_changing_the_optimization() {
    let (logged, plain) = (scratch("logged"), scratch("plain"));
    for (run, every) in [(&logged, 2), (&plain, 0)] {
        let text = rates_config(4, every);
        let mut t = Trainer::start(TrainConfig::parse(&text, "test.toml").unwrap(), "test.toml", run).unwrap();
        t.run(|_| {}).unwrap();
    }
    assert_eq!(losses(&logged), losses(&plain), "logging modes must not change the optimization");
    assert!(!plain.join("modes.jsonl").exists());
    let records = read(&logged).unwrap();
    assert_eq!(records.iter().map(|r| r.epoch).collect::<Vec<_>>(), [2, 4]);
    for r in &records {
        println!(
            "epoch {}: residual {:.1e}, modes {:?}",
            r.epoch,
            r.decomposition_residual,
            r.modes.iter().map(|m| (m.eigenvalue[0], m.share)).collect::<Vec<_>>()
        );
        assert_eq!((r.method.as_str(), r.modes.len()), ("radau5", 3));
        assert!(r.decomposition_residual <= 1e-6, "{r:?}");
        // Ranked fastest first; ROBER conserves mass, so the slowest eigenvalue is zero.
        assert!(r.modes.windows(2).all(|w| w[0].eigenvalue[0].abs() >= w[1].eigenvalue[0].abs()));
        assert!(r.modes[2].eigenvalue[0].abs() < 1e-10 && r.modes[2].timescale.is_none_or(|t| t > 1e10));
        assert!(!r.spectrum.t.is_empty() && r.spectrum.t.len() == r.spectrum.abs_re.len());
    }
    // Resuming to a later epoch keeps the schedule and appends to the log.
    let mut t = Trainer::resume(&logged, Some(6), None).unwrap();
    t.run(|_| {}).unwrap();
    assert_eq!(read(&logged).unwrap().iter().map(|r| r.epoch).collect::<Vec<_>>(), [2, 4, 6]);
    for d in [logged, plain] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn missing_or_malformed_mode_logs_are_clear_errors() {
    let run = scratch("errors");
    let err = read(&run).unwrap_err().to_string();
    assert!(err.contains("not a training run directory"), "{err}");
    let text = rates_config(1, 0);
    Trainer::start(TrainConfig::parse(&text, "test.toml").unwrap(), "test.toml", &run).unwrap().run(|_| {}).unwrap();
    let err = read(&run).unwrap_err().to_string();
    assert!(err.contains("modes.jsonl") && err.contains("no modes were logged"), "{err}");
    std::fs::write(run.join("modes.jsonl"), "{\"epoch\": 1, \"method\": \"radau5\"}\n").unwrap();
    let err = read(&run).unwrap_err().to_string();
    assert!(err.contains("modes.jsonl") && err.contains("line 1") && err.contains("missing field"), "{err}");
    std::fs::remove_dir_all(run).unwrap();
}

/// What the mode log shows on ROBER rate identification (the example's setup, a factor 10
/// off): the fast mode (λ ≈ −5e4, |hλ| ~ 1e4, |R'(z)| ~ 1e-8) carries a share of the gradient
/// comparable to the slow one's when the loss scales B by its 3.6e-5 maximum — that scaling multiplies the
/// fast mode's adjoint by ~1e4 and undoes the damping — and orders of magnitude less when B
/// keeps its natural weight, as Fronk & Petzold (2025) predict for A-/L-stable methods.
#[test]
fn rober_fast_mode_share_vanishes_unless_the_loss_amplifies_the_fast_species() {
    let shares = |weights: &str| {
        let text = rates_config(1, 1)
            .replace("start_factor = 3.0", "start_factor = 10.0")
            .replace("seed = 3", &format!("seed = 3\n{weights}"));
        let run = scratch(if weights.is_empty() { "scaled" } else { "weighted" });
        Trainer::start(TrainConfig::parse(&text, "test.toml").unwrap(), "test.toml", &run)
            .unwrap()
            .run(|_| {})
            .unwrap();
        let r = read(&run).unwrap().remove(0);
        std::fs::remove_dir_all(&run).unwrap();
        println!(
            "{weights:<30} fast λ {:.3e} share {:.2e}, slow λ {:.3e} share {:.2e}",
            r.modes[0].eigenvalue[0], r.modes[0].share, r.modes[1].eigenvalue[0], r.modes[1].share
        );
        assert!(r.modes[0].eigenvalue[0] < -1e3 && r.modes[0].z.median[0] < -1e3 && r.modes[0].abs_dr < 1e-6, "{r:?}");
        (r.modes[0].share, r.modes[1].share)
    };
    let (damped, slow) = shares("weights = [1.0, 3.6e-5, 1.0]");
    assert!(damped < 1e-2 * slow, "natural weights: fast share {damped:e}, slow {slow:e}");
    let (fast, slow) = shares("");
    assert!(fast > 0.1 * slow && fast > 1e3 * damped, "scaled loss: fast share {fast:e}, slow {slow:e}");
}

/// The mode-balanced update in closed form (issue 18): one backward Euler step `h` of
/// `y' = diag(λ)y` from `y0` with `L = Σ_i ½(y_1,i − t_i)²`. Then `y_1,i = y0_i/(1 − hλ_i)`,
/// `∂L/∂λ_i = (y_1,i − t_i)·h·y0_i/(1 − hλ_i)²`, and the modes are the axes, one parameter
/// each: the damping rule's component `i` is `∂L/∂λ_i` divided by `|R'(hλ_i)| = (1 − hλ_i)⁻²`,
/// capped at `c_max`; the rank rule's is `sign(∂L/∂λ_i)·‖∇L‖`, capped at `c_max·|∂L/∂λ_i|`.
/// Both are descent directions here (orthogonal shares), as the log says.
#[test]
fn the_mode_balanced_update_undoes_the_damping_in_closed_form() {
    use stiffnode_solvers::gradient::params::flatten;
    use stiffnode_train::remedy::{BalanceRule, balance};
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let lambda = [-0.5, -20.0, -3e3, -4e5];
    let (y0, target, h, c_max) = ([1.0, 0.7, -0.4, 0.9], [0.2, 0.1, 0.3, -0.5], 0.1, 1e4);
    let method = methods::by_name("backward-euler").unwrap();
    let field = Diagonal::new(&lambda, &ad);
    let request = Request::new(method.clone(), y0.to_vec(), 0.0, vec![h])
        .with_options(SolveOptions::fixed(1))
        .with_gradient(GradientMode::Adjoint { keep_steps: true });
    let targets = Tensor::<2>::from_data(burn::tensor::TensorData::new(target.to_vec(), [1, 4]), &ad);
    let loss = move |s: &[Tensor<2>]| (s[0].clone() - targets.clone()).powi_scalar(2).sum().mul_scalar(0.5);
    let g = gradient(&field, &request, loss).unwrap();
    let s = split(&field, &g).unwrap();
    let plain: Vec<f64> = (0..4)
        .map(|i| {
            let den = 1.0 - h * lambda[i];
            (y0[i] / den - target[i]) * h * y0[i] / (den * den)
        })
        .collect();
    let norm = plain.iter().map(|v| v * v).sum::<f64>().sqrt();
    // To rounding: the fastest mode's step solves with 1 − hλ = 4·10⁴ (≈ 4e4·ε).
    let got = flatten(&field, &g.params);
    assert!(max_rel(&got, &plain) < 1e-10, "the plain gradient {got:?} is the closed form {plain:?}");
    for rule in [BalanceRule::Damping, BalanceRule::Rank] {
        let b = balance(&field, &s, &g.params, &method, rule, c_max);
        let expected: Vec<f64> = (0..4)
            .map(|i| match rule {
                BalanceRule::Damping => plain[i] * (1.0 - h * lambda[i]).powi(2).min(c_max),
                BalanceRule::Rank => plain[i].signum() * norm.min(c_max * plain[i].abs()),
            })
            .collect();
        let got = flatten(&field, &b.params);
        println!("{rule:?}: plain {plain:?}\n  balanced {got:?}\n  weights {:?}, cos {:.3}", b.weights, b.cosine);
        assert!(max_rel(&got, &expected) < 1e-10, "{rule:?}: {got:?} vs {expected:?}");
        assert!(b.cosine > 0.0 && !b.fallback, "{rule:?}: a descent direction");
    }
    // The fastest mode's weight hit the cap: (1 + 4e4)² > c_max.
    let b = balance(&field, &s, &g.params, &method, BalanceRule::Damping, c_max);
    assert_eq!(b.weights[0], c_max);
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1e-300)).fold(0.0, f64::max)
}
