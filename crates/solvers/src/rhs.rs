//! The engine's view of a vector field: host f64 arrays in and out, each call counted and
//! checked for shape and finiteness. States live on the host; the field runs on its device.

use std::cell::Cell;

use burn::tensor::{Device, FloatDType};

use crate::error::SolveError;
use crate::field::{VectorField, from_host, to_host};

/// A [`VectorField`] called with host arrays.
pub(crate) struct Rhs<'a> {
    field: &'a dyn VectorField,
    device: Device,
    /// State dimension.
    pub d: usize,
    /// Machine epsilon of the device's float type.
    pub epsilon: f64,
    /// Right-hand-side evaluations (rows evaluated together count once).
    pub evals: Cell<usize>,
    /// Jacobian evaluations.
    pub jacobians: Cell<usize>,
}

impl<'a> Rhs<'a> {
    pub fn new(field: &'a dyn VectorField) -> Self {
        let device = field.device();
        let epsilon = match device.settings().float_dtype {
            FloatDType::F64 => f64::EPSILON,
            _ => f32::EPSILON as f64,
        };
        Self { field, device, d: field.dim(), epsilon, evals: Cell::new(0), jacobians: Cell::new(0) }
    }

    /// `f(t_r, y_r)` for every row `r`; `y` holds `t.len()·d` values.
    pub fn eval(&self, t: &[f64], y: &[f64]) -> Result<Vec<f64>, SolveError> {
        let rows = t.len();
        self.evals.set(self.evals.get() + 1);
        let out = self.field.eval(t, from_host(y.to_vec(), [rows, self.d], &self.device));
        check_shape(&out.dims(), &[rows, self.d])?;
        finite(to_host(out), t)
    }

    /// `∂f/∂y` for every row, `[rows, d, d]` row-major.
    pub fn jacobian(&self, t: &[f64], y: &[f64]) -> Result<Vec<f64>, SolveError> {
        let rows = t.len();
        self.jacobians.set(self.jacobians.get() + 1);
        let out = self.field.jacobian(t, from_host(y.to_vec(), [rows, self.d], &self.device));
        check_shape(&out.dims(), &[rows, self.d, self.d])?;
        finite(to_host(out), t)
    }
}

fn check_shape(got: &[usize], expected: &[usize]) -> Result<(), SolveError> {
    if got == expected {
        Ok(())
    } else {
        Err(SolveError::Shape { got: got.to_vec(), expected: expected.to_vec() })
    }
}

fn finite(values: Vec<f64>, t: &[f64]) -> Result<Vec<f64>, SolveError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(values)
    } else {
        Err(SolveError::NonFinite { t: t.first().copied().unwrap_or(f64::NAN) })
    }
}
