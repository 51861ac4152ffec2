//! Ignition delays of a model trained on a reactor problem's data, against the reactor's own:
//! for each trajectory, the time of the largest `dT/dt` (the first state component) among the
//! step points of the model's solve from the trajectory's initial state, beside the same for
//! the problem's reactor solved at the reference tolerances (carrying its pressure or density
//! in the state where the data sweep it, so each trajectory's own).

use burn::module::Module;
use stiffnode_chemistry::dataset::reference_solver;
use stiffnode_chemistry::gas::ReactorType;
use stiffnode_chemistry::gas::reactor::peak_time;
use stiffnode_solvers::field::{from_host, to_host};
use stiffnode_solvers::{
    DeviceKind, Request, SolveError, SolveOptions, TrajectoryRecord, VectorField, methods, solve_record,
};

use crate::problem::Problem;
use crate::setup::Setup;

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
    /// The ignition delays of every trajectory to its last data time, for a reactor problem
    /// with a temperature; `None` for other problems.
    pub fn ignition_delays(&self) -> Result<Option<Vec<IgnitionDelay>>, SolveError> {
        let Problem::Reactor(problem) = &self.mechanism else { return Ok(None) };
        if problem.reactor == ReactorType::Isothermal {
            return Ok(None);
        }
        let (reactor, _) = problem.reactor(&DeviceKind::Cpu.open()?);
        let model = self.model.valid();
        let t0 = self.data.t0();
        let reference = reference_solver();
        let exact = SolveOptions::adaptive(reference.rtol, reference.atol);
        let mut out = Vec::with_capacity(self.data.states.len());
        for k in 0..self.data.states.len() {
            let t_end = self.data.times[k][self.data.times[k].len() - 1];
            let y0 = self.data.states[k][0].clone();
            let truth =
                Request::new(methods::by_name(&reference.method)?, y0, t0, vec![t_end]).with_options(exact.clone());
            let record = solve_record(&reactor, &truth)?;
            let fitted = solve_record(&model, &self.request(&[k], &[t_end]))?;
            out.push(IgnitionDelay {
                trajectory: k,
                model: largest_rate_time(&model, &fitted.trajectories()[0], t0),
                reference: reactor.ignition_delay(&record.trajectories()[0], t0),
            });
        }
        Ok(Some(out))
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
