//! Activation functions with their derivatives, as tensor programs (the MLP's analytic
//! Jacobian needs `σ'`).

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, SQRT_2};

use burn::tensor::Tensor;

pub use stiffnode_solvers::kernel_field::Activation;

/// The activation's forms in this crate: as tensor programs (the Burn module, whose analytic
/// Jacobian needs `σ'`) and on host f64 values (the host form, whose Rosenbrock gradients need
/// `σ''`). The type itself, its names and its kernel code are the solvers' (`kernel_field`), the
/// kernel's form is in `ensemble/mlp.rs`: one activation type for the three forms.
pub trait Pointwise: Copy {
    /// `σ(x)`.
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D>;
    /// `σ'(x)`.
    fn derivative<const D: usize>(self, x: Tensor<D>) -> Tensor<D>;
    /// `σ(x)` on one host value (the MLP's host form; agrees with [`apply`](Self::apply)).
    fn apply_host(self, x: f64) -> f64;
    /// `(σ(x), σ'(x))` on one host value, sharing the work of the two (the Jacobian needs
    /// both); agrees with [`apply`](Self::apply) and [`derivative`](Self::derivative).
    fn apply_and_derivative_host(self, x: f64) -> (f64, f64);
    /// `σ(x)`, `σ'(x)` and `σ''(x)` on the host (second derivatives of the MLP for Rosenbrock
    /// gradients): GELU `φ(x)(2 − x²)` with `φ` the normal density, tanh `−2σσ'`, softplus
    /// `s(1 − s)` and swish `s(1 − s)(2 + x(1 − 2s))` with `s` the logistic function, ReLU 0.
    fn apply_and_derivatives_host(self, x: f64) -> (f64, f64, f64);
}

impl Pointwise for Activation {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu => x.clone() * phi(x),
            Self::Tanh => x.tanh(),
            Self::Softplus => softplus(x),
            Self::Relu => x.clamp_min(0.0),
            Self::Swish => x.clone() * burn::tensor::activation::sigmoid(x),
        }
    }

    fn derivative<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            // Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π).
            Self::Gelu => {
                phi(x.clone())
                    + x.clone()
                        * x.clone().powi_scalar(2).mul_scalar(-0.5).exp().mul_scalar(FRAC_2_SQRT_PI / (2.0 * SQRT_2))
            }
            Self::Tanh => x.tanh().powi_scalar(2).neg().add_scalar(1.0),
            Self::Softplus => burn::tensor::activation::sigmoid(x),
            Self::Relu => x.greater_elem(0.0).float(),
            Self::Swish => {
                let s = burn::tensor::activation::sigmoid(x.clone());
                s.clone() + x * s.clone() * s.neg().add_scalar(1.0)
            }
        }
    }

    fn apply_host(self, x: f64) -> f64 {
        match self {
            Self::Gelu => x * phi_host(x),
            Self::Tanh => x.tanh(),
            Self::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Self::Relu => x.max(0.0),
            Self::Swish => x * sigmoid_host(x),
        }
    }

    fn apply_and_derivative_host(self, x: f64) -> (f64, f64) {
        match self {
            Self::Gelu => {
                let p = phi_host(x);
                // Past −745.2, e^u is exactly 0 in f64: skip libm's slow underflow path.
                let u = -0.5 * x * x;
                let slope = if u < -745.2 { p } else { p + x * u.exp() * (FRAC_2_SQRT_PI / (2.0 * SQRT_2)) };
                (x * p, slope)
            }
            Self::Tanh => {
                let t = x.tanh();
                (t, 1.0 - t * t)
            }
            Self::Softplus => (self.apply_host(x), sigmoid_host(x)),
            Self::Relu => (x.max(0.0), f64::from(u8::from(x > 0.0))),
            Self::Swish => {
                let s = sigmoid_host(x);
                (x * s, s + x * s * (1.0 - s))
            }
        }
    }

    fn apply_and_derivatives_host(self, x: f64) -> (f64, f64, f64) {
        let (value, slope) = self.apply_and_derivative_host(x);
        let curvature = match self {
            Self::Gelu => {
                let u = -0.5 * x * x;
                if u < -745.2 { 0.0 } else { u.exp() * (FRAC_2_SQRT_PI / (2.0 * SQRT_2)) * (2.0 - x * x) }
            }
            Self::Tanh => -2.0 * value * slope,
            Self::Softplus => slope * (1.0 - slope),
            Self::Relu => 0.0,
            Self::Swish => {
                let s = sigmoid_host(x);
                s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
            }
        };
        (value, slope, curvature)
    }
}

/// `Φ(x)` on the host.
fn phi_host(x: f64) -> f64 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2))
}

// SAFETY: C99's `erf` is a pure function of one double in the platform's math library, which
// Rust's std links on every hosted target (glibc, musl, macOS libSystem, the Windows UCRT).
unsafe extern "C" {
    /// The platform's `erf`, for the host forms: glibc's is the same Sun algorithm as the
    /// `libm` crate's that Burn's CPU backend uses (they agree to 1 ulp) but twice as fast,
    /// and GELU's `erf` is about a quarter of a CPU training epoch.
    safe fn erf(x: f64) -> f64;
}

/// `1/(1 + e^{−x})`.
fn sigmoid_host(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Standard normal CDF `Φ(x) = (1 + erf(x/√2))/2`.
fn phi<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    // `mul_scalar(1/√2)`, not `div_scalar(√2)`: Burn 0.22's backward of `div_scalar` uses the
    // reciprocal rounded to f32, a 2e-8 relative error in every f64 gradient through it.
    x.mul_scalar(FRAC_1_SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5)
}

/// `ln(1 + eˣ)` without overflow: `max(x, 0) + ln(1 + e^{−|x|})`.
fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().add_scalar(1.0).log()
}
