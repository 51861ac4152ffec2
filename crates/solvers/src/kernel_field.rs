//! A vector field as tables a device kernel evaluates, with its analytic Jacobian (design.md
//! §11): what a field hands the GPU ensemble engine
//! ([`VectorField::kernel`](crate::field::VectorField::kernel)), and its layout in one integer
//! and one float buffer. Data only, below the field seam: the kernels that read the tables are
//! in `ensemble` (`mass_action.rs` and `mlp.rs` there document the layouts).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A vector field as tables the kernel evaluates, with its analytic Jacobian.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelField {
    /// A mass-action mechanism.
    MassAction(MassActionTables),
    /// An MLP on scaled states (Kim et al. 2021).
    Mlp(MlpTables),
}

/// A pointwise activation `σ`, one type for the three forms of an MLP field: the Burn module and
/// the host form (`stiffnode_models::activation::Pointwise`) and the kernel (`ensemble/mlp.rs`,
/// whose code for it is the discriminant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `x·Φ(x)`, the exact (erf) form (Hendrycks & Gimpel 2016).
    Gelu = 0,
    /// `tanh x`.
    Tanh = 1,
    /// `ln(1 + eˣ)`.
    Softplus = 2,
    /// `max(x, 0)`.
    Relu = 3,
    /// `x·sigmoid(x)` (SiLU).
    Swish = 4,
}

impl Activation {
    /// Names as configuration files spell them.
    pub const NAMES: [&'static str; 5] = ["gelu", "tanh", "softplus", "relu", "swish"];
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gelu" => Ok(Self::Gelu),
            "tanh" => Ok(Self::Tanh),
            "softplus" => Ok(Self::Softplus),
            "relu" => Ok(Self::Relu),
            "swish" | "silu" => Ok(Self::Swish),
            other => Err(format!("unknown activation '{other}' (known: {})", Self::NAMES.join(", "))),
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
    pub activation: Activation,
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
                let code = m.activation as u32;
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
