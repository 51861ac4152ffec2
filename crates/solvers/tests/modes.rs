//! The per-eigenmode split of the parameter gradient (design.md §5) against independent truth:
//! the full gradient of the step-by-step adjoint and of the whole solve on Burn's autodiff
//! graph (the modes must add up to it), and on
//! `y' = diag(λ) y` the closed form `∂y_1/∂λ_i = h R'(hλ_i) y0_i` of one step, whose decay
//! with `|hλ|` is Fronk & Petzold's (2025) vanishing fast-mode gradient.

mod common;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use common::{method, norm, request, sum_of_squares};
use stiffnode_chemistry::mass_action::{MassActionField, rober};
use stiffnode_solvers::diagonal::Diagonal;
use stiffnode_solvers::field::{VectorField, to_host};
use stiffnode_solvers::gradient::modes::{ModalSplit, split};
use stiffnode_solvers::gradient::{gradient, solve_on_graph};
use stiffnode_solvers::{DeviceKind, GradientMode, Request, SolveOptions, methods};

/// Take the adjoint gradient of `loss` for `request`, split it into modes; returns the split
/// and the full gradient.
fn decompose<F: VectorField + Module + 'static>(
    field: &F,
    request: &Request,
    loss: impl Fn(&[Tensor<2>]) -> Tensor<1>,
) -> (ModalSplit, GradientsParams) {
    let g = gradient(field, &request.clone().with_gradient(GradientMode::Adjoint { keep_steps: true }), loss).unwrap();
    (split(field, &g).unwrap(), g.params)
}

#[test]
fn modes_of_rober_with_learnable_rates_add_up_to_the_gradient_for_every_method() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let mech = rober::robertson();
    // Two trajectories; fixed steps (dopri5 on the short span its stability allows) and, for
    // methods with an error estimate, adaptive steps as well (only those for the Rosenbrock
    // methods: with J at the start, steps of 9/16 across ROBER's transient blow up).
    let y0 = [1.0, 0.0, 0.0, 0.9, 1e-6, 0.1];
    for method in methods::all() {
        let explicit = method.name() == "dopri5";
        let times: &[f64] = if explicit { &[0.005, 0.01] } else { &[1.0, 10.0] };
        let mut runs = vec![SolveOptions::fixed(if explicit { 25 } else { 16 })];
        if !method.has_step_adjoints() {
            runs.clear();
        }
        if method.info().embedded && !explicit {
            runs.push(SolveOptions::adaptive(1e-6, 1e-10));
        }
        for opts in runs {
            let field = MassActionField::with_learnable(&mech, &ad, &[0, 1, 2]);
            let id = field.log10_rates.as_ref().unwrap().id;
            let req = request(&method, &y0, times, &opts);
            let (modes, full) = decompose(&field, &req, sum_of_squares);
            let ranks = modes.samples.iter().map(|s| s.rank + 1).max().unwrap();
            let per_rank = modes.gradients(&field, ranks, |s| Some(s.rank));
            let whole = to_host(modes.gradients(&field, 1, |_| Some(0))[0].get::<1>(id).unwrap());
            let walk = to_host(full.get::<1>(id).unwrap());
            let mut sum = vec![0.0; 3];
            for g in &per_rank {
                to_host(g.get::<1>(id).unwrap()).iter().zip(&mut sum).for_each(|(x, s)| *s += x);
            }
            let rel = |x: &[f64], y: &[f64]| norm(&x.iter().zip(y).map(|(a, b)| a - b).collect::<Vec<_>>()) / norm(y);
            let (split_residual, vs_walk) = (rel(&sum, &whole), rel(&sum, &walk));
            // Independent truth: the gradient through the whole solve replayed on Burn's
            // autodiff graph.
            let rec = solve_on_graph(&field, &req.clone().with_gradient(GradientMode::Graph)).unwrap();
            let graph = to_host(
                field.log10_rates.as_ref().unwrap().val().grad(&sum_of_squares(&rec.states).backward()).unwrap(),
            );
            let vs_graph = rel(&sum, &graph);
            println!(
                "{:<18} {ranks} ranks, ‖ΣG_i − ∇L‖/‖∇L‖ = {split_residual:.1e}; against the step-by-step adjoint {vs_walk:.1e}, the autodiff graph {vs_graph:.1e}",
                method.name()
            );
            assert_eq!(ranks, 3, "{}", method.name());
            // The split itself is exact: the modes add up to the gradient of the same stage
            // cotangents to rounding, and that gradient is the step-by-step adjoint's and the
            // autodiff graph's.
            assert!(split_residual <= 1e-12, "{}: Σ G_i {sum:?} vs ∇L {whole:?}", method.name());
            assert!(vs_walk <= 1e-12, "{}: Σ G_i {sum:?} vs adjoint {walk:?}", method.name());
            assert!(vs_graph <= 1e-8, "{}: Σ G_i {sum:?} vs graph {graph:?}", method.name());
        }
    }
}

/// `R'(z)` from the closed forms `R = P/Q` (Hairer & Wanner II, IV.3 and IV.5): backward Euler
/// `1/(1 − z)`; Radau IIA (s = 3) the (2,3) Padé approximant; Lobatto IIIC (s = 3) the (1,3)
/// one. Coefficients in increasing powers of `z`.
fn dr_closed_form(method: &str, z: f64) -> f64 {
    let (p, q): (&[f64], &[f64]) = match method {
        "backward-euler" => (&[1.0], &[1.0, -1.0]),
        "radau5" => (&[1.0, 2.0 / 5.0, 1.0 / 20.0], &[1.0, -3.0 / 5.0, 3.0 / 20.0, -1.0 / 60.0]),
        "lobatto3c3" => (&[1.0, 0.25], &[1.0, -0.75, 0.25, -1.0 / 24.0]),
        _ => unreachable!(),
    };
    let poly = |c: &[f64]| c.iter().rev().fold(0.0, |acc, x| acc * z + x);
    let deriv = |c: &[f64]| c.iter().enumerate().skip(1).rev().fold(0.0, |acc, (k, x)| acc * z + k as f64 * x);
    (deriv(p) * poly(q) - poly(p) * deriv(q)) / (poly(q) * poly(q))
}

#[test]
fn linear_modes_are_the_exact_partial_derivatives_and_decay_like_r_prime() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    // One step of h = 1 on five decoupled modes, λ from −1e2 to −1e6; L = Σ y_1.
    let lambdas = [-1e2, -1e3, -1e4, -1e5, -1e6];
    let y0 = [1.0, 0.5, 2.0, 1.5, 0.8];
    let h = 1.0;
    for (name, slope_expected) in [("backward-euler", -2.0), ("radau5", -2.0), ("lobatto3c3", -3.0)] {
        let field = Diagonal::new(&lambdas, &ad);
        let req = request(&method(name), &y0, &[h], &SolveOptions::fixed(1));
        let (modes, _) = decompose(&field, &req, |s: &[Tensor<2>]| s[0].clone().sum());
        let per_rank = modes.gradients(&field, 5, |s| Some(s.rank));
        let mut norms = Vec::new();
        for (rank, g) in per_rank.iter().enumerate() {
            // Rank 0 is the fastest mode: λ = −1e6, the last component.
            let i = 4 - rank;
            let g = to_host(g.get::<1>(field.lambda.id).unwrap());
            let exact = h * dr_closed_form(name, h * lambdas[i]) * y0[i];
            // Rounding bound: μ sums O(h·y0) stage terms that cancel down to h R'(z) y0.
            let rel = ((g[i] - exact) / exact).abs();
            let bound = 1e-10 * exact.abs() + 1e-14 * h * y0[i];
            let leak = g.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, v)| v.abs()).fold(0.0, f64::max);
            println!(
                "{name:<15} λ = {:.0e}: G_i = {:.6e}, closed form {exact:.6e} (rel {rel:.1e}), other components ≤ {leak:.1e}",
                lambdas[i], g[i]
            );
            assert!((g[i] - exact).abs() <= bound, "{name} λ = {}: {} vs {exact}", lambdas[i], g[i]);
            assert!(leak <= 1e-12 * exact.abs(), "{name}: mode {i} leaks into other parameters: {g:?}");
            norms.push((lambdas[i].abs().log10(), norm(&g).log10()));
        }
        // Least-squares slope of log‖G_i‖ against log|hλ_i|.
        let n = norms.len() as f64;
        let (mx, my) = (norms.iter().map(|p| p.0).sum::<f64>() / n, norms.iter().map(|p| p.1).sum::<f64>() / n);
        let slope = norms.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
            / norms.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
        println!("{name:<15} slope of log‖G_i‖ against log|hλ|: {slope:.3} (expected {slope_expected})");
        assert!((slope - slope_expected).abs() <= 0.1, "{name}: slope {slope}");
    }
}
