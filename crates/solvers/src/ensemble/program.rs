//! What the device kernel is given: the method as a coefficient buffer built from the same
//! [`Tableau`] (and, for a fully implicit one, the same transformation of `A⁻¹`) as the host
//! engine runs, and the vector field as tables ([`KernelField`]).

use super::kernel::{
    C_ALPHA, C_BETA, C_COLLOCATION, C_COMPLEX_ROW, C_ERR_ORDER, C_EXPLICIT_FIRST, C_F0, C_FILTER, C_PREDICTIVE,
    C_REAL_GAMMA, C_REAL_ROW, C_SCALARS, b_at, c_at, e_at, m_at, scalars_at, t_at, t_inv_at,
};
use super::mlp;
use crate::engine::full::{Block, FullPlan};
use crate::error::SetupError;
use crate::methods::Method;
use crate::step_control::ControllerKind;
use crate::tableau::{Structure, Tableau};

/// The methods the kernel runs, for error messages.
pub const KERNEL_METHODS: &str = "diagonally implicit tableaus with an error estimate (backward-euler, sdirk2, \
     trbdf2, esdirk4, trapezoid) and fully implicit ones with at most one real and one complex \
     eigenvalue block (radau3, radau5)";

/// A method as the kernel reads it: `s` and the structure (compile-time), and its coefficients.
#[derive(Debug, Clone, PartialEq)]
pub struct Coefficients {
    /// Stages.
    pub s: usize,
    /// All stages solved together (RADAU5's transformed Newton iteration).
    pub full: bool,
    /// The buffer, laid out as [`scalars_at`] and its neighbours say.
    pub values: Vec<f64>,
}

impl Coefficients {
    /// The kernel form of `method`; an error names methods the kernel does not run.
    pub fn new(method: &Method) -> Result<Self, SetupError> {
        let unsupported = |why: &str| SetupError::InvalidOption {
            what: "method",
            why: format!("'{}' has no device kernel ({why}); the kernel runs {KERNEL_METHODS}", method.name()),
        };
        let tab = match method {
            Method::RungeKutta(tab) => tab,
            Method::Bdf2(_) | Method::Bdf(_) => return Err(unsupported("a multistep method")),
            Method::Rosenbrock(_) => return Err(unsupported("a Rosenbrock method")),
        };
        let est = tab.error.as_ref().ok_or_else(|| unsupported("no error estimate"))?;
        let s = tab.stages();
        let mut v = vec![0.0; scalars_at(s) + C_SCALARS];
        for i in 0..s {
            v[i * s..(i + 1) * s].copy_from_slice(&tab.a[i]);
        }
        v[c_at(s)..c_at(s) + s].copy_from_slice(&tab.c);
        let sc = scalars_at(s);
        v[sc + C_F0] = est.f0;
        v[sc + C_FILTER] = est.filter.unwrap_or(0.0);
        v[sc + C_ERR_ORDER] = est.order.min(tab.order) as f64 + 1.0;
        v[sc + C_PREDICTIVE] = f64::from(u8::from(est.controller == ControllerKind::Predictive));
        v[sc + C_EXPLICIT_FIRST] = f64::from(u8::from(tab.explicit_first_stage()));
        v[sc + C_REAL_ROW] = -1.0;
        v[sc + C_COMPLEX_ROW] = -1.0;
        let full = match tab.structure() {
            Structure::Explicit => return Err(unsupported("an explicit method")),
            Structure::Diagonal => {
                v[b_at(s)..b_at(s) + s].copy_from_slice(&tab.b);
                v[e_at(s)..e_at(s) + s].copy_from_slice(&est.e);
                false
            }
            Structure::Full => {
                full_plan(tab, &mut v).map_err(|why| unsupported(&why))?;
                true
            }
        };
        Ok(Self { s, full, values: v })
    }
}

/// The transformed system of a fully implicit method into `v`: `bᵀA⁻¹`, `eᵀA⁻¹`, `T`, `T⁻¹`,
/// the extrapolation matrices and the blocks.
fn full_plan(tab: &Tableau, v: &mut [f64]) -> Result<(), String> {
    let s = tab.stages();
    let plan = FullPlan::new(tab);
    let sc = scalars_at(s);
    let (mut real, mut complex) = (0, 0);
    for block in &plan.blocks {
        match *block {
            Block::Real { k, gamma } => {
                real += 1;
                v[sc + C_REAL_ROW] = k as f64;
                v[sc + C_REAL_GAMMA] = gamma;
            }
            Block::Complex { k, lambda } => {
                complex += 1;
                v[sc + C_COMPLEX_ROW] = k as f64;
                (v[sc + C_ALPHA], v[sc + C_BETA]) = (lambda.re, lambda.im);
            }
        }
    }
    if real > 1 || complex > 1 {
        return Err(format!("{real} real and {complex} complex eigenvalue blocks"));
    }
    v[b_at(s)..b_at(s) + s].copy_from_slice(&plan.b_z);
    v[e_at(s)..e_at(s) + s].copy_from_slice(&plan.e_z);
    v[t_at(s)..t_at(s) + s * s].copy_from_slice(&plan.t);
    v[t_inv_at(s)..t_inv_at(s) + s * s].copy_from_slice(&plan.t_inv);
    if let Some(m) = plan.extrapolation() {
        v[m_at(s)..m_at(s) + s * s * s].copy_from_slice(m);
        v[sc + C_COLLOCATION] = 1.0;
    }
    Ok(())
}

/// A vector field as tables the kernel evaluates, with its analytic Jacobian.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelField {
    /// A mass-action mechanism.
    MassAction(MassActionTables),
    /// An MLP on scaled states (Kim et al. 2021).
    Mlp(MlpTables),
}

/// The activations the kernel evaluates (those of `stiffnode_models::Activation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelActivation {
    /// `x·Φ(x)`.
    Gelu,
    /// `tanh x`.
    Tanh,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `max(x, 0)`.
    Relu,
    /// `x·sigmoid(x)`.
    Swish,
}

impl KernelActivation {
    /// The kernel's code for it.
    fn code(self) -> u32 {
        match self {
            Self::Gelu => mlp::GELU,
            Self::Tanh => mlp::TANH,
            Self::Softplus => mlp::SOFTPLUS,
            Self::Relu => mlp::RELU,
            Self::Swish => mlp::SWISH,
        }
    }
}

/// One layer `z = xW + b`, `W` row-major `[fan_in, fan_out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpLayer {
    /// Inputs.
    pub fan_in: usize,
    /// Outputs.
    pub fan_out: usize,
    /// Weights, `fan_in·fan_out`.
    pub w: Vec<f64>,
    /// Biases, `fan_out`.
    pub b: Vec<f64>,
}

/// An MLP field `f = NN(y/ŷ)·ŷ/t_scale`, the activation after every hidden layer.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpTables {
    /// Layers, first to last (the last has `d` outputs).
    pub layers: Vec<MlpLayer>,
    /// `ŷ`, `d` values.
    pub y_scale: Vec<f64>,
    /// `t_scale`.
    pub t_scale: f64,
    /// The hidden layers' activation.
    pub activation: KernelActivation,
}

/// A mass-action mechanism's reactions: rate constant, orders `(species, power)` and nonzero net
/// coefficients `(species, ν)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MassActionTables {
    /// Species.
    pub d: usize,
    /// `k` per reaction.
    pub rates: Vec<f64>,
    /// Orders per reaction.
    pub orders: Vec<Vec<(usize, f64)>>,
    /// Net coefficients per reaction.
    pub net: Vec<Vec<(usize, f64)>>,
    /// The reactions whose `log10 k` are the field's parameters, in the field's order.
    pub learnable: Vec<usize>,
}

impl KernelField {
    /// State dimension.
    pub fn dim(&self) -> usize {
        match self {
            Self::MassAction(m) => m.d,
            Self::Mlp(m) => m.y_scale.len(),
        }
    }

    /// Whether it is an MLP (the kernel is compiled for one kind of field).
    pub fn is_mlp(&self) -> bool {
        matches!(self, Self::Mlp(_))
    }

    /// The widest layer, inputs included (the MLP's scratch); 1 for mass action.
    pub fn width(&self) -> usize {
        match self {
            Self::MassAction(_) => 1,
            Self::Mlp(m) => m.layers.iter().map(|l| l.fan_in.max(l.fan_out)).max().unwrap_or(1).max(m.y_scale.len()),
        }
    }

    /// The MLP's layers (the backward kernel's storage); 1 for mass action.
    pub fn depth(&self) -> usize {
        match self {
            Self::MassAction(_) => 1,
            Self::Mlp(m) => m.layers.len().max(1),
        }
    }

    /// How many values the backward kernel's parameter product has: `∂/∂log10 k` of every
    /// reaction, or every weight then every bias of the MLP (its parameters, in order).
    pub fn product_width(&self) -> usize {
        match self {
            Self::MassAction(m) => m.rates.len(),
            Self::Mlp(m) => m.layers.iter().map(|l| l.w.len() + l.b.len()).sum(),
        }
    }

    /// The field's parameter gradient, in its order, from the kernel's product.
    pub fn gather(&self, product: &[f64]) -> Vec<f64> {
        match self {
            Self::MassAction(m) => m.learnable.iter().map(|&r| product[r]).collect(),
            Self::Mlp(_) => product.to_vec(),
        }
    }

    /// The integer and float tables (see `ensemble/mass_action.rs` for the layout).
    pub fn tables(&self) -> (Vec<u32>, Vec<f64>) {
        match self {
            Self::MassAction(m) => {
                let nr = m.rates.len();
                let starts = |lists: &[Vec<(usize, f64)>]| {
                    let mut at = vec![0u32];
                    for l in lists {
                        at.push(at[at.len() - 1] + l.len() as u32);
                    }
                    at
                };
                let mut ints = vec![nr as u32];
                ints.extend(starts(&m.orders));
                ints.extend(starts(&m.net));
                let flat = |lists: &[Vec<(usize, f64)>]| lists.iter().flatten().copied().collect::<Vec<_>>();
                let (orders, net) = (flat(&m.orders), flat(&m.net));
                ints.extend(orders.iter().chain(&net).map(|&(i, _)| i as u32));
                let mut floats = m.rates.clone();
                floats.extend(orders.iter().chain(&net).map(|&(_, x)| x));
                (ints, floats)
            }
            Self::Mlp(m) => {
                let code = m.activation.code();
                let mut ints = vec![m.layers.len() as u32, code];
                let mut floats = vec![m.t_scale];
                floats.extend(&m.y_scale);
                let mut at = floats.len() + m.layers.iter().map(|l| l.w.len()).sum::<usize>();
                let mut w_at = floats.len();
                for l in &m.layers {
                    ints.extend([l.fan_in as u32, l.fan_out as u32, w_at as u32, at as u32]);
                    (w_at, at) = (w_at + l.w.len(), at + l.b.len());
                }
                floats.extend(m.layers.iter().flat_map(|l| l.w.iter()));
                floats.extend(m.layers.iter().flat_map(|l| l.b.iter()));
                (ints, floats)
            }
        }
    }
}
