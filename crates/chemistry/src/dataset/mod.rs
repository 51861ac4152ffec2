//! Trajectory datasets: a directory with `data.csv` (columns `trajectory,t,<species...>`, one
//! row per trajectory and time; each trajectory has its own times) and `meta.json` (how it was made, and the train/validation
//! split). The loader checks everything training relies on and names the file, line and column
//! of the first defect; [`generate`] makes a dataset from a mass-action mechanism,
//! [`reactor`] one from a gas-phase reactor problem.

mod generate;
pub mod grid;
mod meta;
pub mod reactor;

pub use generate::{
    Generation, dataset_times, generate, reference_curve, reference_solver, reference_states, sha256, solve_trajectory,
    split,
};
pub use grid::TimeGrid;
pub use meta::{Contents, Meta, MetaSolver, Split, Times, check_meta};

use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use stiffnode_solvers::limits::MAX_STATE;

/// A defect in a dataset file.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{}: {what}", place(file, *line, *column))]
pub struct DatasetError {
    /// The file.
    pub file: String,
    /// 1-based line (0: the file as a whole).
    pub line: usize,
    /// 1-based column (0: the line as a whole).
    pub column: usize,
    /// What is wrong.
    pub what: String,
}

/// `file`, `file:line` or `file:line:column`, as compilers write places (0: not known).
fn place(file: &str, line: usize, column: usize) -> String {
    match (line, column) {
        (0, _) => file.to_string(),
        (l, 0) => format!("{file}:{l}"),
        (l, c) => format!("{file}:{l}:{c}"),
    }
}

/// One trajectory: its times and the state at each.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Strictly increasing times.
    pub times: Vec<f64>,
    /// One state per time.
    pub states: Vec<Vec<f64>>,
}

/// Trajectories of the same species, each with its own times.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Species, in column order.
    pub species: Vec<String>,
    /// Trajectories, by index.
    pub trajectories: Vec<Trajectory>,
}

impl Dataset {
    /// The CSV text: header `trajectory,t,<species>`, numbers in shortest round-trip form.
    pub fn to_csv(&self) -> String {
        let mut out = format!("trajectory,t,{}\n", self.species.join(","));
        for (k, tr) in self.trajectories.iter().enumerate() {
            for (t, y) in tr.times.iter().zip(&tr.states) {
                let _ = write!(out, "{k},{t:e}");
                for v in y {
                    let _ = write!(out, ",{v:e}");
                }
                out.push('\n');
            }
        }
        out
    }
}

impl Dataset {
    /// Write `dir/data.csv` and `dir/meta.json` (creating `dir`), each through a temporary file
    /// and a rename, so that an interruption never leaves a half-written file.
    pub fn write(&self, dir: &Path, meta: &impl serde::Serialize) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        stiffnode_solvers::files::write_atomic(&dir.join("data.csv"), self.to_csv().as_bytes())?;
        let json = serde_json::to_string_pretty(meta).expect("dataset metadata serializes");
        stiffnode_solvers::files::write_atomic(&dir.join("meta.json"), format!("{json}\n").as_bytes())
    }
}

/// Read `path` and check it against the expected species (in order).
pub fn load(path: &Path, species: &[String]) -> Result<Dataset, DatasetError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| DatasetError {
        file: file.clone(),
        line: 0,
        column: 0,
        what: format!("cannot read: {e}"),
    })?;
    parse(&text, &file, species)
}

/// Parse CSV `text` (named `file` in errors) and check it against the expected species.
pub fn parse(text: &str, file: &str, species: &[String]) -> Result<Dataset, DatasetError> {
    let err = |line: usize, column: usize, what: String| DatasetError { file: file.to_string(), line, column, what };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(err(1, 0, "empty file: expected the header trajectory,t,<species>".into()));
    };
    let header: Vec<&str> = header.split(',').map(str::trim).collect();
    let expected: Vec<&str> = ["trajectory", "t"].into_iter().chain(species.iter().map(String::as_str)).collect();
    for (c, name) in expected.iter().enumerate() {
        match header.get(c) {
            Some(h) if h == name => {}
            Some(h) => {
                return Err(err(
                    1,
                    c + 1,
                    format!("column '{h}' where '{name}' is expected (header must be {})", expected.join(",")),
                ));
            }
            None => {
                return Err(err(
                    1,
                    header.len() + 1,
                    format!("missing column '{name}' (header must be {})", expected.join(",")),
                ));
            }
        }
    }
    if header.len() > expected.len() {
        return Err(err(1, expected.len() + 1, format!("unexpected column '{}'", header[expected.len()])));
    }
    let mut trajectories: Vec<Trajectory> = Vec::new();
    for (ln, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != expected.len() {
            return Err(err(ln, 0, format!("{} columns where the header has {}", cells.len(), expected.len())));
        }
        let id: usize =
            cells[0].parse().map_err(|_| err(ln, 1, format!("trajectory '{}' is not an index", cells[0])))?;
        let number = |c: usize| -> Result<f64, DatasetError> {
            match cells[c].parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                Ok(v) => Err(err(ln, c + 1, format!("{} is {v}, not a finite number", expected[c]))),
                Err(_) => Err(err(ln, c + 1, format!("{} '{}' is not a number", expected[c], cells[c]))),
            }
        };
        let t = number(1)?;
        let state = (2..cells.len()).map(number).collect::<Result<Vec<_>, _>>()?;
        if let Some(c) = state.iter().position(|v| v.abs() > MAX_STATE) {
            let what =
                format!("{} is {}, above {MAX_STATE:e}: out of f64's range for a solve", expected[c + 2], state[c]);
            return Err(err(ln, c + 3, what));
        }
        if id == trajectories.len() {
            trajectories.push(Trajectory { times: Vec::new(), states: Vec::new() });
        } else if id + 1 != trajectories.len() {
            return Err(err(
                ln,
                1,
                format!("trajectory {id} out of order: trajectories must be numbered 0, 1, … in contiguous blocks"),
            ));
        }
        let tr = trajectories.last_mut().unwrap();
        if let Some(&prev) = tr.times.last()
            && t <= prev
        {
            return Err(err(ln, 2, format!("time {t} does not increase (previous {prev}) in trajectory {id}")));
        }
        tr.times.push(t);
        tr.states.push(state);
    }
    if trajectories.is_empty() {
        return Err(err(1, 0, "no data rows".into()));
    }
    Ok(Dataset { species: species.to_vec(), trajectories })
}
