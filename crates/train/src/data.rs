//! Training data: a dataset directory (`data.csv`, and `meta.json` for the train/validation
//! split), checked against the mechanism's species, with the per-species scale ŷ and the
//! time span that scaled losses and scaled models use.
//!
//! Each trajectory has its own times (an adaptive grid places them on its own ignition front),
//! all from one initial time. A mini-batch ([`TrainingData::batch`]) whose trajectories have as
//! many times each is solved with per-trajectory spans (each lands on its own times only);
//! otherwise to the union of their times, each trajectory's loss reading its own points out of
//! it. Either way the outputs are exact solution values and their gradients exact.

use std::path::Path;

use stiffnode_chemistry::dataset::{self, DatasetError};
use stiffnode_solvers::Span;

/// Trajectories from one initial time, split for training and validation.
#[derive(Debug, Clone)]
pub struct TrainingData {
    /// Species, in column order.
    pub species: Vec<String>,
    /// Each trajectory's times; the first, the initial time, is the same for all.
    pub times: Vec<Vec<f64>>,
    /// States per trajectory per time (`[trajectory][time][species]`).
    pub states: Vec<Vec<Vec<f64>>>,
    /// Trajectory indices used for training.
    pub train: Vec<usize>,
    /// Trajectory indices held out for validation.
    pub validation: Vec<usize>,
    /// ŷ: per-species maximum of |y| over the training trajectories (1 where that is 0).
    pub scale: Vec<f64>,
}

impl TrainingData {
    /// Load `dir/data.csv` (columns `trajectory,t,<species>`) and the split in
    /// `dir/meta.json` if there is one (otherwise every trajectory trains).
    pub fn load(dir: &Path, species: &[String]) -> Result<Self, DatasetError> {
        let csv = dir.join("data.csv");
        let data = dataset::load(&csv, species)?;
        let bad = |what: String| Err(DatasetError { file: csv.display().to_string(), line: 0, column: 0, what });
        let t0 = data.trajectories[0].times[0];
        if let Some(k) = data.trajectories.iter().position(|tr| tr.times[0] != t0) {
            let t = data.trajectories[k].times[0];
            return bad(format!("trajectory {k} starts at t = {t}, trajectory 0 at {t0}: all must start together"));
        }
        if let Some(k) = data.trajectories.iter().position(|tr| tr.times.len() < 2) {
            return bad(format!(
                "trajectory {k} has one time: at least two are needed (the initial state and a target)"
            ));
        }
        let n = data.trajectories.len();
        let split = dataset::check_meta(dir, &data)?;
        let (train, validation) = split.map_or_else(|| ((0..n).collect(), Vec::new()), |s| (s.train, s.validation));
        let d = species.len();
        let scale = (0..d)
            .map(|i| {
                train
                    .iter()
                    .flat_map(|&k| data.trajectories[k].states.iter().map(move |s| s[i].abs()))
                    .fold(0.0, f64::max)
            })
            .map(|m| if m > 0.0 { m } else { 1.0 })
            .collect();
        let (times, states) = data.trajectories.into_iter().map(|tr| (tr.times, tr.states)).unzip();
        Ok(Self { species: species.to_vec(), times, states, train, validation, scale })
    }

    /// The initial time of every trajectory.
    pub fn t0(&self) -> f64 {
        self.times[0][0]
    }

    /// The last time of any trajectory.
    pub fn t_end(&self) -> f64 {
        self.times.iter().map(|t| t[t.len() - 1]).fold(f64::NEG_INFINITY, f64::max)
    }

    /// The time span `t_end − t_0` (the time scale of scaled models).
    pub fn span(&self) -> f64 {
        self.t_end() - self.t0()
    }

    /// What a solve of trajectories `ids` is asked for and what its loss compares: see [`Batch`].
    pub fn batch(&self, ids: &[usize]) -> Batch {
        let own: Vec<&[f64]> = ids.iter().map(|&k| &self.times[k][1..]).collect();
        let (times, spans) = outputs(self.t0(), &own);
        if spans.is_some() {
            let n = own[0].len();
            let targets =
                (1..=n).flat_map(|j| ids.iter().flat_map(move |&k| self.states[k][j].iter().copied())).collect();
            let curves = (0..ids.len())
                .map(|i| Curve {
                    t0: self.t0(),
                    points: (0..n).map(|j| j * ids.len() + i).collect(),
                    times: own[i].to_vec(),
                })
                .collect();
            return Batch { times, spans, rows: None, targets, y0: self.initial(ids), curves };
        }
        let (b, most) = (ids.len(), ids.iter().map(|&k| self.times[k].len() - 1).max().unwrap_or(0));
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        let mut curves: Vec<Curve> =
            own.iter().map(|t| Curve { t0: self.t0(), points: Vec::new(), times: t.to_vec() }).collect();
        for j in 0..most {
            for (i, &k) in ids.iter().enumerate().filter(|&(_, &k)| j + 1 < self.times[k].len()) {
                let u = times.binary_search_by(|t| t.total_cmp(&self.times[k][j + 1])).expect("a time of the union");
                curves[i].points.push(rows.len());
                rows.push(u * b + i);
                targets.extend_from_slice(&self.states[k][j + 1]);
            }
        }
        let rows = (rows.len() != times.len() * b || rows.iter().enumerate().any(|(r, &u)| r != u)).then_some(rows);
        Batch { times, spans: None, rows, targets, y0: self.initial(ids), curves }
    }

    /// Multiple shooting's mini-batch (design.md §13): every trajectory of `ids` cut into windows
    /// of `window` data intervals, each solved from its first data state at its first data time
    /// to its own times (spans): windows at intervals `0, window, 2·window, …`, the last one
    /// ending at the trajectory's end. Whole trajectories ([`batch`](Self::batch)) where a
    /// trajectory has no more intervals than `window`.
    pub fn windows(&self, ids: &[usize], window: usize) -> Batch {
        if window == 0 || ids.iter().any(|&k| self.times[k].len() - 1 <= window) {
            return self.batch(ids);
        }
        let mut starts = Vec::new();
        for &k in ids {
            let n = self.times[k].len() - 1;
            starts.extend((0..=n - window).step_by(window).map(|j| (k, j)));
            if !(n - window).is_multiple_of(window) {
                starts.push((k, n - window));
            }
        }
        let spans = starts
            .iter()
            .map(|&(k, j)| Span { t0: self.times[k][j], save_at: self.times[k][j + 1..=j + window].to_vec() })
            .collect::<Vec<_>>();
        let targets =
            (1..=window).flat_map(|m| starts.iter().flat_map(move |&(k, j)| self.states[k][j + m].iter().copied()));
        let y0 = starts.iter().flat_map(|&(k, j)| self.states[k][j].iter().copied()).collect();
        let curves = spans
            .iter()
            .enumerate()
            .map(|(w, s)| Curve {
                t0: s.t0,
                points: (0..window).map(|m| m * spans.len() + w).collect(),
                times: s.save_at.clone(),
            })
            .collect();
        Batch {
            times: spans[0].save_at.clone(),
            spans: Some(spans),
            rows: None,
            targets: targets.collect(),
            y0,
            curves,
        }
    }

    /// Initial states of trajectories `ids`, `ids.len()·d` values.
    pub fn initial(&self, ids: &[usize]) -> Vec<f64> {
        ids.iter().flat_map(|&k| self.states[k][0].clone()).collect()
    }
}

/// The output times of a solve of trajectories whose own output times (after the common initial
/// time `t0`) are `own`: each trajectory's own as spans where they differ and have as many
/// (the first trajectory's times first), else the union of all of them, strictly increasing.
pub fn outputs(t0: f64, own: &[&[f64]]) -> (Vec<f64>, Option<Vec<Span>>) {
    let first = own.first().copied().unwrap_or_default();
    if own.iter().all(|t| t.len() == first.len()) && own.iter().any(|t| *t != first) {
        let spans = own.iter().map(|t| Span { t0, save_at: t.to_vec() }).collect();
        return (first.to_vec(), Some(spans));
    }
    let mut union: Vec<f64> = own.concat();
    union.sort_by(f64::total_cmp);
    union.dedup();
    (union, None)
}

/// A mini-batch's solve and loss: the solve's output times — each trajectory's own as spans
/// where they have as many, else the union of their data times after the initial one — and the
/// data points the loss compares, ordered by a trajectory's own time index, then by its place in
/// the batch, each with its row in the solve's outputs stacked time by time (`[times·batch, d]`,
/// row `u·batch + b`) and its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Output times of the solve, strictly increasing (the first trajectory's, with spans).
    pub times: Vec<f64>,
    /// Each trajectory's own times, where they differ and have one count.
    pub spans: Option<Vec<Span>>,
    /// Each compared point's row in the stacked outputs; `None` where they are all rows in
    /// order (the trajectories share their times).
    pub rows: Option<Vec<usize>>,
    /// The compared points' data states, `d` values each.
    pub targets: Vec<f64>,
    /// The initial states of the solve, `d` values per trajectory (or window).
    pub y0: Vec<f64>,
    /// Each solved trajectory (or window) as a curve through its compared points, in the order
    /// of the initial states.
    pub curves: Vec<Curve>,
}

/// One solved trajectory (or shooting window) of a [`Batch`]: from its initial state (row `c`
/// of `y0` for curve `c`) at `t0` through its compared points, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The initial time.
    pub t0: f64,
    /// The compared points, by their index in the batch's targets (and compared rows).
    pub points: Vec<usize>,
    /// Their times.
    pub times: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two trajectories with their own times: the solve goes to the union, and each compared
    /// point is the row of its own time and trajectory, with its own data state.
    #[test]
    fn a_batch_reads_each_trajectory_at_its_own_times() {
        let data = TrainingData {
            species: vec!["A".into()],
            times: vec![vec![0.0, 1.0, 3.0], vec![0.0, 2.0, 3.0, 5.0]],
            states: vec![
                vec![vec![10.0], vec![11.0], vec![13.0]],
                vec![vec![20.0], vec![22.0], vec![23.0], vec![25.0]],
            ],
            train: vec![0, 1],
            validation: Vec::new(),
            scale: vec![25.0],
        };
        let batch = data.batch(&[1, 0]);
        assert_eq!(batch.times, [1.0, 2.0, 3.0, 5.0]);
        // Time index 0: trajectory 1 at t = 2 (union 1, place 0), trajectory 0 at t = 1 (union 0,
        // place 1); index 1: both at t = 3; index 2: trajectory 1 at t = 5.
        assert_eq!(batch.rows, Some(vec![2, 1, 4, 5, 6]));
        assert_eq!(batch.targets, [22.0, 11.0, 23.0, 13.0, 25.0]);
        // Each trajectory's curve through its own compared points.
        let curve = |points: Vec<usize>, times: Vec<f64>| Curve { t0: 0.0, points, times };
        assert_eq!(batch.curves, [curve(vec![0, 2, 4], vec![2.0, 3.0, 5.0]), curve(vec![1, 3], vec![1.0, 3.0])]);
        // Shared times: every row in order, no selection.
        let shared = TrainingData { times: vec![vec![0.0, 1.0, 3.0]; 2], ..data.clone() };
        let states = vec![vec![vec![1.0], vec![2.0], vec![3.0]], vec![vec![4.0], vec![5.0], vec![6.0]]];
        let shared_batch = TrainingData { states, ..shared.clone() }.batch(&[0, 1]);
        assert_eq!(shared_batch.spans, None);
        assert_eq!((shared_batch.times, shared_batch.rows), (vec![1.0, 3.0], None));
        assert_eq!(shared_batch.targets, [2.0, 5.0, 3.0, 6.0]);
        // Own times of one count: spans, every row in order.
        let states = vec![vec![vec![1.0], vec![2.0], vec![3.0]], vec![vec![4.0], vec![5.0], vec![6.0]]];
        let own = TrainingData { times: vec![vec![0.0, 1.0, 3.0], vec![0.0, 2.0, 4.0]], states, ..shared };
        let batch = own.batch(&[1, 0]);
        let span = |a: f64, b: f64| Span { t0: 0.0, save_at: vec![a, b] };
        assert_eq!(batch.spans, Some(vec![span(2.0, 4.0), span(1.0, 3.0)]));
        assert_eq!((batch.times, batch.rows), (vec![2.0, 4.0], None));
        assert_eq!(batch.targets, [5.0, 2.0, 6.0, 3.0]);
        assert_eq!(batch.curves, [curve(vec![0, 2], vec![2.0, 4.0]), curve(vec![1, 3], vec![1.0, 3.0])]);
    }

    /// Training needs every trajectory to start at one time and to have a target.
    #[test]
    fn trajectories_that_start_apart_or_have_no_target_are_named() {
        let dir = std::env::temp_dir().join(format!("stiffnode-data-starts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let species = vec!["A".to_string()];
        for (csv, says) in [
            ("trajectory,t,A\n0,0,1\n0,1,2\n1,0.5,1\n1,1,2\n", "trajectory 1 starts at t = 0.5, trajectory 0 at 0"),
            ("trajectory,t,A\n0,0,1\n0,1,2\n1,0,1\n", "trajectory 1 has one time"),
        ] {
            std::fs::write(dir.join("data.csv"), csv).unwrap();
            let e = TrainingData::load(&dir, &species).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("data.csv"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A meta.json that is there but cannot be read (not UTF-8, a directory) is an error, not
    /// a dataset without a split; so is a split that lists a trajectory twice.
    #[test]
    fn a_meta_json_that_cannot_be_read_or_repeats_a_trajectory_is_named() {
        let dir = std::env::temp_dir().join(format!("stiffnode-data-meta-{}", std::process::id()));
        let species = vec!["A".to_string()];
        let csv = "trajectory,t,A\n0,0,1\n0,1,2\n1,0,1\n1,1,2\n2,0,1\n2,1,2\n";
        let meta = dir.join("meta.json");
        for (kind, says) in [
            ("bytes", "cannot be read"),
            ("directory", "cannot be read"),
            (r#"{"split": {"train": [0, 1, 0], "validation": [2]}}"#, "split.train: trajectory 0 is listed twice"),
            (r#"{"split": {"train": [0], "validation": [2, 1, 2]}}"#, "split.validation: trajectory 2 is listed twice"),
        ] {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("data.csv"), csv).unwrap();
            match kind {
                "bytes" => std::fs::write(&meta, [0xff, 0xfe, 0x00, 0x7b]).unwrap(),
                "directory" => std::fs::create_dir(&meta).unwrap(),
                json => std::fs::write(&meta, json).unwrap(),
            }
            let e = TrainingData::load(&dir, &species).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("meta.json"), "{kind}: {e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Windows of three intervals over seven: from intervals 0 and 3, and the last from 4 to
    /// reach the end; each from its data state at its own first time.
    #[test]
    fn multiple_shooting_cuts_trajectories_into_windows_from_data_states() {
        let times: Vec<f64> = (0..8).map(f64::from).collect();
        let states: Vec<Vec<f64>> = (0..8).map(|j| vec![10.0 + f64::from(j)]).collect();
        let data = TrainingData {
            species: vec!["A".into()],
            times: vec![times],
            states: vec![states],
            train: vec![0],
            validation: Vec::new(),
            scale: vec![17.0],
        };
        let batch = data.windows(&[0], 3);
        let span = |j: usize| Span { t0: j as f64, save_at: (j + 1..=j + 3).map(|t| t as f64).collect() };
        assert_eq!(batch.spans, Some(vec![span(0), span(3), span(4)]));
        assert_eq!(batch.y0, [10.0, 13.0, 14.0]);
        assert_eq!(batch.targets, [11.0, 14.0, 15.0, 12.0, 15.0, 16.0, 13.0, 16.0, 17.0]);
        let curve = |w: usize, j: usize| Curve {
            t0: j as f64,
            points: vec![w, w + 3, w + 6],
            times: (j + 1..=j + 3).map(|t| t as f64).collect(),
        };
        assert_eq!(batch.curves, [curve(0, 0), curve(1, 3), curve(2, 4)]);
        assert_eq!((batch.times, batch.rows), (vec![1.0, 2.0, 3.0], None));
        // A window as long as the trajectory: the whole trajectory.
        assert_eq!(data.windows(&[0], 7), data.batch(&[0]));
    }
}
