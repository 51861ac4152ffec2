//! A solve as one operation on Burn's autodiff graph whose backward pass is the discrete adjoint
//! (design.md §4, §11).
//!
//! The forward values come from a solve already done (the host engine or the GPU ensemble
//! kernel); the node's parents are the initial states `y0` (`[batch, d]`) and the field's
//! parameters flattened in visiting order (`θ`). When Burn's `backward()` reaches the node with
//! the cotangent `ȳ` of the outputs (`[times, batch, d]`), it calls the solve's *pullback*
//! `ȳ ↦ (ȳᵀ∂y/∂y0, ȳᵀ∂y/∂θ)` — the adjoint walk over the recorded steps — and hands the two
//! products to the parents, as Burn's own operations do (the Burn book, "Custom CubeCL kernel",
//! backward pass). A loss on the outputs then differentiates as any other Burn program, with the
//! memory of the record rather than of a graph of every step.
//!
//! `backward()` cannot return an error; a pullback that fails registers NaN gradients (never
//! silently zero ones) and leaves its error in the [`BackwardStatus`].

use std::sync::{Arc, Mutex, MutexGuard};

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Backend, Cube, DispatchKindConversion, DispatchTensor, Flex, TensorMetadata};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{DType, Tensor, TensorData};

use crate::error::{SetupError, SolveError};
use crate::field::to_host;

/// What a pullback returns.
pub(crate) struct Pulled {
    /// `∂L/∂y0`, `batch·d` values.
    pub y0: Vec<f64>,
    /// `∂L/∂θ` in visiting order, when asked for.
    pub params: Option<Vec<f64>>,
    /// Read-backs from a device during the walk.
    pub host_syncs: usize,
}

/// The adjoint of a solve: from the output cotangents (one `batch·d` vector per output time) and
/// whether the parameters are wanted, the products with `∂y/∂y0` and `∂y/∂θ`.
pub(crate) type Pullback = Box<dyn FnOnce(Vec<Vec<f64>>, bool) -> Result<Pulled, SolveError> + Send>;

/// How the backward pass through a solve went: nothing until `backward()` reaches it, then the
/// adjoint's device read-backs (0 for a walk on the host) or its error.
#[derive(Debug, Clone, Default)]
pub struct BackwardStatus(Arc<Mutex<Option<Result<usize, SolveError>>>>);

impl BackwardStatus {
    /// `None` before a backward pass reached the solve, else the adjoint's read-backs from the
    /// device or why it failed.
    pub fn result(&self) -> Option<Result<usize, SolveError>> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Result<usize, SolveError>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The node's state: the pullback (taken once) and the shapes of what it returns.
#[derive(Clone)]
struct Pending {
    pullback: Arc<Mutex<Option<Pullback>>>,
    status: BackwardStatus,
    times: usize,
    y0_shape: [usize; 2],
    params: usize,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "solve pullback for {} outputs of {:?} and {} parameters", self.times, self.y0_shape, self.params)
    }
}

impl Pending {
    /// Run the pullback on the output cotangent `flat` (`times·batch·d`); NaN where it fails.
    fn pull(&self, flat: Vec<f64>, want_params: bool) -> Pulled {
        let taken = self.pullback.lock().unwrap_or_else(|p| p.into_inner()).take();
        let n = self.y0_shape[0] * self.y0_shape[1];
        let result = match taken {
            Some(pullback) => pullback(flat.chunks_exact(n.max(1)).map(<[f64]>::to_vec).collect(), want_params),
            None => Err(SolveError::Setup(SetupError::InvalidOption {
                what: "backward pass",
                why: "it reached a solve a second time (a solve's graph is walked back once)".into(),
            })),
        };
        // A pullback whose products do not match the parents would make Burn panic.
        let result = result.and_then(|p| match p.params.as_ref().map_or(self.params, Vec::len) {
            got if p.y0.len() == n && got == self.params => Ok(p),
            got => Err(SolveError::Setup(SetupError::InvalidOption {
                what: "vector field",
                why: format!(
                    "its adjoint gave {} initial-state and {got} parameter gradients for {n} initial-state values and {} parameters",
                    p.y0.len(),
                    self.params
                ),
            })),
        });
        let outcome = result.as_ref().map(|p| p.host_syncs).map_err(Clone::clone);
        *self.status.lock() = Some(outcome);
        result.unwrap_or_else(|_| Pulled {
            y0: vec![f64::NAN; n],
            params: want_params.then(|| vec![f64::NAN; self.params]),
            host_syncs: 0,
        })
    }
}

#[derive(Debug)]
struct SolveBackward;

impl<B: Backend> Backward<B, 2> for SolveBackward
where
    DispatchTensor: DispatchKindConversion<B>,
{
    type State = Pending;

    fn backward(self, ops: Ops<Pending, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [y0_node, theta_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (device, dtype) = (grad.device(), grad.dtype());
        let cotangent = to_host(Tensor::<3>::from_primitive::<B>(grad));
        let pulled = ops.state.pull(cotangent, theta_node.is_some());
        let make = |values: Vec<f64>, shape: Vec<usize>| B::float_from_data(data(values, shape, dtype), &device);
        if let Some(node) = y0_node {
            grads.register::<B>(node.id, make(pulled.y0, ops.state.y0_shape.to_vec()));
        }
        if let (Some(node), Some(theta)) = (theta_node, pulled.params) {
            grads.register::<B>(node.id, make(theta, vec![ops.state.params]));
        }
    }
}

fn data(values: Vec<f64>, shape: Vec<usize>, dtype: DType) -> TensorData {
    TensorData::new(values, shape).convert_dtype(dtype)
}

/// Put a solve's output `states` (one `batch·d` vector per output time) on the autodiff graph as
/// one `[times, batch, d]` tensor whose parents are `y0` (`[batch, d]`) and `theta` (the field's
/// parameters flattened, or `None` without any), with `pullback` as its backward pass. `y0` and
/// `theta` must be on the same autodiff device (without gradient checkpointing); off an autodiff
/// device the states are constants.
pub(crate) fn attach(
    y0: &Tensor<2>,
    theta: Option<Tensor<1>>,
    states: &[Vec<f64>],
    pullback: Pullback,
) -> Result<(Tensor<3>, BackwardStatus), SolveError> {
    let [batch, d] = y0.dims();
    let params = theta.as_ref().map_or(0, |t| t.dims()[0]);
    // Without parameters the second parent is an untracked placeholder.
    let theta = theta.unwrap_or_else(|| Tensor::zeros([1], &y0.device()));
    let status = BackwardStatus::default();
    let pending = Pending {
        pullback: Arc::new(Mutex::new(Some(pullback))),
        status: status.clone(),
        times: states.len(),
        y0_shape: [batch, d],
        params,
    };
    let values = TensorData::new(states.concat(), [states.len(), batch, d]);
    if !y0.is_autodiff() {
        // Nothing to differentiate: the states as constants, as a replayed solve gives them.
        return Ok((Tensor::from_data(values, &y0.device()), status));
    }
    let out = on::<Flex>(y0, &theta, &values, &pending).or_else(|| on::<Cube>(y0, &theta, &values, &pending));
    let out = out.ok_or_else(|| {
        SolveError::Setup(SetupError::InvalidOption {
            what: "initial states",
            why: "a differentiable solve needs its states and parameters on one autodiff device (cpu, wgpu or cuda) without gradient checkpointing".into(),
        })
    })?;
    Ok((out, status))
}

/// [`attach`] where the tensors live on `Autodiff<B>`; `None` where they do not.
fn on<B: Backend>(y0: &Tensor<2>, theta: &Tensor<1>, values: &TensorData, pending: &Pending) -> Option<Tensor<3>>
where
    DispatchTensor: DispatchKindConversion<B> + DispatchKindConversion<Autodiff<B>>,
{
    let y0 = y0.clone().try_into_primitive::<Autodiff<B>>().ok()?;
    let theta = theta.clone().try_into_primitive::<Autodiff<B>>().ok()?;
    let (y0, y0_guard) = y0.into_parts();
    let (_, theta_guard) = theta.into_parts();
    let output = B::float_from_data(values.clone().convert_dtype(y0.dtype()), &y0.device());
    let out = match SolveBackward.prepare::<NoCheckpointing>([y0_guard, theta_guard]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(pending.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Some(Tensor::from_primitive::<Autodiff<B>>(out))
}

/// The parameters of `module` flattened and joined in visiting order, on its autodiff graph
/// (gradients reach each parameter through the join), or `None` without parameters.
pub(crate) fn flat_params<M: Module>(module: &M) -> Option<Tensor<1>> {
    struct Flat(Vec<Tensor<1>>);
    impl ModuleVisitor for Flat {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            let n = value.shape().num_elements();
            self.0.push(value.reshape([n]));
        }
    }
    let mut flat = Flat(Vec::new());
    module.visit(&mut flat);
    (!flat.0.is_empty()).then(|| Tensor::cat(flat.0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceKind;
    use crate::field::from_host;

    /// Two outputs of a batch of 2 in 2 dimensions, and a loss `Σ w·y` whose cotangent is `w`.
    fn setup(pullback: Pullback) -> (Tensor<2>, Tensor<1>, Tensor<1>, BackwardStatus) {
        let device = DeviceKind::Cpu.open().unwrap().autodiff();
        let y0 = from_host(vec![1.0, 2.0, 3.0, 4.0], [2, 2], &device).require_grad();
        let theta = from_host(vec![0.5, -0.5, 2.0], [3], &device).require_grad();
        let states = vec![vec![1.0; 4], vec![2.0; 4]];
        let (out, status) = attach(&y0, Some(theta.clone()), &states, pullback).unwrap();
        let weights = from_host((1..=8).map(f64::from).collect(), [2, 2, 2], &device);
        (y0, theta, (out * weights).sum(), status)
    }

    #[test]
    fn the_pullback_gets_the_outputs_cotangent_and_its_products_reach_the_parents() {
        let pullback: Pullback = Box::new(|outputs, want_params| {
            assert_eq!(outputs, vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0, 7.0, 8.0]]);
            assert!(want_params);
            Ok(Pulled { y0: vec![10.0, 20.0, 30.0, 40.0], params: Some(vec![-1.0, 0.0, 1.0]), host_syncs: 3 })
        });
        let (y0, theta, loss, status) = setup(pullback);
        assert!(status.result().is_none());
        let grads = loss.backward();
        assert_eq!(to_host(y0.grad(&grads).unwrap()), [10.0, 20.0, 30.0, 40.0]);
        assert_eq!(to_host(theta.grad(&grads).unwrap()), [-1.0, 0.0, 1.0]);
        assert_eq!(status.result(), Some(Ok(3)));
    }

    #[test]
    fn a_pullback_of_the_wrong_shape_is_an_error_not_a_panic() {
        let pullback: Pullback =
            Box::new(|_, _| Ok(Pulled { y0: vec![0.0; 4], params: Some(vec![1.0]), host_syncs: 0 }));
        let (y0, _, loss, status) = setup(pullback);
        let grads = loss.backward();
        assert!(to_host(y0.grad(&grads).unwrap()).iter().all(|v| v.is_nan()));
        let err = status.result().unwrap().unwrap_err().to_string();
        assert!(err.contains("1 parameter gradients for 4 initial-state values and 3 parameters"), "{err}");
    }

    #[test]
    fn a_failed_pullback_gives_nan_gradients_and_its_error() {
        let failure = SolveError::Device("lost".into());
        let returned = failure.clone();
        let (y0, theta, loss, status) = setup(Box::new(move |_, _| Err(returned)));
        let grads = loss.backward();
        assert!(to_host(y0.grad(&grads).unwrap()).iter().all(|v| v.is_nan()));
        assert!(to_host(theta.grad(&grads).unwrap()).iter().all(|v| v.is_nan()));
        assert_eq!(status.result(), Some(Err(failure)));
    }

    #[test]
    fn off_an_autodiff_device_the_states_are_constants() {
        let device = DeviceKind::Cpu.open().unwrap();
        let y0 = from_host(vec![1.0; 2], [1, 2], &device);
        let (out, _) = attach(&y0, None, &[vec![3.0, 4.0]], Box::new(|_, _| unreachable!())).unwrap();
        assert!(!out.is_autodiff());
        assert_eq!(to_host(out), [3.0, 4.0]);
    }

    #[test]
    fn gradient_checkpointing_is_refused_by_name() {
        let inner = DeviceKind::Cpu.open().unwrap();
        let device = inner.autodiff().gradient_checkpointing();
        let y0 = from_host(vec![1.0; 2], [1, 2], &device).require_grad();
        let err = attach(&y0, None, &[vec![1.0; 2]], Box::new(|_, _| unreachable!())).err().unwrap();
        assert!(err.to_string().contains("without gradient checkpointing"), "{err}");
    }
}
