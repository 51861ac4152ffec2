//! The MLP on host f64 slices, copied from the current parameters: the solvers' fast path on
//! the CPU (no tensor dispatch). Same network as [`Mlp`](crate::Mlp): `z_k = x_{k−1}W_k + b_k`,
//! `x_k = σ(z_k)` for hidden layers, `f = z_L·ŷ/t_scale` from `x_0 = y/ŷ`; the Jacobian by
//! forward mode through the layers from `∂x_0/∂y = diag(1/ŷ)`.

use std::cell::RefCell;

use stiffnode_solvers::field::HostField;

use crate::activation::Activation;

/// One layer: `z = xW + b`, `W` row-major `[fan_in, fan_out]`.
pub(crate) struct HostLayer {
    pub fan_in: usize,
    pub fan_out: usize,
    pub w: Vec<f64>,
    pub b: Vec<f64>,
}

/// The network with scratch space, so that an evaluation allocates nothing.
pub(crate) struct HostMlp {
    layers: Vec<HostLayer>,
    y_scale: Vec<f64>,
    t_scale: f64,
    activation: Activation,
    /// Widest layer (inputs included).
    width: usize,
    /// `x`, `z` (`width` each), `∂x/∂y`, `∂z/∂y` (`width·d` each).
    scratch: RefCell<Vec<f64>>,
}

impl HostMlp {
    pub fn new(layers: Vec<HostLayer>, y_scale: Vec<f64>, t_scale: f64, activation: Activation) -> Self {
        let d = y_scale.len();
        let width = layers.iter().map(|l| l.fan_in.max(l.fan_out)).max().unwrap_or(d).max(d);
        let scratch = RefCell::new(vec![0.0; 2 * width + 2 * width * d]);
        Self { layers, y_scale, t_scale, activation, width, scratch }
    }
}

/// `z = xW + b` for one layer.
fn affine(l: &HostLayer, x: &[f64], z: &mut [f64]) {
    z[..l.fan_out].copy_from_slice(&l.b);
    for (i, xi) in x[..l.fan_in].iter().enumerate() {
        z[..l.fan_out].iter_mut().zip(&l.w[i * l.fan_out..(i + 1) * l.fan_out]).for_each(|(z, w)| *z += xi * w);
    }
}

impl HostField for HostMlp {
    fn eval(&self, _t: f64, y: &[f64], f: &mut [f64]) {
        let mut scratch = self.scratch.borrow_mut();
        let (x, rest) = scratch.split_at_mut(self.width);
        let z = &mut rest[..self.width];
        x.iter_mut().zip(y.iter().zip(&self.y_scale)).for_each(|(x, (y, s))| *x = y / s);
        let last = self.layers.len() - 1;
        for (k, l) in self.layers.iter().enumerate() {
            affine(l, x, z);
            if k < last {
                x[..l.fan_out].iter_mut().zip(&z[..l.fan_out]).for_each(|(x, &z)| *x = self.activation.apply_host(z));
            }
        }
        f.iter_mut().zip(z.iter().zip(&self.y_scale)).for_each(|(f, (z, s))| *f = z * s / self.t_scale);
    }

    fn jacobian(&self, _t: f64, y: &[f64], jac: &mut [f64]) {
        let d = y.len();
        let mut scratch = self.scratch.borrow_mut();
        let (x, rest) = scratch.split_at_mut(self.width);
        let (z, rest) = rest.split_at_mut(self.width);
        let (dx, dz) = rest.split_at_mut(self.width * d);
        // Row-major [units, d].
        x.iter_mut().zip(y.iter().zip(&self.y_scale)).for_each(|(x, (y, s))| *x = y / s);
        dx[..d * d].fill(0.0);
        (0..d).for_each(|i| dx[i * d + i] = 1.0 / self.y_scale[i]);
        let last = self.layers.len() - 1;
        for (k, l) in self.layers.iter().enumerate() {
            affine(l, x, z);
            dz[..l.fan_out * d].fill(0.0);
            for i in 0..l.fan_in {
                for o in 0..l.fan_out {
                    let w = l.w[i * l.fan_out + o];
                    dz[o * d..(o + 1) * d].iter_mut().zip(&dx[i * d..(i + 1) * d]).for_each(|(z, x)| *z += w * x);
                }
            }
            if k < last {
                for o in 0..l.fan_out {
                    let (value, slope) = self.activation.apply_and_derivative_host(z[o]);
                    x[o] = value;
                    dx[o * d..(o + 1) * d].iter_mut().zip(&dz[o * d..(o + 1) * d]).for_each(|(x, z)| *x = z * slope);
                }
            }
        }
        for (i, row) in dz.chunks_exact(d).take(d).enumerate() {
            let s = self.y_scale[i] / self.t_scale;
            jac[i * d..(i + 1) * d].iter_mut().zip(row).for_each(|(j, v)| *j = v * s);
        }
    }
}
