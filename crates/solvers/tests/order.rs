//! Observed order of convergence with fixed steps on a smooth problem with a known solution,
//! for every method: within ±0.3 of the nominal order.
//!
//! The problem is nonlinear and non-autonomous, and has no analytic Jacobian, so the generic
//! finite-difference Jacobian is exercised too:
//! `y1' = −y1²` (`y1 = 1/(4+t)`, whose derivatives stay of one size so that the error is
//! asymptotic at moderate steps), `y2' = −(y2 − sin t) + cos t` (`y2 = sin t`).

use burn::tensor::{Device, Tensor};
use stiffnode_solvers::field::{VectorField, from_host, to_host};
use stiffnode_solvers::methods::{Bdf, Method};
use stiffnode_solvers::{DeviceKind, Request, SolveOptions, methods, solve};

struct Smooth {
    device: Device,
}

impl VectorField for Smooth {
    fn dim(&self) -> usize {
        2
    }
    fn device(&self) -> Device {
        self.device.clone()
    }
    fn eval(&self, t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let rows = t.len();
        let y1 = y.clone().narrow(1, 0, 1);
        let y2 = y.narrow(1, 1, 1);
        let forcing: Vec<f64> = t.iter().map(|t| t.sin() + t.cos()).collect();
        let forcing = from_host(forcing, [rows, 1], &self.device);
        Tensor::cat(vec![-(y1.clone() * y1), forcing - y2], 1)
    }
}

fn exact(t: f64) -> [f64; 2] {
    [1.0 / (4.0 + t), t.sin()]
}

fn error(method: &methods::Method, field: &Smooth, n: usize) -> f64 {
    let t_end = 1.0;
    let request = Request::new(method.clone(), vec![0.25, 0.0], 0.0, vec![t_end]).with_options(SolveOptions::fixed(n));
    let sol = solve(field, &request).unwrap();
    let y = sol.state(0, 0);
    let e = exact(t_end);
    (y[0] - e[0]).abs().max((y[1] - e[1]).abs())
}

#[test]
fn every_method_converges_at_its_nominal_order() {
    let field = Smooth { device: DeviceKind::Cpu.open().unwrap() };
    let mut report = Vec::new();
    // The variable-order BDF starts at order 1: its orders have their own test below.
    for m in methods::all().into_iter().filter(|m| m.name() != Bdf::NAME) {
        let order = m.info().order as f64;
        // Coarse enough that high orders stay above rounding, fine enough to be asymptotic.
        let base = match m.info().order {
            5.. => 16,
            4 => 8,
            _ => 32,
        };
        let ns = [base, 2 * base, 4 * base];
        let errs: Vec<f64> = ns.iter().map(|&n| error(&m, &field, n)).collect();
        let observed = (errs[1] / errs[2]).log2();
        report.push(format!("{}: errors {errs:?}, observed order {observed:.3}", m.name()));
        assert!(
            (observed - order).abs() <= 0.3,
            "{}: observed order {observed:.3}, nominal {order} (errors {errs:?})",
            m.name()
        );
    }
    println!("{}", report.join("\n"));
}

#[test]
fn finite_difference_jacobian_matches_the_analytic_one() {
    let device = DeviceKind::Cpu.open().unwrap();
    let field = Smooth { device: device.clone() };
    let y = [0.7, -0.3, 1.5, 2.0];
    let jac = to_host(field.jacobian(&[0.1, 0.2], from_host(y.to_vec(), [2, 2], &device)));
    for r in 0..2 {
        let expected = [-2.0 * y[2 * r], 0.0, 0.0, -1.0];
        for k in 0..4 {
            assert!(
                (jac[4 * r + k] - expected[k]).abs() < 1e-9,
                "row {r} entry {k}: {} vs {}",
                jac[4 * r + k],
                expected[k]
            );
        }
    }
}

/// `y_i' = λ_i(y_i − g(t)) + g'(t)`, `λ = (−1, −20)`, `y_i = g(t) = t^{q+1}cos t`: the solution's
/// derivatives up to order `q` vanish at `t = 0`, so the low-order steps a multistep method starts
/// with (order `r` at `t ≈ jh`, local error `~h^{r+1}g^{(r+1)}(jh) ~ h^{q+1}`) do not mask order `q`.
struct Flat {
    device: Device,
    q: i32,
}

impl Flat {
    const LAMBDA: [f64; 2] = [-1.0, -20.0];

    fn g(&self, t: f64) -> (f64, f64) {
        let p = t.powi(self.q + 1);
        let dp = (self.q + 1) as f64 * t.powi(self.q);
        (p * t.cos(), dp * t.cos() - p * t.sin())
    }
}

impl VectorField for Flat {
    fn dim(&self) -> usize {
        2
    }
    fn device(&self) -> Device {
        self.device.clone()
    }
    fn eval(&self, t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let rows = t.len();
        let forcing: Vec<f64> = t
            .iter()
            .flat_map(|&t| {
                let (g, dg) = self.g(t);
                Self::LAMBDA.map(|l| dg - l * g)
            })
            .collect();
        let lambda = from_host(Self::LAMBDA.repeat(rows), [rows, 2], &self.device);
        y * lambda + from_host(forcing, [rows, 2], &self.device)
    }
}

/// The variable-order BDF with its order capped at `q` takes order `q` once it has the points
/// (fixed steps take the highest order the points allow): with fixed steps, order `q` ± 0.3 for
/// every `q` from 1 to 5.
#[test]
fn bdf_converges_at_each_order_held_fixed() {
    let device = DeviceKind::Cpu.open().unwrap();
    let mut report = Vec::new();
    for q in 1..=5 {
        let field = Flat { device: device.clone(), q: q as i32 };
        let method = Method::Bdf(Bdf::new(q).unwrap());
        let error = |n: usize| {
            let request =
                Request::new(method.clone(), vec![0.0, 0.0], 0.0, vec![1.0]).with_options(SolveOptions::fixed(n));
            let y = solve(&field, &request).unwrap().states[0].clone();
            let exact = field.g(1.0).0;
            (y[0] - exact).abs().max((y[1] - exact).abs())
        };
        let errs: Vec<f64> = [32, 64, 128].into_iter().map(error).collect();
        let observed = (errs[1] / errs[2]).log2();
        report.push(format!("bdf order {q}: errors {errs:?}, observed order {observed:.3}"));
        assert!((observed - q as f64).abs() <= 0.3, "order {q}: observed {observed:.3} (errors {errs:?})");
    }
    println!("{}", report.join("\n"));
}

/// `y1' = −y1²`, `(y2, y3)' = (y3, −y2)`: smooth and autonomous (`y = (1/(4+t), sin t, cos t)`
/// from `(0.25, 0, 1)`). The dense-output test takes an autonomous field: for one that reads `t`,
/// `∂f/∂t`'s forward difference (rodas.f's `δ = √(ε·max(10⁻⁵, |t|))`) carries a rounding error of
/// `ε|f|/δ` near `t = 0` that the interpolant shows at 1e-11.
struct Rotation {
    device: Device,
}

impl VectorField for Rotation {
    fn dim(&self) -> usize {
        3
    }
    fn device(&self) -> Device {
        self.device.clone()
    }
    fn eval(&self, _t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let (y1, y2, y3) = (y.clone().narrow(1, 0, 1), y.clone().narrow(1, 1, 1), y.narrow(1, 2, 1));
        Tensor::cat(vec![-(y1.clone() * y1), y3, y2.neg()], 1)
    }
    fn autonomous(&self) -> bool {
        true
    }
}

/// The Rosenbrock methods' dense output: at the last point it is the solution itself; between
/// the points (θ = 0.3 of every step) its error falls with the step at the order of the
/// continuous extension plus one (its local error), or the method's order where that is lower:
/// rosenbrock23 2 (ode23s's interpolant has order 2, the method too), rodas4 4 (order-3
/// extension), rodas5p 5 (order-4 extension). Methods without one, and times outside the solve,
/// are refused.
#[test]
fn rosenbrock_dense_output_converges_at_its_order() {
    use stiffnode_solvers::solve_record;
    let field = Rotation { device: DeviceKind::Cpu.open().unwrap() };
    let exact = |t: f64| [1.0 / (4.0 + t), t.sin(), t.cos()];
    let request = |method: &methods::Method, n: usize| {
        Request::new(method.clone(), vec![0.25, 0.0, 1.0], 0.0, vec![1.0]).with_options(SolveOptions::fixed(n))
    };
    for (name, expected) in [("rosenbrock23", 2.0), ("rodas4", 4.0), ("rodas5p", 5.0)] {
        let method = methods::by_name(name).unwrap();
        let error = |n: usize| {
            let record = solve_record(&field, &request(&method, n)).unwrap();
            assert_eq!(record.dense(0, 1.0).unwrap(), record.solution().states[0], "{name}: at the end");
            (0..n)
                .map(|k| {
                    let t = (k as f64 + 0.3) / n as f64;
                    let (y, e) = (record.dense(0, t).unwrap(), exact(t));
                    y.iter().zip(e).map(|(y, e)| (y - e).abs()).fold(0.0, f64::max)
                })
                .fold(0.0, f64::max)
        };
        let errs: Vec<f64> = [8, 16, 32].into_iter().map(error).collect();
        let observed = (errs[1] / errs[2]).log2();
        println!("{name}: dense output errors {errs:?}, observed order {observed:.3}");
        assert!((observed - expected).abs() <= 0.3, "{name}: observed {observed:.3}, expected {expected} ({errs:?})");
    }
    let record = solve_record(&field, &request(&methods::by_name("radau5").unwrap(), 4)).unwrap();
    let e = record.dense(0, 0.5).expect_err("refused").to_string();
    assert!(e.contains("radau5") && e.contains("dense output"), "{e}");
    let record = solve_record(&field, &request(&methods::by_name("rodas5p").unwrap(), 4)).unwrap();
    let e = record.dense(0, 1.5).expect_err("refused").to_string();
    assert!(e.contains("outside the solve"), "{e}");
}
