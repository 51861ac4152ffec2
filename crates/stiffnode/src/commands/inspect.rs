//! `stiffnode inspect RUN…`: the per-mode gradient log of training runs (`modes.jsonl`) as a
//! table at one logged epoch and SVG plots (see [`crate::plots::modes`]); several runs are also
//! overlaid, and `--report` writes them all into one `report.html` ([`crate::report`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use stiffnode_solvers::Method;
use stiffnode_train::modes::{self, ModeRecord};
use stiffnode_train::{RunDir, TrainError};

use crate::plots;
use crate::report::{self, Figure, RunSummary};

/// Arguments of `stiffnode inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// Run directories of `stiffnode train`; several are also compared in overlaid plots.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Logged epoch to show [default: the last one logged].
    #[arg(long)]
    epoch: Option<usize>,
    /// Directory for the plots [default: the run directory; for several runs, compare-A-B… beside
    /// the first, each run's own plots in a folder of its name there].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write report.html: the plots inline, the mode tables, each run's configuration and
    /// loss curve, in one file to open in a browser.
    #[arg(long)]
    report: bool,
}

/// One run's mode log, at the epoch shown.
pub struct RunView {
    /// The run directory's name.
    pub name: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Every logged epoch.
    pub records: Vec<ModeRecord>,
    /// The index of the shown one in `records`.
    shown: usize,
    method: Method,
}

impl RunView {
    /// Read `dir`'s mode log and pick `epoch` (the last logged without one).
    pub fn load(dir: &Path, epoch: Option<usize>) -> anyhow::Result<Self> {
        let records = modes::read(&RunDir::open(dir)?).map_err(|e| match e {
            TrainError::NoModes { .. } => anyhow::anyhow!("{e} (train with --modes-every K, K > 0)"),
            e => e.into(),
        })?;
        let shown = match epoch {
            None => records.len() - 1,
            Some(e) => match records.iter().position(|r| r.epoch == e) {
                Some(k) => k,
                None => {
                    let logged: Vec<String> = records.iter().map(|r| r.epoch.to_string()).collect();
                    bail!("epoch {e} was not logged in {} (logged epochs: {})", dir.display(), logged.join(", "))
                }
            },
        };
        let method =
            records[shown].method.parse().map_err(|e| anyhow::anyhow!("{}/modes.jsonl: {e}", dir.display()))?;
        let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Self { name, dir: dir.to_path_buf(), records, shown, method })
    }

    /// The record at the shown epoch.
    pub fn record(&self) -> &ModeRecord {
        &self.records[self.shown]
    }

    /// What the report shows of this run.
    pub fn summary(&self) -> RunSummary<'_> {
        RunSummary { name: &self.name, dir: &self.dir, record: self.record(), logged: self.records.len() }
    }

    /// Write the run's plots into `out`: the four mode views and the loss curve.
    pub fn plots(&self, out: &Path) -> anyhow::Result<Vec<Figure>> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let figure = |file: &str, title: &str| Figure { path: out.join(file), title: title.to_string() };
        let figures = [
            figure("modes_gradient_vs_z.svg", "Gradient against |hλ|"),
            figure("modes_shares_over_epochs.svg", "Shares of the gradient over training"),
            figure("modes_over_epochs.svg", "Gradient norm per mode over training"),
            figure("modes_spectrum.svg", "Jacobian spectrum along trajectory 1"),
            figure("loss.svg", "Loss over training"),
        ];
        let write = |k: usize, result: anyhow::Result<()>| -> anyhow::Result<()> {
            result.with_context(|| format!("writing {}", figures[k].path.display()))
        };
        write(0, plots::modes::gradient_vs_z(self.record(), &self.method, &figures[0].path))?;
        write(1, plots::modes::shares_over_epochs(&self.records, &figures[1].path))?;
        write(2, plots::modes::gradient_over_epochs(&self.records, &figures[2].path))?;
        write(3, plots::modes::spectrum(self.record(), &figures[3].path))?;
        write(4, plots::metrics::write(&self.name, &report::losses(&self.dir)?, &figures[4].path))?;
        Ok(figures.into())
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut views = args.runs.iter().map(|dir| RunView::load(dir, args.epoch)).collect::<anyhow::Result<Vec<_>>>()?;
    // Runs of one name (from different folders) get their own plot folders and legend entries.
    for k in 1..views.len() {
        let taken = |name: &str| views[..k].iter().any(|v| v.name == name);
        if taken(&views[k].name) {
            let base = views[k].name.clone();
            let free = (2..).map(|n| format!("{base}-{n}")).find(|n| !taken(n)).expect("some suffix is free");
            views[k].name = free;
        }
    }
    let out = args.out.unwrap_or_else(|| default_out(&views));
    let mut per_run = Vec::with_capacity(views.len());
    for v in &views {
        if views.len() > 1 {
            println!("── {} ({})", v.name, v.dir.display());
        }
        print_table(v.record());
        per_run.push(v.plots(&if views.len() > 1 { out.join(&v.name) } else { out.clone() })?);
    }
    let compared = if views.len() > 1 { compare(&views, &out)? } else { Vec::new() };
    for f in compared.iter().chain(per_run.iter().flatten()) {
        println!("wrote {}", f.path.display());
    }
    if args.report {
        let summaries: Vec<RunSummary> = views.iter().map(RunView::summary).collect();
        let path = report::write(&out, &summaries, &per_run, &compared)?;
        println!("wrote {} (open it in a browser)", path.display());
    }
    Ok(())
}

/// Plots and report of one finished run in its own directory, if it logged modes, with the
/// figures `extra` already written (a reactor run's ignition plots): what `train` writes at its
/// end. Returns the report's path.
pub fn report_for(dir: &Path, extra: Vec<Figure>) -> anyhow::Result<Option<PathBuf>> {
    if !dir.join("modes.jsonl").exists() {
        return Ok(None);
    }
    let view = RunView::load(dir, None)?;
    let mut figures = extra;
    figures.extend(view.plots(dir)?);
    Ok(Some(report::write(dir, &[view.summary()], &[figures], &[])?))
}

/// `compare-A-B…` beside the first run.
fn default_out(views: &[RunView]) -> PathBuf {
    if views.len() == 1 {
        return views[0].dir.clone();
    }
    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
    views[0].dir.parent().unwrap_or(Path::new(".")).join(format!("compare-{}", names.join("-")))
}

/// The overlaid plots of several runs, in `out`.
fn compare(views: &[RunView], out: &Path) -> anyhow::Result<Vec<Figure>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let z = Figure { path: out.join("runs_gradient_vs_z.svg"), title: "Gradient against |hλ|, runs compared".into() };
    let share = Figure {
        path: out.join("runs_fast_share.svg"),
        title: "Fastest mode's share of the gradient, runs compared".into(),
    };
    let at: Vec<(String, &ModeRecord)> = views.iter().map(|v| (v.name.clone(), v.record())).collect();
    plots::modes::runs_vs_z(&at, &z.path).with_context(|| format!("writing {}", z.path.display()))?;
    let all: Vec<(String, &[ModeRecord])> = views.iter().map(|v| (v.name.clone(), v.records.as_slice())).collect();
    plots::modes::runs_fast_share(&all, &share.path).with_context(|| format!("writing {}", share.path.display()))?;
    Ok(vec![z, share])
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
    for row in report::mode_rows(r) {
        println!(
            "{:>4} {:>24} {:>10} {:>22} {:>9} {:>9} {:>10} {:>9}",
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]
        );
    }
    if let Some(line) = report::balance_line(r) {
        println!("{line}");
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
