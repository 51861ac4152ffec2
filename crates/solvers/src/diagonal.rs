//! The linear test problem `y' = diag(λ)y` (Dahlquist's test equation, one per component; Hairer
//! & Wanner IV.2) with the `λ_i` as parameters: each step multiplies `y_i` by the stability
//! function `R(hλ_i)`, and the gradient of a step with respect to `λ_i` is `h·R'(hλ_i)·y_i` — the
//! closed forms the gradient and mode-split tests check against.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::field::{VectorField, from_host};

/// `y' = diag(λ)y` with the `λ_i` as parameters.
#[derive(Module, Debug)]
pub struct Diagonal {
    /// `λ`, one per component.
    pub lambda: Param<Tensor<1>>,
}

impl Diagonal {
    /// The field with eigenvalues `lambda` on `device`.
    pub fn new(lambda: &[f64], device: &Device) -> Self {
        Self { lambda: Param::from_tensor(from_host(lambda.to_vec(), [lambda.len()], device)) }
    }
}

impl VectorField for Diagonal {
    fn dim(&self) -> usize {
        self.lambda.val().dims()[0]
    }
    fn device(&self) -> Device {
        self.lambda.val().device()
    }
    fn eval(&self, _t: &[f64], y: Tensor<2>) -> Tensor<2> {
        y * self.lambda.val().unsqueeze_dim(0)
    }
    fn jacobian(&self, t: &[f64], _y: Tensor<2>) -> Tensor<3> {
        let d = self.dim();
        let eye = Tensor::<2>::eye(d, &self.device()).unsqueeze_dim::<3>(0);
        (eye * self.lambda.val().reshape([1, 1, d])).expand([t.len(), d, d])
    }
}
