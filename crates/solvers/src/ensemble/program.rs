//! What the device kernel is given: the method as a coefficient buffer built from the same
//! [`Tableau`] (and, for a fully implicit one, the same transformation of `A⁻¹`) as the host
//! engine runs. The vector field comes as tables ([`KernelField`](crate::kernel_field::KernelField)).

use super::kernel::{
    C_ALPHA, C_BETA, C_COLLOCATION, C_COMPLEX_ROW, C_ERR_ORDER, C_EXPLICIT_FIRST, C_F0, C_FILTER, C_PREDICTIVE,
    C_REAL_GAMMA, C_REAL_ROW, C_SCALARS, b_at, c_at, e_at, m_at, scalars_at, t_at, t_inv_at,
};
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
