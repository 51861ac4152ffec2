//! `stiffnode inspect DIR`: the per-mode gradient log of a training run (`modes.jsonl`) as a
//! table at one logged epoch, and three SVG plots (see [`crate::plots::modes`]).

use std::path::PathBuf;

use anyhow::{Context, bail};
use stiffnode_solvers::Method;
use stiffnode_train::modes::{self, ModeRecord};
use stiffnode_train::{RunDir, TrainError};

use crate::plots;

/// Arguments of `stiffnode inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// Run directory of `stiffnode train`.
    run: PathBuf,
    /// Logged epoch to show [default: the last one logged].
    #[arg(long)]
    epoch: Option<usize>,
    /// Directory for the plots [default: the run directory].
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let records = modes::read(&RunDir::open(&args.run)?).map_err(|e| match e {
        TrainError::NoModes { .. } => anyhow::anyhow!("{e} (train with --modes-every K, K > 0)"),
        e => e.into(),
    })?;
    let record = match args.epoch {
        None => records.last().expect("read returns at least one record"),
        Some(e) => match records.iter().find(|r| r.epoch == e) {
            Some(r) => r,
            None => {
                let logged: Vec<String> = records.iter().map(|r| r.epoch.to_string()).collect();
                bail!("epoch {e} was not logged in {} (logged epochs: {})", args.run.display(), logged.join(", "))
            }
        },
    };
    let method: Method =
        record.method.parse().map_err(|e| anyhow::anyhow!("{}/modes.jsonl: {e}", args.run.display()))?;
    let out = args.out.unwrap_or_else(|| args.run.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let files =
        [out.join("modes_gradient_vs_z.svg"), out.join("modes_over_epochs.svg"), out.join("modes_spectrum.svg")];
    plots::modes::gradient_vs_z(record, &method, &files[0])
        .with_context(|| format!("writing {}", files[0].display()))?;
    plots::modes::gradient_over_epochs(&records, &files[1])
        .with_context(|| format!("writing {}", files[1].display()))?;
    plots::modes::spectrum(record, &files[2]).with_context(|| format!("writing {}", files[2].display()))?;
    print_table(record);
    for f in &files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

fn print_table(r: &ModeRecord) {
    println!(
        "epoch {} ({}): ‖∇L‖ = {:.3e}, decomposition residual {:.1e}",
        r.epoch, r.method, r.grad_norm, r.decomposition_residual
    );
    println!(
        "{:>4} {:>24} {:>10} {:>22} {:>9} {:>9} {:>10} {:>9}",
        "mode", "eigenvalue λ (median)", "1/|Re λ|", "z = hλ (median)", "|R(z)|", "|R'(z)|", "‖G_i‖", "share"
    );
    for m in &r.modes {
        let lambda = format!("{:.3e}{:+.2e}i", m.eigenvalue[0], m.eigenvalue[1]);
        let tau = m.timescale.map_or("∞ (λ = 0)".to_string(), |t| format!("{t:.2e}"));
        let z = format!("{:.3e}{:+.2e}i", m.z.median[0], m.z.median[1]);
        println!(
            "{:>4} {lambda:>24} {tau:>10} {z:>22} {:>9.2e} {:>9.2e} {:>10.3e} {:>9.2e}",
            m.rank, m.abs_r, m.abs_dr, m.grad_norm, m.share
        );
    }
    println!("by decade of |hλ|:");
    for b in &r.bins {
        println!(
            "  1e{:<3} ≤ |hλ| < 1e{:<3} {:>6} samples  ‖G‖ = {:.3e}  share {:.2e}",
            b.decade,
            b.decade + 1,
            b.samples,
            b.grad_norm,
            b.share
        );
    }
}
