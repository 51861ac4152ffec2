//! The engine's view of a vector field: host f64 arrays in and out, each call counted and
//! checked for shape and finiteness. States live on the host; the field runs on its device.

use std::cell::Cell;

use burn::tensor::{Device, FloatDType};

use crate::error::SolveError;
use crate::field::{HostField, VectorField, from_host, to_host};
use crate::short::each;

/// A [`VectorField`] called with host arrays.
pub(crate) struct Rhs<'a> {
    source: Source<'a>,
    /// State dimension.
    pub d: usize,
    /// Machine epsilon of the device's float type.
    pub epsilon: f64,
    /// Right-hand-side evaluations (rows evaluated together count once).
    pub evals: Cell<usize>,
    /// Jacobian evaluations.
    pub jacobians: Cell<usize>,
    /// The field does not depend on `t` ([`VectorField::autonomous`]).
    pub autonomous: bool,
}

/// How the field is evaluated: its host form on f64 slices, or its tensor program on its device.
enum Source<'a> {
    Host(&'a dyn HostField),
    Tensor { field: &'a dyn VectorField, device: Device },
}

/// The host form of `field` when `allow_host` and the field lives on the f64 CPU device (see
/// [`VectorField::host`]); fields on f32 devices always run as tensor programs. Built once per
/// solve and shared by the trajectories of a batch.
pub(crate) fn host_form<'a>(field: &'a dyn VectorField, allow_host: bool) -> Option<Box<dyn HostField + 'a>> {
    let f64_device = field.device().settings().float_dtype == FloatDType::F64;
    if allow_host && f64_device { field.host() } else { None }
}

impl<'a> Rhs<'a> {
    /// Call `field`, through `host` (its [`host_form`]) when given.
    pub fn new(field: &'a dyn VectorField, host: Option<&'a dyn HostField>) -> Self {
        match host {
            Some(host) => Self::host(host, field.dim()).autonomous(field.autonomous()),
            None => {
                let device = field.device();
                let f64_device = device.settings().float_dtype == FloatDType::F64;
                let epsilon = if f64_device { f64::EPSILON } else { f32::EPSILON as f64 };
                let source = Source::Tensor { field, device };
                let (evals, jacobians) = (Cell::new(0), Cell::new(0));
                Self { source, d: field.dim(), epsilon, evals, jacobians, autonomous: field.autonomous() }
            }
        }
    }

    /// Call a host form of dimension `d` (f64).
    pub fn host(host: &'a dyn HostField, d: usize) -> Self {
        let (evals, jacobians) = (Cell::new(0), Cell::new(0));
        Self { source: Source::Host(host), d, epsilon: f64::EPSILON, evals, jacobians, autonomous: false }
    }

    /// Mark the field as not depending on `t` ([`VectorField::autonomous`]).
    pub fn autonomous(mut self, autonomous: bool) -> Self {
        self.autonomous = autonomous;
        self
    }

    /// `f(t_r, y_r)` for every row `r`; `y` holds `t.len()·d` values.
    pub fn eval(&self, t: &[f64], y: &[f64]) -> Result<Vec<f64>, SolveError> {
        let mut out = vec![0.0; y.len()];
        self.eval_into(t, y, &mut out)?;
        Ok(out)
    }

    /// [`eval`](Self::eval) into `out` (`t.len()·d` values); the host form allocates nothing.
    pub fn eval_into(&self, t: &[f64], y: &[f64], out: &mut [f64]) -> Result<(), SolveError> {
        self.evals.set(self.evals.get() + 1);
        match &self.source {
            Source::Host(host) => host.eval_rows(t, y, out),
            Source::Tensor { field, device } => {
                let f = field.eval(t, from_host(y.to_vec(), [t.len(), self.d], device));
                check_shape(&f.dims(), &[t.len(), self.d])?;
                out.copy_from_slice(&to_host(f));
            }
        }
        finite(out, t)
    }

    /// `∂f/∂y` for every row, `[rows, d, d]` row-major.
    pub fn jacobian(&self, t: &[f64], y: &[f64]) -> Result<Vec<f64>, SolveError> {
        let mut out = vec![0.0; t.len() * self.d * self.d];
        self.jacobian_into(t, y, &mut out)?;
        Ok(out)
    }

    /// [`jacobian`](Self::jacobian) into `out` (`t.len()·d·d` values).
    pub fn jacobian_into(&self, t: &[f64], y: &[f64], out: &mut [f64]) -> Result<(), SolveError> {
        let (rows, d) = (t.len(), self.d);
        self.jacobians.set(self.jacobians.get() + 1);
        match &self.source {
            Source::Host(host) => per_row(t, y, d, out, d * d, |tr, yr, o| host.jacobian(tr, yr, o)),
            Source::Tensor { field, device } => {
                let jac = field.jacobian(t, from_host(y.to_vec(), [rows, d], device));
                check_shape(&jac.dims(), &[rows, d, d])?;
                out.copy_from_slice(&to_host(jac));
            }
        }
        finite(out, t)
    }
}

/// Apply a host function row by row: `y` has `d` values per row, `out` `width`.
fn per_row(t: &[f64], y: &[f64], d: usize, out: &mut [f64], width: usize, f: impl Fn(f64, &[f64], &mut [f64])) {
    for ((tr, yr), o) in t.iter().zip(y.chunks_exact(d)).zip(out.chunks_exact_mut(width)) {
        f(*tr, yr, o);
    }
}

fn check_shape(got: &[usize], expected: &[usize]) -> Result<(), SolveError> {
    if got == expected { Ok(()) } else { Err(SolveError::Shape { got: got.to_vec(), expected: expected.to_vec() }) }
}

fn finite(values: &[f64], t: &[f64]) -> Result<(), SolveError> {
    let mut ok = true;
    each(values.len(), |i| ok &= values[i].is_finite());
    if ok { Ok(()) } else { Err(SolveError::NonFinite { t: t.first().copied().unwrap_or(f64::NAN) }) }
}
