//! Ignition delays of a model trained on a reactor problem's data, against the reactor's own:
//! for each trajectory, the time of the largest `dT/dt` (the first state component) among the
//! step points of the model's solve from the trajectory's initial state, beside the same for
//! the problem's reactor solved at the reference tolerances (carrying its pressure or density
//! in the state where the data sweep it, so each trajectory's own).

use burn::module::Module;
use stiffnode_chemistry::dataset::reference_solver;
use stiffnode_chemistry::gas::reactor::peak_time;
use stiffnode_chemistry::gas::{Reactor, ReactorType};
use stiffnode_solvers::field::{from_host, to_host};
use stiffnode_solvers::{
    DeviceKind, Method, Request, SolveError, SolveOptions, SolveRecord, TrajectoryRecord, VectorField, methods,
    solve_record,
};

use crate::problem::Problem;
use crate::setup::Setup;

/// One trajectory's temperature on a dense grid, of the model and of the reactor.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureCurve {
    /// The trajectory.
    pub trajectory: usize,
    /// Whether it is held out (the run's validation split).
    pub held_out: bool,
    /// The grid: log-spaced from the first data time after the initial one to the last.
    pub times: Vec<f64>,
    /// The model's `T` at them.
    pub model: Vec<f64>,
    /// The reactor's, at the reference tolerances.
    pub reference: Vec<f64>,
}

/// One trajectory's ignition delays (`None`: `dT/dt` is largest at an end of the solve).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IgnitionDelay {
    /// The trajectory.
    pub trajectory: usize,
    /// The model's.
    pub model: Option<f64>,
    /// The reactor's.
    pub reference: Option<f64>,
}

impl Setup {
    /// Whether the problem is a reactor with a temperature (component 0, `T`): whether its
    /// trajectories have ignition delays.
    pub fn has_temperature(&self) -> bool {
        matches!(&self.mechanism, Problem::Reactor(p) if p.reactor != ReactorType::Isothermal)
    }

    /// The ignition delays of every trajectory to its last data time, for a reactor problem
    /// with a temperature; `None` for other problems.
    pub fn ignition_delays(&self) -> Result<Option<Vec<IgnitionDelay>>, SolveError> {
        let all: Vec<usize> = (0..self.data.states.len()).collect();
        let Some(reference) = self.reference_delays(&all)? else { return Ok(None) };
        let model = self.model_delays(&all)?;
        let delays = all.iter().map(|&k| IgnitionDelay { trajectory: k, model: model[k], reference: reference[k] });
        Ok(Some(delays.collect()))
    }

    /// The reactor's own ignition delays of trajectories `ids`, solved from their initial
    /// states to their last data times at the reference tolerances; `None` for a problem
    /// without a temperature.
    pub fn reference_delays(&self, ids: &[usize]) -> Result<Option<Vec<Option<f64>>>, SolveError> {
        let Some(reference) = self.reference()? else { return Ok(None) };
        let t0 = self.data.t0();
        let delays = ids.iter().map(|&k| {
            let record = reference.solve(&self.data.states[k][0], t0, vec![self.last_time(k)])?;
            Ok(reference.reactor.ignition_delay(&record.trajectories()[0], t0))
        });
        Ok(Some(delays.collect::<Result<_, SolveError>>()?))
    }

    /// For a reactor problem with a temperature, its reactor with the dataset's reference
    /// solver and tolerances.
    fn reference(&self) -> Result<Option<Reference>, SolveError> {
        let Problem::Reactor(problem) = &self.mechanism else { return Ok(None) };
        if !self.has_temperature() {
            return Ok(None);
        }
        let (reactor, _) = problem.reactor(&DeviceKind::Cpu.open()?);
        let reference = reference_solver();
        let options = SolveOptions::adaptive(reference.rtol, reference.atol);
        Ok(Some(Reference { reactor, method: methods::by_name(&reference.method)?, options }))
    }

    /// The model's ignition delays of trajectories `ids` (the time of its largest `dT/dt`),
    /// each solved from its initial state to its last data time.
    pub fn model_delays(&self, ids: &[usize]) -> Result<Vec<Option<f64>>, SolveError> {
        let model = self.model.valid();
        let t0 = self.data.t0();
        ids.iter()
            .map(|&k| {
                let fitted = solve_record(&model, &self.request(&[k], &[self.last_time(k)]))?;
                Ok(largest_rate_time(&model, &fitted.trajectories()[0], t0))
            })
            .collect()
    }

    /// Every trajectory's `T(t)` of model and reactor on `points` log-spaced times, for a
    /// reactor problem with a temperature (`None` for others): the curves between the data
    /// points, where a front the data resolve in a few points shows its shape.
    pub fn temperature_curves(&self, points: usize) -> Result<Option<Vec<TemperatureCurve>>, SolveError> {
        let Some(reference) = self.reference()? else { return Ok(None) };
        let t0 = self.data.t0();
        let model = self.model.valid();
        let curves = (0..self.data.states.len()).map(|k| {
            let (first, last) = (self.data.times[k][1].max(f64::MIN_POSITIVE), self.last_time(k));
            let times: Vec<f64> = (0..points)
                .map(|j| first * (last / first).powf(j as f64 / (points - 1).max(1) as f64))
                .filter(|&t| t > t0)
                .collect();
            let column = |states: &[Vec<f64>]| states.iter().map(|y| y[0]).collect::<Vec<f64>>();
            let truth = column(&reference.solve(&self.data.states[k][0], t0, times.clone())?.solution().states);
            let fitted = column(&solve_record(&model, &self.request(&[k], &times))?.solution().states);
            let held_out = self.data.validation.contains(&k);
            Ok(TemperatureCurve { trajectory: k, held_out, times, model: fitted, reference: truth })
        });
        Ok(Some(curves.collect::<Result<_, SolveError>>()?))
    }

    /// Trajectory `k`'s last data time.
    fn last_time(&self, k: usize) -> f64 {
        self.data.times[k][self.data.times[k].len() - 1]
    }
}

/// A problem's reactor with the dataset's reference solver ([`reference_solver`]).
struct Reference {
    reactor: Reactor,
    method: Method,
    options: SolveOptions,
}

impl Reference {
    /// The reactor's solve from `y0` at `t0` to `times`.
    fn solve(&self, y0: &[f64], t0: f64, times: Vec<f64>) -> Result<SolveRecord, SolveError> {
        let request = Request::new(self.method.clone(), y0.to_vec(), t0, times).with_options(self.options.clone());
        solve_record(&self.reactor, &request)
    }
}

/// The time of the largest `f_0` among the step points of `record`, a solve of `field` from
/// `t0` (refined as the reactor's own ignition delay is).
fn largest_rate_time(field: &dyn VectorField, record: &TrajectoryRecord, t0: f64) -> Option<f64> {
    let (n, d) = (record.n_points(), field.dim());
    let times: Vec<f64> = std::iter::once(t0).chain(record.steps().iter().map(|s| s.t_next)).collect();
    let points: Vec<f64> = (0..n).flat_map(|k| record.point(k).to_vec()).collect();
    let f = to_host(field.eval(&times, from_host(points, [n, d], &field.device())));
    let rates: Vec<f64> = f.chunks_exact(d).map(|r| r[0]).collect();
    peak_time(&times, &rates)
}
