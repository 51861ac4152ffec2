//! `stiffnode generate`: a dataset from a mechanism, solved at reference accuracy (radau5,
//! rtol 1e-10, atol 1e-14, CPU f64), written as `DIR/data.csv` and `DIR/meta.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};
use stiffnode_solvers::dataset::{Dataset, Trajectory};
use stiffnode_solvers::problems::{self, MassActionField, mechanism_file};
use stiffnode_solvers::{DeviceKind, SolveOptions, methods, output_times, solve};

/// Arguments of `stiffnode generate`.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in mechanism (robertson, pollu) or a mechanism .toml file.
    #[arg(long)]
    mechanism: String,
    /// Output times: logspace:A:B:N, linspace:A:B:N or a comma list; t = 0 is always included.
    #[arg(long)]
    times: String,
    /// Output directory (created).
    #[arg(long)]
    output: PathBuf,
    /// Number of trajectories.
    #[arg(long, default_value_t = 1)]
    trajectories: usize,
    /// With several trajectories, initial values are scaled by log-uniform factors in [1/F, F].
    #[arg(long, default_value_t = 2.0)]
    perturb: f64,
    /// Seed of the perturbations and of the train/validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of trajectories held out for validation (with several trajectories).
    #[arg(long, default_value_t = 0.2)]
    validation: f64,
}

const RTOL: f64 = 1e-10;
const ATOL: f64 = 1e-14;

pub fn run(args: Args) -> anyhow::Result<()> {
    let (text, file) = problems::source(&args.mechanism)?;
    let mech = mechanism_file::parse(&text, &file)?;
    let mut times = output_times::parse(&args.times).context("--times")?;
    if times.first().is_some_and(|&t| t < 0.0) {
        bail!("invalid --times: times must be ≥ 0");
    }
    if times.first() != Some(&0.0) {
        times.insert(0, 0.0);
    }
    if args.trajectories == 0 {
        bail!("invalid --trajectories 0: must be at least 1");
    }
    if !(args.perturb.is_finite() && args.perturb >= 1.0) {
        bail!("invalid --perturb {}: must be ≥ 1", args.perturb);
    }
    if !(0.0..1.0).contains(&args.validation) {
        bail!("invalid --validation {}: must be in [0, 1)", args.validation);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let ln_f = args.perturb.ln();
    let initial: Vec<Vec<f64>> = (0..args.trajectories)
        .map(|_| {
            mech.initial
                .iter()
                .map(|&y| if args.trajectories > 1 && y != 0.0 { y * rng.random_range(-ln_f..=ln_f).exp() } else { y })
                .collect()
        })
        .collect();
    let device = DeviceKind::Cpu.open()?;
    let field = MassActionField::new(&mech, &device);
    let method = methods::by_name("radau5")?;
    let opts = SolveOptions::adaptive(RTOL, ATOL);
    let mut trajectories = Vec::with_capacity(initial.len());
    for (k, y0) in initial.iter().enumerate() {
        let sol = solve(&field, &method, y0, 0.0, &times, &opts).with_context(|| format!("solving trajectory {k}"))?;
        trajectories.push(Trajectory { times: times.clone(), states: sol.states });
    }
    let data = Dataset { species: mech.species.clone(), trajectories };
    let mut order: Vec<usize> = (0..args.trajectories).collect();
    // The same seeded generator: the split is reproducible.
    order.shuffle(&mut rng);
    let n_val = if args.trajectories > 1 { (args.validation * args.trajectories as f64).round() as usize } else { 0 };
    let (mut validation, mut train) = (order[..n_val].to_vec(), order[n_val..].to_vec());
    validation.sort_unstable();
    train.sort_unstable();
    let command = std::iter::once("stiffnode".to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ");
    let meta = json!({
        "mechanism": mech.name,
        "mechanism_source": args.mechanism,
        "mechanism_sha256": hex(&Sha256::digest(text.as_bytes())),
        "species": mech.species,
        "initial_states": initial,
        "times": times,
        "solver": {"method": "radau5", "rtol": RTOL, "atol": ATOL, "device": "cpu"},
        "trajectories": args.trajectories,
        "perturb": args.perturb,
        "seed": args.seed,
        "split": {"train": train, "validation": validation},
        "command": command,
        "stiffnode_version": env!("CARGO_PKG_VERSION"),
    });
    std::fs::create_dir_all(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    write(&args.output.join("data.csv"), &data.to_csv())?;
    write(&args.output.join("meta.json"), &format!("{}\n", serde_json::to_string_pretty(&meta)?))?;
    println!("wrote {} trajectories × {} times to {}", args.trajectories, times.len(), args.output.display());
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write through a temporary file and a rename, so a crash never leaves a half-written file.
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}
