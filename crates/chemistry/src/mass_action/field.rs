//! A [`Mechanism`] compiled to a batched tensor vector field with an analytic Jacobian.
//!
//! Each reaction's rate is a product of at most `n` factors ("slots"): slot `s` of reaction `j`
//! is `y[idx_s(j)]^p_s(j)`, or 1 where the reaction has fewer factors. One `select` per slot
//! gathers the factors for all reactions at once, so the cost in tensor operations does not
//! grow with the number of reactions: `f = r·Sᵀ`, `J = S·diag(∂r)·E` with `E` one-hot.

use std::f64::consts::LN_10;

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::mechanism::Mechanism;
use stiffnode_solvers::field::{HostField, HostProducts, HostSecondOrder, VectorField, from_host, to_host};
use stiffnode_solvers::kernel_field::{KernelField, MassActionTables};
use stiffnode_solvers::linalg::zero;

#[derive(Module, Debug)]
struct Slot {
    idx: Tensor<1, Int>,
    /// 1 where the reaction uses the slot, else 0.
    mask: Tensor<2>,
    /// 1 − mask: unused slots read 1.
    offset: Tensor<2>,
    /// Exponents, if any used entry of the slot has one other than 1.
    power: Option<Tensor<2>>,
}

/// Orders and net stoichiometry (nonzero entries) of one reaction, for the host form.
type HostReaction = (Vec<(usize, f64)>, Vec<(usize, f64)>);

/// A mechanism as a [`VectorField`] and a Burn [`Module`] on one device. Rate constants are
/// fixed, or learnable as `log10 k` parameters (rate identification: log space keeps the
/// constants positive and puts rates that span many decades on one scale).
#[derive(Module, Debug)]
pub struct MassActionField {
    /// `log10 k` of the learnable reactions, in the order of [`learnable`](Self::learnable).
    pub log10_rates: Option<Param<Tensor<1>>>,
    /// `k` of the fixed reactions.
    fixed_rates: Option<Tensor<1>>,
    /// Position of each reaction in `[learnable…, fixed…]`.
    order: Tensor<1, Int>,
    /// `Sᵀ`, `[reactions, d]`.
    stoich_t: Tensor<2>,
    slots: Vec<Slot>,
    /// `S` repeated once per slot, `[1, d, slots·reactions]`.
    stoich_rep: Tensor<3>,
    /// One-hot species of each (slot, reaction), `[1, slots·reactions, d]`.
    onehot: Tensor<3>,
    #[module(skip)]
    dim: usize,
    #[module(skip)]
    learnable: Vec<usize>,
    #[module(skip)]
    structure: Vec<HostReaction>,
}

/// The mechanism on host slices with the field's current rates (the CPU forward solve).
struct HostMassAction<'a> {
    d: usize,
    rates: Vec<f64>,
    structure: &'a [HostReaction],
    /// The reactions whose `log10 k` are the parameters, in parameter order.
    learnable: &'a [usize],
}

/// `x^p`, by products for the small whole orders of mass action.
#[inline(always)]
fn pow(x: f64, p: f64) -> f64 {
    if p == 1.0 {
        x
    } else if p == 0.0 {
        1.0
    } else if p == 2.0 {
        x * x
    } else if p.fract() == 0.0 && p.abs() < 64.0 {
        x.powi(p as i32)
    } else {
        x.powf(p)
    }
}

impl HostMassAction<'_> {
    /// `f_r += Σ_j ν_j k_j Π_i y_{r,i}^{o_ij}` for `R` rows `r` of `d` values at once.
    #[inline(always)]
    fn add_rates<const R: usize>(&self, y: &[f64], f: &mut [f64]) {
        let d = self.d;
        let (y, f) = (&y[..R * d], &mut f[..R * d]);
        for (&k, (orders, net)) in self.rates.iter().zip(self.structure) {
            let mut rate = [k; R];
            for &(i, o) in orders {
                (0..R).for_each(|r| rate[r] *= pow(y[r * d + i], o));
            }
            for &(i, n) in net {
                (0..R).for_each(|r| f[r * d + i] += n * rate[r]);
            }
        }
    }
}

impl HostField for HostMassAction<'_> {
    fn eval(&self, _t: f64, y: &[f64], f: &mut [f64]) {
        zero(f);
        self.add_rates::<1>(y, f);
    }

    /// Reaction by reaction over groups of up to four rows (a step's stages): a reaction's
    /// tables are read once per group rather than once per row. Each row's arithmetic is that
    /// of [`eval`](HostField::eval).
    fn eval_rows(&self, _t: &[f64], y: &[f64], f: &mut [f64]) {
        zero(f);
        let d = self.d.max(1);
        for (y, f) in y.chunks(4 * d).zip(f.chunks_mut(4 * d)) {
            match y.len() / d {
                1 => self.add_rates::<1>(y, f),
                2 => self.add_rates::<2>(y, f),
                3 => self.add_rates::<3>(y, f),
                _ => self.add_rates::<4>(y, f),
            }
        }
    }

    fn jacobian(&self, _t: f64, y: &[f64], jac: &mut [f64]) {
        zero(jac);
        for (k, (orders, net)) in self.rates.iter().zip(self.structure) {
            for (a, &(l, ol)) in orders.iter().enumerate() {
                let others = orders
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| *b != a)
                    .fold(*k, |acc, (_, &(m, om))| acc * pow(y[m], om));
                let dr = others * ol * pow(y[l], ol - 1.0);
                for &(i, n) in net {
                    jac[i * self.d + l] += n * dr;
                }
            }
        }
    }

    fn products(&self) -> Option<&dyn HostProducts> {
        Some(self)
    }
}

impl HostProducts for HostMassAction<'_> {
    fn params(&self) -> usize {
        self.learnable.len()
    }

    /// `∂f/∂log10 k_r = ln 10 · r_r(y) · net_r`, so the product with `c` is
    /// `ln 10 · r_r(y) · (net_r · c)` for each learnable reaction `r`.
    fn vjp(&self, _t: f64, y: &[f64], c: &[f64], grad: &mut [f64]) {
        for (g, &r) in grad.iter_mut().zip(self.learnable) {
            let (orders, net) = &self.structure[r];
            let rate = orders.iter().fold(self.rates[r], |acc, &(i, o)| acc * pow(y[i], o));
            let dot: f64 = net.iter().map(|&(i, n)| n * c[i]).sum();
            *g += LN_10 * rate * dot;
        }
    }

    fn second_order(&self) -> Option<&dyn HostSecondOrder> {
        Some(self)
    }
}

impl HostSecondOrder for HostMassAction<'_> {
    /// With `P_r = Π_i y_i^{o_i}` and `w_r = k_r (net_r·r)`: `rᵀJu = Σ_r w_r D_r`, `D_r = Σ_l u_l ∂_lP_r`,
    /// so `∂/∂y_m = Σ_r w_r Σ_l u_l ∂_l∂_mP_r` and `∂/∂log10 k_r = ln 10 · w_r D_r`.
    fn jacobian_vjp(&self, _t: f64, y: &[f64], u: &[f64], r: &[f64], grad_y: &mut [f64], grad: &mut [f64]) {
        // Π over the reactants but those at `skip`, times `c`.
        let others = |orders: &[(usize, f64)], skip: [usize; 2], c: f64| {
            orders
                .iter()
                .enumerate()
                .filter(|(b, _)| !skip.contains(b))
                .fold(c, |acc, (_, &(m, om))| acc * pow(y[m], om))
        };
        let mut directional = vec![0.0; self.rates.len()];
        for (n, (k, (orders, net))) in self.rates.iter().zip(self.structure).enumerate() {
            let w = k * net.iter().map(|&(i, c)| c * r[i]).sum::<f64>();
            if w == 0.0 {
                continue;
            }
            for (a, &(l, ol)) in orders.iter().enumerate() {
                let first = ol * pow(y[l], ol - 1.0);
                directional[n] += u[l] * others(orders, [a, a], first);
                for (c, &(m, om)) in orders.iter().enumerate() {
                    let second = if c == a {
                        let curvature = ol * (ol - 1.0);
                        if curvature == 0.0 {
                            continue;
                        } else {
                            others(orders, [a, a], curvature * pow(y[l], ol - 2.0))
                        }
                    } else {
                        others(orders, [a, c], first * om * pow(y[m], om - 1.0))
                    };
                    grad_y[m] += w * u[l] * second;
                }
            }
            directional[n] *= w;
        }
        for (g, &n) in grad.iter_mut().zip(self.learnable) {
            *g += LN_10 * directional[n];
        }
    }
}

impl MassActionField {
    /// Compile `mech` for `device` with fixed rate constants.
    pub fn new(mech: &Mechanism, device: &Device) -> Self {
        Self::with_learnable(mech, device, &[])
    }

    /// Compile `mech` for `device`; the reactions at the indices `learnable` get their rate
    /// constants as `log10 k` parameters, initialized from the mechanism.
    pub fn with_learnable(mech: &Mechanism, device: &Device, learnable: &[usize]) -> Self {
        let d = mech.species.len();
        let nr = mech.reactions.len();
        // Factors of each reaction: integer orders expand into repeated factors of power 1.
        let factors: Vec<Vec<(usize, f64)>> = mech
            .reactions
            .iter()
            .map(|r| {
                r.orders
                    .iter()
                    .filter(|(_, o)| *o != 0.0)
                    .flat_map(
                        |&(i, o)| {
                            if o.fract() == 0.0 && o > 0.0 { vec![(i, 1.0); o as usize] } else { vec![(i, o)] }
                        },
                    )
                    .collect()
            })
            .collect();
        let n_slots = factors.iter().map(Vec::len).max().unwrap_or(0);
        let row = |v: Vec<f64>| from_host(v, [1, nr], device);
        let mut onehot = vec![0.0; n_slots * nr * d];
        let slots = (0..n_slots)
            .map(|s| {
                let entry = |j: usize| factors[j].get(s).copied();
                let idx: Vec<i64> = (0..nr).map(|j| entry(j).map_or(0, |(i, _)| i as i64)).collect();
                let mask: Vec<f64> = (0..nr).map(|j| if entry(j).is_some() { 1.0 } else { 0.0 }).collect();
                let pw: Vec<f64> = (0..nr).map(|j| entry(j).map_or(0.0, |(_, p)| p)).collect();
                for j in 0..nr {
                    if let Some((i, _)) = entry(j) {
                        onehot[(s * nr + j) * d + i] = 1.0;
                    }
                }
                let has_power = (0..nr).any(|j| entry(j).is_some_and(|(_, p)| p != 1.0));
                Slot {
                    idx: Tensor::from_data(TensorData::new(idx, [nr]), device),
                    offset: row(mask.iter().map(|m| 1.0 - m).collect()),
                    mask: row(mask),
                    power: has_power.then(|| row(pw)),
                }
            })
            .collect();
        let mut stoich_t = vec![0.0; nr * d];
        let mut stoich_rep = vec![0.0; d * n_slots * nr];
        for (j, r) in mech.reactions.iter().enumerate() {
            for i in 0..d {
                let net = r.net(i);
                stoich_t[j * d + i] = net;
                for s in 0..n_slots {
                    stoich_rep[i * n_slots * nr + s * nr + j] = net;
                }
            }
        }
        let fixed: Vec<usize> = (0..nr).filter(|j| !learnable.contains(j)).collect();
        let mut order = vec![0i64; nr];
        for (pos, &j) in learnable.iter().chain(&fixed).enumerate() {
            order[j] = pos as i64;
        }
        let rates_of = |idx: &[usize], f: fn(f64) -> f64| {
            (!idx.is_empty())
                .then(|| from_host(idx.iter().map(|&j| f(mech.reactions[j].rate)).collect(), [idx.len()], device))
        };
        Self {
            log10_rates: rates_of(learnable, f64::log10).map(Param::from_tensor),
            fixed_rates: rates_of(&fixed, |k| k),
            order: Tensor::from_data(TensorData::new(order, [nr]), device),
            stoich_t: from_host(stoich_t, [nr, d], device),
            slots,
            stoich_rep: from_host(stoich_rep, [1, d, n_slots * nr], device),
            onehot: from_host(onehot, [1, n_slots * nr, d], device),
            dim: d,
            learnable: learnable.to_vec(),
            structure: mech
                .reactions
                .iter()
                .map(|r| {
                    let orders = r.orders.iter().copied().filter(|(_, o)| *o != 0.0).collect();
                    let net = (0..d).map(|i| (i, r.net(i))).filter(|(_, n)| *n != 0.0).collect();
                    (orders, net)
                })
                .collect(),
        }
    }

    /// Indices of the reactions whose rate constants are learnable.
    pub fn learnable(&self) -> &[usize] {
        &self.learnable
    }

    /// Rate constants of all reactions, `[1, reactions]`: `10^p` for learnable ones.
    pub fn rates(&self) -> Tensor<2> {
        let learned = self.log10_rates.as_ref().map(|p| p.val().mul_scalar(LN_10).exp());
        let parts: Vec<Tensor<1>> = match (learned, self.fixed_rates.clone()) {
            // Nothing learnable: the fixed rates are in reaction order already (no gather on
            // every evaluation of a plain field).
            (None, Some(fixed)) => return fixed.unsqueeze_dim(0),
            (learned, fixed) => learned.into_iter().chain(fixed).collect(),
        };
        Tensor::cat(parts, 0).select(0, self.order.clone()).unsqueeze_dim(0)
    }

    /// The factors `y[idx_s]^p_s` (1 where unused) and their derivatives, `[rows, reactions]`.
    fn factors(&self, y: &Tensor<2>) -> Vec<(Tensor<2>, Tensor<2>)> {
        self.slots
            .iter()
            .map(|slot| {
                let x = y.clone().select(1, slot.idx.clone()) * slot.mask.clone() + slot.offset.clone();
                match &slot.power {
                    None => (x, slot.mask.clone()),
                    Some(p) => {
                        let dx = x.clone().powf(p.clone() - 1.0) * p.clone() * slot.mask.clone();
                        (x.powf(p.clone()), dx)
                    }
                }
            })
            .collect()
    }
}

impl VectorField for MassActionField {
    fn dim(&self) -> usize {
        self.dim
    }

    fn device(&self) -> Device {
        self.stoich_t.device()
    }

    fn eval(&self, _t: &[f64], y: Tensor<2>) -> Tensor<2> {
        let rates = self.factors(&y).into_iter().fold(self.rates(), |acc, (x, _)| acc * x);
        rates.matmul(self.stoich_t.clone())
    }

    fn host(&self) -> Option<Box<dyn HostField + '_>> {
        let rates = to_host(self.rates().without_autodiff());
        Some(Box::new(HostMassAction { d: self.dim, rates, structure: &self.structure, learnable: &self.learnable }))
    }

    fn kernel(&self) -> Option<KernelField> {
        let rates = to_host(self.rates().without_autodiff());
        let (orders, net) = self.structure.iter().cloned().unzip();
        let learnable = self.learnable.clone();
        Some(KernelField::MassAction(MassActionTables { d: self.dim, rates, orders, net, learnable }))
    }

    /// Mass action has constant rates.
    fn autonomous(&self) -> bool {
        true
    }

    fn jacobian(&self, _t: &[f64], y: Tensor<2>) -> Tensor<3> {
        let [rows, _] = y.dims();
        if self.slots.is_empty() {
            return Tensor::zeros([rows, self.dim, self.dim], &self.device());
        }
        let factors = self.factors(&y);
        let n = factors.len();
        // ∂r/∂(slot s) = k·Π_{s'≠s} x_{s'}·dx_s, from prefix and suffix products.
        let mut prefix = vec![self.rates()];
        for (x, _) in &factors[..n.saturating_sub(1)] {
            let next = prefix.last().unwrap().clone() * x.clone();
            prefix.push(next);
        }
        let mut partials = Vec::with_capacity(n);
        let mut suffix: Option<Tensor<2>> = None;
        for s in (0..n).rev() {
            let mut p = prefix[s].clone() * factors[s].1.clone();
            if let Some(suf) = &suffix {
                p = p * suf.clone();
            }
            partials.push(p);
            suffix = Some(match suffix {
                None => factors[s].0.clone(),
                Some(suf) => suf * factors[s].0.clone(),
            });
        }
        partials.reverse();
        let dr = Tensor::cat(partials, 1);
        // Broadcasting makes the rows dimension explicit before the batched matmul.
        let scaled = self.stoich_rep.clone() * dr.unsqueeze_dim::<3>(1);
        let jac = scaled.matmul(self.onehot.clone());
        debug_assert_eq!(jac.dims(), [rows, self.dim, self.dim]);
        jac
    }
}
