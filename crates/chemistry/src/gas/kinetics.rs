//! Rates of a [`GasMechanism`] at a temperature and molar concentrations (kmol/m³), by
//! Cantera's definitions (Cantera documentation, "Reaction rates" and "Equilibrium
//! constants"), so that its numbers can be compared one for one:
//!
//! * forward rate constants exclude `[M]` for three-body reactions and include it (through
//!   `P_r`) for falloff reactions;
//! * `K_c = exp(−Σ_k ν_k g°_k/RT) · (P°/RT)^Δν` with `P° = 1 atm`, `Δν = Σ ν_products − Σ
//!   ν_reactants`; `k_r = k_f/K_c` for reversible reactions, 0 otherwise;
//! * rates of progress `q = k_f [M] Π C^order − k_r [M] Π C^ν_products` (`[M]` only for
//!   three-body reactions), production rates `ω̇_k = Σ_r ν_kr q_r`;
//! * the pressure of PLOG rates is the ideal-gas `P = R T Σ C_k`.
//!
//! Troe's falloff function (Gilbert, Luther & Troe, Ber. Bunsenges. Phys. Chem. 87, 1983):
//! `log10 F = log10 F_cent / (1 + ((log10 P_r + c)/(n − 0.14 (log10 P_r + c)))²)` with
//! `c = −0.4 − 0.67 log10 F_cent`, `n = 0.75 − 1.27 log10 F_cent`.

use std::f64::consts::LN_10;

use super::Real;
use super::mechanism::{Arrhenius, GasMechanism, GasReaction, Rate, Troe};
use super::units::{GAS_CONSTANT, ONE_ATM};

/// Cantera's floor for logarithms and divisions in falloff rates (`SmallNumber`).
const SMALL: f64 = 1e-300;

/// Everything about the reactions at one state, per reaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates<S> {
    /// Forward rate constants (Cantera's convention: without `[M]` for three-body reactions).
    pub forward_constants: Vec<S>,
    /// Reverse rate constants (0 for irreversible reactions).
    pub reverse_constants: Vec<S>,
    /// Equilibrium constants in concentration units, `(kmol/m³)^Δν`.
    pub equilibrium_constants: Vec<S>,
    /// `[M]` of three-body and falloff reactions.
    pub third_body: Vec<Option<S>>,
    /// Forward and reverse rates of progress, kmol/(m³·s).
    pub forward: Vec<S>,
    /// Reverse rates of progress.
    pub reverse: Vec<S>,
}

fn sum<S: Real>(v: &[S]) -> S {
    v.iter().fold(S::from(0.0), |acc, &x| acc + x)
}

/// One reaction's numbers at a state.
struct ReactionRates<S> {
    kf: S,
    kr: S,
    kc: S,
    m: Option<S>,
    qf: S,
    qr: S,
}

/// What every reaction of a state shares: `T`, `ln P`, `Σ C`, the concentrations and `g°/RT`.
struct StateTerms<'c, S> {
    t: S,
    ln_p: S,
    total: S,
    conc: &'c [S],
    g_rt: Vec<S>,
}

impl GasMechanism {
    fn state_terms<'c, S: Real>(&self, t: S, conc: &'c [S]) -> StateTerms<'c, S> {
        let total = sum(conc);
        let g_rt = self.species.iter().map(|s| s.thermo.g_rt(t)).collect();
        StateTerms { t, ln_p: (t * total * GAS_CONSTANT).ln(), total, conc, g_rt }
    }

    /// All rates at temperature `t` (K) and concentrations `conc` (kmol/m³, state order); the
    /// forward (and so the reverse) rate of reaction `r` is multiplied by `multipliers[r]`
    /// when given (`10^θ` for a learnable `log10` A-factor).
    pub fn rates<S: Real>(&self, t: S, conc: &[S], multipliers: Option<&[S]>) -> Rates<S> {
        let state = self.state_terms(t, conc);
        let n = self.reactions.len();
        let mut out = Rates {
            forward_constants: Vec::with_capacity(n),
            reverse_constants: Vec::with_capacity(n),
            equilibrium_constants: Vec::with_capacity(n),
            third_body: Vec::with_capacity(n),
            forward: Vec::with_capacity(n),
            reverse: Vec::with_capacity(n),
        };
        for (i, r) in self.reactions.iter().enumerate() {
            let x = reaction_rates(r, &state, multipliers.map(|m| m[i]));
            out.forward.push(x.qf);
            out.reverse.push(x.qr);
            out.forward_constants.push(x.kf);
            out.reverse_constants.push(x.kr);
            out.equilibrium_constants.push(x.kc);
            out.third_body.push(x.m);
        }
        out
    }

    /// Net production rates `ω̇_k` (kmol/(m³·s)) at `t` and `conc`, with optional rate
    /// multipliers as in [`rates`](Self::rates).
    pub fn production_rates<S: Real>(&self, t: S, conc: &[S], multipliers: Option<&[S]>) -> Vec<S> {
        let mut wdot = vec![S::from(0.0); self.species.len()];
        self.production_rates_into(t, conc, multipliers, &mut wdot);
        wdot
    }

    /// [`production_rates`](Self::production_rates) into `wdot` (one value per species),
    /// reaction by reaction without storing the per-reaction numbers.
    pub fn production_rates_into<S: Real>(&self, t: S, conc: &[S], multipliers: Option<&[S]>, wdot: &mut [S]) {
        let state = self.state_terms(t, conc);
        wdot.iter_mut().for_each(|w| *w = S::from(0.0));
        for (i, r) in self.reactions.iter().enumerate() {
            let x = reaction_rates(r, &state, multipliers.map(|m| m[i]));
            let q = x.qf - x.qr;
            r.reactants.iter().for_each(|&(k, nu)| wdot[k] -= q * nu);
            r.products.iter().for_each(|&(k, nu)| wdot[k] += q * nu);
        }
    }
}

/// Rate constants, `[M]` and rates of progress of `r` at `state`, its forward rate multiplied
/// by `multiplier`.
fn reaction_rates<S: Real>(r: &GasReaction, state: &StateTerms<S>, multiplier: Option<S>) -> ReactionRates<S> {
    let conc = state.conc;
    let m = r.third_body.as_ref().map(|tb| {
        let listed = tb.efficiencies.iter().fold(S::from(0.0), |acc, &(k, e)| acc + conc[k] * (e - tb.default));
        state.total * tb.default + listed
    });
    let mut kf = forward_constant(r, state.t, state.ln_p, m);
    if let Some(mult) = multiplier {
        kf *= mult;
    }
    let kc = equilibrium_constant(r, state.t, &state.g_rt);
    let kr = if r.reversible { kf / kc } else { S::from(0.0) };
    // [M] multiplies the rates of progress of three-body reactions only; falloff reactions
    // carry it inside k_f.
    let m_factor = match (&r.rate, m) {
        (Rate::Falloff { .. }, _) | (_, None) => S::from(1.0),
        (_, Some(m)) => m,
    };
    let product = |side: &[(usize, f64)]| side.iter().fold(S::from(1.0), |acc, &(k, nu)| acc * power(conc[k], nu));
    ReactionRates { kf, kr, kc, m, qf: kf * m_factor * product(&r.orders), qr: kr * m_factor * product(&r.products) }
}

/// `x^p` by multiplication for the whole orders of elementary reactions.
fn power<S: Real>(x: S, p: f64) -> S {
    if p == 1.0 {
        x
    } else if p == 2.0 {
        x * x
    } else if p.fract() == 0.0 && p.abs() < 16.0 {
        x.powi(p as i32)
    } else {
        x.powf(p)
    }
}

impl Arrhenius {
    /// `k(T) = A exp(b ln T − T_a/T)`.
    pub fn at<S: Real>(&self, t: S) -> S {
        (t.ln() * self.b - t.recip() * self.ta).exp() * self.a
    }
}

/// `k_f` of `r` at `t`, `ln P`, with `[M]` for falloff.
fn forward_constant<S: Real>(r: &GasReaction, t: S, ln_p: S, m: Option<S>) -> S {
    match &r.rate {
        Rate::Arrhenius(k) => k.at(t),
        Rate::Falloff { low, high, troe } => {
            let (k0, kinf) = (low.at(t), high.at(t));
            let pr = m.unwrap_or(S::from(0.0)) * k0 / (kinf + SMALL);
            let f = troe.as_ref().map_or(S::from(1.0), |troe| troe_factor(troe, t, pr));
            kinf * pr / (pr + 1.0) * f
        }
        Rate::Plog(table) => plog(table, t, ln_p),
    }
}

/// `max(x, SMALL)` for a positive quantity about to be logged.
fn floored<S: Real>(x: S) -> S {
    if x.re() < SMALL { S::from(SMALL) } else { x }
}

/// Troe's `F(T, P_r)`.
fn troe_factor<S: Real>(p: &Troe, t: S, pr: S) -> S {
    let decay = |tx: f64| if tx.abs() < SMALL { S::from(0.0) } else { (t * (-1.0 / tx)).exp() };
    let mut fcent = decay(p.t3) * (1.0 - p.a) + decay(p.t1) * p.a;
    if let Some(t2) = p.t2 {
        fcent += (t.recip() * -t2).exp();
    }
    let log_fcent = floored(fcent).log10();
    let log_pr = floored(pr).log10();
    let c = log_fcent * -0.67 - 0.4;
    let n = log_fcent * -1.27 + 0.75;
    let f1 = (log_pr + c) / (n - (log_pr + c) * 0.14);
    (log_fcent / (f1 * f1 + 1.0) * LN_10).exp()
}

/// PLOG: the summed Arrhenius terms at the bracketing pressures, `ln k` interpolated linearly
/// in `ln P`; clamped to the first and last pressure outside the table.
fn plog<S: Real>(table: &[(f64, Vec<Arrhenius>)], t: S, ln_p: S) -> S {
    let k_at = |i: usize| table[i].1.iter().fold(S::from(0.0), |acc, k| acc + k.at(t));
    let last = table.len() - 1;
    if ln_p.re() <= table[0].0 {
        return k_at(0);
    }
    if ln_p.re() >= table[last].0 {
        return k_at(last);
    }
    let i = table.iter().rposition(|(lp, _)| *lp <= ln_p.re()).expect("ln P is above the first pressure");
    let (lp0, lp1) = (table[i].0, table[i + 1].0);
    let (lk0, lk1) = (k_at(i).ln(), k_at(i + 1).ln());
    (lk0 + (lk1 - lk0) * ((ln_p - lp0) / (lp1 - lp0))).exp()
}

/// `K_c` of `r` from the species' `g°/RT` at `t`.
fn equilibrium_constant<S: Real>(r: &GasReaction, t: S, g_rt: &[S]) -> S {
    let side = |s: &[(usize, f64)]| s.iter().fold((S::from(0.0), 0.0), |(g, n), &(k, nu)| (g + g_rt[k] * nu, n + nu));
    let ((g_p, n_p), (g_r, n_r)) = (side(&r.products), side(&r.reactants));
    let c0 = t.recip() * (ONE_ATM / GAS_CONSTANT);
    (g_r - g_p).exp() * c0.powf(n_p - n_r)
}
