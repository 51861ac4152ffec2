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

#[test]
fn analytic_jacobian_matches_finite_differences() {
    let device = DeviceKind::Cpu.open().unwrap();
    let y_hat = [1.0, 3.6e-5, 0.5];
    for name in Activation::NAMES {
        for scaled in [false, true] {
            let config = MlpConfig { hidden: vec![5, 5, 5], activation: name.parse().unwrap(), scaled };
            let mlp = Mlp::new(3, &config, Some((&y_hat, 1e5)), 7, &device);
            let rows = 4;
            let y: Vec<f64> = (0..rows * 3).map(|k| y_hat[k % 3] * (-1.3 + 0.29 * k as f64)).collect();
            let t = vec![0.0; rows];
            let analytic = to_host(mlp.jacobian(&t, from_host(y.clone(), [rows, 3], &device)));
            let input_scale = if scaled { y_hat } else { [1.0; 3] };
            let fd = central_differences(&mlp, &y, &input_scale, rows, &device);
            let scale = fd.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = analytic.iter().zip(&fd).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
            println!("{name} scaled={scaled}: max |J − J_fd| / max|J| = {err:.1e}");
            assert!(scale > 0.0 && err <= 1e-7, "{name} scaled={scaled}: {analytic:?} vs {fd:?}");
        }
    }
}

#[test]
fn seeded_initialization_is_reproducible_and_seed_dependent() {
    let device = DeviceKind::Cpu.open().unwrap();
    let config = MlpConfig { hidden: vec![4], activation: Activation::Gelu, scaled: false };
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
        for (scaled, constant) in [(false, &[][..]), (true, &[]), (true, &[1])] {
            let config = MlpConfig { hidden: vec![5, 4, 5], activation: name.parse().unwrap(), scaled };
            let mlp = Mlp::new(3, &config, Some((&y_hat, 1e5)), 11, &device).with_constant_components(constant);
            assert_eq!(mlp.kernel().is_some(), constant.is_empty(), "the kernel has no output mask");
            let rows = 5;
            let y: Vec<f64> = (0..rows * 3).map(|k| y_hat[k % 3] * (-1.7 + 0.31 * k as f64)).collect();
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
            let (ef, ej) = (rel(&hf, &f), rel(&hj, &jac));
            println!("{name} scaled={scaled} constant={constant:?}: host vs tensor f {ef:.1e}, J {ej:.1e}");
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
        for (scaled, constant) in [(false, &[][..]), (true, &[]), (true, &[1])] {
            let config = MlpConfig { hidden: vec![5, 4, 5], activation: name.parse().unwrap(), scaled };
            let mlp = Mlp::new(3, &config, Some((&y_hat, 1e5)), 13, &ad).with_constant_components(constant);
            let rows = 4;
            let y: Vec<f64> = (0..rows * 3).map(|k| y_hat[k % 3] * (-1.1 + 0.37 * k as f64)).collect();
            let c: Vec<f64> = (0..rows * 3).map(|k| (k as f64 * 0.7).sin()).collect();
            let f = mlp.eval(&vec![0.0; rows], from_host(y.clone(), [rows, 3], &ad));
            let grads = GradientsParams::from_grads((f * from_host(c.clone(), [rows, 3], &ad)).sum().backward(), &mlp);
            let burn = flatten(&mlp, &grads);
            let host = mlp.host().expect("an MLP has a host form");
            assert_eq!(host.params(), burn.len());
            let mut ours = vec![0.0; host.params()];
            for r in 0..rows {
                host.vjp(0.0, &y[r * 3..r * 3 + 3], &c[r * 3..r * 3 + 3], &mut ours);
            }
            let scale = burn.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = ours.iter().zip(&burn).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
            println!("{name} scaled={scaled} constant={constant:?}: host vs Burn (∂f/∂θ)ᵀc {err:.1e}");
            assert!(scale > 0.0 && err <= 1e-13, "{name} scaled={scaled}: {ours:?} vs {burn:?}");
        }
    }
}
