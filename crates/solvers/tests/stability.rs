//! Stability functions from the coefficients against the closed forms of design.md §1 (Hairer &
//! Wanner II, IV.3–IV.6), their decay rates, and the coefficients' own consistency.

use num_complex::Complex64 as C;
use stiffnode_solvers::methods::{self, Method};
use stiffnode_solvers::stability::{evaluate, parse_complex};

fn closed_form(name: &str, z: C) -> Option<C> {
    let g = 1.0 - 1.0 / 2f64.sqrt();
    Some(match name {
        "backward-euler" => 1.0 / (1.0 - z),
        "trapezoid" | "implicit-midpoint" => (2.0 + z) / (2.0 - z),
        "gauss2" => (12.0 + 6.0 * z + z * z) / (12.0 - 6.0 * z + z * z),
        "radau3" => (6.0 + 2.0 * z) / (6.0 - 4.0 * z + z * z),
        "radau5" => (60.0 + 24.0 * z + 3.0 * z * z) / (60.0 - 36.0 * z + 9.0 * z * z - z * z * z),
        "lobatto3c2" => 2.0 / (2.0 - 2.0 * z + z * z),
        "lobatto3c3" => (24.0 + 6.0 * z) / (24.0 - 18.0 * z + 6.0 * z * z - z * z * z),
        "sdirk2" | "trbdf2" => (1.0 + (1.0 - 2.0 * g) * z) / ((1.0 - g * z) * (1.0 - g * z)),
        // Shampine & Reichelt (1997), d = 1/(2 + √2): the same function as SDIRK2's.
        "rosenbrock23" => {
            let d = 1.0 / (2.0 + 2f64.sqrt());
            (1.0 + (1.0 - 2.0 * d) * z) / ((1.0 - d * z) * (1.0 - d * z))
        }
        // Dormand–Prince 5(4): Σ_{k≤5} z^k/k! + z⁶/600 (Hairer, Nørsett & Wanner I, IV.2).
        "dopri5" => {
            let mut r = C::new(0.0, 0.0);
            let mut term = C::new(1.0, 0.0);
            for k in 0..=5 {
                if k > 0 {
                    term = term * z / k as f64;
                }
                r += term;
            }
            r + z.powi(6) / 600.0
        }
        _ => return None,
    })
}

fn points() -> Vec<C> {
    vec![
        C::new(-0.5, 0.0),
        C::new(-3.0, 2.0),
        C::new(-100.0, 20.0),
        C::new(-1e4, 0.0),
        C::new(0.3, -0.7),
        C::new(-2.0, 50.0),
    ]
}

#[test]
fn r_matches_closed_forms_to_1e_12() {
    let mut checked = 0;
    for m in methods::all() {
        let Some(_) = closed_form(m.name(), C::new(0.0, 0.0)) else { continue };
        for z in points() {
            let r = evaluate(&m, z).r;
            let exact = closed_form(m.name(), z).unwrap();
            let rel = (r - exact).norm() / exact.norm().max(1e-300);
            assert!(rel <= 1e-12, "{}: R({z}) = {r}, closed form {exact}, rel err {rel:e}", m.name());
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "every Runge–Kutta method but esdirk4, and rosenbrock23, have a closed form here");
}

#[test]
fn r_prime_matches_derivative_of_closed_form() {
    for m in methods::all() {
        let Some(_) = closed_form(m.name(), C::new(0.0, 0.0)) else { continue };
        for z in points() {
            let dz = 1e-6 * z.norm().max(1.0);
            let fd = (closed_form(m.name(), z + dz).unwrap() - closed_form(m.name(), z - dz).unwrap()) / (2.0 * dz);
            let p = evaluate(&m, z);
            // The difference quotient itself carries rounding of size ε·|R|/dz.
            let tol = 1e-7 * fd.norm() + 10.0 * f64::EPSILON * p.r.norm().max(1.0) / dz;
            assert!((p.dr - fd).norm() <= tol, "{}: R'({z}) = {}, finite difference {fd}", m.name(), p.dr);
        }
    }
}

/// Least-squares slope of log|R'(z)| against log|z| over z = −10^k, k ∈ [2, 6].
fn decay_slope(m: &Method) -> f64 {
    decay_slope_over(m, 2.0, 6.0)
}

/// Least-squares slope of log|R'(z)| against log|z| over z = −10^k, k ∈ [lo, hi].
fn decay_slope_over(m: &Method, lo: f64, hi: f64) -> f64 {
    let xs: Vec<f64> = (0..=40).map(|i| lo + (hi - lo) * i as f64 / 40.0).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| evaluate(m, C::new(-(10f64.powf(x)), 0.0)).dr.norm().log10()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / xs.len() as f64, ys.iter().sum::<f64>() / ys.len() as f64);
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    cov / var
}

#[test]
fn r_prime_decays_like_z_to_minus_2_or_3() {
    let expected = [
        ("backward-euler", -2.0),
        ("trapezoid", -2.0),
        ("gauss2", -2.0),
        ("radau3", -2.0),
        ("radau5", -2.0),
        ("sdirk2", -2.0),
        ("trbdf2", -2.0),
        ("lobatto3c2", -3.0),
        ("lobatto3c3", -3.0),
        ("rosenbrock23", -2.0),
        ("rodas4", -2.0),
        ("rodas5p", -2.0),
    ];
    for (name, slope) in expected {
        let got = decay_slope(&methods::by_name(name).unwrap());
        assert!((got - slope).abs() <= 0.05, "{name}: slope {got}, expected {slope}");
    }
    // BDF_k's roots of ρ(ζ) = zζ^k shrink like |z|^(−1/k), so R' decays like |z|^(−1−1/k): at
    // order 5 the roots are still 0.4 at |z| = 100, so the slope is fitted further out.
    for k in 1..=5 {
        let got = decay_slope_over(&Method::Bdf(methods::Bdf::new(k).unwrap()), 4.0, 10.0);
        let slope = -1.0 - 1.0 / k as f64;
        assert!((got - slope).abs() <= 0.05, "bdf order {k}: slope {got}, expected {slope}");
    }
}

#[test]
fn l_stable_methods_vanish_at_infinity_and_a_stable_ones_do_not() {
    let far = C::new(-1e8, 0.0);
    for m in methods::all() {
        let info = m.info();
        let r = evaluate(&m, far).r.norm();
        match m {
            Method::RungeKutta(_) if info.l_stable => assert!(r < 1e-7, "{}: |R(-1e8)| = {r:e}", info.name),
            // BDF2's roots of (3/2 − z)ζ² − 2ζ + 1/2 = 0 vanish only like (2|z|)^(−1/2).
            Method::Bdf2(_) => assert!((r / (2e8f64).powf(-0.5) - 1.0).abs() < 1e-2, "bdf2: |R(-1e8)| = {r:e}"),
            _ => {}
        }
    }
    for name in ["trapezoid", "gauss2"] {
        let r = evaluate(&methods::by_name(name).unwrap(), far).r.norm();
        assert!((r - 1.0).abs() < 1e-6, "{name}: |R(-1e8)| = {r}, expected → 1");
    }
}

#[test]
fn a_stable_methods_are_bounded_on_the_left_half_plane() {
    for m in methods::all() {
        if !m.info().a_stable {
            continue;
        }
        for k in 0..200 {
            // Points on the imaginary axis and deep in the left half-plane.
            let y = 10f64.powf(-3.0 + 9.0 * k as f64 / 200.0);
            for z in [C::new(0.0, y), C::new(-y, y), C::new(-y, 0.0), C::new(-1e-3 * y, y)] {
                let r = evaluate(&m, z).r.norm();
                assert!(r <= 1.0 + 1e-9, "{}: |R({z})| = {r}", m.name());
            }
        }
    }
}

#[test]
fn beta_is_consistent_with_r_prime() {
    // R'(z) = bᵀ(I − zA)⁻²𝟙 = β(z)ᵀ(I − zA)⁻¹𝟙, and R(z) − 1 = z·β(z)ᵀ𝟙 … checked for backward
    // Euler through its closed form β = 1/(1−z) and for all methods through Σβ_j = bᵀ(I−zA)⁻¹𝟙.
    let z = C::new(-7.0, 3.0);
    let be = evaluate(&methods::by_name("backward-euler").unwrap(), z);
    let beta = be.beta.unwrap();
    assert!((beta[0] - 1.0 / (1.0 - z)).norm() < 1e-14);
    for m in methods::all() {
        let p = evaluate(&m, z);
        if let Some(beta) = p.beta {
            let sum: C = beta.iter().sum();
            assert!((1.0 + z * sum - p.r).norm() <= 1e-12 * p.r.norm().max(1.0), "{}", m.name());
        }
    }
}

#[test]
fn tableaus_are_consistent() {
    for m in methods::all() {
        let Method::RungeKutta(t) = &m else { continue };
        let s = t.stages();
        let b_sum: f64 = t.b.iter().sum();
        assert!((b_sum - 1.0).abs() < 1e-12, "{}: Σb = {b_sum}", t.name);
        for i in 0..s {
            let row: f64 = t.a[i].iter().sum();
            assert!((row - t.c[i]).abs() < 1e-12, "{}: row {i} sums to {row}, c = {}", t.name, t.c[i]);
        }
        let bc: f64 = t.b.iter().zip(&t.c).map(|(b, c)| b * c).sum();
        if t.order >= 2 {
            assert!((bc - 0.5).abs() < 1e-12, "{}: Σbc = {bc}", t.name);
        }
        if let Some(e) = &t.error {
            let total = e.f0 + e.e.iter().sum::<f64>();
            assert!(total.abs() < 1e-12, "{}: error weights sum to {total}, not 0", t.name);
        }
    }
}

#[test]
fn complex_numbers_parse_as_the_cli_spells_them() {
    assert_eq!(parse_complex("-1e4"), Some(C::new(-1e4, 0.0)));
    assert_eq!(parse_complex("-100+20i"), Some(C::new(-100.0, 20.0)));
    assert_eq!(parse_complex("-2.5e-1-1e3i"), Some(C::new(-0.25, -1e3)));
    assert_eq!(parse_complex("3i"), Some(C::new(0.0, 3.0)));
    assert_eq!(parse_complex("-i"), Some(C::new(0.0, -1.0)));
    assert_eq!(parse_complex("1e+2+1e+1i"), Some(C::new(100.0, 10.0)));
    assert_eq!(parse_complex("abc"), None);
    assert_eq!(parse_complex("nan"), None);
    assert_eq!(parse_complex(""), None);
}

/// `derivatives` (one workspace, `R'` only) gives `evaluate`'s `R'` for every method, and the
/// derivative of the closed forms by central differences where there is one.
#[test]
fn batched_derivatives_are_evaluate_s() {
    use stiffnode_solvers::stability::derivatives;
    let zs = points();
    for method in methods::all() {
        let batched = derivatives(&method, &zs);
        for (z, dr) in zs.iter().zip(&batched) {
            let one = evaluate(&method, *z).dr;
            if !one.is_finite() {
                // BDF2's branch point z = −1/2 (a double root): R' is infinite there.
                assert!(!dr.is_finite(), "{}: {dr} at {z}", method.name());
                continue;
            }
            // bᵀ(I − zA)⁻²𝟙 sums terms of size about 1 into R' (4e-8 at z = −1e4 for the
            // trapezoid): both are exact to rounding of those terms.
            assert!((dr - one).norm() <= 1e-13 * one.norm().max(1.0), "{}: {dr} vs {one} at {z}", method.name());
            if closed_form(method.name(), *z).is_some() {
                let r = |w: C| closed_form(method.name(), w).unwrap();
                let h = 1e-6 * z.norm().max(1.0);
                let fd = (r(*z + h) - r(*z - h)) / (2.0 * h);
                assert!((dr - fd).norm() <= 1e-6 * fd.norm() + 1e-12, "{}: {dr} vs {fd} at {z}", method.name());
            }
        }
    }
}

/// A Rosenbrock method's `R(z)` is what one step of the engine does to `y' = λy`: the stepper
/// and the stability function agree at real `z` from −0.5 to −1e6; and `R'` is the derivative
/// of that `R` (central differences, complex `z` too).
#[test]
fn rosenbrock_stability_functions_are_one_step_of_the_engine() {
    use stiffnode_solvers::diagonal::Diagonal;
    use stiffnode_solvers::{DeviceKind, Request, SolveOptions, solve};
    let device = DeviceKind::Cpu.open().unwrap();
    let lambda = [-0.5, -3.0, -100.0, -1e4, -1e6];
    let field = Diagonal::new(&lambda, &device);
    for name in ["rosenbrock23", "rodas4", "rodas5p"] {
        let m = methods::by_name(name).unwrap();
        let request =
            Request::new(m.clone(), vec![1.0; lambda.len()], 0.0, vec![1.0]).with_options(SolveOptions::fixed(1));
        let y = solve(&field, &request).unwrap().states[0].clone();
        for (l, y) in lambda.iter().zip(&y) {
            let r = evaluate(&m, C::new(*l, 0.0)).r;
            // To rounding of the O(1) stage terms that sum to R (8.8e-4 at z = −1e4).
            assert!((y - r.re).abs() <= 1e-12 && r.im == 0.0, "{name} at z = {l}: step {y}, R {r}");
        }
        for z in points() {
            let h = 1e-5 * z.norm().max(1.0);
            let fd = (evaluate(&m, z + h).r - evaluate(&m, z - h).r) / (2.0 * h);
            let dr = evaluate(&m, z).dr;
            assert!((dr - fd).norm() <= 1e-7 * fd.norm() + 1e-12, "{name}: R'({z}) = {dr}, differences {fd}");
        }
    }
}
