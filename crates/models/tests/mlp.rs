//! The MLP's analytic Jacobian against central finite differences, for every activation,
//! scaled and unscaled; seeded initialization is reproducible.

use burn::tensor::Device;
use stiffnode_models::{Activation, Mlp, MlpConfig};
use stiffnode_solvers::field::{from_host, to_host};
use stiffnode_solvers::{DeviceKind, VectorField};

/// Central differences with steps `10⁻⁶·s_j`, on the scale `s` the network sees its inputs at.
fn central_differences(mlp: &Mlp, y: &[f64], s: &[f64], rows: usize, device: &Device) -> Vec<f64> {
    let mut jac = vec![0.0; rows * 9];
    for j in 0..3 {
        let h = 1e-6 * s[j];
        let shifted = |sign: f64| {
            let mut p = y.to_vec();
            (0..rows).for_each(|r| p[r * 3 + j] += sign * h);
            to_host(mlp.eval(&vec![0.0; rows], from_host(p, [rows, 3], device)))
        };
        let (up, down) = (shifted(1.0), shifted(-1.0));
        for r in 0..rows {
            for i in 0..3 {
                jac[r * 9 + i * 3 + j] = (up[r * 3 + i] - down[r * 3 + i]) / (2.0 * h);
            }
        }
    }
    jac
}

/// Scaled or not, component 1 held constant or not, the invariant `f_0 + 2 f_2 = 0` held or
/// not, component 2 on a log scale or not.
const VARIANTS: [(bool, &[usize], bool, bool); 6] = [
    (false, &[], false, false),
    (true, &[], false, false),
    (true, &[1], false, false),
    (true, &[1], true, false),
    (true, &[], false, true),
    (true, &[1], true, true),
];

/// The `[5, 4, 5]` network of activation `name` in one of the [`VARIANTS`], seeded with `seed`.
fn variant(name: &str, (scaled, constant, map, log): (bool, &[usize], bool, bool), seed: u64, device: &Device) -> Mlp {
    let activation = name.parse().unwrap();
    let config = MlpConfig {
        hidden: vec![5, 4, 5],
        activation,
        scaled,
        conserve: true,
        log_inputs: false,
        log_floor: None,
        time_scale: None,
    };
    Mlp::new(3, &config, Some((&[1.0, 3.6e-5, 0.5], 1e5)), seed, device)
        .with_constant_components(constant)
        .with_invariants(&invariants(map))
        .with_log_inputs(if log { &[2] } else { &[] }, stiffnode_models::input::FLOOR)
}

/// Component 2 of every row spread over four decades (0.35 down to 3.5e-4) where it is on a log
/// scale.
fn decades(mut y: Vec<f64>, log: bool) -> Vec<f64> {
    if log {
        for (r, row) in y.chunks_exact_mut(3).enumerate() {
            row[2] = 0.35 * 10f64.powi(-((r % 4) as i32));
        }
    }
    y
}

/// The invariant of the mapped variants: `f_0 + 2 f_2 = 0` (design.md §13).
fn invariants(map: bool) -> Vec<Vec<f64>> {
    if map { vec![vec![1.0, 0.0, 2.0]] } else { Vec::new() }
}

#[test]
fn analytic_jacobian_matches_finite_differences() {
    let device = DeviceKind::Cpu.open().unwrap();
    let y_hat = [1.0, 3.6e-5, 0.5];
    for name in Activation::NAMES {
        for (scaled, map, log) in
            [(false, false, false), (true, false, false), (true, true, false), (true, false, true)]
        {
            let config = MlpConfig {
                hidden: vec![5, 5, 5],
                activation: name.parse().unwrap(),
                scaled,
                conserve: true,
                log_inputs: false,
                log_floor: None,
                time_scale: None,
            };
            let mlp = Mlp::new(3, &config, Some((&y_hat, 1e5)), 7, &device)
                .with_invariants(&invariants(map))
                .with_log_inputs(if log { &[2] } else { &[] }, stiffnode_models::input::FLOOR);
            let rows = 4;
            let y: Vec<f64> = (0..rows * 3).map(|k| y_hat[k % 3] * (-1.3 + 0.29 * k as f64)).collect();
            let y = decades(y, log);
            let t = vec![0.0; rows];
            let analytic = to_host(mlp.jacobian(&t, from_host(y.clone(), [rows, 3], &device)));
            // A log-scaled input spans decades: steps on the smallest value's scale.
            let input_scale = if log {
                [1.0, 3.6e-5, 3.5e-4]
            } else if scaled {
                y_hat
            } else {
                [1.0; 3]
            };
            let fd = central_differences(&mlp, &y, &input_scale, rows, &device);
            let scale = fd.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = analytic.iter().zip(&fd).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
            println!("{name} scaled={scaled} map={map} log={log}: max |J − J_fd| / max|J| = {err:.1e}");
            assert!(scale > 0.0 && err <= 1e-7, "{name} scaled={scaled}: {analytic:?} vs {fd:?}");
        }
    }
}

#[test]
fn seeded_initialization_is_reproducible_and_seed_dependent() {
    let device = DeviceKind::Cpu.open().unwrap();
    let config = MlpConfig {
        hidden: vec![4],
        activation: Activation::Gelu,
        scaled: false,
        conserve: true,
        log_inputs: false,
        log_floor: None,
        time_scale: None,
    };
    let y = || from_host(vec![0.3, -0.2, 0.9], [1, 3], &device);
    let f = |seed| to_host(Mlp::new(3, &config, None, seed, &device).eval(&[0.0], y()));
    assert_eq!(f(1), f(1));
    assert_ne!(f(1), f(2));
}

/// Every activation, scaled and unscaled, and with component 1 held constant (a reactor's
/// carried pressure): `f_1 = 0` and row 1 of the Jacobian 0 in both forms.
#[test]
fn host_form_agrees_with_the_tensor_program() {
    let device = DeviceKind::Cpu.open().unwrap();
    let y_hat = [1.0, 3.6e-5, 0.5];
    for name in Activation::NAMES {
        for (scaled, constant, map, log) in VARIANTS {
            let mlp = variant(name, (scaled, constant, map, log), 11, &device);
            assert_eq!(mlp.kernel().is_some(), constant.is_empty() && !log, "the kernel has no output mask");
            let rows = 5;
            let y: Vec<f64> = (0..rows * 3).map(|k| y_hat[k % 3] * (-1.7 + 0.31 * k as f64)).collect();
            let y = decades(y, log);
            let t = vec![0.0; rows];
            let f = to_host(mlp.eval(&t, from_host(y.clone(), [rows, 3], &device)));
            let jac = to_host(mlp.jacobian(&t, from_host(y.clone(), [rows, 3], &device)));
            let host = mlp.host().expect("an MLP has a host form");
            let (mut hf, mut hj) = (vec![0.0; rows * 3], vec![0.0; rows * 9]);
            for r in 0..rows {
                host.eval(0.0, &y[r * 3..r * 3 + 3], &mut hf[r * 3..r * 3 + 3]);
                host.jacobian(0.0, &y[r * 3..r * 3 + 3], &mut hj[r * 9..r * 9 + 9]);
            }
            let rel = |a: &[f64], b: &[f64]| {
                let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale
            };
            for &i in constant {
                for r in 0..rows {
                    assert_eq!((f[r * 3 + i], hf[r * 3 + i]), (0.0, 0.0), "{name}: f_{i} of row {r}");
                    let rows_of = |j: &[f64]| j[r * 9 + i * 3..r * 9 + i * 3 + 3].iter().all(|&v| v == 0.0);
                    assert!(rows_of(&jac) && rows_of(&hj), "{name}: row {i} of the Jacobian of row {r}");
                }
            }
            if map {
                // Held to rounding of the output before the map (the same network without it).
                let raw = variant(name, (scaled, constant, false, log), 11, &device);
                let raw = to_host(raw.eval(&t, from_host(y.clone(), [rows, 3], &device)));
                for r in 0..rows {
                    let size = raw[r * 3..r * 3 + 3].iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    for (form, v) in [("tensor", &f), ("host", &hf)] {
                        let held = v[r * 3] + 2.0 * v[r * 3 + 2];
                        assert!(held.abs() <= 1e-14 * size, "{name} {form}: f_0 + 2 f_2 = {held:e} of {size:e}");
                    }
                }
            }
            let (ef, ej) = (rel(&hf, &f), rel(&hj, &jac));
            println!(
                "{name} scaled={scaled} constant={constant:?} map={map} log={log}: host vs tensor f {ef:.1e}, J {ej:.1e}"
            );
            assert!(ef <= 1e-14 && ej <= 1e-14, "{name} scaled={scaled}: f {ef:.1e}, J {ej:.1e}");
        }
    }
}

/// The host form's vector–Jacobian product `(∂f/∂θ)ᵀc` against Burn's backward pass of
/// `Σ f(y)⊙c`, for every activation, scaled and unscaled, with the parameters in the module's
/// order.
#[test]
fn host_parameter_products_agree_with_burns_backward_pass() {
    use burn::optim::GradientsParams;
    use stiffnode_solvers::gradient::params::flatten;
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let y_hat = [1.0, 3.6e-5, 0.5];
    for name in Activation::NAMES {
        for (scaled, constant, map, log) in VARIANTS {
            let mlp = variant(name, (scaled, constant, map, log), 13, &ad);
            let rows = 4;
            let y: Vec<f64> = (0..rows * 3).map(|k| y_hat[k % 3] * (-1.1 + 0.37 * k as f64)).collect();
            let y = decades(y, log);
            let c: Vec<f64> = (0..rows * 3).map(|k| (k as f64 * 0.7).sin()).collect();
            let f = mlp.eval(&vec![0.0; rows], from_host(y.clone(), [rows, 3], &ad));
            let grads = GradientsParams::from_grads((f * from_host(c.clone(), [rows, 3], &ad)).sum().backward(), &mlp);
            let burn = flatten(&mlp, &grads);
            let form = mlp.host().expect("an MLP has a host form");
            let host = form.products().expect("an MLP's host form takes parameter products");
            assert_eq!(host.params(), burn.len());
            let mut ours = vec![0.0; host.params()];
            for r in 0..rows {
                host.vjp(0.0, &y[r * 3..r * 3 + 3], &c[r * 3..r * 3 + 3], &mut ours);
            }
            let scale = burn.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = ours.iter().zip(&burn).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
            println!(
                "{name} scaled={scaled} constant={constant:?} map={map} log={log}: host vs Burn (∂f/∂θ)ᵀc {err:.1e}"
            );
            assert!(scale > 0.0 && err <= 1e-13, "{name} scaled={scaled}: {ours:?} vs {burn:?}");
            // Both products in one pass: the same (∂f/∂θ)ᵀc, and Jᵀc as the analytic Jacobian gives it.
            let (mut both, mut jt_c) = (vec![0.0; host.params()], vec![0.0; rows * 3]);
            let mut jac = [0.0; 9];
            for r in 0..rows {
                let (yr, cr) = (&y[r * 3..r * 3 + 3], &c[r * 3..r * 3 + 3]);
                host.vjp_with_state(0.0, yr, cr, &mut jt_c[r * 3..r * 3 + 3], &mut both);
                host.jacobian(0.0, yr, &mut jac);
                for j in 0..3 {
                    let expected: f64 = (0..3).map(|i| jac[i * 3 + j] * cr[i]).sum();
                    let got = jt_c[r * 3 + j];
                    assert!(
                        (got - expected).abs() <= 1e-12 * expected.abs().max(1e-300),
                        "{name}: Jᵀc {got} vs {expected}"
                    );
                }
            }
            assert!(both.iter().zip(&ours).all(|(a, b)| (a - b).abs() <= 1e-15 * b.abs().max(1e-300)), "{name}");
            // The adjoint walk's path: the Jacobian keeps the forward pass for the product at the
            // same point — the same Jacobian and the same product, bit for bit.
            assert!(host.kept_len() > 0);
            let (mut kept, mut from_kept, mut jac_kept) =
                (vec![0.0; host.kept_len()], vec![0.0; host.params()], [0.0; 9]);
            for r in 0..rows {
                let (yr, cr) = (&y[r * 3..r * 3 + 3], &c[r * 3..r * 3 + 3]);
                kept.fill(f64::NAN);
                host.jacobian_keeping(0.0, yr, &mut jac_kept, &mut kept);
                host.jacobian(0.0, yr, &mut jac);
                assert_eq!(jac_kept.map(f64::to_bits), jac.map(f64::to_bits), "{name}");
                host.vjp_kept(0.0, yr, &kept, cr, &mut from_kept);
            }
            assert_eq!(from_kept, ours, "{name} scaled={scaled} constant={constant:?} map={map} log={log}");
        }
    }
}

/// The host form's second derivatives `∇_y` and `∇_θ` of `rᵀJ(y)u` (what a Rosenbrock step's
/// adjoint needs) against Burn's backward pass through the analytic Jacobian program, for every
/// activation, scaled and unscaled, with a held component.
#[test]
fn host_jacobian_products_agree_with_burns_backward_pass_through_the_jacobian() {
    use burn::optim::GradientsParams;
    use stiffnode_solvers::gradient::params::flatten;
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let y_hat = [1.0, 3.6e-5, 0.5];
    for name in Activation::NAMES {
        for (scaled, constant, map, log) in VARIANTS {
            let mlp = variant(name, (scaled, constant, map, log), 17, &ad);
            let y: Vec<f64> = (0..3).map(|k| y_hat[k] * (0.4 + 0.37 * k as f64)).collect();
            let y = decades(y, log);
            let u: Vec<f64> = (0..3).map(|k| y_hat[k] * (k as f64 * 1.3).cos()).collect();
            let r: Vec<f64> = (0..3).map(|k| (k as f64 * 0.7 + 0.2).sin()).collect();
            let y_t = from_host(y.clone(), [1, 3], &ad).require_grad();
            let jac = mlp.jacobian(&[0.0], y_t.clone());
            let ju = (jac * from_host(u.clone(), [1, 1, 3], &ad)).sum_dim(2).reshape([1, 3]);
            let grads = (ju * from_host(r.clone(), [1, 3], &ad)).sum().backward();
            // ReLU's Jacobian does not depend on y on the graph: no gradient, i.e. 0.
            let burn_y = y_t.grad(&grads).map_or(vec![0.0; 3], to_host);
            let burn = flatten(&mlp, &GradientsParams::from_grads(grads, &mlp));
            let form = mlp.host().expect("an MLP has a host form");
            let host = form.products().expect("an MLP's host form takes parameter products");
            let host = host.second_order().expect("an MLP's host form has second derivatives");
            let (mut ours_y, mut ours) = (vec![0.0; 3], vec![0.0; host.params()]);
            host.jacobian_vjp(0.0, &y, &u, &r, &mut ours_y, &mut ours);
            let rel = |a: &[f64], b: &[f64]| {
                let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                (a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale, scale)
            };
            let ((ey, sy), (et, st)) = (rel(&ours_y, &burn_y), rel(&ours, &burn));
            println!("{name} scaled={scaled} constant={constant:?} map={map} log={log}: ∇_y {ey:.1e}, ∇_θ {et:.1e}");
            assert!(st > 0.0 && et <= 1e-12, "{name} scaled={scaled}: ∇_θ {ours:?} vs {burn:?}");
            // ReLU's J is piecewise constant in y: its ∇_y is 0.
            assert!(
                ey <= 1e-12 || (sy == 0.0 && ours_y.iter().all(|v| *v == 0.0)),
                "{name}: ∇_y {ours_y:?} vs {burn_y:?}"
            );
        }
    }
}

/// Gradients of an MLP field: the adjoint walk on the host (for Rosenbrock steps with the host
/// form's second derivatives; for the others with the stage Jacobians keeping their forward
/// passes for the parameter products, in blocks of rows on all cores) against the replay of
/// every step on Burn's graph (∂J through the Jacobian program, itself checked against finite
/// differences in the solvers' tests), to 1e-10.
#[test]
fn gradients_walked_on_the_host_equal_the_replay_on_the_graph() {
    use stiffnode_solvers::gradient::params::flatten;
    use stiffnode_solvers::gradient::{from_record, gradient};
    use stiffnode_solvers::{GradientMode, Request, SolveOptions, methods};
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let y_hat = [1.0, 3.6e-5, 0.5];
    let config = MlpConfig {
        hidden: vec![5, 5],
        activation: Activation::Gelu,
        scaled: true,
        conserve: true,
        log_inputs: false,
        log_floor: None,
        time_scale: None,
    };
    let mlp = Mlp::new(3, &config, Some((&y_hat, 10.0)), 3, &ad);
    let loss =
        |s: &[burn::tensor::Tensor<2>]| s.iter().map(|x| x.clone().powi_scalar(2).sum()).reduce(|a, b| a + b).unwrap();
    for name in ["rosenbrock23", "rodas4", "rodas5p", "radau5", "esdirk4", "bdf"] {
        let req = Request::new(methods::by_name(name).unwrap(), vec![1.0, 1e-5, 0.2], 0.0, vec![1.0, 10.0, 1e3])
            .with_options(SolveOptions::adaptive(1e-6, 1e-10));
        let walked = gradient(&mlp, &req, loss).unwrap();
        let replayed = gradient(&mlp, &req.clone().with_gradient(GradientMode::Graph), loss).unwrap();
        let mut a = flatten(&mlp, &walked.params);
        a.extend(&walked.y0);
        let mut b = flatten(&mlp, &replayed.params);
        b.extend(&replayed.y0);
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale;
        println!("{name}: {} steps, host walk vs replay {err:.1e}", walked.record.solution().stats.steps);
        assert!(scale > 0.0 && err <= 1e-10, "{name}: {a:?} vs {b:?}");
        // `gradient` takes a one-trajectory solve's stage Jacobians on another core while it
        // runs; the walk over the finished record takes them itself: the same gradient, bit for bit.
        let after = from_record(&mlp, walked.record.clone(), loss, false).unwrap();
        let mut c = flatten(&mlp, &after.params);
        c.extend(&after.y0);
        assert_eq!(a, c, "{name}");
    }
}
