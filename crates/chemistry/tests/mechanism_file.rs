//! Mechanism files: the shipped ones parse, the format expresses sources, decays and power
//! laws, and every defect is one error naming the file and the reaction or field.

use stiffnode_chemistry::mass_action::{mechanism_file, pollu, rober};

fn error_of(text: &str) -> String {
    let e = mechanism_file::parse(text, "test.toml").expect_err("should be rejected");
    let msg = e.to_string();
    assert!(msg.starts_with("test.toml: "), "names the file: {msg}");
    assert_eq!(msg.lines().count(), 1, "one line: {msg}");
    msg
}

const HEAD: &str = "name = \"m\"\nspecies = [\"A\", \"B\", \"C\"]\n";

#[test]
fn shipped_mechanisms_parse() {
    let r = rober::robertson();
    assert_eq!(r.species, ["A", "B", "C"]);
    assert_eq!(r.initial, [1.0, 0.0, 0.0]);
    assert_eq!(r.reactions.len(), 3);
    assert_eq!(r.reactions[1].reactants, [(1, 2.0)], "2 B => B + C");
    assert_eq!(r.reactions[1].net(1), -1.0);
    let p = pollu::pollu();
    assert_eq!((p.species.len(), p.reactions.len()), (20, 25));
    assert_eq!(p.t_end, Some(60.0));
}

#[test]
fn tables_equations_sources_decays_and_orders() {
    let m = mechanism_file::parse(
        &format!(
            "{HEAD}t_end = 5.0\n[initial]\nA = 2.0\n\
             [[reactions]]\nreactants = {{}}\nproducts = {{ A = 1 }}\nrate = 0.5\n\
             [[reactions]]\nequation = \"B => 0\"\nrate = 2.0\n\
             [[reactions]]\nequation = \"2 A + B -> C\"\nrate = 3.0\norders = {{ A = 1.5, B = 0.5 }}\n\
             [[reactions]]\nequation = \"=> C\"\nrate = 1e-3\n"
        ),
        "test.toml",
    )
    .unwrap();
    assert_eq!(m.initial, [2.0, 0.0, 0.0]);
    assert!(m.reactions[0].reactants.is_empty() && m.reactions[0].products == [(0, 1.0)]);
    assert!(m.reactions[1].products.is_empty());
    assert_eq!(m.reactions[2].reactants, [(0, 2.0), (1, 1.0)]);
    assert_eq!(m.reactions[2].orders, [(0, 1.5), (1, 0.5)]);
    // rate = 3·A^1.5·B^0.5 at A = 4, B = 9: 3·8·3 = 72; dC/dt = 72 + 1e-3.
    let f = m.rhs(&[4.0, 9.0, 0.0]);
    assert!((f[2] - 72.001).abs() < 1e-12, "{f:?}");
    assert!((f[0] - (0.5 - 2.0 * 72.0)).abs() < 1e-12, "{f:?}");
}

#[test]
fn defects_are_named() {
    let reaction = |body: &str| format!("{HEAD}[[reactions]]\n{body}\n");
    let cases = [
        (format!("{HEAD}species = 3"), "line"),
        ("name = \"m\"\nspecies = [\"A\"\n".to_string(), "line 2"),
        (reaction("equation = \"A => D\"\nrate = 1"), "reaction 1, field 'products': unknown species 'D'"),
        (reaction("reactants = { Q = 1 }\nrate = 1"), "reaction 1, field 'reactants': unknown species 'Q'"),
        (
            reaction("name = \"bad\"\nequation = \"A => B\"\nrate = -1"),
            "reaction 1 ('bad'), field 'rate': rate -1 must be > 0",
        ),
        (reaction("equation = \"A => B\"\nrate = 0"), "field 'rate'"),
        (reaction("equation = \"A => B\"\nrate = nan"), "not a finite number"),
        (reaction("equation = \"A => B\"\nrate = inf"), "not a finite number"),
        ("name = \"m\"\nspecies = [\"A\", \"A\"]\n".to_string(), "species 'A' is listed twice"),
        ("name = \"m\"\nspecies = []\n".to_string(), "species list is empty"),
        (format!("{HEAD}[initial]\nA = inf\n"), "field 'initial.A'"),
        (format!("{HEAD}[initial]\nZ = 1\n"), "unknown species 'Z'"),
        (format!("{HEAD}[initial]\nA = -1\n"), "negative"),
        (reaction("equation = \"A + => B\"\nrate = 1"), "field 'equation'"),
        (reaction("equation = \"A B\"\nrate = 1"), "exactly one '=>'"),
        (reaction("equation = \"A => B => C\"\nrate = 1"), "exactly one '=>'"),
        (reaction("equation = \"x A => B\"\nrate = 1"), "'x' is not a coefficient"),
        (reaction("equation = \"A => B\"\nreactants = { A = 1 }\nrate = 1"), "not both"),
        (reaction("rate = 1"), "needs 'equation'"),
        (reaction("equation = \"A => B\"\nrate = 1\nspeed = 2"), "unknown field `speed`"),
        (reaction("reactants = { A = -2 }\nrate = 1"), "coefficient -2 of 'A' must be > 0"),
    ];
    for (text, needle) in cases {
        let msg = error_of(&text);
        assert!(msg.contains(needle), "'{msg}' should mention '{needle}' for:\n{text}");
    }
}

// ---- Silently wrong files (issue 33). ----

use proptest::prelude::*;

const SPECIES: [&str; 5] = ["A", "B", "C", "D", "E"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A partial `orders` table sets the orders of the reactants it lists; the others keep
    /// their stoichiometric coefficients as orders (as Cantera's `orders`), so the rate is
    /// `k · Π [X]^(listed order or coefficient)`.
    #[test]
    fn partial_orders_keep_the_coefficients_of_unlisted_reactants(
        reactants in prop::collection::btree_map(0usize..5, 1u32..4, 1..4),
        listed in prop::collection::vec((any::<prop::sample::Index>(), 0.25f64..3.0), 1..3),
        y in prop::array::uniform5(0.1f64..3.0),
    ) {
        let names: Vec<usize> = reactants.keys().copied().collect();
        let orders: std::collections::BTreeMap<usize, f64> =
            listed.iter().map(|(i, o)| (*i.get(&names), *o)).collect();
        let table = |m: Vec<(usize, String)>| {
            m.into_iter().map(|(k, v)| format!("{} = {v}", SPECIES[k])).collect::<Vec<_>>().join(", ")
        };
        let text = format!(
            "name = \"m\"\nspecies = {SPECIES:?}\n[[reactions]]\nreactants = {{ {} }}\nproducts = {{ E = 1 }}\nrate = 2.0\norders = {{ {} }}\n",
            table(reactants.iter().map(|(k, c)| (*k, c.to_string())).collect()),
            table(orders.iter().map(|(k, o)| (*k, format!("{o:?}"))).collect()),
        );
        let m = mechanism_file::parse(&text, "test.toml").unwrap();
        let expected = reactants.iter().fold(2.0, |acc, (&k, &c)| acc * y[k].powf(orders.get(&k).copied().unwrap_or(f64::from(c))));
        let rate = m.rates(&y)[0];
        prop_assert!((rate - expected).abs() <= 1e-12 * expected, "{rate} vs {expected} for\n{text}");
    }

    /// An order for a species that is not a reactant of its reaction is refused, naming it.
    #[test]
    fn orders_of_non_reactants_are_refused_by_name(
        reactants in prop::collection::btree_set(0usize..5, 1..4), other in 0usize..5,
    ) {
        prop_assume!(!reactants.contains(&other));
        let lhs: Vec<&str> = reactants.iter().map(|&k| SPECIES[k]).collect();
        let text = format!(
            "name = \"m\"\nspecies = {SPECIES:?}\n[[reactions]]\nequation = \"{} => E\"\nrate = 1.0\norders = {{ {} = 1 }}\n",
            lhs.join(" + "),
            SPECIES[other]
        );
        let msg = error_of(&text);
        prop_assert_eq!(
            msg,
            format!("test.toml: reaction 1, field 'orders': '{}' is not a reactant of this reaction (orders are for its reactants)", SPECIES[other])
        );
    }

    /// A species name that would break the dataset's CSV header (a comma, a quote, a control
    /// character such as a newline, whitespace at either end, or empty) is refused by name; a
    /// name of the usual characters loads.
    #[test]
    fn species_names_that_break_a_csv_header_are_refused(
        bad in prop_oneof![
            ("[A-Z][a-z0-9]{0,3}", prop::sample::select(vec![",", "\"", "\n", "\r", "\t", "\u{7}"]), "[A-Za-z0-9]{0,3}")
                .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
            ("[A-Z][a-z0-9]{0,3}", prop::sample::select(vec![" ", "\t", "\u{a0}"]), any::<bool>())
                .prop_map(|(a, w, before)| if before { format!("{w}{a}") } else { format!("{a}{w}") }),
            Just(String::new()),
        ],
        good in "Q[A-Za-z0-9()*+-]{0,8}",
    ) {
        let file = |name: &str| {
            let quoted = toml::Value::String(name.to_string()).to_string();
            format!("name = \"m\"\nspecies = [\"A\", {quoted}]\n[[reactions]]\nequation = \"A => 0\"\nrate = 1\n")
        };
        let msg = error_of(&file(&bad));
        prop_assert!(msg.starts_with(&format!("test.toml: field 'species': {bad:?} is not a species name: ")), "{msg}");
        let m = mechanism_file::parse(&file(&good), "test.toml");
        prop_assert!(m.is_ok(), "{good:?}: {m:?}");
    }
}

/// The issue's example: `orders = {A = 2}` on `A + B -> C` is the rate `k·A²·B`, not `k·A²`.
#[test]
fn a_partial_orders_table_is_not_order_zero_for_the_rest() {
    let m = mechanism_file::parse(
        &format!("{HEAD}[[reactions]]\nequation = \"A + B -> C\"\nrate = 3.0\norders = {{ A = 2 }}\n"),
        "test.toml",
    )
    .unwrap();
    assert_eq!(m.reactions[0].orders, [(0, 2.0), (1, 1.0)]);
    assert_eq!(m.rates(&[2.0, 5.0, 0.0]), [3.0 * 4.0 * 5.0]);
}
