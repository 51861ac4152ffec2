//! `stiffnode stability`: `R(z)` and `R'(z)` at user-given complex points.

use anyhow::{Context, bail};
use serde_json::json;
use stiffnode_solvers::{methods, stability};

/// Arguments of `stiffnode stability`.
#[derive(clap::Args)]
pub struct Args {
    /// Method name (see `stiffnode methods`).
    #[arg(long)]
    method: String,
    /// Comma-separated real or complex points, e.g. `-1e4,-100+20i`.
    #[arg(long, allow_hyphen_values = true)]
    z: String,
    /// Print one JSON array.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let method = methods::by_name(&args.method)?;
    let mut points = Vec::new();
    for item in args.z.split(',') {
        match stability::parse_complex(item) {
            Some(z) => points.push(stability::evaluate(&method, z)),
            None => {
                bail!("invalid --z value '{}': expected a real or complex number such as -1e4 or -100+20i", item.trim())
            }
        }
    }
    if args.json {
        let rows: Vec<_> = points
            .iter()
            .map(|p| json!({"z": [p.z.re, p.z.im], "r": [p.r.re, p.r.im], "dr": [p.dr.re, p.dr.im]}))
            .collect();
        println!("{}", serde_json::to_string(&rows).context("encoding JSON")?);
        return Ok(());
    }
    println!("{:<24} {:<36} {:>11} {:<36} {:>11}", "z", "R(z)", "|R(z)|", "R'(z)", "|R'(z)|");
    let c = |x: num_complex_fmt::C| x.to_string();
    for p in points {
        println!(
            "{:<24} {:<36} {:>11.4e} {:<36} {:>11.4e}",
            c(p.z.into()),
            c(p.r.into()),
            p.r.norm(),
            c(p.dr.into()),
            p.dr.norm()
        );
    }
    Ok(())
}

/// Compact formatting of complex numbers for the table.
mod num_complex_fmt {
    pub struct C(f64, f64);
    impl From<num_complex::Complex64> for C {
        fn from(z: num_complex::Complex64) -> Self {
            C(z.re, z.im)
        }
    }
    impl std::fmt::Display for C {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            if self.1 == 0.0 { write!(f, "{:.6e}", self.0) } else { write!(f, "{:.6e}{:+.6e}i", self.0, self.1) }
        }
    }
}
