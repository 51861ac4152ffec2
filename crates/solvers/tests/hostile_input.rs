//! Property tests: random mechanism files (the edges included: empty lists, zero, negative,
//! huge and non-finite numbers, unknown species, malformed equations), random solve settings
//! and random dataset files never make the library panic or run away: every case ends, in
//! bounded time, in a result or a typed error.

#[path = "common/seeded.rs"]
mod seeded;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use stiffnode_chemistry::dataset;
use stiffnode_chemistry::mass_action::{MassActionField, mechanism_file};
use stiffnode_solvers::{DeviceKind, Request, SolveOptions, StepSettings, methods, solve};

/// Numbers as a hostile user types them: mostly sensible, now and then an edge.
fn number() -> impl Strategy<Value = String> {
    let edge = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e300".to_string()),
        Just("1e9".to_string()),
        Just("1e-300".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
    ];
    let sensible = prop_oneof![(1u32..4).prop_map(|k| k.to_string()), (0.001f64..1e4).prop_map(|x| format!("{x:e}"))];
    prop_oneof![12 => sensible, 1 => edge]
}

fn species_name() -> impl Strategy<Value = String> {
    prop_oneof![20 => prop_oneof![Just("A"), Just("B"), Just("C")], 1 => prop_oneof![Just("D"), Just(""), Just("A B")]]
        .prop_map(String::from)
}

/// A stoichiometric coefficient: mostly a small whole number.
fn coefficient() -> impl Strategy<Value = String> {
    prop_oneof![10 => (1u32..4).prop_map(|k| k.to_string()), 1 => number()]
}

fn side() -> impl Strategy<Value = String> {
    prop::collection::vec((coefficient(), species_name()), 0..3).prop_map(|terms| {
        if terms.is_empty() {
            "0".into()
        } else {
            terms.iter().map(|(c, s)| format!("{c} {s}")).collect::<Vec<_>>().join(" + ")
        }
    })
}

fn reaction() -> impl Strategy<Value = String> {
    let arrow = prop_oneof![10 => prop_oneof![Just("=>"), Just("->")], 1 => prop_oneof![Just("="), Just("=> =>")]];
    (side(), arrow, side(), number(), any::<bool>(), number()).prop_map(|(lhs, arrow, rhs, rate, with_order, order)| {
        let orders = if with_order { format!("orders = {{ A = {order} }}\n") } else { String::new() };
        format!("[[reactions]]\nequation = \"{lhs} {arrow} {rhs}\"\nrate = {rate}\n{orders}")
    })
}

fn mechanism() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            10 => Just(vec!["A", "B", "C"]),
            1 => prop::collection::vec(prop_oneof![Just("A"), Just("B"), Just("C"), Just("A")], 0..4)
        ],
        prop::collection::vec((species_name(), number()), 0..3),
        prop::collection::vec(reaction(), 0..4),
    )
        .prop_map(|(species, initial, reactions)| {
            let species: Vec<String> = species.iter().map(|s| format!("\"{s}\"")).collect();
            let initial: String = initial.iter().map(|(s, v)| format!("\"{s}\" = {v}\n")).collect();
            format!("name = \"m\"\nspecies = [{}]\n[initial]\n{initial}{}", species.join(", "), reactions.concat())
        })
}

proptest! {
    #![proptest_config(seeded::seeded(1000, 73))]

    #[test]
    fn random_mechanisms_and_settings_end_in_a_result_or_a_typed_error(
        text in mechanism(),
        t_end in prop_oneof![8 => 1e-3f64..1e3, 1 => prop_oneof![Just(0.0), Just(-1.0), Just(1e300), Just(f64::NAN)]],
        rtol in prop_oneof![8 => 1e-8f64..1e-2, 1 => prop_oneof![Just(0.0), Just(1e10), Just(1e-16)]],
        steps in prop_oneof![Just(None), Just(Some(0usize)), (1usize..20).prop_map(Some)],
        method in prop_oneof![Just("radau5"), Just("backward-euler"), Just("dopri5"), Just("bdf2"), Just("gauss2")],
    ) {
        let start = Instant::now();
        if let Ok(mech) = mechanism_file::parse(&text, "random.toml") {
            let settings = StepSettings { rtol: Some(rtol), atol: None, steps, max_steps: 300 };
            let settings = if steps.is_some() { StepSettings { rtol: None, ..settings } } else { settings };
            if let Ok(options) = settings.options() {
                let device = DeviceKind::Cpu.open().unwrap();
                let field = MassActionField::new(&mech, &device);
                let request = Request::new(methods::by_name(method).unwrap(), mech.initial.clone(), 0.0, vec![t_end])
                    .with_options(SolveOptions { max_steps: 300, ..options });
                let _ = solve(&field, &request);
            }
        }
        prop_assert!(start.elapsed() < Duration::from_secs(5), "a case took {:?}:\n{text}", start.elapsed());
    }

    #[test]
    fn random_dataset_files_end_in_data_or_a_located_error(
        rows in prop::collection::vec((prop_oneof![Just("0"), Just("1"), Just("x"), Just("-1")], number(), number(), number(), any::<bool>()), 0..6),
        header in prop_oneof![Just("trajectory,t,A,B"), Just("trajectory,t,A"), Just("t,A,B"), Just("")],
    ) {
        let body: String = rows
            .iter()
            .map(|(k, t, a, b, short)| if *short { format!("{k},{t},{a}\n") } else { format!("{k},{t},{a},{b}\n") })
            .collect();
        let text = format!("{header}\n{body}");
        let species = vec!["A".to_string(), "B".to_string()];
        if let Err(e) = dataset::parse(&text, "data.csv", &species) {
            prop_assert!(e.to_string().starts_with("data.csv:"), "{e}");
        }
    }
}
