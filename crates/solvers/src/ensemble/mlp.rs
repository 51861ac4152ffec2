//! An MLP vector field evaluated in a GPU thread (the network of `stiffnode_models::Mlp`, Kim et
//! al. 2021): `x_0 = y/ŷ`, `z_k = x_{k−1}W_k + b_k`, `x_k = σ(z_k)` for the hidden layers,
//! `f = z_L·ŷ/t_scale`; the Jacobian by forward mode through the layers from
//! `∂x_0/∂y = diag(1/ŷ)` (design.md §4). Weights and biases in device memory; `x`, `z` and their
//! derivatives in the thread's local arrays (`width` and `width·d` values).
//!
//! Tables: `ints = [layers, activation, (fan_in, fan_out, W at, b at) per layer]`,
//! `floats = [t_scale, ŷ…, W…, b…]` (`W` row-major `[fan_in, fan_out]`).

use cubecl::prelude::*;

use crate::kernel_field::Activation;

/// Activation codes: [`Activation`]'s discriminants.
pub const GELU: u32 = Activation::Gelu as u32;
/// See [`GELU`].
pub const TANH: u32 = Activation::Tanh as u32;
/// See [`GELU`].
pub const SOFTPLUS: u32 = Activation::Softplus as u32;
/// See [`GELU`]. Any code past it is swish ([`Activation::Swish`]).
pub const RELU: u32 = Activation::Relu as u32;

#[cube]
fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0) / (F::new(1.0) + F::exp(-x))
}

/// `σ(z)` and `σ'(z)` of activation `kind` (swish for any code past the others).
#[cube]
fn activate<F: Float>(kind: u32, z: F) -> (F, F) {
    let s = sigmoid::<F>(z);
    // Swish, replaced below for the other activations.
    let mut value = z * s;
    let mut slope = s + z * s * (F::new(1.0) - s);
    if kind == GELU {
        let phi = F::new(0.5) * (F::new(1.0) + F::erf(z * F::new(core::f32::consts::FRAC_1_SQRT_2)));
        value = z * phi;
        // Φ(z) + z·φ(z), φ(z) = e^{−z²/2}/√(2π).
        slope = phi + z * F::exp(F::new(-0.5) * z * z) * F::new(0.398_942_3);
    } else if kind == TANH {
        let t = F::tanh(z);
        value = t;
        slope = F::new(1.0) - t * t;
    } else if kind == SOFTPLUS {
        value = F::max(z, F::new(0.0)) + F::log1p(F::exp(-F::abs(z)));
        slope = s;
    } else if kind == RELU {
        value = F::max(z, F::new(0.0));
        slope = F::new(0.0);
        if z > F::new(0.0) {
            slope = F::new(1.0);
        }
    }
    (value, slope)
}

/// `z = x W_k + b_k` for layer `k`; returns its fan-out.
#[cube]
fn affine<F: Float>(ints: &[u32], floats: &[F], k: u32, x: &mut Array<F>, z: &mut Array<F>) -> u32 {
    let at = 2 + 4 * k as usize;
    let (fan_in, fan_out) = (ints[at] as usize, ints[at + 1] as usize);
    let (w, b) = (ints[at + 2] as usize, ints[at + 3] as usize);
    for o in 0..fan_out {
        let mut acc = floats[b + o];
        for i in 0..fan_in {
            acc += x[i] * floats[w + i * fan_out + o];
        }
        z[o] = acc;
    }
    fan_out as u32
}

/// `f(y)` into `f`; `x`, `z` are scratch (`width` values each).
#[cube]
pub fn eval<F: Float>(
    ints: &[u32],
    floats: &[F],
    y: &Array<F>,
    f: &mut Array<F>,
    x: &mut Array<F>,
    z: &mut Array<F>,
    #[comptime] d: usize,
) {
    let (layers, kind) = (ints[0], ints[1]);
    for i in 0..d {
        x[i] = y[i] / floats[1 + i];
    }
    for k in 0..layers {
        let fan_out = affine::<F>(ints, floats, k, x, z) as usize;
        if k + 1 < layers {
            for o in 0..fan_out {
                let (value, _) = activate::<F>(kind, z[o]);
                x[o] = value;
            }
        }
    }
    for i in 0..d {
        f[i] = z[i] * floats[1 + i] / floats[0];
    }
}

/// `∂f/∂y` row-major into `jac`; `x`, `z` (`width`) and `dx`, `dz` (`width·d`) are scratch.
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn jacobian<F: Float>(
    ints: &[u32],
    floats: &[F],
    y: &Array<F>,
    jac: &mut Array<F>,
    x: &mut Array<F>,
    z: &mut Array<F>,
    dx: &mut Array<F>,
    dz: &mut Array<F>,
    #[comptime] d: usize,
) {
    let (layers, kind) = (ints[0], ints[1]);
    for i in 0..d {
        x[i] = y[i] / floats[1 + i];
        for j in 0..d {
            dx[i * d + j] = F::new(0.0);
        }
        dx[i * d + i] = F::new(1.0) / floats[1 + i];
    }
    for k in 0..layers {
        let at = 2 + 4 * k as usize;
        let (fan_in, w) = (ints[at] as usize, ints[at + 2] as usize);
        let fan_out = affine::<F>(ints, floats, k, x, z) as usize;
        for o in 0..fan_out {
            for j in 0..d {
                let mut acc = F::new(0.0);
                for i in 0..fan_in {
                    acc += floats[w + i * fan_out + o] * dx[i * d + j];
                }
                dz[o * d + j] = acc;
            }
        }
        if k + 1 < layers {
            for o in 0..fan_out {
                let (value, slope) = activate::<F>(kind, z[o]);
                x[o] = value;
                for j in 0..d {
                    dx[o * d + j] = dz[o * d + j] * slope;
                }
            }
        }
    }
    for i in 0..d {
        let s = floats[1 + i] / floats[0];
        for j in 0..d {
            jac[i * d + j] = dz[i * d + j] * s;
        }
    }
}

/// Add `(∂f/∂θ)ᵀc` to `g[at..]` in the module's parameter order (every `W_k`, then every `b_k`:
/// the float table after `t_scale` and `ŷ`), as the host form's backpropagation: a forward pass
/// keeping each layer's input `x_k` and pre-activation `z_k` in `st` (`2·width` per layer), then
/// `δ = c⊙ŷ/t_scale` and per layer from the last `∂b_k += δ`, `∂W_k += x_kᵀδ`,
/// `δ ← (W_k δ)⊙σ'(z_{k−1})`. `delta`, `prev` are scratch (`width` each).
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn vjp<F: Float>(
    ints: &[u32],
    floats: &[F],
    y: &Array<F>,
    c: &Array<F>,
    g: &mut [F],
    at: usize,
    st: &mut Array<F>,
    delta: &mut Array<F>,
    prev: &mut Array<F>,
    #[comptime] d: usize,
    #[comptime] width: usize,
) {
    let (layers, kind) = (ints[0] as usize, ints[1]);
    // Parameter k of the table's float index `k + skip`.
    let skip = 1 + d;
    for i in 0..d {
        st[i] = y[i] / floats[1 + i];
    }
    for k in 0..layers {
        let layer = 2 + 4 * k;
        let (fan_in, fan_out) = (ints[layer] as usize, ints[layer + 1] as usize);
        let (w, b) = (ints[layer + 2] as usize, ints[layer + 3] as usize);
        let (x_at, z_at) = (2 * k * width, (2 * k + 1) * width);
        for o in 0..fan_out {
            let mut acc = floats[b + o];
            for i in 0..fan_in {
                acc += st[x_at + i] * floats[w + i * fan_out + o];
            }
            st[z_at + o] = acc;
            if k + 1 < layers {
                let (value, _) = activate::<F>(kind, acc);
                st[z_at + width + o] = value;
            }
        }
    }
    for o in 0..d {
        delta[o] = c[o] * floats[1 + o] / floats[0];
    }
    for step in 0..layers {
        let k = layers - 1 - step;
        let layer = 2 + 4 * k;
        let (fan_in, fan_out) = (ints[layer] as usize, ints[layer + 1] as usize);
        let (w, b) = (ints[layer + 2] as usize, ints[layer + 3] as usize);
        let x_at = 2 * k * width;
        for o in 0..fan_out {
            g[at + b - skip + o] += delta[o];
        }
        for i in 0..fan_in {
            let mut back = F::new(0.0);
            for o in 0..fan_out {
                g[at + w - skip + i * fan_out + o] += st[x_at + i] * delta[o];
                back += floats[w + i * fan_out + o] * delta[o];
            }
            prev[i] = back;
        }
        if k > 0 {
            // z_{k−1} sits just before x_k.
            for i in 0..fan_in {
                let (_, slope) = activate::<F>(kind, st[x_at - width + i]);
                delta[i] = prev[i] * slope;
            }
        }
    }
}
