//! A module's parameter gradients as plain numbers: every walk over a Burn [`Module`]'s
//! parameters that stiffnode needs, in one place — the finiteness check, the global norm and
//! scaling by it (clipping, Pascanu et al. 2013: scaling every gradient by one factor keeps the
//! direction, where Burn's per-parameter clipping changes it), zeros, constants, the gradients
//! flattened in visiting order, and the parameter values read and set in that order (the
//! gradient check perturbs them one at a time).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::error::SolveError;
use crate::field::{from_host, to_host};

/// Error unless every parameter gradient of `module` in `grads` is finite; the error names the
/// parameter.
pub fn check_finite<M: Module>(module: &M, grads: &GradientsParams) -> Result<(), SolveError> {
    struct Finite<'g> {
        grads: &'g GradientsParams,
        bad: Option<String>,
    }
    impl ModuleVisitor for Finite<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let values = to_host(g);
                if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                    let shape = param.lazy_shape();
                    self.bad.get_or_insert(format!(
                        "parameter {} (shape {:?}) has gradient entry {v}",
                        param.id,
                        shape.as_slice()
                    ));
                }
            }
        }
    }
    let mut visitor = Finite { grads, bad: None };
    module.visit(&mut visitor);
    visitor.bad.map_or(Ok(()), |what| Err(SolveError::NonFiniteGradient(what)))
}

/// `‖∇L‖ = (Σ_p ‖g_p‖²)^½` over the parameters of `module` in `grads`.
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

/// Gradients equal to `value` in every entry of every parameter of `module` (zeros: what an
/// optimizer is handed at a point where the loss cannot be evaluated).
pub fn filled<M: Module>(module: &M, value: f64) -> GradientsParams {
    struct Fill(GradientsParams, f64);
    impl ModuleVisitor for Fill {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.register(param.id, param.val().without_autodiff().ones_like().mul_scalar(self.1));
        }
    }
    let mut fill = Fill(GradientsParams::new(), value);
    module.visit(&mut fill);
    fill.0
}

/// Gradients for every parameter of `module` from `flat`, the values in visiting order
/// (row-major per parameter): the inverse of [`flatten`].
pub fn unflatten<M: Module>(module: &M, flat: &[f64]) -> GradientsParams {
    struct Unflat<'f>(GradientsParams, &'f [f64]);
    impl ModuleVisitor for Unflat<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let shape = param.lazy_shape();
            let (head, rest) = self.1.split_at(shape.num_elements());
            self.1 = rest;
            let device = param.val().without_autodiff().device();
            let dims: [usize; D] = shape.as_slice().try_into().expect("a parameter's rank is its type's");
            self.0.register(param.id, from_host(head.to_vec(), dims, &device));
        }
    }
    let mut unflat = Unflat(GradientsParams::new(), flat);
    module.visit(&mut unflat);
    unflat.0
}

/// All parameter gradients of `module` in `grads`, in visiting order (zeros where absent).
pub fn flatten<M: Module>(module: &M, grads: &GradientsParams) -> Vec<f64> {
    struct Flat<'g>(&'g GradientsParams, Vec<f64>);
    impl ModuleVisitor for Flat<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            match self.0.get::<D>(param.id) {
                Some(g) => self.1.extend(to_host(g)),
                None => self.1.extend(std::iter::repeat_n(0.0, param.lazy_shape().num_elements())),
            }
        }
    }
    let mut flat = Flat(grads, Vec::new());
    module.visit(&mut flat);
    flat.1
}

/// All parameter values of `module`, in visiting order (row-major per parameter): the order of
/// [`flatten`].
pub fn values<M: Module>(module: &M) -> Vec<f64> {
    struct Values(Vec<f64>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(to_host(param.val().without_autodiff()));
        }
    }
    let mut values = Values(Vec::new());
    module.visit(&mut values);
    values.0
}

/// `module` with its parameter values replaced by `flat`, in visiting order (the inverse of
/// [`values`]); each parameter keeps its id and device. `flat` must hold exactly as many values
/// as the module has parameters.
pub fn with_values<M: Module>(module: M, flat: &[f64]) -> M {
    struct Set<'f>(&'f [f64]);
    impl ModuleMapper for Set<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let shape = param.lazy_shape();
            let (head, rest) = self.0.split_at(shape.num_elements());
            self.0 = rest;
            let dims: [usize; D] = shape.as_slice().try_into().expect("a parameter's rank is its type's");
            param.map(|value| from_host(head.to_vec(), dims, &value.device()))
        }
    }
    let mut set = Set(flat);
    let module = module.map(&mut set);
    assert!(set.0.is_empty(), "{} parameter values left over", set.0.len());
    module
}
