//! What the solver tests share: requests from short arguments, a loss, a norm, and the linear
//! test field `y' = diag(λ) y` with the `λ_i` as parameters.
#![allow(dead_code)]

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use stiffnode_solvers::field::{VectorField, from_host};
use stiffnode_solvers::{Method, Request, SolveOptions, methods};

/// The method called `name`.
pub fn method(name: &str) -> Method {
    methods::by_name(name).unwrap()
}

/// Solve from `y0` at t = 0 to `times` with `method` and `opts`.
pub fn request(method: &Method, y0: &[f64], times: &[f64], opts: &SolveOptions) -> Request {
    Request::new(method.clone(), y0.to_vec(), 0.0, times.to_vec()).with_options(opts.clone())
}

/// `Σ_k |y(t_k)|²` over the output states.
pub fn sum_of_squares(states: &[Tensor<2>]) -> Tensor<1> {
    states.iter().map(|s| s.clone().powi_scalar(2).sum()).reduce(|a, b| a + b).unwrap()
}

/// Euclidean norm.
pub fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// `y' = diag(λ) y` with the `λ_i` as parameters.
#[derive(Module, Debug)]
pub struct Diagonal {
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
