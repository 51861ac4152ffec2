//! `report.html`: one self-contained page for people — the plots of `stiffnode inspect` inline
//! (SVG, so no fonts or files beside it), each run's mode table, loss curve and configuration.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use stiffnode_train::RunDir;
use stiffnode_train::modes::ModeRecord;
use stiffnode_train::run_dir::Log;

/// A plot written to a file, and its heading in the report.
pub struct Figure {
    /// The SVG file.
    pub path: PathBuf,
    /// Its heading.
    pub title: String,
}

/// `(epoch, loss, validation loss)` of every epoch in a run's `metrics.jsonl`.
pub fn losses(dir: &Path) -> anyhow::Result<Vec<(f64, f64, Option<f64>)>> {
    let lines: Vec<serde_json::Value> = RunDir::open(dir)?.read(Log::Metrics)?.unwrap_or_default();
    Ok(lines.iter().filter_map(|l| Some((l["epoch"].as_f64()?, l["loss"].as_f64()?, l["val_loss"].as_f64()))).collect())
}

/// The mode table's cells, one row per mode: rank, λ, 1/|Re λ|, z, |R(z)|, |R'(z)|, ‖G_i‖, share.
pub fn mode_rows(r: &ModeRecord) -> Vec<[String; 8]> {
    r.modes
        .iter()
        .map(|m| {
            [
                m.rank.to_string(),
                format!("{:.3e}{:+.2e}i", m.eigenvalue[0], m.eigenvalue[1]),
                m.timescale.map_or("∞ (λ = 0)".to_string(), |t| format!("{t:.2e}")),
                format!("{:.3e}{:+.2e}i", m.z.median[0], m.z.median[1]),
                format!("{:.2e}", m.abs_r),
                format!("{:.2e}", m.abs_dr),
                format!("{:.3e}", m.grad_norm),
                format!("{:.2e}", m.share),
            ]
        })
        .collect()
}

/// The mode-balanced weights of `r`'s epoch in one line, when its updates used them.
pub fn balance_line(r: &ModeRecord) -> Option<String> {
    let b = r.balance.as_ref()?;
    let weights: Vec<String> = b.weights.iter().map(|w| format!("{w:.3e}")).collect();
    Some(format!(
        "mode-balanced updates ({} rule): weights by mode [{}], smallest cos(G̃, ∇L) {}, {} of {} steps took ∇L instead",
        b.rule.name(),
        weights.join(", "),
        b.cosine.map_or("none finite".to_string(), |c| format!("{c:.3}")),
        b.fallbacks,
        b.steps
    ))
}

/// What the report shows of one run: its name and directory, its mode record at the epoch
/// shown, and how many epochs were logged.
pub struct RunSummary<'a> {
    /// The run directory's name.
    pub name: &'a str,
    /// The run directory.
    pub dir: &'a Path,
    /// The mode record at the epoch shown.
    pub record: &'a ModeRecord,
    /// Epochs logged.
    pub logged: usize,
}

/// Write `out/report.html` for `runs` (each with its `figures`) and the plots `compared` across
/// them; returns its path.
pub fn write(out: &Path, runs: &[RunSummary], figures: &[Vec<Figure>], compared: &[Figure]) -> anyhow::Result<PathBuf> {
    let names: Vec<&str> = runs.iter().map(|r| r.name).collect();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>stiffnode — {}</title>\n<style>{STYLE}</style></head><body>\n<h1>stiffnode: {}</h1>\n",
        escape(&names.join(", ")),
        escape(&names.join(", "))
    );
    if !compared.is_empty() {
        html.push_str("<h2>Runs compared</h2>\n");
        for f in compared {
            figure(&mut html, f)?;
        }
    }
    for (run, figs) in runs.iter().zip(figures) {
        let r = run.record;
        let _ = write!(
            html,
            "<h2>{} <small>{}</small></h2>\n<p>Epoch {} of {} logged, method {}: ‖∇L‖ = {:.3e}, decomposition residual {:.1e}.</p>\n",
            escape(run.name),
            escape(&run.dir.display().to_string()),
            r.epoch,
            run.logged,
            escape(&r.method),
            r.grad_norm,
            r.decomposition_residual
        );
        table(&mut html, r);
        for f in figs {
            figure(&mut html, f)?;
        }
        let config = std::fs::read_to_string(run.dir.join("config.toml")).unwrap_or_default();
        let _ = write!(html, "<h3>Configuration</h3>\n<pre>{}</pre>\n", escape(&config));
    }
    html.push_str("</body></html>\n");
    let path = out.join("report.html");
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1340px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}\
th{background:#eee}figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.3em}\
pre{background:#f6f6f6;padding:1em;overflow-x:auto}small{color:#666;font-weight:normal}";

/// The mode table and the decade bins of `r`.
fn table(html: &mut String, r: &ModeRecord) {
    html.push_str("<table><tr><th>mode</th><th>eigenvalue λ (median)</th><th>1/|Re λ|</th><th>z = hλ (median)</th><th>|R(z)|</th><th>|R'(z)|</th><th>‖G<sub>i</sub>‖</th><th>share</th></tr>\n");
    for row in mode_rows(r) {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", escape(&cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    if let Some(line) = balance_line(r) {
        let _ = writeln!(html, "<p>{}</p>", escape(&line));
    }
    html.push_str("<table><tr><th>|hλ| from</th><th>to</th><th>samples</th><th>‖G‖</th><th>share</th></tr>\n");
    for b in &r.bins {
        let _ = writeln!(
            html,
            "<tr><td>1e{}</td><td>1e{}</td><td>{}</td><td>{:.3e}</td><td>{:.2e}</td></tr>",
            b.decade,
            b.decade + 1,
            b.samples,
            b.grad_norm,
            b.share
        );
    }
    html.push_str("</table>\n");
}

/// `f`'s SVG inline under its title.
fn figure(html: &mut String, f: &Figure) -> anyhow::Result<()> {
    let svg = std::fs::read_to_string(&f.path).with_context(|| format!("reading {}", f.path.display()))?;
    let start = svg.find("<svg").unwrap_or(0);
    let _ = write!(html, "<figure><figcaption>{}</figcaption>\n{}</figure>\n", escape(&f.title), &svg[start..]);
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
