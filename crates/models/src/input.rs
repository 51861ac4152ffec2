//! How a network sees the state (design.md §13). A component is scaled by its data scale,
//! `x = y/ŷ` (Kim et al. 2021), or — a mass fraction that spans many decades, where a radical
//! pool of 1e-10 is invisible on a linear scale — on a log scale that stays smooth through 0:
//!
//! ```text
//!   x = asinh(y/ε)/asinh(ŷ/ε),   ε = FLOOR·ŷ
//! ```
//!
//! `asinh(u) = ln(u + √(u² + 1))` is `ln 2u` for `u ≫ 1` and `u` near 0, so values from `ε` to
//! `ŷ` (six decades) spread over `[0, 1]` by their logarithm, and a value that rounds to 0 or slightly below
//! does no harm (a Box–Cox transform with its power at 0, made smooth at 0; Box & Cox, JRSS B
//! 1964). Below `−CLAMP·ε` (no mass fraction of a sane solve) the input saturates, so that
//! `u + √(u² + 1)` never cancels to 0. Only the network's input is transformed: the ODE runs in
//! the original variables, its Jacobian takes the slope `∂x/∂y` and the second-order products
//! its curvature, so gradients stay exact.

/// Where a log-scaled component's floor sits below its data scale by default: `ε = FLOOR·ŷ`.
pub const FLOOR: f64 = 1e-6;
/// Below `−CLAMP·ε` a log-scaled input saturates.
pub const CLAMP: f64 = 1e3;

/// The per-component input scaling of a network.
#[derive(Debug, Clone, PartialEq)]
pub struct InputScale {
    /// ŷ per component.
    scale: Vec<f64>,
    /// `ε` of a log-scaled component, 0 for a linear one.
    floor: Vec<f64>,
    /// `asinh(ŷ/ε)` of a log-scaled component.
    norm: Vec<f64>,
}

impl InputScale {
    /// Linear scaling by `scale`, with the components `log` on the log scale from `floor·ŷ`
    /// (`0 < floor < 1`; [`FLOOR`] by default).
    pub fn new(scale: &[f64], log: &[usize], floor: f64) -> Self {
        let low = floor;
        let floor: Vec<f64> = (0..scale.len()).map(|i| if log.contains(&i) { low * scale[i] } else { 0.0 }).collect();
        let norm = floor.iter().map(|&e| if e > 0.0 { (1.0 / low).asinh() } else { 1.0 }).collect();
        Self { scale: scale.to_vec(), floor, norm }
    }

    /// Whether any component is on the log scale.
    pub fn has_log(&self) -> bool {
        self.floor.iter().any(|&e| e > 0.0)
    }

    /// `ε` per component (0: linear).
    pub fn floors(&self) -> &[f64] {
        &self.floor
    }

    /// `asinh(ŷ/ε)` per component (1 for a linear one).
    pub fn norms(&self) -> &[f64] {
        &self.norm
    }

    /// `x_i(y)`.
    pub fn value(&self, i: usize, y: f64) -> f64 {
        let e = self.floor[i];
        if e == 0.0 { y / self.scale[i] } else { (y / e).max(-CLAMP).asinh() / self.norm[i] }
    }

    /// `∂x_i/∂y`.
    pub fn slope(&self, i: usize, y: f64) -> f64 {
        let e = self.floor[i];
        if e == 0.0 {
            1.0 / self.scale[i]
        } else if y / e < -CLAMP {
            0.0
        } else {
            1.0 / (self.norm[i] * (y * y + e * e).sqrt())
        }
    }

    /// `v·∂x_i/∂y` (`v/ŷ` on a linear component, rounded as a division).
    pub fn times_slope(&self, i: usize, y: f64, v: f64) -> f64 {
        if self.floor[i] == 0.0 { v / self.scale[i] } else { v * self.slope(i, y) }
    }

    /// `∂²x_i/∂y²`.
    pub fn curvature(&self, i: usize, y: f64) -> f64 {
        let e = self.floor[i];
        if e == 0.0 || y / e < -CLAMP { 0.0 } else { -y / (self.norm[i] * (y * y + e * e).powf(1.5)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slope and curvature are the derivatives of the value (central differences), the log
    /// scale maps ε…ŷ onto about 0…1, and the linear scale is `y/ŷ`.
    #[test]
    fn derivatives_match_differences_and_the_scale_spans_the_decades() {
        let s = InputScale::new(&[2.0, 1e-3], &[1], FLOOR);
        assert_eq!((s.value(0, 1.0), s.slope(0, 1.0), s.curvature(0, 1.0)), (0.5, 0.5, 0.0));
        assert!((s.value(1, 1e-3) - 1.0).abs() < 1e-12);
        // ε maps near 0 and the geometric middle of ε…ŷ near the middle of 0…1.
        let (floor, middle) = (s.value(1, FLOOR * 1e-3), s.value(1, FLOOR.sqrt() * 1e-3));
        assert!(floor.abs() < 0.1 && middle > 0.4 && middle < 0.6, "{floor} {middle}");
        for y in [-5e-14f64, 0.0, 3e-14, 1e-11, 2e-6, 1e-3] {
            let h = 1e-6 * y.abs().max(1e-14);
            let fd = (s.value(1, y + h) - s.value(1, y - h)) / (2.0 * h);
            assert!((fd - s.slope(1, y)).abs() <= 1e-6 * fd.abs(), "slope at {y}: {fd} vs {}", s.slope(1, y));
            let fd2 = (s.slope(1, y + h) - s.slope(1, y - h)) / (2.0 * h);
            let scale = s.slope(1, y) / y.abs().max(1e-13);
            assert!(
                (fd2 - s.curvature(1, y)).abs() <= 1e-5 * scale,
                "curvature at {y}: {fd2} vs {}",
                s.curvature(1, y)
            );
        }
        // Far below zero the input saturates: finite, flat.
        assert!(s.value(1, -1.0).is_finite() && s.slope(1, -1.0) == 0.0);
    }
}
