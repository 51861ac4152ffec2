//! Gradients of MLPs nobody picked (the mechanisms' are in `stiffnode-chemistry`'s
//! `gradient_properties.rs`): 2–5 state components, one or two hidden layers of 2–12 units,
//! every activation, scaled (time scale 1e-4…1: `|λ|` up to about 1e4) or not, 8 of their
//! weights and biases. For every implicit method with exact gradients, in both gradient modes,
//! with fixed and adaptive steps, the gradient of the check's loss (each component scaled by its
//! size) with respect to those parameters and the initial state must match central finite
//! differences on the same step grid to 1e-5 relative, or the case is set aside for a measured,
//! named reason (`solvers/tests/common/properties.rs`); and in every case the two gradient modes
//! must agree with each other to 1e-6 of the gradient's size.
//!
//! The cases are the same in every run; `PROPTEST_CASES=N` runs `N` of them, `PROPTEST_SEED=S`
//! another sequence.

#[path = "../../solvers/tests/common/properties.rs"]
mod properties;

use properties::{Solver, chosen, implicit_methods, judged};
use proptest::prelude::*;
use stiffnode_models::{Activation, Mlp, MlpConfig};
use stiffnode_solvers::gradient::check::{CheckSpec, check_field};
use stiffnode_solvers::gradient::params;
use stiffnode_solvers::{DeviceKind, VectorField};

#[test]
fn random_mlp_gradients_match_finite_differences_for_every_method_mode_and_step_control() {
    let cpu = DeviceKind::Cpu.open().unwrap();
    let network = (
        2usize..=5,
        prop::collection::vec(2usize..=12, 1..=2),
        0..Activation::NAMES.len(),
        prop::option::of(-4.0f64..0.0),
        any::<u64>(),
    );
    let start = (prop::collection::vec(-1.0f64..1.0, 5), 0.5f64..3.0, 10usize..=40, any::<usize>());
    let strategy = (network, start, Solver::strategy(implicit_methods()));
    properties::check_all(
        48,
        strategy,
        |((d, hidden, act, log_span, seed), (y, horizon, substeps, offset), solver)| {
            let activation: Activation = Activation::NAMES[act].parse().unwrap();
            let config = MlpConfig {
                hidden,
                activation,
                scaled: log_span.is_some(),
                conserve: true,
                log_inputs: false,
                log_floor: None,
                time_scale: None,
            };
            let span = 10f64.powf(log_span.unwrap_or(0.0));
            let y_hat: Vec<f64> = (0..d).map(|i| 0.5 + 0.25 * i as f64).collect();
            let mlp = |device| Mlp::new(d, &config, Some((&y_hat, span)), seed, device);
            let (field, host) = (mlp(&cpu.clone().autodiff()), mlp(&cpu));
            let n = params::values(&host).len();
            let spec = CheckSpec {
                params: chosen(n, 8, offset % n).into_iter().map(|k| (k, format!("θ[{k}]"))).collect(),
                ..CheckSpec::default()
            };
            let request = solver.request(y[..d].to_vec(), horizon * span, (1e-6, 1e-10), substeps);
            let case = format!("{config:?}, span {span:e}, seed {seed}, y0 {:?}", &y[..d]);
            let components = spec.params.len() + d;
            let outcome = judged(|r| check_field(&field, &host, r, &spec), components, &request, &solver, &case)?;
            Ok((solver.label(), outcome))
        },
    );
}

/// The parameter values the check perturbs are the module's own: reading and writing them back
/// round-trips, and a changed value changes the field.
#[test]
fn parameter_values_round_trip_and_change_the_field() {
    let cpu = DeviceKind::Cpu.open().unwrap();
    let config = MlpConfig {
        hidden: vec![3],
        activation: Activation::Tanh,
        scaled: false,
        conserve: true,
        log_inputs: false,
        log_floor: None,
        time_scale: None,
    };
    let mlp = Mlp::new(2, &config, None, 3, &cpu);
    let values = params::values(&mlp);
    assert_eq!(values.len(), 2 * 3 + 3 + 3 * 2 + 2);
    assert_eq!(params::values(&params::with_values(mlp.clone(), &values)), values);
    let mut changed = values.clone();
    changed[0] += 0.5;
    let y = || stiffnode_solvers::field::from_host(vec![0.3, -0.7], [1, 2], &cpu);
    let f = |m: &Mlp| stiffnode_solvers::field::to_host(m.eval(&[0.0], y()));
    assert_ne!(f(&params::with_values(mlp.clone(), &changed)), f(&mlp));
    assert_eq!(f(&params::with_values(mlp.clone(), &values)), f(&mlp));
}
