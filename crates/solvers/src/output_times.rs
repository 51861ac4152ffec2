//! Output-time specifications as the CLI spells them: `logspace:A:B:N` (N times from 10^A to
//! 10^B), `linspace:A:B:N`, or a comma-separated list.

use crate::error::SetupError;

/// Parse a time specification into strictly increasing finite times.
pub fn parse(spec: &str) -> Result<Vec<f64>, SetupError> {
    let bad = |why: String| SetupError::InvalidOption { what: "times", why: format!("'{spec}': {why}") };
    let num = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad(format!("'{s}' is not a finite number")))
    };
    let times: Vec<f64> = if let Some(rest) = spec.strip_prefix("logspace:").or_else(|| spec.strip_prefix("linspace:"))
    {
        let parts: Vec<&str> = rest.split(':').collect();
        let [a, b, n] = parts.as_slice() else {
            return Err(bad("expected KIND:A:B:N".into()));
        };
        let (a, b) = (num(a)?, num(b)?);
        let n: usize = n.trim().parse().map_err(|_| bad(format!("'{n}' is not a count")))?;
        if n == 0 {
            return Err(bad("N must be at least 1".into()));
        }
        let at = |k: usize| if n == 1 { a } else { a + (b - a) * k as f64 / (n - 1) as f64 };
        let log = spec.starts_with("logspace:");
        (0..n).map(|k| if log { 10f64.powf(at(k)) } else { at(k) }).collect()
    } else {
        spec.split(',').map(num).collect::<Result<_, _>>()?
    };
    if let Some(k) = (1..times.len()).find(|&k| times[k] <= times[k - 1]) {
        return Err(bad(format!("times must increase strictly ({} then {})", times[k - 1], times[k])));
    }
    Ok(times)
}
