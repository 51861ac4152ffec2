//! The compiled mass-action field against the host reference implementation and against
//! central finite differences of itself.

use stiffnode_chemistry::mass_action::{MassActionField, Mechanism, Reaction, pollu, rober};
use stiffnode_solvers::DeviceKind;
use stiffnode_solvers::field::{VectorField, from_host, to_host};

/// Deterministic pseudo-random positive states spread over decades.
fn states(d: usize, rows: usize) -> Vec<f64> {
    let mut x: u64 = 0x9E3779B97F4A7C15;
    (0..rows * d)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            10f64.powf(-6.0 + 6.0 * (x % 10_000) as f64 / 10_000.0)
        })
        .collect()
}

/// ROBER written out by hand (Hairer & Wanner II, IV.1, (1.3)).
fn rober_by_hand(y: &[f64]) -> [f64; 3] {
    let (k1, k2, k3) = (0.04, 3e7, 1e4);
    [-k1 * y[0] + k3 * y[1] * y[2], k1 * y[0] - k2 * y[1] * y[1] - k3 * y[1] * y[2], k2 * y[1] * y[1]]
}

/// A right-hand side written out by hand.
type ByHand = fn(&[f64]) -> Vec<f64>;

fn check(mech: &Mechanism, by_hand: Option<ByHand>) {
    let device = DeviceKind::Cpu.open().unwrap();
    let field = MassActionField::new(mech, &device);
    let d = mech.species.len();
    let rows = 16;
    let y = states(d, rows);
    let t = vec![0.0; rows];
    let f = to_host(field.eval(&t, from_host(y.clone(), [rows, d], &device)));
    let jac = to_host(field.jacobian(&t, from_host(y.clone(), [rows, d], &device)));
    let host = field.host().expect("mass-action fields have a host form");
    let (mut hf, mut hj) = (vec![0.0; d], vec![0.0; d * d]);
    // Rows in one call (a step's stages; groups of four and a remainder) are row by row's
    // values exactly, for every count of rows.
    for n in 1..=rows {
        let mut all = vec![f64::NAN; n * d];
        host.eval_rows(&t[..n], &y[..n * d], &mut all);
        for r in 0..n {
            host.eval(0.0, &y[r * d..(r + 1) * d], &mut hf);
            assert_eq!(all[r * d..(r + 1) * d], hf, "{}: row {r} of {n} evaluated together", mech.name);
        }
    }
    for r in 0..rows {
        let yr = &y[r * d..(r + 1) * d];
        // The host form (used by the CPU forward solve) agrees with the tensor program.
        host.eval(0.0, yr, &mut hf);
        host.jacobian(0.0, yr, &mut hj);
        for k in 0..d {
            let t = f[r * d + k];
            assert!(
                (hf[k] - t).abs() <= 1e-12 * t.abs().max(hf[k].abs()),
                "{}: host f[{k}] {} vs tensor {t}",
                mech.name,
                hf[k]
            );
        }
        for k in 0..d * d {
            let t = jac[r * d * d + k];
            assert!(
                (hj[k] - t).abs() <= 1e-12 * t.abs().max(hj[k].abs()),
                "{}: host J[{k}] {} vs tensor {t}",
                mech.name,
                hj[k]
            );
        }
        let expected = by_hand.map_or_else(|| mech.rhs(yr), |g| g(yr));
        for i in 0..d {
            let scale: f64 = mech.rates(yr).iter().map(|k| k.abs()).sum::<f64>() * 4.0;
            assert!(
                (f[r * d + i] - expected[i]).abs() <= 1e-14 * scale.max(expected[i].abs()),
                "{}: f[{i}] {} vs {}",
                mech.name,
                f[r * d + i],
                expected[i]
            );
        }
        // Central differences with h = 1e-5·y_j are exact for the quadratic mass-action terms
        // up to rounding: |error| ≲ ε·Σ_r |net_ir·r_r| / h, the rounding of f_i over the step.
        let rates = mech.rates(yr);
        for j in 0..d {
            let h = 1e-5 * yr[j];
            let (mut up, mut down) = (yr.to_vec(), yr.to_vec());
            up[j] += h;
            down[j] -= h;
            let (fu, fd) = (mech.rhs(&up), mech.rhs(&down));
            for i in 0..d {
                let fdj = (fu[i] - fd[i]) / (2.0 * h);
                let got = jac[r * d * d + i * d + j];
                let terms: f64 = mech.reactions.iter().zip(&rates).map(|(re, k)| (re.net(i) * k).abs()).sum();
                let tol = 1e-8 * fdj.abs() + 100.0 * f64::EPSILON * terms / h;
                assert!((got - fdj).abs() <= tol, "{}: J[{i}][{j}] {got} vs fd {fdj} (tol {tol:e})", mech.name);
            }
        }
    }
}

#[test]
fn robertson_equals_the_hand_written_equations() {
    check(&rober::robertson(), Some(|y: &[f64]| rober_by_hand(y).to_vec()));
}

/// POLLU written out as in the Test Set's `pollu.f` (rates r1…r25, then f1…f20).
fn pollu_by_hand(y: &[f64]) -> Vec<f64> {
    let k = [
        0.35, 26.6, 1.23e4, 8.6e-4, 8.2e-4, 1.5e4, 1.3e-4, 2.4e4, 1.65e4, 9.0e3, 2.2e-2, 1.2e4, 1.88, 1.63e4, 4.8e6,
        3.5e-4, 1.75e-2, 1.0e8, 4.44e11, 1.24e3, 2.1, 5.78, 4.74e-2, 1.78e3, 3.12,
    ];
    let y = |i: usize| y[i - 1];
    let r = [
        k[0] * y(1),
        k[1] * y(2) * y(4),
        k[2] * y(5) * y(2),
        k[3] * y(7),
        k[4] * y(7),
        k[5] * y(7) * y(6),
        k[6] * y(9),
        k[7] * y(9) * y(6),
        k[8] * y(11) * y(2),
        k[9] * y(11) * y(1),
        k[10] * y(13),
        k[11] * y(10) * y(2),
        k[12] * y(14),
        k[13] * y(1) * y(6),
        k[14] * y(3),
        k[15] * y(4),
        k[16] * y(4),
        k[17] * y(16),
        k[18] * y(16),
        k[19] * y(17) * y(6),
        k[20] * y(19),
        k[21] * y(19),
        k[22] * y(1) * y(4),
        k[23] * y(19) * y(1),
        k[24] * y(20),
    ];
    let r = |i: usize| r[i - 1];
    vec![
        -r(1) - r(10) - r(14) - r(23) - r(24) + r(2) + r(3) + r(9) + r(11) + r(12) + r(22) + r(25),
        -r(2) - r(3) - r(9) - r(12) + r(1) + r(21),
        -r(15) + r(1) + r(17) + r(19) + r(22),
        -r(2) - r(16) - r(17) - r(23) + r(15),
        -r(3) + 2.0 * r(4) + r(6) + r(7) + r(13) + r(20),
        -r(6) - r(8) - r(14) - r(20) + r(3) + 2.0 * r(18),
        -r(4) - r(5) - r(6) + r(13),
        r(4) + r(5) + r(6) + r(7),
        -r(7) - r(8),
        -r(12) + r(7) + r(9),
        -r(9) - r(10) + r(8) + r(11),
        r(9),
        -r(11) + r(10),
        -r(13) + r(12),
        r(14),
        -r(18) - r(19) + r(16),
        -r(20),
        r(20),
        -r(21) - r(22) - r(24) + r(23) + r(25),
        -r(25) + r(24),
    ]
}

#[test]
fn pollu_equals_the_test_set_equations() {
    check(&pollu::pollu(), Some(pollu_by_hand));
}

#[test]
fn power_law_orders_sources_and_decays() {
    // 0 → A (source), A → ∅ (decay), 2A + B → C with orders A^1.5 B^0.5.
    let mech = Mechanism {
        name: "power-law".into(),
        species: vec!["A".into(), "B".into(), "C".into()],
        initial: vec![1.0, 1.0, 0.0],
        reactions: vec![
            Reaction::mass_action(&[], &[(0, 1.0)], 0.5),
            Reaction::mass_action(&[(0, 1.0)], &[], 2.0),
            Reaction {
                name: None,
                reactants: vec![(0, 2.0), (1, 1.0)],
                products: vec![(2, 1.0)],
                orders: vec![(0, 1.5), (1, 0.5)],
                rate: 3.0,
            },
        ],
        t_end: None,
    };
    check(&mech, None);
}

/// The host form's product `(∂f/∂log10 k)ᵀc` against Burn's backward pass of `Σ f(y)⊙c`, on
/// POLLU with every rate learnable and on ROBER with two of three.
#[test]
fn host_rate_products_agree_with_burns_backward_pass() {
    use burn::optim::GradientsParams;
    use stiffnode_solvers::gradient::params::flatten;
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    for (mech, learnable) in
        [(pollu::pollu(), (0..pollu::pollu().reactions.len()).collect::<Vec<_>>()), (rober::robertson(), vec![0, 2])]
    {
        let d = mech.species.len();
        let field = MassActionField::with_learnable(&mech, &ad, &learnable);
        let rows = 3;
        let y: Vec<f64> = (0..rows * d).map(|k| 0.05 + 0.3 * ((k as f64) * 0.9).sin().abs()).collect();
        let c: Vec<f64> = (0..rows * d).map(|k| ((k as f64) * 1.3).cos()).collect();
        let f = field.eval(&vec![0.0; rows], from_host(y.clone(), [rows, d], &ad));
        let grads = GradientsParams::from_grads((f * from_host(c.clone(), [rows, d], &ad)).sum().backward(), &field);
        let burn = flatten(&field, &grads);
        let form = field.host().expect("mass action has a host form");
        let host = form.products().expect("mass action's host form takes parameter products");
        assert_eq!(host.params(), learnable.len());
        let mut ours = vec![0.0; host.params()];
        for r in 0..rows {
            host.vjp(0.0, &y[r * d..(r + 1) * d], &c[r * d..(r + 1) * d], &mut ours);
        }
        let scale = burn.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = ours.iter().zip(&burn).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
        println!("{}: host vs Burn (∂f/∂log10 k)ᵀc {err:.1e}", mech.name);
        assert!(scale > 0.0 && err <= 1e-13, "{}: {ours:?} vs {burn:?}", mech.name);
    }
}
