//! What the solver tests share: requests from short arguments, a loss and a norm (the linear
//! test field is the library's `diagonal::Diagonal`).
#![allow(dead_code)]

pub mod seeded;

use burn::tensor::Tensor;
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
