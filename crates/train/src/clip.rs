//! The global gradient norm `‖∇L‖ = (Σ_p ‖g_p‖²)^½` over all parameters, and clipping by it:
//! every gradient is scaled by `min(1, c/‖∇L‖)`, so the direction is kept (Pascanu et al.
//! 2013). Burn's own clipping works per parameter, which changes the direction.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use stiffnode_solvers::field::to_host;

/// `‖∇L‖` of `module`'s parameters in `grads`.
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    struct Sum<'g>(&'g GradientsParams, f64);
    impl ModuleVisitor for Sum<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.0.get::<D>(param.id) {
                self.1 += to_host(g).iter().map(|v| v * v).sum::<f64>();
            }
        }
    }
    let mut sum = Sum(grads, 0.0);
    module.visit(&mut sum);
    sum.1.sqrt()
}

/// Scale every gradient of `module` in `grads` by `factor`.
pub fn scale<M: Module>(module: &M, grads: &mut GradientsParams, factor: f64) {
    struct Scale<'g>(&'g mut GradientsParams, f64);
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.0.remove::<D>(param.id) {
                self.0.register(param.id, g.mul_scalar(self.1));
            }
        }
    }
    module.visit(&mut Scale(grads, factor));
}
