//! Gradients of the discrete solution against independent truth: central finite differences
//! of plain forward solves, and the closed form of backward Euler on `y' = λy`.

mod common;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use common::{method, request, sum_of_squares};
use stiffnode_chemistry::check::check_mechanism;
use stiffnode_chemistry::mass_action::{MassActionField, rober};
use stiffnode_solvers::diagonal::Diagonal;
use stiffnode_solvers::field::{HostField, HostProducts, HostSecondOrder, VectorField, from_host, to_host};
use stiffnode_solvers::gradient::check::max_rel_err;
use stiffnode_solvers::gradient::{StepAdjoint, gradient, solve_on_graph};
use stiffnode_solvers::{
    DeviceKind, Evaluation, GradientMode, Method, Request, SolveError, SolveOptions, StepControl, methods, solve,
};

/// Output times and fixed substeps per interval: long steps for the implicit methods; short
/// ones for dopri5 (explicit) and the Rosenbrock methods, whose Jacobian at ROBER's start
/// (B = 0) does not see the fast B² term that a step of 1/16 crosses — they need steps that
/// resolve the initial transient, as an explicit method does — and for the variable-order BDF,
/// whose order-5 predictor extrapolates across that transient so badly at steps of 1/16 that
/// Newton fails and steps split (the grid then differs between perturbed solves).
fn rober_setup(method: &Method) -> (Vec<f64>, usize) {
    if ["dopri5", "bdf"].contains(&method.name()) || !method.has_step_adjoints() {
        (vec![0.005, 0.01], 25)
    } else {
        (vec![1.0, 10.0], 16)
    }
}

/// The three log10 rate constants of ROBER for every method, and its initial state for the
/// L-stable ones. (Methods with |R(−∞)| = 1 carry a perturbation of the fast species B
/// undamped through every step, where ROBER's 3·10⁷·B² term makes the loss curve within any
/// step that finite differences can resolve in f64; their initial-state gradient is checked
/// against the adjoint mode and the closed form instead.)
#[test]
fn rober_gradients_match_finite_differences_with_fixed_steps() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    for method in methods::all().into_iter() {
        let (times, substeps) = rober_setup(&method);
        let r =
            check_mechanism(&mech, &device, &request(&method, &mech.initial, &times, &SolveOptions::fixed(substeps)))
                .unwrap();
        let rates = max_rel_err(&r.gradient[..3], &r.finite_difference[..3]);
        let y0 = max_rel_err(&r.gradient[3..], &r.finite_difference[3..]);
        println!("{:<14} steps {:>4}  log-rates {rates:.1e}  y0 {y0:.1e}", method.name(), r.steps);
        assert!(rates <= 1e-6, "{}: {r:?}", method.name());
        if method.info().l_stable || method.name() == "dopri5" {
            assert!(y0 <= 1e-6, "{}: {r:?}", method.name());
        }
    }
}

#[test]
fn rober_gradients_with_adaptive_steps_match_finite_differences_on_the_frozen_grid() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = rober::robertson();
    for name in ["radau5", "esdirk4", "bdf2", "bdf", "sdirk2", "radau3", "rosenbrock23", "rodas4", "rodas5p"] {
        let req = request(&method(name), &mech.initial, &[1.0, 100.0], &SolveOptions::adaptive(1e-6, 1e-10));
        let r = check_mechanism(&mech, &device, &req).unwrap();
        println!("{name:<8} steps {:>4}  max rel err {:.1e}", r.steps, r.max_rel_err);
        assert!(r.max_rel_err <= 1e-5, "{name}: {r:?}");
    }
}

/// POLLU (Verwer 1994): a fast radical, O1D, consumed at k ≈ 4.4e11 with a concentration of
/// 3e-17, and a loss that scales every species by its size, so that O1D's cotangent is ~7e16.
/// The stage-form adjoint once added that cotangent's damping up from terms ±7e16 and missed
/// `∂L/∂log10 k[r1]` by 16 % (design.md §4). Every method with step adjoints, in both gradient
/// modes, to t = 60: adaptive where it has an error estimate, 100 fixed steps otherwise (and for
/// backward Euler, whose first-order estimate takes 5,000 steps at rtol 1e-6). Not the
/// trapezoidal rule: `R(∞) = −1` carries O1D's perturbations undamped from step to step, and
/// its finite differences do not settle (the property tests in `gradient_properties.rs`
/// measure that case by case).
#[test]
fn pollu_gradients_match_finite_differences_for_every_method_and_mode() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mech = stiffnode_chemistry::mass_action::pollu::pollu();
    for method in
        methods::all().into_iter().filter(|m| m.has_step_adjoints() && !["dopri5", "trapezoid"].contains(&m.name()))
    {
        let adaptive = method.info().embedded && method.name() != "backward-euler";
        let opts = if adaptive { SolveOptions::adaptive(1e-6, 1e-10) } else { SolveOptions::fixed(100) };
        for mode in [GradientMode::Adjoint { keep_steps: false }, GradientMode::Graph] {
            let req = request(&method, &mech.initial, &[60.0], &opts).with_gradient(mode);
            let r = check_mechanism(&mech, &device, &req).unwrap();
            println!("{:<18} {mode:?} steps {:>4}  max rel err {:.1e}", method.name(), r.steps, r.max_rel_err);
            assert!(r.max_rel_err <= 1e-5, "{} {mode:?}: {r:?}", method.name());
        }
    }
}

/// `f(y) = tanh(yW₁ + b₁)W₂ + b₂ − y⊙(1, 10, 100)`: a small tanh MLP with a stiff linear
/// decay, `d = 3`, hidden width 4, with its analytic Jacobian.
#[derive(Module, Debug)]
struct TanhMlp {
    w1: Param<Tensor<2>>,
    b1: Param<Tensor<1>>,
    w2: Param<Tensor<2>>,
    b2: Param<Tensor<1>>,
    decay: Tensor<2>,
}

const D: usize = 3;
const H: usize = 4;
const N_MLP: usize = D * H + H + H * D + D;

impl TanhMlp {
    /// From flat parameters `[W₁ (d×H), b₁, W₂ (H×d), b₂]`.
    fn new(p: &[f64], device: &Device) -> Self {
        let (w1, rest) = p.split_at(D * H);
        let (b1, rest) = rest.split_at(H);
        let (w2, b2) = rest.split_at(H * D);
        Self {
            w1: Param::from_tensor(from_host(w1.to_vec(), [D, H], device)),
            b1: Param::from_tensor(from_host(b1.to_vec(), [H], device)),
            w2: Param::from_tensor(from_host(w2.to_vec(), [H, D], device)),
            b2: Param::from_tensor(from_host(b2.to_vec(), [D], device)),
            decay: from_host(vec![1.0, 10.0, 100.0], [1, D], device),
        }
    }

    /// Deterministic, well-spread parameters.
    fn parameters() -> Vec<f64> {
        (0..N_MLP).map(|k| 0.8 * ((k as f64 + 1.0) * 1.7).sin()).collect()
    }

    fn flat_gradient(&self, grads: &GradientsParams) -> Vec<f64> {
        let mut g = to_host(grads.get::<2>(self.w1.id).unwrap());
        g.extend(to_host(grads.get::<1>(self.b1.id).unwrap()));
        g.extend(to_host(grads.get::<2>(self.w2.id).unwrap()));
        g.extend(to_host(grads.get::<1>(self.b2.id).unwrap()));
        g
    }
}

impl VectorField for TanhMlp {
    fn dim(&self) -> usize {
        D
    }
    fn device(&self) -> Device {
        self.decay.device()
    }
    fn eval(&self, _t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let a = (y.clone().matmul(self.w1.val()) + self.b1.val().unsqueeze_dim(0)).tanh();
        a.matmul(self.w2.val()) + self.b2.val().unsqueeze_dim(0) - y * self.decay.clone()
    }
    /// `J = W₂ᵀ diag(1 − a²) W₁ᵀ − diag(decay)`.
    fn jacobian(&self, _t: &[f64], y: Tensor<2>) -> Tensor<3> {
        let [rows, _] = y.dims();
        let a = (y.matmul(self.w1.val()) + self.b1.val().unsqueeze_dim(0)).tanh();
        let s = (a.clone() * a).neg().add_scalar(1.0).unsqueeze_dim::<3>(1);
        let w2t = self.w2.val().transpose().unsqueeze_dim::<3>(0);
        let decay = self.decay.clone().reshape([1, 1, D]) * Tensor::<2>::eye(D, &self.device()).unsqueeze_dim(0);
        (w2t * s).matmul(self.w1.val().transpose().unsqueeze_dim(0)) - decay.expand([rows, D, D])
    }
}

/// `∂L/∂θ` of `L = Σ y²` over the request's output states, for the tanh MLP at the parameters
/// `p`, by fourth-order central differences `(−L(2h) + 8L(h) − 8L(−h) + L(−2h))/12h` of plain
/// CPU solves.
fn mlp_finite_differences(p: &[f64], cpu: &Device, req: &Request) -> Vec<f64> {
    let loss = |q: &[f64]| {
        let sol = solve(&TanhMlp::new(q, cpu), req).unwrap();
        sol.states.iter().flatten().map(|v| v * v).sum::<f64>()
    };
    let h = 1e-3;
    (0..N_MLP)
        .map(|k| {
            let at = |delta: f64| {
                let mut q = p.to_vec();
                q[k] += delta;
                loss(&q)
            };
            (-at(2.0 * h) + 8.0 * at(h) - 8.0 * at(-h) + at(-2.0 * h)) / (12.0 * h)
        })
        .collect()
}

#[test]
fn mlp_parameter_gradients_match_finite_differences_with_fixed_steps() {
    let cpu = DeviceKind::Cpu.open().unwrap();
    let ad = cpu.clone().autodiff();
    let p = TanhMlp::parameters();
    let y0 = [0.5, -0.3, 0.8];
    let times = [0.5, 1.0];
    let opts = SolveOptions::fixed(20);
    for method in methods::all().into_iter() {
        let field = TanhMlp::new(&p, &ad);
        let req = request(&method, &y0, &times, &opts);
        let rec = solve_on_graph(&field, &req).unwrap();
        let grads = GradientsParams::from_grads(sum_of_squares(&rec.states).backward(), &field);
        let g = field.flat_gradient(&grads);
        let fd = mlp_finite_differences(&p, &cpu, &req);
        let err = max_rel_err(&g, &fd);
        println!("{:<18} max rel err {err:.1e}", method.name());
        assert!(err <= 1e-6, "{}: g {g:?}\nfd {fd:?}", method.name());
    }
}

/// With adaptive steps the gradient is that of the discrete solution on the steps taken: the
/// tanh MLP's parameter gradient against finite differences on the frozen grid (for the
/// variable-order BDF, its orders frozen too: [`StepControl::Grid`]'s `orders`).
#[test]
fn mlp_gradients_with_adaptive_steps_match_finite_differences_on_the_frozen_grid() {
    let cpu = DeviceKind::Cpu.open().unwrap();
    let ad = cpu.clone().autodiff();
    let p = TanhMlp::parameters();
    let (y0, times) = ([0.5, -0.3, 0.8], [0.5, 3.0]);
    for name in ["radau5", "bdf", "rodas5p"] {
        let field = TanhMlp::new(&p, &ad);
        let req = request(&method(name), &y0, &times, &SolveOptions::adaptive(1e-7, 1e-9));
        let rec = solve_on_graph(&field, &req).unwrap();
        let grads = GradientsParams::from_grads(sum_of_squares(&rec.states).backward(), &field);
        let g = field.flat_gradient(&grads);
        let traj = &rec.record.trajectories()[0];
        let grid = SolveOptions {
            control: StepControl::Grid { times: traj.grid(), orders: traj.orders() },
            ..req.options.clone()
        };
        let frozen = request(&method(name), &y0, &times, &grid);
        let fd = mlp_finite_differences(&p, &cpu, &frozen);
        let err = max_rel_err(&g, &fd);
        let orders: Vec<usize> = traj.orders();
        println!(
            "{name:<8} steps {:>3} orders up to {:?}  max rel err {err:.1e}",
            traj.grid().len(),
            orders.iter().max()
        );
        assert!(err <= 1e-5, "{name}: g {g:?}\nfd {fd:?}");
        if name == "bdf" {
            assert!(orders.iter().any(|&q| q >= 3), "the solve changed order: {orders:?}");
        }
    }
}

/// Backward Euler on `y' = λy`, N equal steps, `L = y_N = R(z)^N y0`: `dL/dλ = N h R'(z)
/// R(z)^{N−1} y0` with `R(z) = 1/(1 − z)`, `R'(z) = 1/(1 − z)²` (Fronk & Petzold 2025).
#[test]
fn backward_euler_gradient_equals_the_vanishing_gradient_closed_form() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let (n, t_end, y0) = (10usize, 1.0, 1.0);
    let h = t_end / n as f64;
    let req = request(&method("backward-euler"), &[y0], &[t_end], &SolveOptions::fixed(n));
    for lambda in [-1.0, -1e1, -1e2, -1e3, -1e4, -1e5, -1e6] {
        let field = Diagonal::new(&[lambda], &ad);
        let z: f64 = h * lambda;
        let r = 1.0 / (1.0 - z);
        let exact = n as f64 * h * r * r * r.powi(n as i32 - 1) * y0;
        let rec = solve_on_graph(&field, &req).unwrap();
        let graph = to_host(field.lambda.val().grad(&rec.states[0].clone().sum().backward()).unwrap())[0];
        let adj = gradient(&field, &req, |s: &[Tensor<2>]| s[0].clone().sum()).unwrap();
        let adjoint = to_host(adj.params.get::<1>(field.lambda.id).unwrap())[0];
        for (mode, g) in [("graph", graph), ("adjoint", adjoint)] {
            let rel = ((g - exact) / exact).abs();
            println!("λ = {lambda:.0e}: {mode} {g:.6e} closed form {exact:.6e} rel {rel:.1e}");
            assert!(rel <= 1e-10, "λ = {lambda}: {mode} {g} vs {exact}");
        }
    }
}

#[test]
fn graph_and_adjoint_modes_agree() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let mech = rober::robertson();
    let y0 = [1.0, 0.0, 0.0, 0.9, 1e-6, 0.1];
    let loss = |s: &[Tensor<2>]| sum_of_squares(s);
    // The adjoint walk against the replay, for every method (mass action's host form has the
    // second derivatives a Rosenbrock step's walk needs).
    for (method, opts) in methods::all().into_iter().map(|m| {
        let opts = if m.name() == "dopri5" { SolveOptions::fixed(20) } else { SolveOptions::adaptive(1e-6, 1e-10) };
        (m, opts)
    }) {
        let times: &[f64] = if method.name() == "dopri5" { &[0.002, 0.004] } else { &[1.0, 100.0] };
        let opts = if method.info().embedded { opts } else { SolveOptions::fixed(16) };
        let field = MassActionField::with_learnable(&mech, &ad, &[0, 1, 2]);
        let req = request(&method, &y0, times, &opts);
        let id = field.log10_rates.as_ref().unwrap().id;
        // `solve_on_graph` replaying every step, and as one operation with the adjoint as its
        // backward pass: `loss(states).backward()` reaches the rates and y0 either way.
        let on_graph = |mode: GradientMode| {
            let rec = solve_on_graph(&field, &req.clone().with_gradient(mode)).unwrap();
            let grads = loss(&rec.states).backward();
            let mut g = to_host(field.log10_rates.as_ref().unwrap().val().grad(&grads).unwrap());
            g.extend(to_host(rec.y0.grad(&grads).unwrap()));
            assert_eq!(rec.backward.result().is_some(), mode != GradientMode::Graph);
            g
        };
        let a = on_graph(GradientMode::Graph);
        let adj = gradient(&field, &req, loss).unwrap();
        let mut b = to_host(adj.params.get::<1>(id).unwrap());
        b.extend(adj.y0.iter());
        assert_eq!(
            on_graph(GradientMode::default()),
            b,
            "{}: the adjoint operation differs from gradient()",
            method.name()
        );
        let rel = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-300)).fold(0.0, f64::max);
        let steps = adj.record.solution().stats.steps;
        println!("{:<18} steps {steps:>4} graph vs adjoint max rel {rel:.1e}", method.name());
        assert!(rel <= 1e-10, "{}: {a:?} vs {b:?}", method.name());
        // The graph mode through `gradient` is the same as the graph above.
        let on_graph = gradient(&field, &req.clone().with_gradient(GradientMode::Graph), loss).unwrap();
        let mut g = to_host(on_graph.params.get::<1>(id).unwrap());
        g.extend(on_graph.y0.iter());
        assert_eq!(a, g, "{}: gradient(Graph) differs from solve_on_graph", method.name());
        // The walk one step per chunk (stage Jacobians evaluated step by step) is the same.
        let outputs: Vec<Vec<f64>> =
            adj.record.solution().states.iter().map(|s| s.iter().map(|v| 2.0 * v).collect()).collect();
        let walked = StepAdjoint::new(&field, &adj.record).chunked(1).walk(&outputs, false).unwrap();
        let (dy0, params) = (walked.y0, walked.params);
        let mut c = to_host(params.get::<1>(id).unwrap());
        c.extend(dy0);
        assert!(
            b.iter().zip(&c).all(|(x, y)| (x - y).abs() <= 1e-13 * x.abs().max(1e-300)),
            "{}: {b:?} vs {c:?}",
            method.name()
        );
    }
}

/// `y' = y²` from `y(0) = 1` blows up at t = 1: backward Euler's equation has no solution
/// once `4hy > 1`, and the fixed-step solve must stop with a typed Newton failure naming the
/// step and time, in both gradient modes.
#[derive(Module, Debug)]
struct Blowup {
    scale: Param<Tensor<1>>,
}

impl VectorField for Blowup {
    fn dim(&self) -> usize {
        1
    }
    fn device(&self) -> Device {
        self.scale.val().device()
    }
    fn eval(&self, _t: &[f64], y: Tensor<2>) -> Tensor<2> {
        y.powi_scalar(2) * self.scale.val().unsqueeze_dim(0)
    }
    fn jacobian(&self, _t: &[f64], y: Tensor<2>) -> Tensor<3> {
        (y.mul_scalar(2.0) * self.scale.val().unsqueeze_dim(0)).unsqueeze_dim(2)
    }
}

#[test]
fn newton_failure_in_a_gradient_solve_is_a_typed_error_with_step_and_time() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let field = Blowup { scale: Param::from_tensor(from_host(vec![1.0], [1], &ad)) };
    let req = request(&method("backward-euler"), &[1.0], &[2.0], &SolveOptions::fixed(4));
    let graph = solve_on_graph(&field, &req).err();
    let adjoint = gradient(&field, &req, |s: &[Tensor<2>]| s[0].clone().sum()).err();
    for err in [graph, adjoint] {
        let err = err.expect("the solve must fail");
        println!("{err}");
        match &err {
            SolveError::NewtonFailed { step, t, .. } => assert!(*step > 1 && *t < 1.0 && *t > 0.5, "{err:?}"),
            other => panic!("expected a Newton failure, got {other:?}"),
        }
        assert!(err.to_string().contains("step"), "{err}");
    }
}

/// Burn 0.22's backward of `div_scalar` multiplies by the reciprocal rounded to f32 (a 2e-8
/// relative error in f64 gradients); the replays and the GELU avoid it. This test notices when
/// Burn fixes it (then `div_scalar` is fine again) and keeps `mul_scalar`'s backward exact.
#[test]
fn scalar_products_differentiate_exactly_in_f64() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let grad = |f: &dyn Fn(Tensor<2>) -> Tensor<2>| {
        let x = from_host(vec![0.7], [1, 1], &ad).require_grad();
        to_host(x.grad(&f(x.clone()).sum().backward()).unwrap())[0]
    };
    assert_eq!(grad(&|x| x.mul_scalar(1.0 / 0.3)), 1.0 / 0.3);
    let div = grad(&|x| x.div_scalar(0.3));
    println!("d(x/0.3)/dx = {div:.17e} (exact {:.17e}, rel {:.1e})", 1.0 / 0.3, (div * 0.3 - 1.0).abs());
    assert_eq!(
        div,
        (1.0f32 / 0.3f32) as f64,
        "Burn's div_scalar backward changed: the mul_scalar workarounds in replay.rs and activation.rs can go"
    );
}

/// Rosenbrock gradients replay the steps through the field's Jacobian program: refused, by
/// name, where that program is a constant on the graph, and for per-step adjoints (no host
/// stage form).
#[test]
fn rosenbrock_gradients_are_refused_where_they_would_not_be_exact() {
    /// ROBER whose Jacobian is handed over as a constant.
    #[derive(Module, Debug)]
    struct ConstantJacobian {
        inner: MassActionField,
    }
    impl VectorField for ConstantJacobian {
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn device(&self) -> Device {
            self.inner.device()
        }
        fn eval(&self, t: &[f64], y: Tensor<2>) -> Tensor<2> {
            self.inner.eval(t, y)
        }
        fn jacobian_differentiates(&self) -> bool {
            false
        }
        fn host(&self) -> Option<Box<dyn HostField + '_>> {
            self.inner.host()
        }
    }
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let mech = rober::robertson();
    let opts = SolveOptions::adaptive(1e-6, 1e-10);
    for name in ["rodas4", "rodas5p"] {
        let method = methods::by_name(name).unwrap();
        assert!(!method.has_step_adjoints());
        let field = MassActionField::with_learnable(&mech, &ad, &[0, 1, 2]);
        // Per-step adjoints need the field's second derivatives on the host: mass action has
        // them, but not when its host form is not allowed.
        let mut keep =
            request(&method, &mech.initial, &[1.0], &opts).with_gradient(GradientMode::Adjoint { keep_steps: true });
        assert!(gradient(&field, &keep, sum_of_squares).unwrap().step_adjoints.is_some_and(|s| !s.is_empty()));
        keep.evaluation = Evaluation::Tensor;
        let e = gradient(&field, &keep, sum_of_squares).err().expect("refused").to_string();
        assert!(e.contains(name) && e.contains("no per-step adjoints"), "{e}");
        // The public walk over such a record is the same error, not a panic.
        let record = stiffnode_solvers::solve_record(&field.valid(), &keep).unwrap();
        let e = StepAdjoint::new(&field, &record).walk(&[vec![1.0; 3]], false).err().expect("refused").to_string();
        assert!(e.contains(name) && e.contains("no per-step adjoints"), "{e}");
        let constant = ConstantJacobian { inner: MassActionField::new(&mech, &ad) };
        let req = request(&method, &mech.initial, &[1.0], &opts).with_gradient(GradientMode::Graph);
        let e = solve_on_graph(&constant, &req).err().expect("refused").to_string();
        assert!(e.contains(name) && e.contains("constant on the graph"), "{e}");
    }
}

/// `f(t, y) = (−k y₀² + y₁ sin t, −3y₁ + cos 2t)`: a field that reads `t`, with a host form that
/// has second derivatives, so a Rosenbrock step's walk takes the `∂f/∂t` difference quotient's
/// terms (the shipped fields with second derivatives are autonomous).
#[derive(Module, Debug)]
struct Forced {
    k: Param<Tensor<1>>,
}

struct ForcedHost {
    k: f64,
}

impl HostField for ForcedHost {
    fn eval(&self, t: f64, y: &[f64], f: &mut [f64]) {
        f[0] = -self.k * y[0] * y[0] + y[1] * t.sin();
        f[1] = -3.0 * y[1] + (2.0 * t).cos();
    }

    fn jacobian(&self, t: f64, y: &[f64], jac: &mut [f64]) {
        jac.copy_from_slice(&[-2.0 * self.k * y[0], t.sin(), 0.0, -3.0]);
    }

    fn products(&self) -> Option<&dyn HostProducts> {
        Some(self)
    }
}

impl HostProducts for ForcedHost {
    fn params(&self) -> usize {
        1
    }

    fn vjp(&self, _t: f64, y: &[f64], c: &[f64], grad: &mut [f64]) {
        grad[0] -= y[0] * y[0] * c[0];
    }

    fn second_order(&self) -> Option<&dyn HostSecondOrder> {
        Some(self)
    }
}

impl HostSecondOrder for ForcedHost {
    /// `rᵀJu = r₀(−2k y₀ u₀ + u₁ sin t) − 3r₁u₁`.
    fn jacobian_vjp(&self, _t: f64, y: &[f64], u: &[f64], r: &[f64], grad_y: &mut [f64], grad: &mut [f64]) {
        grad_y[0] -= 2.0 * self.k * r[0] * u[0];
        grad[0] -= 2.0 * y[0] * r[0] * u[0];
    }
}

impl VectorField for Forced {
    fn dim(&self) -> usize {
        2
    }
    fn device(&self) -> Device {
        self.k.val().device()
    }
    fn eval(&self, t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let (rows, device) = (t.len(), self.device());
        let sin = from_host(t.iter().map(|t| t.sin()).collect(), [rows, 1], &device);
        let cos2 = from_host(t.iter().map(|t| (2.0 * t).cos()).collect(), [rows, 1], &device);
        let (y0, y1) = (y.clone().narrow(1, 0, 1), y.narrow(1, 1, 1));
        let k = self.k.val().unsqueeze_dim::<2>(0);
        Tensor::cat(vec![(y0.clone() * y0).neg() * k + y1.clone() * sin, y1.mul_scalar(-3.0) + cos2], 1)
    }
    fn jacobian(&self, t: &[f64], y: Tensor<2>) -> Tensor<3> {
        let (rows, device) = (t.len(), self.device());
        let sin = from_host(t.iter().map(|t| t.sin()).collect(), [rows, 1], &device);
        let k = self.k.val().unsqueeze_dim::<2>(0);
        let top = Tensor::cat(vec![y.narrow(1, 0, 1) * k.mul_scalar(-2.0), sin], 1);
        let bottom = from_host([0.0, -3.0].repeat(rows), [rows, 2], &device);
        Tensor::cat(vec![top.unsqueeze_dim::<3>(1), bottom.unsqueeze_dim::<3>(1)], 1)
    }
    fn host(&self) -> Option<Box<dyn HostField + '_>> {
        Some(Box::new(ForcedHost { k: to_host(self.k.val())[0] }))
    }
}

/// The Rosenbrock walk on the host for a field that reads `t` (with its `∂f/∂t` terms) against
/// the replay on the graph, to 1e-10.
#[test]
fn rosenbrock_walk_of_a_time_dependent_field_equals_the_replay() {
    let ad = DeviceKind::Cpu.open().unwrap().autodiff();
    let field = Forced { k: Param::from_tensor(from_host(vec![2.5], [1], &ad)) };
    for name in ["rosenbrock23", "rodas4", "rodas5p"] {
        let req = request(&method(name), &[1.0, 0.5], &[0.5, 2.0], &SolveOptions::adaptive(1e-7, 1e-10));
        let grad = |mode: GradientMode| {
            let g = gradient(&field, &req.clone().with_gradient(mode), sum_of_squares).unwrap();
            let mut v = to_host(g.params.get::<1>(field.k.id).unwrap());
            v.extend(g.y0);
            v
        };
        let (walked, replayed) = (grad(GradientMode::default()), grad(GradientMode::Graph));
        let err = max_rel_err(&walked, &replayed);
        println!("{name}: walk {walked:?}, replay {replayed:?}, max rel {err:.1e}");
        assert!(err <= 1e-10, "{name}: {walked:?} vs {replayed:?}");
    }
}
