//! The seam users extend: a batched right-hand side `f(t, y)` on `[rows, d]` tensors and its
//! Jacobian `∂f/∂y` as `[rows, d, d]`, with a finite-difference fallback for the Jacobian.

use burn::tensor::{Device, Tensor, TensorData};

use crate::device::epsilon_of;
use crate::kernel_field::KernelField;

/// A batched vector field `y' = f(t, y)`.
///
/// `t` holds one time per row of `y`, so stages at different times of a batch of trajectories
/// are evaluated in one call. Autonomous fields ignore it.
pub trait VectorField {
    /// State dimension `d`.
    fn dim(&self) -> usize;

    /// The device the field's tensors live on; states are sent there.
    fn device(&self) -> Device;

    /// `f(t, y)` for `y` of shape `[rows, d]`, returning `[rows, d]`.
    fn eval(&self, t: &[f64], y: Tensor<2>) -> Tensor<2>;

    /// `∂f/∂y` at each row, `[rows, d, d]` (row `i` of a matrix is `∂f_i/∂y`). The default is
    /// central finite differences; fields with an analytic Jacobian override it.
    fn jacobian(&self, t: &[f64], y: Tensor<2>) -> Tensor<3> {
        finite_difference_jacobian(self, t, y)
    }

    /// Whether [`jacobian`](Self::jacobian) is a tensor program that Burn differentiates (the
    /// default, finite differences of `eval`, is). Gradients through Rosenbrock steps, which
    /// solve with `J`, differentiate it; a field whose Jacobian is computed elsewhere and
    /// handed over as a constant says false, and such gradients are refused.
    fn jacobian_differentiates(&self) -> bool {
        true
    }

    /// Whether `f` does not depend on `t`: Rosenbrock steps then skip `∂f/∂t` (one evaluation per
    /// step, whose difference would be exactly 0). The default, false, is always correct.
    fn autonomous(&self) -> bool {
        false
    }

    /// The same field evaluated directly on host f64 slices, if the field has such a form.
    /// The forward solve on the CPU device uses it to skip tensor dispatch (a few µs per
    /// operation); it must agree with [`eval`](Self::eval) and [`jacobian`](Self::jacobian).
    /// It is built once per solve from the field's current parameters, so it is never stale.
    fn host(&self) -> Option<Box<dyn HostField + '_>> {
        None
    }

    /// The field as tables the GPU ensemble kernel evaluates (design.md §11), with its current
    /// parameters; `None` (the default) keeps the field on the tensor path.
    fn kernel(&self) -> Option<KernelField> {
        None
    }
}

/// A vector field on host f64 slices: one state `y` (`d` values) at a time. It is shared by the
/// threads that solve the trajectories of a batch, hence `Sync`.
pub trait HostField: Sync {
    /// Write `f(t, y)` into `f`.
    fn eval(&self, t: f64, y: &[f64], f: &mut [f64]);

    /// Write `f(t_r, y_r)` into row `r` of `f` for every row (`t.len()` rows, `y` and `f` the same
    /// length): [`eval`](Self::eval) row by row unless the field does better. The engine evaluates
    /// all stages of a step in one call, so a small field pays its call overhead once, not once
    /// per stage.
    fn eval_rows(&self, t: &[f64], y: &[f64], f: &mut [f64]) {
        if t.is_empty() {
            return;
        }
        let d = y.len() / t.len();
        for ((&tr, yr), fr) in t.iter().zip(y.chunks_exact(d)).zip(f.chunks_exact_mut(d)) {
            self.eval(tr, yr, fr);
        }
    }

    /// Write `∂f/∂y` row-major into `jac` (`d·d` values).
    fn jacobian(&self, t: f64, y: &[f64], jac: &mut [f64]);

    /// This form's parameter products, if it has them (an implementor of [`HostProducts`]
    /// returns `Some(self)`): the adjoint walk then runs on the host. `None`, the default, sends
    /// gradients through the tensor path, which is slower but always right.
    fn products(&self) -> Option<&dyn HostProducts> {
        None
    }
}

/// The capability of a host form to take the adjoint's parameter products `(∂f/∂θ)ᵀc` without
/// tensor dispatch (design.md §4). Offered through [`HostField::products`]; a field without it
/// cannot be asked for one, so no default can silently return nothing. A form that offers the
/// products must write them: this does not compile, for want of `vjp`.
///
/// ```compile_fail
/// use stiffnode_solvers::field::{HostField, HostProducts};
/// struct Decay;
/// impl HostField for Decay {
///     fn eval(&self, _t: f64, y: &[f64], f: &mut [f64]) { f[0] = -y[0]; }
///     fn jacobian(&self, _t: f64, _y: &[f64], jac: &mut [f64]) { jac[0] = -1.0; }
///     fn products(&self) -> Option<&dyn HostProducts> { Some(self) }
/// }
/// impl HostProducts for Decay {
///     fn params(&self) -> usize { 0 }
/// }
/// ```
pub trait HostProducts: HostField {
    /// How many parameters [`vjp`](Self::vjp) differentiates: all of the field's, in the order
    /// Burn's module visitor visits them (flattened row-major).
    fn params(&self) -> usize;

    /// Add the vector–Jacobian product `(∂f(t, y; θ)/∂θ)ᵀ c` to `grad` ([`params`](Self::params)
    /// values).
    fn vjp(&self, t: f64, y: &[f64], c: &[f64], grad: &mut [f64]);

    /// Add `J(t, y)ᵀc` to `grad_y` (`d` values) and `(∂f/∂θ)ᵀc` to `grad`: both products of one
    /// cotangent (a Rosenbrock step's adjoint takes them at every stage). The default takes the
    /// Jacobian and [`vjp`](Self::vjp); a network does both in one backward pass.
    fn vjp_with_state(&self, t: f64, y: &[f64], c: &[f64], grad_y: &mut [f64], grad: &mut [f64]) {
        let d = y.len();
        let mut jac = vec![0.0; d * d];
        self.jacobian(t, y, &mut jac);
        for (row, ci) in jac.chunks_exact(d).zip(c) {
            grad_y.iter_mut().zip(row).for_each(|(g, j)| *g += j * ci);
        }
        self.vjp(t, y, c, grad);
    }

    /// How many values [`jacobian_keeping`](Self::jacobian_keeping) keeps for
    /// [`vjp_kept`](Self::vjp_kept) at the same point (0: nothing, the default). The adjoint
    /// walk takes the Jacobian and then the parameter product at every stage: a network
    /// keeps its layers' activations and slopes instead of running its forward pass twice.
    fn kept_len(&self) -> usize {
        0
    }

    /// [`jacobian`](HostField::jacobian), also writing into `kept` ([`kept_len`](Self::kept_len)
    /// values) what [`vjp_kept`](Self::vjp_kept) needs at this `(t, y)`.
    fn jacobian_keeping(&self, t: f64, y: &[f64], jac: &mut [f64], kept: &mut [f64]) {
        let _ = kept;
        self.jacobian(t, y, jac);
    }

    /// [`vjp`](Self::vjp) at the `(t, y)` whose [`jacobian_keeping`](Self::jacobian_keeping)
    /// wrote `kept`.
    fn vjp_kept(&self, t: f64, y: &[f64], kept: &[f64], c: &[f64], grad: &mut [f64]) {
        let _ = kept;
        self.vjp(t, y, c, grad);
    }

    /// This form's second derivatives, if it has them (an implementor of [`HostSecondOrder`]
    /// returns `Some(self)`): the adjoint walk of Rosenbrock steps, which solve with `J`, then
    /// runs on the host; without them their gradients replay the steps on the graph.
    fn second_order(&self) -> Option<&dyn HostSecondOrder> {
        None
    }
}

/// The capability of a host form to differentiate a Jacobian–vector product: second
/// derivatives of `f`, which the adjoint of a Rosenbrock step needs (design.md §4). Offered
/// through [`HostProducts::second_order`].
pub trait HostSecondOrder: HostProducts {
    /// Add `∇_y` and `∇_θ` of `rᵀ J(t, y; θ) u` to `grad_y` (`d` values) and `grad`
    /// ([`params`](HostProducts::params) values).
    fn jacobian_vjp(&self, t: f64, y: &[f64], u: &[f64], r: &[f64], grad_y: &mut [f64], grad: &mut [f64]);
}

/// Central-difference Jacobian with steps `ε^⅓·max(|y_j|, 1)` (Nocedal & Wright, §8.1),
/// evaluated as one batched call of `2d` perturbed copies of every row.
pub fn finite_difference_jacobian<F: VectorField + ?Sized>(field: &F, t: &[f64], y: Tensor<2>) -> Tensor<3> {
    let [rows, d] = y.dims();
    let device = y.device();
    let eps = epsilon_of(y.dtype()).cbrt();
    let host = to_host(y);
    let mut pert = Vec::with_capacity(rows * 2 * d * d);
    let mut times = Vec::with_capacity(rows * 2 * d);
    let mut steps = Vec::with_capacity(rows * d);
    for r in 0..rows {
        let row = &host[r * d..(r + 1) * d];
        for j in 0..d {
            let h = eps * row[j].abs().max(1.0);
            steps.push(h);
            for sign in [1.0, -1.0] {
                let mut p = row.to_vec();
                p[j] += sign * h;
                pert.extend_from_slice(&p);
                times.push(t[r]);
            }
        }
    }
    let fp = to_host(field.eval(&times, from_host(pert, [rows * 2 * d, d], &device)));
    let mut jac = vec![0.0; rows * d * d];
    for r in 0..rows {
        for j in 0..d {
            let base = (r * d + j) * 2 * d;
            let h = steps[r * d + j];
            for i in 0..d {
                jac[r * d * d + i * d + j] = (fp[base + i] - fp[base + d + i]) / (2.0 * h);
            }
        }
    }
    Tensor::from_data(TensorData::new(jac, [rows, d, d]), &device)
}

/// Copy a tensor to the host as f64, row-major.
pub fn to_host<const D: usize>(x: Tensor<D>) -> Vec<f64> {
    x.into_data_as::<f64>().try_into_vec::<f64>().expect("float tensor data converts to f64")
}

/// Build a tensor on `device` (in its float precision) from row-major f64 values.
pub fn from_host<const D: usize>(values: Vec<f64>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}
