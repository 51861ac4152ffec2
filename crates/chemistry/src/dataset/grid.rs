//! A dataset's output times: one list for every trajectory, or a grid per trajectory placed by
//! arc length (design.md §13).
//!
//! An ignition front is about 1 % of a trajectory's time and carries most of what the data can
//! teach; a fixed log grid puts a handful of points in the decade that holds every front, and
//! the front falls between two of them. The adaptive grid reads each trajectory's own reference
//! solution as a curve — on a fine log grid `t_1 < … < t_M` (from `10^A` to `10^B`) and at every
//! step point of the reference solver between them, which its error control crowds into the
//! front however sharp it is —
//!
//! ```text
//!   x(t) = ( log10 t / (B − A),  (y_1 − min y_1)/(max y_1 − min y_1),  …,  (y_d − …)/(…) )
//! ```
//!
//! (components that do not move left out), and places its `N` points at equal steps of the
//! curve's length `s(t) = Σ |x(t_{i+1}) − x(t_i)|`, interpolating `log t` linearly in `s`
//! between fine points: equidistribution of arc length (de Boor 1973; Huang & Russell,
//! *Adaptive Moving Mesh Methods*, Springer 2011, §2.2). The log-time axis alone is one unit
//! of length, so the induction period and the log tail keep their share of points while each
//! component's full swing across the front is another unit. The states at the chosen times come
//! from a second reference solve that lands on them exactly, so every data point is a solution
//! value, not an interpolation.

use stiffnode_solvers::error::{SetupError, SolveError};
use stiffnode_solvers::field::VectorField;
use stiffnode_solvers::output_times;

/// How a dataset's output times are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeGrid {
    /// The same times for every trajectory; t = 0 is added first when missing.
    Fixed(Vec<f64>),
    /// Per trajectory, `points` times from `first` to `last` placed by arc length, after t = 0.
    Adaptive {
        /// The first time after t = 0 (> 0).
        first: f64,
        /// The last time (> `first`).
        last: f64,
        /// Times per trajectory after t = 0, at least 2.
        points: usize,
    },
}

/// The most points an adaptive grid places per trajectory.
pub const MAX_ADAPTIVE_POINTS: usize = 10_000;

impl TimeGrid {
    /// Fine-grid points per placed point (at least [`MIN_FINE`](Self::MIN_FINE) in all): the
    /// resolution at which the arc length is measured.
    pub const FINE_PER_POINT: usize = 40;
    /// The fewest fine-grid points: 800 per decade over five decades, about 35 across a 10 µs
    /// front at 0.1 ms.
    pub const MIN_FINE: usize = 4_000;

    /// Parse `adaptive:A:B:N` (N points per trajectory from `10^A` to `10^B`, placed by arc
    /// length) or a fixed list as [`output_times::parse`] reads it.
    pub fn parse(spec: &str) -> Result<Self, SetupError> {
        let bad = |why: String| SetupError::InvalidOption { what: "times", why: format!("'{spec}': {why}") };
        let Some(rest) = spec.strip_prefix("adaptive:") else {
            let times = output_times::parse(spec)?;
            // The initial state is at t = 0; a dataset needs a target after it.
            if !times.iter().any(|&t| t > 0.0) {
                return Err(bad("no time after t = 0: a dataset needs one besides the initial state".into()));
            }
            return Ok(Self::Fixed(times));
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let [a, b, n] = parts.as_slice() else { return Err(bad("expected adaptive:A:B:N".into())) };
        let exponent = |s: &str| s.trim().parse::<f64>().ok().filter(|x| x.is_finite() && x.abs() <= 300.0);
        let (Some(a), Some(b)) = (exponent(a), exponent(b)) else {
            return Err(bad("A and B are powers of ten, finite numbers from -300 to 300".into()));
        };
        if a >= b {
            return Err(bad(format!("A ({a}) must be below B ({b})")));
        }
        let points = n.trim().parse::<usize>().ok().filter(|n| (2..=MAX_ADAPTIVE_POINTS).contains(n));
        let Some(points) = points else {
            return Err(bad(format!("N '{n}' must be a count from 2 to {MAX_ADAPTIVE_POINTS}")));
        };
        Ok(Self::Adaptive { first: 10f64.powf(a), last: 10f64.powf(b), points })
    }

    /// The times of the trajectory of `field` from `y0` at t = 0, t = 0 first: the fixed list,
    /// or the adaptive grid placed on the trajectory's reference solution (from `curve`, which
    /// returns it at the times it is given and at every step point of its solve between them).
    pub fn times(
        &self,
        y0: &[f64],
        field: &dyn VectorField,
        curve: impl Fn(&dyn VectorField, &[f64], &[f64]) -> Result<(Vec<f64>, Vec<Vec<f64>>), SolveError>,
    ) -> Result<Vec<f64>, SolveError> {
        match self {
            Self::Fixed(times) => Ok(super::dataset_times(times)?),
            &Self::Adaptive { first, last, points } => {
                let m = (points * Self::FINE_PER_POINT).max(Self::MIN_FINE);
                let ratio = (last / first).ln();
                let fine: Vec<f64> = (0..m)
                    .map(|k| if k + 1 == m { last } else { first * (ratio * k as f64 / (m - 1) as f64).exp() })
                    .collect();
                let (times, states) = curve(field, y0, &fine)?;
                let placed = arc_length_times(&times, &states, points);
                Ok(std::iter::once(0.0).chain(placed).collect())
            }
        }
    }
}

/// `points` times (at least 2) from `times[0]` to the last of `times` (positive, increasing)
/// at equal steps of the arc length of the curve (log-time, scaled states) through
/// `states` (one per time), as the module header defines it.
pub fn arc_length_times(times: &[f64], states: &[Vec<f64>], points: usize) -> Vec<f64> {
    let m = times.len();
    let d = states.first().map_or(0, Vec::len);
    // Each component by its swing over the trajectory; one that does not move is left out.
    let scale: Vec<f64> = (0..d)
        .map(|c| {
            let (lo, hi) =
                states.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y[c]), hi.max(y[c])));
            let swing = hi - lo;
            if swing > 1e-12 * hi.abs().max(lo.abs()) && swing > 0.0 { 1.0 / swing } else { 0.0 }
        })
        .collect();
    let log_t: Vec<f64> = times.iter().map(|t| t.log10()).collect();
    let log_scale = 1.0 / (log_t[m - 1] - log_t[0]);
    let mut s = vec![0.0; m];
    for i in 1..m {
        let dt = (log_t[i] - log_t[i - 1]) * log_scale;
        let dy: f64 = (0..d).map(|c| ((states[i][c] - states[i - 1][c]) * scale[c]).powi(2)).sum();
        s[i] = s[i - 1] + (dt * dt + dy).sqrt();
    }
    let total = s[m - 1];
    let mut out = Vec::with_capacity(points);
    let mut i = 0;
    for k in 0..points {
        if k + 1 == points {
            out.push(times[m - 1]);
            break;
        }
        let target = total * k as f64 / (points - 1) as f64;
        while i + 2 < m && s[i + 1] < target {
            i += 1;
        }
        let theta = if s[i + 1] > s[i] { ((target - s[i]) / (s[i + 1] - s[i])).clamp(0.0, 1.0) } else { 0.0 };
        out.push(10f64.powf(log_t[i] + theta * (log_t[i + 1] - log_t[i])));
    }
    // Rounding may merge two points placed in one very short fine interval: keep them apart.
    for k in 1..out.len() {
        if out[k] <= out[k - 1] {
            out[k] = out[k - 1] * (1.0 + 4.0 * f64::EPSILON);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A logistic front in log time, y = 1/(1 + (t/t_f)^-p): its arc length has a closed form
    /// in the front's steep limit, and the placed points must follow it.
    #[test]
    fn points_follow_the_arc_length_of_a_front() {
        let (first, last, t_f, p) = (1e-6f64, 1e-1f64, 1e-4f64, 400.0);
        let m = 200_000;
        let times: Vec<f64> = (0..m).map(|k| first * (last / first).powf(k as f64 / (m - 1) as f64)).collect();
        let states: Vec<Vec<f64>> = times.iter().map(|&t| vec![1.0 / (1.0 + (t / t_f).powf(-p)), 7.0]).collect();
        let out = arc_length_times(&times, &states, 101);
        assert_eq!(out.len(), 101);
        assert_eq!((out[0], out[100]), (first, last));
        assert!(out.windows(2).all(|w| w[1] > w[0]));
        // Log time is one unit of length and the front's swing, nearly vertical, another: about
        // half the points sit in the front (where 0.01 < y < 0.99, a 0.0046-decade band).
        let in_front = out.iter().filter(|&&t| (0.01..0.99).contains(&(1.0 / (1.0 + (t / t_f).powf(-p))))).count();
        assert!((45..=52).contains(&in_front), "{in_front} points in the front");
        // Away from the front, points are spaced evenly in log time: 1 unit ≈ 50 intervals.
        let before: Vec<f64> = out.iter().filter(|&&t| t < 0.5 * t_f).map(|t| t.log10()).collect();
        let gaps: Vec<f64> = before.windows(2).map(|w| w[1] - w[0]).collect();
        let expected = 5.0 / 50.0;
        assert!(gaps.iter().all(|g| (g / expected - 1.0).abs() < 0.1), "{gaps:?} vs {expected}");
    }

    #[test]
    fn adaptive_specs_parse_and_bad_ones_are_named() {
        assert_eq!(
            TimeGrid::parse("adaptive:-6:-1:120").unwrap(),
            TimeGrid::Adaptive { first: 1e-6, last: 1e-1, points: 120 }
        );
        assert_eq!(TimeGrid::parse("1,2").unwrap(), TimeGrid::Fixed(vec![1.0, 2.0]));
        for (spec, says) in [
            ("adaptive:-1:-6:10", "must be below"),
            ("adaptive:-6:-1:1", "from 2 to"),
            ("adaptive:-6:-1", "adaptive:A:B:N"),
            ("adaptive:x:-1:10", "powers of ten"),
            ("adaptive:-6:400:10", "powers of ten"),
            ("0", "no time after t = 0"),
        ] {
            let e = TimeGrid::parse(spec).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains(spec), "{spec}: {e}");
        }
    }
}
