//! Closed homogeneous (0-D) ideal-gas reactors as vector fields (Kee, Coltrin & Glarborg,
//! *Chemically Reacting Flow*, 2003, §9.5; Cantera's `IdealGasConstPressureReactor` and
//! `IdealGasReactor`):
//!
//! * constant pressure, adiabatic — state `[T, Y_1 … Y_K]`:
//!   `dY_k/dt = ω̇_k W_k/ρ`, `dT/dt = −Σ_k h_k ω̇_k / (ρ c_p)`, `ρ = P W̄/(R T)`;
//! * constant volume, adiabatic — the same state, `ρ` fixed,
//!   `dT/dt = −Σ_k u_k ω̇_k / (ρ c_v)`, `u_k = h_k − R T`, `c_v = c_p − R/W̄`;
//! * isothermal, constant volume — state `[C_1 … C_K]` (kmol/m³): `dC_k/dt = ω̇_k(T, C)`, the
//!   form of the mass-action TOML mechanisms.
//!
//! `h_k`, `u_k` are molar, `c_p`, `c_v` per unit mass. The Jacobian is exact: one forward-mode
//! pass with a dual number per state component.
//!
//! One field serves trajectories whose held quantity differs (a dataset swept over pressures, or
//! constant-volume trajectories of different densities) when the reactor *carries its
//! condition*: `P`, `ρ` or `T` is then the state's last component, with zero derivative — the
//! usual augmented state of a parameter (Hairer, Nørsett & Wanner I, §I.14), and what a neural
//! ODE of the same data needs to see.

use std::f64::consts::LN_10;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use num_dual::Dual64;
use stiffnode_solvers::TrajectoryRecord;
use stiffnode_solvers::field::{HostField, HostProducts, VectorField, from_host, to_host};

use super::mechanism::GasMechanism;
use super::units::GAS_CONSTANT;
use super::{Real, state};

/// Which reactor, with what it holds fixed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReactorKind {
    /// Adiabatic at constant pressure `p` (Pa); state `[T, Y…]`.
    ConstPressure {
        /// Pressure, Pa.
        p: f64,
    },
    /// Adiabatic at constant volume, i.e. constant density `rho` (kg/m³); state `[T, Y…]`.
    ConstVolume {
        /// Density, kg/m³.
        rho: f64,
    },
    /// Isothermal at constant volume, temperature `t` (K); state `[C…]` in kmol/m³.
    Isothermal {
        /// Temperature, K.
        t: f64,
    },
}

/// A mechanism in a reactor: the vector field of its state, and a Burn module whose parameters
/// are `log10` factors on the forward rates of chosen reactions (rate identification: for an
/// Arrhenius rate the factor is a correction to `log10 A`).
#[derive(Module, Debug)]
pub struct Reactor {
    /// `log10` of the factor on each learnable reaction's forward rate (0: the file's rate), in
    /// the order of [`learnable`](Self::learnable).
    pub log10_factors: Option<Param<Tensor<1>>>,
    #[module(skip)]
    mech: GasMechanism,
    #[module(skip)]
    kind: ReactorKind,
    #[module(skip)]
    weights: Vec<f64>,
    #[module(skip)]
    learnable: Vec<usize>,
    /// Whether the held quantity is the state's last component (see the module header).
    #[module(skip)]
    carried: bool,
    #[module(skip)]
    device: Device,
}

impl Reactor {
    /// `mech` in a reactor of `kind`, evaluated for tensors on `device`.
    pub fn new(mech: GasMechanism, kind: ReactorKind, device: &Device) -> Self {
        Self::with_learnable(mech, kind, device, &[])
    }

    /// [`Reactor::new`] with a learnable `log10` rate factor (initially 0) for each reaction
    /// index in `learnable`.
    pub fn with_learnable(mech: GasMechanism, kind: ReactorKind, device: &Device, learnable: &[usize]) -> Self {
        let weights = mech.weights();
        let log10_factors = (!learnable.is_empty())
            .then(|| Param::from_tensor(from_host(vec![0.0; learnable.len()], [learnable.len()], device)));
        let learnable = learnable.to_vec();
        Self { log10_factors, mech, kind, weights, learnable, carried: false, device: device.clone() }
    }

    /// The same reactor reading its held quantity (`P`, `ρ` or `T` by its kind) from the
    /// state's last component instead of its kind, whose value then only names the default.
    pub fn carrying_condition(mut self) -> Self {
        self.carried = true;
        self
    }

    /// Whether the state ends with the held quantity ([`carrying_condition`](Self::carrying_condition)).
    pub fn carries_condition(&self) -> bool {
        self.carried
    }

    /// The reactions with a learnable factor.
    pub fn learnable(&self) -> &[usize] {
        &self.learnable
    }

    /// The factor on every reaction's forward rate (1 where not learnable), if any is learnable.
    pub fn multipliers(&self) -> Option<Vec<f64>> {
        let p = self.log10_factors.as_ref()?;
        let mut m = vec![1.0; self.mech.reactions.len()];
        for (&r, theta) in self.learnable.iter().zip(to_host(p.val().without_autodiff())) {
            m[r] = 10f64.powf(theta);
        }
        Some(m)
    }

    /// The mechanism.
    pub fn mechanism(&self) -> &GasMechanism {
        &self.mech
    }

    /// The reactor kind.
    pub fn kind(&self) -> ReactorKind {
        self.kind
    }

    /// Whether the state starts with the temperature (the adiabatic reactors).
    pub fn has_temperature(&self) -> bool {
        !matches!(self.kind, ReactorKind::Isothermal { .. })
    }

    /// Names of the state components: `T` and the species, or the species; then `P`, `rho` or
    /// `T` when it carries its condition.
    pub fn state_names(&self) -> Vec<String> {
        state_names(&self.mech, self.kind, self.carried)
    }

    /// `dy/dt` at state `y` in any [`Real`], with the current rate factors.
    pub fn rhs<S: Real>(&self, y: &[S], out: &mut [S]) {
        let m: Option<Vec<S>> = self.multipliers().map(|m| m.into_iter().map(S::from).collect());
        self.rhs_with(y, m.as_deref(), out);
    }

    /// `dy/dt` at state `y` with forward-rate factors `m` (per reaction; none: the file's rates).
    pub fn rhs_with<S: Real>(&self, y: &[S], m: Option<&[S]>, out: &mut [S]) {
        let w = &self.weights;
        // The held quantity: the state's last component (derivative 0), or the kind's value.
        let (y, out, held) = match (self.carried, y.split_last(), out.split_last_mut()) {
            (true, Some((&held, y)), Some((last, out))) => {
                *last = S::from(0.0);
                (y, out, Some(held))
            }
            _ => (y, out, None),
        };
        let (t, rho, conc) = match self.kind {
            ReactorKind::Isothermal { t } => {
                self.mech.production_rates_into(held.unwrap_or(S::from(t)), y, m, out);
                return;
            }
            ReactorKind::ConstPressure { p } => {
                let (t, mass) = (y[0], &y[1..]);
                let inv_weight = mass.iter().zip(w).fold(S::from(0.0), |acc, (&yk, &wk)| acc + yk / wk);
                let rho = (t * inv_weight * GAS_CONSTANT).recip() * held.unwrap_or(S::from(p));
                (t, rho, mass.iter().zip(w).map(|(&yk, &wk)| rho * yk / wk).collect::<Vec<S>>())
            }
            ReactorKind::ConstVolume { rho } => {
                let rho = held.unwrap_or(S::from(rho));
                (y[0], rho, y[1..].iter().zip(w).map(|(&yk, &wk)| rho * yk / wk).collect())
            }
        };
        // ω̇ into out[1..], then turned into dY/dt in place.
        self.mech.production_rates_into(t, &conc, m, &mut out[1..]);
        let mass = &y[1..];
        let (mut cp, mut heat, mut inv_weight, mut total_rate) =
            (S::from(0.0), S::from(0.0), S::from(0.0), S::from(0.0));
        for (k, s) in self.mech.species.iter().enumerate() {
            let wdot = out[k + 1];
            cp += s.thermo.cp_r(t) * mass[k] / w[k];
            heat += s.thermo.h_rt(t) * wdot;
            inv_weight += mass[k] / w[k];
            total_rate += wdot;
            out[k + 1] = wdot * w[k] / rho;
        }
        // cp, heat and 1/W̄ so far in units of R and RT: c_p = R·cp, Σ h_k ω̇_k = RT·heat.
        out[0] = match self.kind {
            ReactorKind::ConstPressure { .. } => -(heat * t) / (rho * cp),
            // u_k = h_k − RT: Σ u_k ω̇_k = RT(heat − Σ ω̇_k); c_v = R(cp − 1/W̄).
            _ => -((heat - total_rate) * t) / (rho * (cp - inv_weight)),
        };
    }

    /// `∂f/∂y` row-major, exact, by one forward-mode pass per column.
    pub fn jacobian_at(&self, y: &[f64], jac: &mut [f64]) {
        let m: Option<Vec<Dual64>> = self.multipliers().map(|m| m.into_iter().map(Dual64::from).collect());
        self.jacobian_with(y, m.as_deref(), jac);
    }

    /// `∂f/∂y` of every row of `states` (`d` values each), row-major `d×d` after one another,
    /// with the rate factors read once.
    fn jacobians(&self, states: &[f64], d: usize) -> Vec<f64> {
        let m: Option<Vec<Dual64>> = self.multipliers().map(|m| m.into_iter().map(Dual64::from).collect());
        let mut out = vec![0.0; states.len() * d];
        for (yr, jr) in states.chunks_exact(d).zip(out.chunks_exact_mut(d * d)) {
            self.jacobian_with(yr, m.as_deref(), jr);
        }
        out
    }

    fn jacobian_with(&self, y: &[f64], m: Option<&[Dual64]>, jac: &mut [f64]) {
        let d = y.len();
        let mut dual: Vec<Dual64> = y.iter().map(|&v| Dual64::from(v)).collect();
        let mut out = vec![Dual64::from(0.0); d];
        for j in 0..d {
            dual[j].eps = 1.0;
            self.rhs_with(&dual, m, &mut out);
            dual[j].eps = 0.0;
            for (i, o) in out.iter().enumerate() {
                jac[i * d + j] = o.eps;
            }
        }
    }

    /// `∂f/∂θ` row-major (`d × learnable`), exact, at rate factors `m` (`10^θ`).
    fn parameter_jacobian(&self, y: &[f64], m: &[f64], out: &mut [f64]) {
        let (d, p) = (y.len(), self.learnable.len());
        let yd: Vec<Dual64> = y.iter().map(|&v| Dual64::from(v)).collect();
        let mut md: Vec<Dual64> = m.iter().map(|&v| Dual64::from(v)).collect();
        let mut f = vec![Dual64::from(0.0); d];
        for (k, &r) in self.learnable.iter().enumerate() {
            // m = 10^θ: dm/dθ = m ln 10.
            md[r].eps = m[r] * LN_10;
            self.rhs_with(&yd, Some(&md), &mut f);
            md[r].eps = 0.0;
            for (i, fi) in f.iter().enumerate() {
                out[i * p + k] = fi.eps;
            }
        }
    }

    /// The state `[T, Y…]` (or `[C…]` for the isothermal reactor) at temperature `t`, pressure
    /// `p` and `composition`, ending with `P`, `ρ` or `T` when the reactor carries its
    /// condition; also the density that a constant-volume reactor then holds.
    pub fn initial_state(&self, t: f64, p: f64, composition: &state::Composition) -> (Vec<f64>, f64) {
        let y = state::mass_fractions(composition, &self.weights);
        let rho = state::density(t, p, &y, &self.weights);
        let (mut state, held) = match self.kind {
            ReactorKind::Isothermal { .. } => (state::concentrations(rho, &y, &self.weights), t),
            ReactorKind::ConstPressure { .. } => (std::iter::once(t).chain(y).collect(), p),
            ReactorKind::ConstVolume { .. } => (std::iter::once(t).chain(y).collect(), rho),
        };
        if self.carried {
            state.push(held);
        }
        (state, rho)
    }
}

impl Reactor {
    /// The ignition delay of a solve of this reactor from `t0`: the time of the largest `dT/dt`
    /// among the step points of `record`, refined by the vertex of the parabola through that
    /// point and its neighbours. `None` without a temperature, or when the largest `dT/dt` is
    /// at the first or last point (no ignition inside the solve).
    pub fn ignition_delay(&self, record: &TrajectoryRecord, t0: f64) -> Option<f64> {
        if !self.has_temperature() || record.n_points() < 3 {
            return None;
        }
        let times: Vec<f64> = std::iter::once(t0).chain(record.steps().iter().map(|s| s.t_next)).collect();
        let (m, mut f) = (self.multipliers(), vec![0.0; self.dim()]);
        let rates: Vec<f64> = (0..record.n_points())
            .map(|k| {
                self.rhs_with(record.point(k), m.as_deref(), &mut f);
                f[0]
            })
            .collect();
        peak_time(&times, &rates)
    }
}

/// The time of the largest of `values` (sampled at `times`), refined by the vertex of the
/// parabola through it and its neighbours; `None` when the largest is at either end.
pub fn peak_time(times: &[f64], values: &[f64]) -> Option<f64> {
    let k = (0..values.len()).max_by(|&a, &b| values[a].total_cmp(&values[b]))?;
    if k == 0 || k + 1 == values.len() {
        return None;
    }
    let (t0, t1, t2) = (times[k - 1], times[k], times[k + 1]);
    let (f0, f1, f2) = (values[k - 1], values[k], values[k + 1]);
    let (a, b) = ((t1 - t0) * (f1 - f2), (t1 - t2) * (f1 - f0));
    let vertex = t1 - 0.5 * ((t1 - t0) * a - (t1 - t2) * b) / (a - b);
    Some(if vertex.is_finite() && (t0..=t2).contains(&vertex) { vertex } else { t1 })
}

/// The state components of a reactor of `kind` for `mech`: `T` (adiabatic reactors) and the
/// species, then the held quantity (`P`, `rho` or `T`) when the state `carries` it.
pub fn state_names(mech: &GasMechanism, kind: ReactorKind, carries: bool) -> Vec<String> {
    let (temperature, held) = match kind {
        ReactorKind::ConstPressure { .. } => (true, "P"),
        ReactorKind::ConstVolume { .. } => (true, "rho"),
        ReactorKind::Isothermal { .. } => (false, "T"),
    };
    let species = mech.species.iter().map(|s| s.name.clone());
    let first = temperature.then(|| "T".to_string());
    first.into_iter().chain(species).chain(carries.then(|| held.to_string())).collect()
}

/// The reactor on host slices (the CPU fast path), with its rate factors at the time it was
/// made; it differentiates with respect to them for the adjoint's parameter products.
struct HostReactor<'a> {
    reactor: &'a Reactor,
    multipliers: Option<Vec<f64>>,
}

impl HostField for HostReactor<'_> {
    fn eval(&self, _t: f64, y: &[f64], f: &mut [f64]) {
        self.reactor.rhs_with(y, self.multipliers.as_deref(), f);
    }

    fn jacobian(&self, _t: f64, y: &[f64], jac: &mut [f64]) {
        let m: Option<Vec<Dual64>> = self.multipliers.as_ref().map(|m| m.iter().map(|&v| Dual64::from(v)).collect());
        self.reactor.jacobian_with(y, m.as_deref(), jac);
    }

    fn products(&self) -> Option<&dyn HostProducts> {
        Some(self)
    }
}

impl HostProducts for HostReactor<'_> {
    fn params(&self) -> usize {
        self.reactor.learnable.len()
    }

    fn vjp(&self, _t: f64, y: &[f64], c: &[f64], grad: &mut [f64]) {
        let Some(m) = &self.multipliers else { return };
        let (d, p) = (y.len(), grad.len());
        let mut jt = vec![0.0; d * p];
        self.reactor.parameter_jacobian(y, m, &mut jt);
        for (k, g) in grad.iter_mut().enumerate() {
            *g += (0..d).map(|i| c[i] * jt[i * p + k]).sum::<f64>();
        }
    }
}

impl VectorField for Reactor {
    fn dim(&self) -> usize {
        self.mech.species.len() + usize::from(self.has_temperature()) + usize::from(self.carried)
    }

    fn device(&self) -> Device {
        self.device.clone()
    }

    /// Evaluated on the host. On an autodiff graph the result also carries the exact first
    /// derivatives: `f + J_y·(y − ȳ) + J_θ·(θ − θ̄)` with `ȳ`, `θ̄` detached copies (zero in
    /// value, `∂f/∂y` and `∂f/∂θ` in the backward pass). The state term is added wherever `y`
    /// is on the graph (`is_tracked`), a computed state included: Burn's `is_require_grad` is
    /// true of leaves only, and testing that dropped `∂f/∂y` at every state a solve computed.
    fn eval(&self, _t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let [rows, d] = y.dims();
        let host = to_host(y.clone().without_autodiff());
        let m = self.multipliers();
        let mut out = vec![0.0; rows * d];
        for (yr, fr) in host.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            self.rhs_with(yr, m.as_deref(), fr);
        }
        let mut f = from_host(out, [rows, d], &self.device);
        if y.is_tracked() {
            let jac = self.jacobians(&host, d);
            let dy = (y.clone() - y.detach()).unsqueeze_dim::<3>(1);
            f = f + (from_host(jac, [rows, d, d], &self.device) * dy).sum_dim(2).reshape([rows, d]);
        }
        if let (Some(p), Some(m)) = (self.log10_factors.as_ref().filter(|p| p.val().is_require_grad()), &m) {
            let n = self.learnable.len();
            let mut jt = vec![0.0; rows * d * n];
            for (yr, jr) in host.chunks_exact(d).zip(jt.chunks_exact_mut(d * n)) {
                self.parameter_jacobian(yr, m, jr);
            }
            let theta = p.val();
            let dtheta = (theta.clone() - theta.detach()).reshape([1, 1, n]);
            f = f + (from_host(jt, [rows, d, n], &self.device) * dtheta).sum_dim(2).reshape([rows, d]);
        }
        f
    }

    fn jacobian(&self, _t: &[f64], y: Tensor<2>) -> Tensor<3> {
        let [rows, d] = y.dims();
        from_host(self.jacobians(&to_host(y), d), [rows, d, d], &self.device)
    }

    /// The Jacobian is exact but computed on the host: a constant on the graph.
    fn jacobian_differentiates(&self) -> bool {
        false
    }

    /// The reactor's right-hand side reads the state only.
    fn autonomous(&self) -> bool {
        true
    }

    fn host(&self) -> Option<Box<dyn HostField + '_>> {
        Some(Box::new(HostReactor { reactor: self, multipliers: self.multipliers() }))
    }
}
