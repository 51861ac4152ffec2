//! A multilayer perceptron as a vector field `du/dt = NN(u)`, optionally with the scaling of
//! Kim et al. (2021), `du/dt = NN(u/ŷ)·ŷ/t_scale` (ŷ the per-species maximum of the training
//! data, t_scale its time span; design.md §6–7), and an analytic batched Jacobian
//! `J = diag(ŷ/t_scale)·W_Lᵀ diag(σ'(z_{L−1}))…diag(σ'(z_1)) W_1ᵀ·diag(1/ŷ)` (design.md §4).
//! Its host form (the same network on f64 slices) lets CPU solves skip tensor dispatch.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use stiffnode_solvers::VectorField;
use stiffnode_solvers::field::{HostField, from_host, to_host};
use stiffnode_solvers::kernel_field::{KernelField, MlpTables};
use stiffnode_solvers::limits::MAX_PARAMS;

use crate::activation::{Activation, Pointwise};
use crate::host_mlp::{HostLayer, HostMlp};
use crate::input::{CLAMP, InputScale};
use crate::invariants::OutputMap;

/// Architecture and initialization of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Widths of the hidden layers (input and output widths are the state dimension).
    pub hidden: Vec<usize>,
    /// Activation of the hidden layers (the output layer is linear).
    pub activation: Activation,
    /// Scale states by ŷ and time by t_scale (Kim et al. 2021).
    #[serde(default)]
    pub scaled: bool,
    /// Hold the problem's linear invariants exactly — a reactor's elements and inert species
    /// ([`Mlp::with_invariants`]) — as a hard constraint on the output [default: true].
    #[serde(default = "held")]
    pub conserve: bool,
    /// Show the network a reactor's mass fractions on a log scale ([`Mlp::with_log_inputs`])
    /// [default: false].
    #[serde(default)]
    pub log_inputs: bool,
    /// Where the log scale of `log_inputs` ends below each component's data scale, `ε =
    /// log_floor·ŷ`: smaller sees smaller radicals and makes the field stiffer [default: 1e-6].
    pub log_floor: Option<f64>,
    /// The time scale of a scaled MLP, `du/dt = NN·ŷ/t_scale`: the time over which the
    /// network's outputs of order 1 change a component by its scale. An ignition front of 10 µs
    /// needs outputs of 10⁴ against the default. The last layer starts smaller by
    /// `time_scale/span`, so that the initial field is the default's [default: the data's time
    /// span].
    pub time_scale: Option<f64>,
}

fn held() -> bool {
    true
}

impl MlpConfig {
    /// Check the architecture for states of dimension `dim`: every hidden width at least 1, and
    /// no more parameters than [`MAX_PARAMS`] (an error says how many).
    pub fn validate(&self, dim: usize) -> Result<(), String> {
        if let Some(t) = self.time_scale
            && !(t.is_finite() && t > 0.0)
        {
            return Err(format!("time_scale = {t} must be > 0 (seconds, or the data's time unit)"));
        }
        if self.time_scale.is_some() && !self.scaled {
            return Err("time_scale applies to a scaled MLP: set scaled = true".into());
        }
        if let Some(f) = self.log_floor
            && !(f > 0.0 && f < 1.0)
        {
            return Err(format!("log_floor = {f} must be between 0 and 1 (a fraction of each data scale)"));
        }
        if let Some(k) = self.hidden.iter().position(|&w| w == 0) {
            return Err(format!("hidden layer {} has width 0 (every layer needs at least one unit)", k + 1));
        }
        let widths: Vec<usize> = std::iter::once(dim).chain(self.hidden.iter().copied()).chain([dim]).collect();
        let params =
            widths.windows(2).try_fold(0usize, |n, w| w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(n));
        match params {
            Some(n) if n <= MAX_PARAMS => Ok(()),
            Some(n) => {
                Err(format!("{n} parameters, more than the {MAX_PARAMS} allowed (80 MB of f64 values each copy)"))
            }
            None => Err(format!("hidden widths {:?} overflow the parameter count", self.hidden)),
        }
    }
}

/// An MLP vector field; a Burn [`Module`] whose parameters are its weights and biases.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Weights `[in, out]` per layer (`z = xW + b`).
    weights: Vec<Param<Tensor<2>>>,
    biases: Vec<Param<Tensor<1>>>,
    /// ŷ, `[1, d]` (ones when unscaled).
    y_scale: Tensor<2>,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    t_scale: f64,
    /// State components held constant (`f_i = 0`): a reactor's carried pressure, density or
    /// temperature, which the network reads but must not change.
    #[module(skip)]
    constant: Vec<usize>,
    /// The map onto the state's linear invariants (a reactor's elements), the mask of
    /// `constant` included ([`OutputMap`]); `None`: the mask alone.
    #[module(skip)]
    map: Option<OutputMap>,
    /// The input scaling where some components are on a log scale ([`InputScale`]); `None`:
    /// `x = y/ŷ`.
    #[module(skip)]
    input: Option<InputScale>,
}

impl Mlp {
    /// A new MLP for states of dimension `dim`, with weights and biases drawn uniformly from
    /// `±1/√fan_in` (the default of PyTorch's and Burn's linear layers) by a generator seeded
    /// with `seed`. `scale` is `(ŷ, t_scale)`; it is used when `config.scaled`.
    pub fn new(dim: usize, config: &MlpConfig, scale: Option<(&[f64], f64)>, seed: u64, device: &Device) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let widths: Vec<usize> =
            std::iter::once(dim).chain(config.hidden.iter().copied()).chain(std::iter::once(dim)).collect();
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        // A time scale shorter than the data span starts the last layer that much smaller, so
        // that the initial field is the default's (not one that moves the state by its scale in
        // every `time_scale`).
        let last_factor = match (config.scaled, scale, config.time_scale) {
            (true, Some((_, span)), Some(t)) if t < span => t / span,
            _ => 1.0,
        };
        for (k, w) in widths.windows(2).enumerate() {
            let bound = if k + 2 == widths.len() { last_factor } else { 1.0 } / (w[0] as f64).sqrt();
            let mut draw = |n: usize| (0..n).map(|_| rng.random_range(-bound..bound)).collect::<Vec<f64>>();
            weights.push(Param::from_tensor(from_host(draw(w[0] * w[1]), [w[0], w[1]], device)));
            biases.push(Param::from_tensor(from_host(draw(w[1]), [w[1]], device)));
        }
        let (y_scale, t_scale) = match (config.scaled, scale) {
            (true, Some((y, t))) => (y.to_vec(), config.time_scale.unwrap_or(t)),
            _ => (vec![1.0; dim], 1.0),
        };
        let y_scale = from_host(y_scale, [1, dim], device);
        Self {
            weights,
            biases,
            y_scale,
            activation: config.activation,
            t_scale,
            constant: Vec::new(),
            map: None,
            input: None,
        }
    }

    /// The same network with the state components `constant` held fixed: their derivatives
    /// are 0 (the output is masked, so their weights get no gradient either).
    pub fn with_constant_components(mut self, constant: &[usize]) -> Self {
        self.constant = constant.to_vec();
        self
    }

    /// The same network with its output mapped so that the rows `invariants` (`c·f = 0`) hold
    /// exactly, besides the constant components set before ([`OutputMap`], design.md §13).
    pub fn with_invariants(mut self, invariants: &[Vec<f64>]) -> Self {
        let scale = to_host(self.y_scale.clone().without_autodiff());
        self.map = OutputMap::new(invariants, &self.constant, &scale);
        self
    }

    /// The same network seeing the components `log` (mass fractions) on a log scale,
    /// `x = asinh(y/ε)/asinh(ŷ/ε)` with `ε = floor·ŷ` ([`InputScale`], design.md §13): the ODE
    /// stays in the original variables.
    pub fn with_log_inputs(mut self, log: &[usize], floor: f64) -> Self {
        let scale = to_host(self.y_scale.clone().without_autodiff());
        self.input = (!log.is_empty()).then(|| InputScale::new(&scale, log, floor));
        self
    }

    /// `[1, d]` rows of the log-scaled inputs' `ε` (1 elsewhere), `asinh(ŷ/ε)` and mask.
    fn input_rows(&self, input: &InputScale) -> [Tensor<2>; 3] {
        let (d, device) = (self.dim(), self.y_scale.device());
        let row = |v: Vec<f64>| from_host(v, [1, d], &device);
        let eps = input.floors().iter().map(|&e| if e > 0.0 { e } else { 1.0 }).collect();
        let mask = input.floors().iter().map(|&e| f64::from(u8::from(e > 0.0))).collect();
        [row(eps), row(input.norms().to_vec()), row(mask)]
    }

    /// The network's input `x(y)` ([`InputScale::value`]).
    fn input(&self, y: Tensor<2>) -> Tensor<2> {
        let Some(input) = &self.input else { return y / self.y_scale.clone() };
        let [eps, norm, mask] = self.input_rows(input);
        let linear = y.clone() / self.y_scale.clone();
        let u = (y / eps).clamp_min(-CLAMP);
        let log = (u.clone() + (u.powi_scalar(2) + 1.0).sqrt()).log() / norm;
        linear * (mask.clone().neg() + 1.0) + log * mask
    }

    /// `∂x/∂y` per row, `[rows, 1, d]` ([`InputScale::slope`]).
    fn input_slope(&self, y: Tensor<2>) -> Tensor<3> {
        let [rows, d] = y.dims();
        let Some(input) = &self.input else { return self.y_scale.clone().recip().reshape([1, 1, d]) };
        let [eps, norm, mask] = self.input_rows(input);
        let linear = self.y_scale.clone().recip();
        let below = (y.clone() / eps.clone()).lower_elem(-CLAMP);
        let log = ((y.powi_scalar(2) + eps.powi_scalar(2)).sqrt() * norm).recip().mask_fill(below, 0.0);
        (linear * (mask.clone().neg() + 1.0) + log * mask).reshape([rows, 1, d])
    }

    /// The output map's matrix, transposed for a row-vector product (`f = f_raw·Mᵀ`), on the
    /// network's device.
    fn map_transposed(&self, map: &OutputMap) -> Tensor<2> {
        let d = self.dim();
        let m = map.matrix();
        let t = (0..d * d).map(|k| m[(k % d) * d + k / d]).collect();
        from_host(t, [d, d], &self.y_scale.device())
    }

    /// `ŷ/t_scale`, 0 at the constant components: the factor on the last layer's output.
    fn output_factor(&self) -> Tensor<2> {
        let factor = self.y_scale.clone().div_scalar(self.t_scale);
        if self.constant.is_empty() {
            return factor;
        }
        let d = self.dim();
        let mask = (0..d).map(|i| if self.constant.contains(&i) { 0.0 } else { 1.0 }).collect();
        factor * from_host(mask, [1, d], &self.y_scale.device())
    }

    /// Pre-activations of every layer for the scaled input `x(y)`.
    fn layers(&self, y: Tensor<2>) -> Vec<Tensor<2>> {
        let mut x = self.input(y);
        let mut z = Vec::with_capacity(self.weights.len());
        for (k, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            let zk = x.matmul(w.val()) + b.val().unsqueeze_dim(0);
            if k + 1 < self.weights.len() {
                x = self.activation.apply(zk.clone());
            } else {
                x = zk.clone();
            }
            z.push(zk);
        }
        z
    }
}

impl Mlp {
    /// The layers' current weights and biases on the host.
    fn layers_on_host(&self) -> Vec<HostLayer> {
        let host = |w: &Param<Tensor<2>>, b: &Param<Tensor<1>>| {
            let [fan_in, fan_out] = w.val().dims();
            let (w, b) = (to_host(w.val().without_autodiff()), to_host(b.val().without_autodiff()));
            HostLayer { fan_in, fan_out, w, b }
        };
        self.weights.iter().zip(&self.biases).map(|(w, b)| host(w, b)).collect()
    }
}

impl VectorField for Mlp {
    fn dim(&self) -> usize {
        self.y_scale.dims()[1]
    }

    fn device(&self) -> Device {
        self.y_scale.device()
    }

    fn eval(&self, _t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let out = self.layers(y).pop().expect("at least one layer");
        match &self.map {
            None => out * self.output_factor(),
            Some(map) => (out * self.y_scale.clone().div_scalar(self.t_scale)).matmul(self.map_transposed(map)),
        }
    }

    /// `f` reads the state only.
    fn autonomous(&self) -> bool {
        true
    }

    fn jacobian(&self, _t: &[f64], y: Tensor<2>) -> Tensor<3> {
        let [rows, d] = y.dims();
        let z = self.layers(y.clone());
        let mut jac: Option<Tensor<3>> = None;
        for (k, w) in self.weights.iter().enumerate() {
            let [fan_in, fan_out] = w.val().dims();
            let wt = w.val().transpose().unsqueeze_dim::<3>(0);
            let lin = match jac {
                None => wt.expand([rows, fan_out, fan_in]),
                Some(j) => wt.matmul(j),
            };
            jac = Some(if k + 1 < self.weights.len() {
                lin * self.activation.derivative(z[k].clone()).unsqueeze_dim(2)
            } else {
                lin
            });
        }
        let right = self.input_slope(y);
        let Some(map) = &self.map else {
            return jac.expect("at least one layer") * self.output_factor().reshape([1, d, 1]) * right;
        };
        let left = self.y_scale.clone().div_scalar(self.t_scale).reshape([1, d, 1]);
        let m = self.map_transposed(map).transpose().unsqueeze_dim::<3>(0).expand([rows, d, d]);
        m.matmul(jac.expect("at least one layer") * left * right)
    }

    fn host(&self) -> Option<Box<dyn HostField + '_>> {
        let y_scale = to_host(self.y_scale.clone().without_autodiff());
        let host = HostMlp::new(self.layers_on_host(), y_scale, self.t_scale, self.activation);
        let host = host.with_constant_components(&self.constant).with_map(self.map.clone());
        Some(Box::new(match &self.input {
            Some(input) => host.with_input(input.clone()),
            None => host,
        }))
    }

    /// None with constant components, invariants or log inputs (the kernel's MLP has no output
    /// mask, map or input transform).
    fn kernel(&self) -> Option<KernelField> {
        if !self.constant.is_empty() || self.map.is_some() || self.input.is_some() {
            return None;
        }
        let layers = self.layers_on_host();
        let activation = self.activation;
        let y_scale = to_host(self.y_scale.clone().without_autodiff());
        Some(KernelField::Mlp(MlpTables { layers, y_scale, t_scale: self.t_scale, activation }))
    }
}
