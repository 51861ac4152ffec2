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

use super::mechanism::{Arrhenius, GasMechanism, GasReaction, Rate, Troe};
use super::units::{GAS_CONSTANT, ONE_ATM};

/// Cantera's floor for logarithms and divisions in falloff rates (`SmallNumber`).
const SMALL: f64 = 1e-300;

/// Everything about the reactions at one state, per reaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Forward rate constants (Cantera's convention: without `[M]` for three-body reactions).
    pub forward_constants: Vec<f64>,
    /// Reverse rate constants (0 for irreversible reactions).
    pub reverse_constants: Vec<f64>,
    /// Equilibrium constants in concentration units, `(kmol/m³)^Δν`.
    pub equilibrium_constants: Vec<f64>,
    /// `[M]` of three-body and falloff reactions.
    pub third_body: Vec<Option<f64>>,
    /// Forward and reverse rates of progress, kmol/(m³·s).
    pub forward: Vec<f64>,
    /// Reverse rates of progress.
    pub reverse: Vec<f64>,
}

impl GasMechanism {
    /// All rates at temperature `t` (K) and concentrations `conc` (kmol/m³, state order).
    pub fn rates(&self, t: f64, conc: &[f64]) -> Rates {
        let g_rt: Vec<f64> = self.species.iter().map(|s| s.thermo.g_rt(t)).collect();
        let ln_p = (GAS_CONSTANT * t * conc.iter().sum::<f64>()).ln();
        let n = self.reactions.len();
        let mut out = Rates {
            forward_constants: Vec::with_capacity(n),
            reverse_constants: Vec::with_capacity(n),
            equilibrium_constants: Vec::with_capacity(n),
            third_body: Vec::with_capacity(n),
            forward: Vec::with_capacity(n),
            reverse: Vec::with_capacity(n),
        };
        for r in &self.reactions {
            let m = r.third_body.as_ref().map(|tb| {
                let listed: f64 = tb.efficiencies.iter().map(|&(k, e)| (e - tb.default) * conc[k]).sum();
                tb.default * conc.iter().sum::<f64>() + listed
            });
            let kf = forward_constant(r, t, ln_p, m);
            let kc = equilibrium_constant(r, t, &g_rt);
            let kr = if r.reversible { kf / kc } else { 0.0 };
            // [M] multiplies the rates of progress of three-body reactions only; falloff
            // reactions carry it inside k_f.
            let m_factor = match (&r.rate, m) {
                (Rate::Falloff { .. }, _) | (_, None) => 1.0,
                (_, Some(m)) => m,
            };
            let product = |side: &[(usize, f64)]| side.iter().fold(1.0, |acc, &(k, nu)| acc * power(conc[k], nu));
            out.forward.push(kf * m_factor * product(&r.orders));
            out.reverse.push(kr * m_factor * product(&r.products));
            out.forward_constants.push(kf);
            out.reverse_constants.push(kr);
            out.equilibrium_constants.push(kc);
            out.third_body.push(m);
        }
        out
    }

    /// Net production rates `ω̇_k` (kmol/(m³·s)) at `t` and `conc`.
    pub fn production_rates(&self, t: f64, conc: &[f64]) -> Vec<f64> {
        let rates = self.rates(t, conc);
        let mut wdot = vec![0.0; self.species.len()];
        for ((r, qf), qr) in self.reactions.iter().zip(&rates.forward).zip(&rates.reverse) {
            let q = qf - qr;
            r.reactants.iter().for_each(|&(k, nu)| wdot[k] -= nu * q);
            r.products.iter().for_each(|&(k, nu)| wdot[k] += nu * q);
        }
        wdot
    }
}

/// `x^p` by multiplication for the whole orders of elementary reactions.
fn power(x: f64, p: f64) -> f64 {
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

/// `k_f` of `r` at `t`, `ln P`, with `[M]` for falloff.
fn forward_constant(r: &GasReaction, t: f64, ln_p: f64, m: Option<f64>) -> f64 {
    match &r.rate {
        Rate::Arrhenius(k) => k.at(t),
        Rate::Falloff { low, high, troe } => {
            let (k0, kinf) = (low.at(t), high.at(t));
            let pr = m.unwrap_or(0.0) * k0 / (kinf + SMALL);
            let f = troe.as_ref().map_or(1.0, |troe| troe_factor(troe, t, pr));
            kinf * pr / (1.0 + pr) * f
        }
        Rate::Plog(table) => plog(table, t, ln_p),
    }
}

/// Troe's `F(T, P_r)`.
fn troe_factor(p: &Troe, t: f64, pr: f64) -> f64 {
    let decay = |tx: f64| if tx.abs() < SMALL { 0.0 } else { (-t / tx).exp() };
    let mut fcent = (1.0 - p.a) * decay(p.t3) + p.a * decay(p.t1);
    if let Some(t2) = p.t2 {
        fcent += (-t2 / t).exp();
    }
    let log_fcent = fcent.max(SMALL).log10();
    let log_pr = pr.max(SMALL).log10();
    let c = -0.4 - 0.67 * log_fcent;
    let n = 0.75 - 1.27 * log_fcent;
    let f1 = (log_pr + c) / (n - 0.14 * (log_pr + c));
    10f64.powf(log_fcent / (1.0 + f1 * f1))
}

/// PLOG: the summed Arrhenius terms at the bracketing pressures, `ln k` interpolated linearly
/// in `ln P`; clamped to the first and last pressure outside the table.
fn plog(table: &[(f64, Vec<Arrhenius>)], t: f64, ln_p: f64) -> f64 {
    let k_at = |i: usize| table[i].1.iter().map(|k| k.at(t)).sum::<f64>();
    let last = table.len() - 1;
    if ln_p <= table[0].0 {
        return k_at(0);
    }
    if ln_p >= table[last].0 {
        return k_at(last);
    }
    let i = table.iter().rposition(|(lp, _)| *lp <= ln_p).expect("ln P is above the first pressure");
    let (lp0, lp1) = (table[i].0, table[i + 1].0);
    let (lk0, lk1) = (k_at(i).ln(), k_at(i + 1).ln());
    (lk0 + (lk1 - lk0) * (ln_p - lp0) / (lp1 - lp0)).exp()
}

/// `K_c` of `r` from the species' `g°/RT` at `t`.
fn equilibrium_constant(r: &GasReaction, t: f64, g_rt: &[f64]) -> f64 {
    let side = |s: &[(usize, f64)]| s.iter().fold((0.0, 0.0), |(g, n), &(k, nu)| (g + nu * g_rt[k], n + nu));
    let ((g_p, n_p), (g_r, n_r)) = (side(&r.products), side(&r.reactants));
    let c0 = ONE_ATM / (GAS_CONSTANT * t);
    (-(g_p - g_r)).exp() * c0.powf(n_p - n_r)
}
