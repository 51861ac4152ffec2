//! The MLP on host f64 slices, copied from the current parameters: the solvers' fast path on
//! the CPU (no tensor dispatch). Same network as [`Mlp`](crate::Mlp): `z_k = x_{k−1}W_k + b_k`,
//! `x_k = σ(z_k)` for hidden layers, `f = M·(z_L·ŷ/t_scale)` from `x_0 = x(y)` (`y/ŷ`, or a log
//! scale: [`InputScale`]; `M` the output map, [`OutputMap`]); the Jacobian by forward mode through
//! the layers from `∂x_0/∂y = diag(x'(y))`.

use std::cell::RefCell;

use stiffnode_solvers::field::{HostField, HostProducts, HostSecondOrder};

use crate::activation::{Activation, Pointwise};
use crate::input::InputScale;
use crate::invariants::OutputMap;

/// One layer: `z = xW + b`, `W` row-major `[fan_in, fan_out]` (the ensemble kernel's layer).
pub(crate) type HostLayer = stiffnode_solvers::kernel_field::MlpLayer;

/// The network. Its scratch space is per thread (the trajectories of a batch are solved on
/// several), grown once, so that an evaluation allocates nothing.
pub(crate) struct HostMlp {
    layers: Vec<HostLayer>,
    y_scale: Vec<f64>,
    t_scale: f64,
    activation: Activation,
    /// Widest layer (inputs included).
    width: usize,
    /// Components with `f_i = 0` (see [`Mlp::with_constant_components`](crate::Mlp::with_constant_components)).
    constant: Vec<usize>,
    /// The output map, the mask included (see [`Mlp::with_invariants`](crate::Mlp::with_invariants)).
    map: Option<OutputMap>,
    /// How the input is scaled (see [`Mlp::with_log_inputs`](crate::Mlp::with_log_inputs)).
    input: InputScale,
}

thread_local! {
    /// `x`, `z` (`width` each), `∂x/∂y`, `∂z/∂y` (`width·d` each) of the evaluation under way.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// The forward-over-reverse pass's values ([`Tape`]), per thread, grown once.
    static TAPE: RefCell<Tape> = RefCell::new(Tape::default());
}

/// What the second-derivative pass keeps: per layer its input `x` and tangent `ẋ` (the input
/// `y/ŷ`, `u/ŷ` first), the tangent `ż` of its output and `σ'`, `σ''` there; and four cotangent
/// rows of the widest layer.
#[derive(Default)]
struct Tape {
    x: Vec<Vec<f64>>,
    xd: Vec<Vec<f64>>,
    zd: Vec<Vec<f64>>,
    s1: Vec<Vec<f64>>,
    s2: Vec<Vec<f64>>,
    bar: [Vec<f64>; 4],
}

impl Tape {
    /// Size the rows for `layers` (a no-op after the first call for a network).
    fn fit(&mut self, layers: &[HostLayer]) {
        let rows = |v: &mut Vec<Vec<f64>>, sizes: &mut dyn Iterator<Item = usize>| {
            let sizes: Vec<usize> = sizes.collect();
            if v.len() != sizes.len() || v.iter().zip(&sizes).any(|(r, n)| r.len() != *n) {
                *v = sizes.into_iter().map(|n| vec![0.0; n]).collect();
            }
        };
        rows(&mut self.x, &mut layers.iter().map(|l| l.fan_in));
        rows(&mut self.xd, &mut layers.iter().map(|l| l.fan_in));
        rows(&mut self.zd, &mut layers.iter().map(|l| l.fan_out));
        rows(&mut self.s1, &mut layers.iter().map(|l| l.fan_out));
        rows(&mut self.s2, &mut layers.iter().map(|l| l.fan_out));
        let width = layers.iter().map(|l| l.fan_in.max(l.fan_out)).max().unwrap_or(0);
        for b in &mut self.bar {
            if b.len() < width {
                b.resize(width, 0.0);
            }
        }
    }
}

impl HostMlp {
    pub fn new(layers: Vec<HostLayer>, y_scale: Vec<f64>, t_scale: f64, activation: Activation) -> Self {
        let d = y_scale.len();
        let width = layers.iter().map(|l| l.fan_in.max(l.fan_out)).max().unwrap_or(d).max(d);
        let input = InputScale::new(&y_scale, &[], crate::input::FLOOR);
        Self { layers, y_scale, t_scale, activation, width, constant: Vec::new(), map: None, input }
    }

    /// The same network with its input scaled by `input`.
    pub fn with_input(mut self, input: InputScale) -> Self {
        self.input = input;
        self
    }

    /// The same network with its output mapped by `map` (which holds the mask too).
    pub fn with_map(mut self, map: Option<OutputMap>) -> Self {
        self.map = map;
        self
    }

    /// The same network with `f_i = 0` at the components `constant`.
    pub fn with_constant_components(mut self, constant: &[usize]) -> Self {
        self.constant = constant.to_vec();
        self
    }

    /// Run `f` with this thread's scratch: `2·width + 2·width·d` values (the Jacobian's
    /// forward mode), or one input and one output per layer (the vector–Jacobian product's
    /// stored activations), whichever is more.
    fn with_scratch<R>(&self, f: impl FnOnce(&mut [f64]) -> R) -> R {
        let forward = 2 * self.width + 2 * self.width * self.y_scale.len();
        let stored: usize = self.layers.iter().map(|l| l.fan_in + l.fan_out).sum::<usize>() + 2 * self.width;
        let len = forward.max(stored);
        SCRATCH.with_borrow_mut(|s| {
            if s.len() < len {
                s.resize(len, 0.0);
            }
            f(&mut s[..len])
        })
    }
}

/// `z = xW + b` for one layer.
fn affine(l: &HostLayer, x: &[f64], z: &mut [f64]) {
    z[..l.fan_out].copy_from_slice(&l.b);
    accumulate(l, x, z);
}

/// `z += xW` for one layer.
fn accumulate(l: &HostLayer, x: &[f64], z: &mut [f64]) {
    let z = &mut z[..l.fan_out];
    for (xi, w) in x[..l.fan_in].iter().zip(l.w.chunks_exact(l.fan_out)) {
        z.iter_mut().zip(w).for_each(|(z, w)| *z += xi * w);
    }
}

impl HostField for HostMlp {
    fn eval(&self, _t: f64, y: &[f64], f: &mut [f64]) {
        self.with_scratch(|scratch| self.eval_with(y, f, scratch));
    }

    fn jacobian(&self, _t: f64, y: &[f64], jac: &mut [f64]) {
        self.with_scratch(|scratch| self.jacobian_with(y, jac, None, scratch));
    }

    fn products(&self) -> Option<&dyn HostProducts> {
        Some(self)
    }
}

impl HostProducts for HostMlp {
    fn params(&self) -> usize {
        self.layers.iter().map(|l| l.fan_in * l.fan_out + l.fan_out).sum()
    }

    /// Backpropagation through the layers (the parameters in the module's order: every `W_k`,
    /// then every `b_k`).
    fn vjp(&self, _t: f64, y: &[f64], c: &[f64], grad: &mut [f64]) {
        self.with_scratch(|scratch| self.vjp_with(y, c, grad, None, scratch));
    }

    fn vjp_with_state(&self, _t: f64, y: &[f64], c: &[f64], grad_y: &mut [f64], grad: &mut [f64]) {
        self.with_scratch(|scratch| self.vjp_with(y, c, grad, Some(grad_y), scratch));
    }

    /// Every layer's input `x_k` and, on hidden layers, the slope `σ'(z_k)`.
    fn kept_len(&self) -> usize {
        self.layers.iter().map(|l| l.fan_in + l.fan_out).sum()
    }

    fn jacobian_keeping(&self, _t: f64, y: &[f64], jac: &mut [f64], kept: &mut [f64]) {
        self.with_scratch(|scratch| self.jacobian_with(y, jac, Some(kept), scratch));
    }

    fn vjp_kept(&self, _t: f64, _y: &[f64], kept: &[f64], c: &[f64], grad: &mut [f64]) {
        self.with_scratch(|scratch| {
            let (g, g_prev) = scratch[..2 * self.width].split_at_mut(self.width);
            self.backward(kept, c, grad, None, g, g_prev);
        });
    }

    fn second_order(&self) -> Option<&dyn HostSecondOrder> {
        Some(self)
    }
}

impl HostSecondOrder for HostMlp {
    fn jacobian_vjp(&self, _t: f64, y: &[f64], u: &[f64], r: &[f64], grad_y: &mut [f64], grad: &mut [f64]) {
        TAPE.with_borrow_mut(|tape| self.jacobian_vjp_with(y, u, r, grad_y, grad, tape));
    }
}

impl HostMlp {
    /// Where layer `k`'s input `x_k` starts in the kept values (its slopes `σ'(z_k)` follow).
    fn kept_at(&self, k: usize) -> usize {
        self.layers[..k].iter().map(|l| l.fan_in + l.fan_out).sum()
    }

    /// `(∂f/∂θ)ᵀc`: a forward pass keeping every layer's input `x_k` and slope `σ'(z_k)`,
    /// then [`backward`](Self::backward).
    fn vjp_with(&self, y: &[f64], c: &[f64], grad: &mut [f64], grad_y: Option<&mut [f64]>, scratch: &mut [f64]) {
        let (stored, rest) = scratch.split_at_mut(scratch.len() - 2 * self.width);
        let (g, g_prev) = rest.split_at_mut(self.width);
        let n_layers = self.layers.len();
        stored[..y.len()].iter_mut().zip(y).enumerate().for_each(|(i, (x, y))| *x = self.input.value(i, *y));
        for (k, l) in self.layers.iter().enumerate() {
            let x_at = self.kept_at(k);
            let (head, tail) = stored.split_at_mut(x_at + l.fan_in);
            affine(l, &head[x_at..], &mut tail[..l.fan_out]);
            if k + 1 < n_layers {
                // σ'(z_k) replaces z_k: the backward pass needs only the slope.
                for o in 0..l.fan_out {
                    (tail[l.fan_out + o], tail[o]) = self.activation.apply_and_derivative_host(tail[o]);
                }
            }
        }
        self.backward(stored, c, grad, grad_y.map(|g| (g, y)), g, g_prev);
    }

    /// The backward pass from the kept `x_k`, `σ'(z_k)`: `g = c⊙ŷ/t_scale`, and per layer from
    /// the last: `∂b_k += g`, `∂W_k += x_kᵀg`, `g ← (W_k g)⊙σ'(z_{k−1})`; with `grad_y`, also
    /// `J(y)ᵀc = (W_1 g)⊙∂x/∂y` at the `y` given with it.
    fn backward<'g>(
        &self,
        stored: &[f64],
        c: &[f64],
        grad: &mut [f64],
        grad_y: Option<(&mut [f64], &[f64])>,
        mut g: &'g mut [f64],
        mut g_prev: &'g mut [f64],
    ) {
        let n_layers = self.layers.len();
        let last = &self.layers[n_layers - 1];
        for (o, g) in g[..last.fan_out].iter_mut().enumerate() {
            let c = self.map.as_ref().map_or(c[o], |m| m.transposed(c, o));
            *g = c * self.y_scale[o] / self.t_scale;
        }
        if self.map.is_none() {
            self.constant.iter().for_each(|&i| g[i] = 0.0);
        }
        let (mut w_at, mut b_at) = (self.layers.iter().map(|l| l.fan_in * l.fan_out).sum::<usize>(), grad.len());
        for (k, l) in self.layers.iter().enumerate().rev() {
            let x_at = self.kept_at(k);
            w_at -= l.fan_in * l.fan_out;
            b_at -= l.fan_out;
            grad[b_at..b_at + l.fan_out].iter_mut().zip(&g[..l.fan_out]).for_each(|(b, g)| *b += g);
            for i in 0..l.fan_in {
                let xi = stored[x_at + i];
                let row = &mut grad[w_at + i * l.fan_out..w_at + (i + 1) * l.fan_out];
                row.iter_mut().zip(&g[..l.fan_out]).for_each(|(w, g)| *w += xi * g);
            }
            if k > 0 {
                // σ'(z_{k−1}) sits right before x_k.
                let slope = &stored[x_at - l.fan_in..x_at];
                for (i, gp) in g_prev[..l.fan_in].iter_mut().enumerate() {
                    let s: f64 =
                        l.w[i * l.fan_out..(i + 1) * l.fan_out].iter().zip(&g[..l.fan_out]).map(|(w, g)| w * g).sum();
                    *gp = s * slope[i];
                }
                std::mem::swap(&mut g, &mut g_prev);
            }
        }
        if let Some((grad_y, y)) = grad_y {
            let l = &self.layers[0];
            for (i, gy) in grad_y.iter_mut().enumerate() {
                let s: f64 =
                    l.w[i * l.fan_out..(i + 1) * l.fan_out].iter().zip(&g[..l.fan_out]).map(|(w, g)| w * g).sum();
                *gy += self.input.times_slope(i, y[i], s);
            }
        }
    }

    /// `∇_y` and `∇_θ` of `S = rᵀJ(y)u`, forward over reverse: the tangent pass
    /// `ẋ_0 = u/ŷ`, `ż_k = ẋ_{k−1}W_k`, `ẋ_k = σ'(z_k)⊙ż_k` beside the primal one, `S = rᵀ(ż_L⊙ŷ/t)`,
    /// then backwards per layer `∂W_k += ẋ_{k−1}ᵀ∂ż_k + x_{k−1}ᵀ∂z_k`, `∂b_k += ∂z_k`, and through
    /// the activation `∂ż = σ'⊙∂ẋ`, `∂z = σ''⊙ż⊙∂ẋ + σ'⊙∂x` (Griewank & Walther 2008, ch. 5).
    fn jacobian_vjp_with(
        &self,
        y: &[f64],
        u: &[f64],
        r: &[f64],
        grad_y: &mut [f64],
        grad: &mut [f64],
        tape: &mut Tape,
    ) {
        let n_layers = self.layers.len();
        tape.fit(&self.layers);
        let Tape { x, xd, zd, s1, s2, bar } = tape;
        x[0].iter_mut().zip(y).enumerate().for_each(|(i, (x, y))| *x = self.input.value(i, *y));
        xd[0].iter_mut().zip(u).enumerate().for_each(|(i, (x, u))| *x = self.input.times_slope(i, y[i], *u));
        for (k, l) in self.layers.iter().enumerate() {
            let (x_in, x_out) = x.split_at_mut(k + 1);
            let (xd_in, xd_out) = xd.split_at_mut(k + 1);
            let dz = &mut zd[k];
            dz.fill(0.0);
            for (i, xi) in xd_in[k].iter().enumerate() {
                dz.iter_mut().zip(&l.w[i * l.fan_out..(i + 1) * l.fan_out]).for_each(|(z, w)| *z += xi * w);
            }
            if k + 1 < n_layers {
                let z = &mut x_out[0];
                affine(l, &x_in[k], z);
                for o in 0..l.fan_out {
                    let (v, d1, d2) = self.activation.apply_and_derivatives_host(z[o]);
                    (z[o], s1[k][o], s2[k][o]) = (v, d1, d2);
                    xd_out[0][o] = dz[o] * d1;
                }
            }
        }
        let [zd_bar, z_bar, xd_bar, x_bar] = bar;
        let last = &self.layers[n_layers - 1];
        for o in 0..last.fan_out {
            let r = self.map.as_ref().map_or(r[o], |m| m.transposed(r, o));
            zd_bar[o] = r * self.y_scale[o] / self.t_scale;
        }
        if self.map.is_none() {
            self.constant.iter().for_each(|&i| zd_bar[i] = 0.0);
        }
        z_bar[..last.fan_out].fill(0.0);
        let (mut w_at, mut b_at) = (self.layers.iter().map(|l| l.fan_in * l.fan_out).sum::<usize>(), grad.len());
        for (k, l) in self.layers.iter().enumerate().rev() {
            w_at -= l.fan_in * l.fan_out;
            b_at -= l.fan_out;
            grad[b_at..b_at + l.fan_out].iter_mut().zip(&z_bar[..l.fan_out]).for_each(|(b, g)| *b += g);
            for i in 0..l.fan_in {
                let (w, gw) = (&l.w[i * l.fan_out..(i + 1) * l.fan_out], &mut grad[w_at + i * l.fan_out..]);
                let (mut xd_sum, mut x_sum) = (0.0, 0.0);
                for o in 0..l.fan_out {
                    gw[o] += xd[k][i] * zd_bar[o] + x[k][i] * z_bar[o];
                    xd_sum += w[o] * zd_bar[o];
                    x_sum += w[o] * z_bar[o];
                }
                (xd_bar[i], x_bar[i]) = (xd_sum, x_sum);
            }
            if k == 0 {
                for (i, g) in grad_y.iter_mut().enumerate() {
                    *g += self.input.times_slope(i, y[i], x_bar[i]);
                    if self.input.has_log() {
                        *g += xd_bar[i] * self.input.curvature(i, y[i]) * u[i];
                    }
                }
            } else {
                let (d1, d2, dz) = (&s1[k - 1], &s2[k - 1], &zd[k - 1]);
                for i in 0..l.fan_in {
                    zd_bar[i] = d1[i] * xd_bar[i];
                    z_bar[i] = d2[i] * dz[i] * xd_bar[i] + d1[i] * x_bar[i];
                }
            }
        }
    }

    fn eval_with(&self, y: &[f64], f: &mut [f64], scratch: &mut [f64]) {
        let (x, rest) = scratch.split_at_mut(self.width);
        let z = &mut rest[..self.width];
        x.iter_mut().zip(y).enumerate().for_each(|(i, (x, y))| *x = self.input.value(i, *y));
        let last = self.layers.len() - 1;
        for (k, l) in self.layers.iter().enumerate() {
            affine(l, x, z);
            if k < last {
                x[..l.fan_out].iter_mut().zip(&z[..l.fan_out]).for_each(|(x, &z)| *x = self.activation.apply_host(z));
            }
        }
        f.iter_mut().zip(z.iter().zip(&self.y_scale)).for_each(|(f, (z, s))| *f = z * s / self.t_scale);
        match &self.map {
            Some(map) => map.apply(f, x),
            None => self.constant.iter().for_each(|&i| f[i] = 0.0),
        }
    }

    /// The Jacobian by forward mode; with `kept`, also the values [`backward`](Self::backward)
    /// needs (as [`vjp_with`](Self::vjp_with)'s forward pass stores them).
    fn jacobian_with(&self, y: &[f64], jac: &mut [f64], mut kept: Option<&mut [f64]>, scratch: &mut [f64]) {
        let (d, width) = (y.len(), self.width);
        let (x, rest) = scratch.split_at_mut(width);
        let (z, rest) = rest.split_at_mut(width);
        // Tangent-major, `[d, width]`: tangent `j` is `∂/∂y_j` of the layer's units.
        let (dx, dz) = rest.split_at_mut(width * d);
        x.iter_mut().zip(y).enumerate().for_each(|(i, (x, y))| *x = self.input.value(i, *y));
        for (j, row) in dx.chunks_exact_mut(width).enumerate() {
            row[..d].fill(0.0);
            row[j] = self.input.slope(j, y[j]);
        }
        let last = self.layers.len() - 1;
        for (k, l) in self.layers.iter().enumerate() {
            let x_at = self.kept_at(k);
            if let Some(kept) = kept.as_deref_mut() {
                kept[x_at..x_at + l.fan_in].copy_from_slice(&x[..l.fan_in]);
            }
            affine(l, x, z);
            for (dxj, dzj) in dx.chunks_exact(width).zip(dz.chunks_exact_mut(width)) {
                dzj[..l.fan_out].fill(0.0);
                accumulate(l, dxj, dzj);
            }
            if k < last {
                for o in 0..l.fan_out {
                    let (value, slope) = self.activation.apply_and_derivative_host(z[o]);
                    x[o] = value;
                    if let Some(kept) = kept.as_deref_mut() {
                        kept[x_at + l.fan_in + o] = slope;
                    }
                    for j in 0..d {
                        dx[j * width + o] = dz[j * width + o] * slope;
                    }
                }
            }
        }
        for i in 0..d {
            let s = self.y_scale[i] / self.t_scale;
            (0..d).for_each(|j| jac[i * d + j] = dz[j * width + i] * s);
        }
        match &self.map {
            Some(map) => map.apply_rows(jac, dx),
            None => self.constant.iter().for_each(|&i| jac[i * d..(i + 1) * d].fill(0.0)),
        }
    }
}
