//! The methods stiffnode ships, each declared by its coefficients in a file of its own, and the
//! registry that finds them by the name the CLI spells.

pub mod bdf;
mod bdf2;
mod dopri5;
mod gauss;
mod kvaerno;
mod lobatto;
mod one_stage;
mod radau;
pub mod rosenbrock;
mod sdirk;

use serde::{Deserialize, Serialize};

use crate::error::SetupError;
use crate::step_control::ControllerKind;
use crate::tableau::Tableau;

pub use bdf::Bdf;
pub use bdf2::Bdf2;
pub use rosenbrock::Rosenbrock;

/// A time-stepping method: a Runge–Kutta tableau run by the generic engine, a Rosenbrock
/// method, or a multistep method (variable-step BDF2, variable-order BDF). In configuration files it is its name,
/// checked when the file is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Method {
    /// A Runge–Kutta method (explicit, diagonally implicit or fully implicit).
    RungeKutta(Tableau),
    /// Variable-step BDF2.
    Bdf2(Bdf2),
    /// Variable-order, variable-step BDF (fixed-leading-coefficient form).
    Bdf(Bdf),
    /// A Rosenbrock–Wanner method (linearly implicit; its gradients replay its steps on the
    /// graph, through the field's Jacobian program).
    Rosenbrock(Rosenbrock),
}

/// What the `methods` table shows for one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodInfo {
    /// CLI name.
    pub name: &'static str,
    /// Classical order.
    pub order: u32,
    /// Number of stages (tableau rows, an explicit first stage included; 1 for BDF2).
    pub stages: usize,
    /// A-stable.
    pub a_stable: bool,
    /// L-stable.
    pub l_stable: bool,
    /// Stiffly accurate.
    pub stiffly_accurate: bool,
    /// Has an error estimate for adaptive steps.
    pub embedded: bool,
}

/// All methods, in the order the `methods` table lists them.
pub fn all() -> Vec<Method> {
    vec![
        Method::RungeKutta(one_stage::backward_euler()),
        Method::RungeKutta(one_stage::trapezoid()),
        Method::RungeKutta(one_stage::implicit_midpoint()),
        Method::RungeKutta(gauss::gauss2()),
        Method::RungeKutta(sdirk::sdirk2()),
        Method::RungeKutta(sdirk::trbdf2()),
        Method::RungeKutta(kvaerno::esdirk4()),
        Method::RungeKutta(radau::radau3()),
        Method::RungeKutta(radau::radau5()),
        Method::RungeKutta(lobatto::lobatto3c2()),
        Method::RungeKutta(lobatto::lobatto3c3()),
        Method::Bdf2(Bdf2),
        Method::Bdf(Bdf::new(bdf::MAX_ORDER).expect("the highest order is valid")),
        Method::Rosenbrock(rosenbrock::rosenbrock23()),
        Method::Rosenbrock(rosenbrock::rodas4()),
        Method::Rosenbrock(rosenbrock::rodas5p()),
        Method::RungeKutta(dopri5::dopri5()),
    ]
}

/// The method the CLI calls `name`.
pub fn by_name(name: &str) -> Result<Method, SetupError> {
    all().into_iter().find(|m| m.name() == name).ok_or_else(|| SetupError::UnknownMethod {
        name: name.to_string(),
        known: all().iter().map(|m| m.name()).collect::<Vec<_>>().join(", "),
    })
}

impl Method {
    /// CLI name.
    pub fn name(&self) -> &'static str {
        match self {
            Method::RungeKutta(t) => t.name,
            Method::Bdf2(_) => Bdf2::NAME,
            Method::Bdf(_) => Bdf::NAME,
            Method::Rosenbrock(r) => r.name,
        }
    }

    /// Whether its steps have a stage form (Runge–Kutta and BDF methods): the adjoint walk, the
    /// per-step adjoints and the split by eigenmode take them for every field. Rosenbrock steps,
    /// which solve with `J`, are walked only where the field has second derivatives on the host
    /// (`HostSecondOrder::jacobian_vjp`), and otherwise replayed on the graph.
    pub fn has_step_adjoints(&self) -> bool {
        !matches!(self, Method::Rosenbrock(_))
    }

    /// The step-size controller its error estimate drives (PI where it has none).
    pub fn controller(&self) -> ControllerKind {
        match self {
            Method::RungeKutta(t) => t.error.as_ref().map_or(ControllerKind::Pi, |e| e.controller),
            // BDF's own proposals replace it after accepted steps; it shrinks rejected ones.
            Method::Bdf2(_) | Method::Bdf(_) => ControllerKind::Pi,
            // As rodas.f: Gustafsson's predictive controller.
            Method::Rosenbrock(_) => ControllerKind::Predictive,
        }
    }

    /// The row of the `methods` table.
    pub fn info(&self) -> MethodInfo {
        match self {
            Method::RungeKutta(t) => MethodInfo {
                name: t.name,
                order: t.order,
                stages: t.stages(),
                a_stable: t.a_stable,
                l_stable: t.l_stable,
                stiffly_accurate: t.stiffly_accurate(),
                embedded: t.error.is_some(),
            },
            Method::Bdf2(_) => Bdf2::info(),
            Method::Bdf(b) => b.info(),
            Method::Rosenbrock(r) => MethodInfo {
                name: r.name,
                order: r.order,
                stages: r.stages(),
                a_stable: r.a_stable,
                l_stable: r.l_stable,
                stiffly_accurate: r.stiffly_accurate,
                embedded: true,
            },
        }
    }
}

impl TryFrom<String> for Method {
    type Error = SetupError;
    fn try_from(name: String) -> Result<Self, SetupError> {
        by_name(&name)
    }
}

impl From<Method> for String {
    fn from(method: Method) -> String {
        method.name().to_string()
    }
}

impl std::str::FromStr for Method {
    type Err = SetupError;
    fn from_str(name: &str) -> Result<Self, SetupError> {
        by_name(name)
    }
}
