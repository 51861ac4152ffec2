//! Ensemble solves on a GPU: the whole adaptive integration of every trajectory in one device
//! kernel, a thread per trajectory with its own steps (design.md §11).
//!
//! This is the design of DiffEqGPU.jl's `EnsembleGPUKernel` (Utkarsh et al., *Automated
//! translation and accelerated solving of differential equations on multiple GPU platforms*,
//! CMAME 2024, arXiv:2304.06835): one launch per solve, a fixed-size pivoted LU in thread-local
//! memory, and one read-back per solve, so that the host is never in the step loop. The kernel
//! ([`kernel`]) runs the host engine's algorithm (the same tableaus, Newton rule, Jacobian reuse
//! and controllers) in the device's float type, on a vector field given as tables
//! ([`KernelField`]) and a method given as coefficients ([`Coefficients`]).

mod adjoint;
mod backward;
mod gradient;
mod kernel;
mod launch;
mod lu;
mod mass_action;
mod mlp;
mod program;
mod record;

use cubecl::wgpu::WgpuDevice;

pub use program::{Coefficients, KERNEL_METHODS};

use crate::device::DeviceKind;
use crate::error::{SetupError, SolveError};
use crate::kernel_field::KernelField;
use crate::request::{Request, StepControl};
use crate::solution::{Solution, SolveRecord, Stats};
use kernel::{COUNTERS, I_LEN, S_LEN};

/// How a trajectory's solve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrajectoryStatus {
    /// It reached the last output time.
    Ok,
    /// It reached the step limit.
    MaxSteps,
    /// Its step size fell below the resolution of `t`.
    StepTooSmall,
    /// The field or its Jacobian was not finite at the start of a step.
    NonFinite,
    /// It took more steps than its record holds.
    RecordFull,
    /// The device stopped the kernel's loops before the trajectory finished (software Vulkan
    /// ends all loops of an invocation after 65,535 iterations in total).
    Interrupted,
}

/// One trajectory's outcome: status, work, and the time and step size where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryOutcome {
    /// How it ended.
    pub status: TrajectoryStatus,
    /// Its work counters (Newton iterations and evaluations are its own).
    pub stats: Stats,
    /// The time it reached.
    pub t: f64,
    /// Its last step size.
    pub h: f64,
}

/// What an ensemble solve returns: the states at the output times (NaN for a trajectory from
/// where it failed), each trajectory's outcome, and how many times the host read the device.
#[derive(Debug, Clone)]
pub struct EnsembleSolution {
    /// States and summed counters, as [`solve`](crate::solve) returns them.
    pub solution: Solution,
    /// Per trajectory.
    pub trajectories: Vec<TrajectoryOutcome>,
    /// Read-backs from the device during the solve.
    pub host_syncs: usize,
}

impl EnsembleSolution {
    /// The solution if every trajectory succeeded, else the first failure as an error that
    /// names the trajectory.
    pub fn into_result(self, request: &Request) -> Result<Solution, SolveError> {
        match self.failure(request) {
            Some(e) => Err(e),
            None => Ok(self.solution),
        }
    }

    /// The first failed trajectory, as an error naming it.
    pub fn failure(&self, request: &Request) -> Option<SolveError> {
        let (index, o) = self.trajectories.iter().enumerate().find(|(_, o)| o.status != TrajectoryStatus::Ok)?;
        let t_end = request.save_at[request.save_at.len() - 1];
        let step = o.stats.steps + 1;
        let source = match o.status {
            TrajectoryStatus::MaxSteps => SolveError::MaxSteps { max_steps: request.options.max_steps, t: o.t, t_end },
            TrajectoryStatus::StepTooSmall => SolveError::StepTooSmall { step, t: o.t, h: o.h },
            TrajectoryStatus::Interrupted => SolveError::Interrupted { t: o.t },
            TrajectoryStatus::RecordFull => SolveError::RecordFull { capacity: o.stats.steps - 1, t: o.t },
            TrajectoryStatus::NonFinite | TrajectoryStatus::Ok => SolveError::NonFinite { t: o.t },
        };
        Some(SolveError::Trajectory { index, source: Box::new(source) })
    }
}

/// A GPU that solves ensembles: the compute client of the device Burn's `wgpu` (f32) or `cuda`
/// (f64) device uses.
#[derive(Clone)]
pub struct EnsembleDevice {
    client: cubecl::client::Client,
    /// The kernel computes in f64 (CUDA), else in f32 (wgpu).
    double: bool,
    /// Machine epsilon of the kernel's float type.
    epsilon: f64,
    /// Step attempts per launch before a trajectory pauses to resume in the next (0: none).
    attempts_per_launch: u32,
    /// Where gradients walk the steps back.
    walk: Walk,
    /// Trajectories write checkpoints to resume from: on a device that may stop the kernel's
    /// loops (a software rasterizer, which is no card), or with a budget of attempts per launch.
    checkpoints: Option<bool>,
    /// The device is no card (a CPU or software rasterizer: software Vulkan's loop cap).
    software: bool,
}

/// Where [`EnsembleDevice::gradient`] walks the recorded steps back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Walk {
    /// On the device for batches of at least [`Walk::DEVICE_FROM`] trajectories, where the
    /// device's parallelism pays; smaller batches are latency-bound and walk on the host cores.
    #[default]
    Auto,
    /// On the device (the backward kernel).
    Device,
    /// On the host, in f64, on all cores.
    Host,
}

impl Walk {
    /// The batch from which [`Walk::Auto`] walks on the device.
    pub const DEVICE_FROM: usize = 4096;
}

impl EnsembleDevice {
    /// Open the kernel device for `kind`; only GPU kinds have one.
    pub fn open(kind: DeviceKind) -> Result<Self, SetupError> {
        match kind {
            // Opening through Burn first turns a missing adapter into an error, not a panic.
            DeviceKind::Wgpu => {
                kind.open()?;
                let client = cubecl::Device::Wgpu(WgpuDevice::default()).client();
                let software = client.properties().identity.physical.is_none();
                let epsilon = f32::EPSILON as f64;
                Ok(Self { client, double: false, epsilon, attempts_per_launch: 0, walk: Walk::Auto, checkpoints: None, software })
            }
            DeviceKind::Cuda => {
                kind.open()?;
                Self::cuda()
            }
            DeviceKind::Cpu => Err(SetupError::InvalidOption {
                what: "device",
                why: "the ensemble kernel runs on a GPU device (wgpu or cuda); the CPU engine solves each trajectory with its own steps already".into(),
            }),
        }
    }

    #[cfg(feature = "cuda")]
    fn cuda() -> Result<Self, SetupError> {
        let client = cubecl::Device::Cuda(cubecl::device::CudaDevice::new(0)).client();
        let (epsilon, walk) = (f64::EPSILON, Walk::Auto);
        Ok(Self { client, double: true, epsilon, attempts_per_launch: 0, walk, checkpoints: None, software: false })
    }

    #[cfg(not(feature = "cuda"))]
    fn cuda() -> Result<Self, SetupError> {
        unreachable!("DeviceKind::Cuda opens only with the cuda feature")
    }

    /// Limit each launch to `attempts` step attempts per trajectory; trajectories that reach it
    /// resume from their last accepted step in the next launch, with the same results. Keeps a
    /// launch short where a driver stops long kernels (desktop watchdogs); 0 (the default) sets
    /// no limit. A limit below the rejections between two accepted steps makes no progress and
    /// ends the solve with [`SolveError::Interrupted`].
    pub fn with_attempts_per_launch(mut self, attempts: u32) -> Self {
        self.attempts_per_launch = attempts;
        self
    }

    /// The kernel device of `kind` if it runs `request` for `field` ([`check`](Self::check));
    /// `None` for the CPU or a request it does not run, which then takes the tensor path.
    pub fn for_request(kind: DeviceKind, field: &KernelField, request: &Request) -> Result<Option<Self>, SetupError> {
        if kind == DeviceKind::Cpu {
            return Ok(None);
        }
        let gpu = Self::open(kind)?;
        Ok(gpu.check(field, request).is_ok().then_some(gpu))
    }

    /// Write checkpoints after every accepted step (`true`) or not (`false`); by default only
    /// where they are needed: on a software rasterizer (software Vulkan stops long kernels'
    /// loops) or with [`with_attempts_per_launch`](Self::with_attempts_per_launch). Without them
    /// an interrupted trajectory ends the solve with [`SolveError::Interrupted`].
    pub fn with_checkpoints(mut self, on: bool) -> Self {
        self.checkpoints = Some(on);
        self
    }

    /// Whether trajectories write checkpoints.
    fn checkpointing(&self) -> bool {
        self.checkpoints.unwrap_or(self.software || self.attempts_per_launch > 0)
    }

    /// Walk gradients back where `walk` says ([`Walk::Auto`] by default).
    pub fn with_walk(mut self, walk: Walk) -> Self {
        self.walk = walk;
        self
    }

    /// Solve `request` for `field` in one kernel launch and one read-back (more on a device that
    /// interrupts long kernels: design.md §11).
    pub fn solve(&self, field: &KernelField, request: &Request) -> Result<EnsembleSolution, SolveError> {
        let raw = self.run(field, request, 0)?;
        Ok(decode(request, &raw))
    }

    /// [`solve`](Self::solve), keeping every trajectory's accepted steps, step points and stage
    /// values (at most `capacity` steps each): the [`SolveRecord`] that gradients are taken from,
    /// as [`solve_record`](crate::solve_record) returns it. Fails, naming it, if a trajectory
    /// fails.
    pub fn solve_record(
        &self,
        field: &KernelField,
        request: &Request,
        capacity: usize,
    ) -> Result<(EnsembleSolution, SolveRecord), SolveError> {
        let (ensemble, record, _) = self.recorded(field, request, capacity)?;
        Ok((ensemble, record))
    }

    /// [`solve_record`](Self::solve_record) with what the kernel read back.
    fn recorded(
        &self,
        field: &KernelField,
        request: &Request,
        capacity: usize,
    ) -> Result<(EnsembleSolution, SolveRecord, launch::Raw), SolveError> {
        let raw = self.run(field, request, capacity.max(1))?;
        let ensemble = decode(request, &raw);
        if let Some(e) = ensemble.failure(request) {
            return Err(e);
        }
        let record = record::build(request, &ensemble, &raw);
        Ok((ensemble, record, raw))
    }

    /// The smallest relative tolerance the kernel's float type resolves: `10ε` (1.2e-6 in f32;
    /// below it the error estimate is mostly rounding and steps collapse).
    pub fn min_rtol(&self) -> f64 {
        10.0 * self.epsilon
    }

    /// Whether the kernel runs `request` for `field`: adaptive steps with `rtol` at least
    /// [`min_rtol`](Self::min_rtol), a method with a kernel form, and a valid request.
    pub fn check(&self, field: &KernelField, request: &Request) -> Result<(), SetupError> {
        request.validate(field.dim())?;
        if request.spans.is_some() {
            let why = "the ensemble kernel solves every trajectory to one set of times".to_string();
            return Err(SetupError::InvalidOption { what: "spans", why });
        }
        let StepControl::Adaptive { tol, .. } = &request.options.control else {
            let why = "the ensemble kernel takes adaptive steps; give tolerances".to_string();
            return Err(SetupError::InvalidOption { what: "step control", why });
        };
        if tol.min_rtol() < self.min_rtol() {
            let why = format!(
                "{:e} is below what the kernel's f32 arithmetic resolves (at least {:.1e})",
                tol.min_rtol(),
                self.min_rtol()
            );
            return Err(SetupError::InvalidOption { what: "rtol", why });
        }
        Coefficients::new(&request.method).map(|_| ())
    }

    /// Launch the kernel and read its outputs back, in one read.
    fn run(&self, field: &KernelField, request: &Request, capacity: usize) -> Result<launch::Raw, SolveError> {
        let d = field.dim();
        self.check(field, request)?;
        let StepControl::Adaptive { tol, h0 } = &request.options.control else {
            unreachable!("checked: adaptive steps")
        };
        let coefficients = Coefficients::new(&request.method)?;
        // The input buffer: coefficients, settings, tolerances, output times, initial states.
        let mut input = coefficients.values.clone();
        let span = request.save_at.iter().copied().find(|&t| t > request.t0).unwrap_or(request.t0 + 1.0) - request.t0;
        let newton_tol = crate::step_control::newton_tolerance(tol.min_rtol(), self.epsilon);
        let settings: [f64; S_LEN] = [request.t0, h0.unwrap_or(0.0), newton_tol, self.epsilon, span];
        input.extend(settings);
        input.extend((0..d).map(|i| tol.rtol_of(i)));
        input.extend((0..d).map(|i| tol.atol_of(i)));
        input.extend(&request.save_at);
        input.extend(&request.y0);
        let max_steps = u32::try_from(request.options.max_steps).unwrap_or(u32::MAX);
        let (batch, n_out) = (request.batch(d), request.save_at.len());
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        let ints: [u32; I_LEN] = [
            batch as u32,
            n_out as u32,
            max_steps,
            request.options.newton_max_iter as u32,
            capacity,
            0,
            2,
            self.attempts_per_launch,
            u32::from(self.checkpointing()),
        ];
        let plan = launch::Plan {
            d,
            s: coefficients.s,
            full: coefficients.full,
            mlp: field.is_mlp(),
            width: field.width(),
            batch,
            n_out,
            capacity: capacity as usize,
        };
        self.check_buffers(&plan.buffers(self.float_size()))?;
        if self.double {
            launch::run::<f64>(&self.client, &plan, &input, &ints, field)
        } else {
            launch::run::<f32>(&self.client, &plan, &input, &ints, field)
        }
    }

    /// Bytes of the kernel's float type.
    fn float_size(&self) -> usize {
        if self.double { 8 } else { 4 }
    }

    /// Error unless `buffers` fit the device, one by one and together.
    fn check_buffers(&self, buffers: &[(&str, usize)]) -> Result<(), SetupError> {
        let memory = &self.client.properties().memory;
        let total = memory.max_memory().map(|m| m as usize);
        launch::check_buffers(buffers, memory.max_page_size as usize, total)
    }
}

/// The solution and outcomes from the kernel's outputs.
fn decode(request: &Request, raw: &launch::Raw) -> EnsembleSolution {
    let (d, batch, n_out) = (raw.d, raw.batch, request.save_at.len());
    let out = &raw.out;
    let states: Vec<Vec<f64>> = (0..n_out).map(|o| out[o * batch * d..(o + 1) * batch * d].to_vec()).collect();
    let fail = &out[n_out * batch * d..];
    let mut total = Stats::default();
    let trajectories: Vec<TrajectoryOutcome> = raw
        .counters
        .chunks_exact(COUNTERS)
        .enumerate()
        .map(|(b, c)| {
            let stats = Stats {
                steps: c[kernel::STEPS] as usize,
                rejected: c[kernel::REJECTED] as usize,
                newton_iterations: c[kernel::NEWTON] as usize,
                jacobian_evaluations: c[kernel::JACOBIANS] as usize,
                factorizations: c[kernel::FACTORS] as usize,
                rhs_evaluations: c[kernel::EVALS] as usize,
            };
            total += &stats;
            let status = match c[kernel::STATUS] {
                kernel::STATUS_OK => TrajectoryStatus::Ok,
                kernel::STATUS_MAX_STEPS => TrajectoryStatus::MaxSteps,
                kernel::STATUS_STEP_TOO_SMALL => TrajectoryStatus::StepTooSmall,
                kernel::STATUS_INTERRUPTED => TrajectoryStatus::Interrupted,
                kernel::STATUS_RECORD_FULL => TrajectoryStatus::RecordFull,
                _ => TrajectoryStatus::NonFinite,
            };
            TrajectoryOutcome { status, stats, t: fail[2 * b], h: fail[2 * b + 1] }
        })
        .collect();
    // A failed trajectory has no state at the output times past the time it reached.
    let mut states = states;
    for (b, o) in trajectories.iter().enumerate().filter(|(_, o)| o.status != TrajectoryStatus::Ok) {
        for (k, _) in request.save_at.iter().enumerate().filter(|&(_, &t)| t > o.t) {
            states[k][b * d..(b + 1) * d].fill(f64::NAN);
        }
    }
    let solution = Solution { times: request.save_at.clone(), states, batch, dim: d, stats: total };
    EnsembleSolution { solution, trajectories, host_syncs: raw.host_syncs }
}
