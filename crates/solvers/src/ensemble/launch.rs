//! Uploading a solve's inputs, launching the kernel and reading its outputs back in one read.

use cubecl::prelude::*;

use super::kernel::{
    self, COUNTERS, I_RESUME, STATUS, STATUS_INTERRUPTED, STEPS, checkpoint_width, counters_len, record_width,
};
use super::program::KernelField;
use crate::error::{SetupError, SolveError};

/// Threads per workgroup.
const CUBE: u32 = 64;

/// The shape of one launch.
pub(super) struct Plan {
    pub d: usize,
    pub s: usize,
    pub full: bool,
    /// The field is an MLP of this width (else mass action).
    pub mlp: bool,
    pub width: usize,
    pub batch: usize,
    pub n_out: usize,
    /// Recorded steps per trajectory (0: no record).
    pub capacity: usize,
}

impl Plan {
    /// Values in the output buffer: the states, then `t` and `h` per trajectory.
    fn out_len(&self) -> usize {
        self.n_out * self.batch * self.d + 2 * self.batch
    }

    fn record_len(&self) -> usize {
        (self.batch * self.capacity * record_width(self.d, self.s)).max(1)
    }

    fn state_len(&self) -> usize {
        self.batch * 2 * checkpoint_width(self.d, self.s)
    }

    /// Check each output buffer's size in bytes with `check(what, bytes)`.
    pub fn check_sizes(&self, check: impl Fn(&str, usize) -> Result<(), SetupError>) -> Result<(), SetupError> {
        check("states", self.out_len() * 4)?;
        check("counters", counters_len(self.batch) * 4)?;
        check("step record", self.record_len() * 4)?;
        check("checkpoints", self.state_len() * 4)
    }
}

/// What one launch read back.
pub(super) struct Raw {
    pub d: usize,
    pub s: usize,
    pub batch: usize,
    pub capacity: usize,
    pub out: Vec<f32>,
    pub counters: Vec<u32>,
    pub record: Vec<f32>,
    pub host_syncs: usize,
}

/// Launch the kernel for `plan` and read back its outputs. A launch that leaves trajectories
/// interrupted by the device's loop limit (software Vulkan) is followed by another that resumes
/// them from their checkpoints, while each makes progress; on hardware there is one launch and
/// one read.
pub(super) fn run(
    client: &cubecl::client::Client,
    plan: &Plan,
    input: &[f64],
    ints: &[u32],
    field: &KernelField,
) -> Result<Raw, SolveError> {
    let (fi, fd) = field.tables();
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let input_h = client.create_from_slice(f32::as_bytes(&f32s(input)));
    let fi_h = client.create_from_slice(u32::as_bytes(&fi));
    let fd_h = client.create_from_slice(f32::as_bytes(&f32s(&fd)));
    let (out_len, counters_len, record_len, state_len) =
        (plan.out_len(), counters_len(plan.batch), plan.record_len(), plan.state_len());
    let out_h = client.empty(out_len * 4);
    let counters_h = client.empty(counters_len * 4);
    let record_h = client.empty(record_len * 4);
    let state_h = client.empty(state_len * 4);
    let groups = (plan.batch as u32).div_ceil(CUBE);
    // SAFETY: every handle holds at least the number of elements given with it.
    let arg = |h: &cubecl::server::Handle, len: usize| unsafe { BufferArg::from_raw_parts(h.clone(), len) };
    let mut ints = ints.to_vec();
    let (mut host_syncs, mut progress) = (0, 0);
    loop {
        let ints_h = client.create_from_slice(u32::as_bytes(&ints));
        kernel::solve_ensemble::launch::<f32>(
            client,
            CubeCount::Static(groups, 1, 1),
            CubeDim::new_1d(CUBE),
            arg(&input_h, input.len()),
            arg(&ints_h, ints.len()),
            arg(&fi_h, fi.len()),
            arg(&fd_h, fd.len()),
            arg(&out_h, out_len),
            arg(&counters_h, counters_len),
            arg(&record_h, record_len),
            arg(&state_h, state_len),
            plan.d,
            plan.s,
            plan.full,
            plan.mlp,
            plan.width,
        );
        let mut handles = vec![out_h.clone(), counters_h.clone()];
        if plan.capacity > 0 {
            handles.push(record_h.clone());
        }
        let bytes = client.read(handles).map_err(|e| SolveError::Device(e.to_string()))?;
        host_syncs += 1;
        let counters = u32::from_bytes(&bytes[1]);
        let live = &counters[..plan.batch * COUNTERS];
        let interrupted = live.chunks_exact(COUNTERS).filter(|c| c[STATUS] == STATUS_INTERRUPTED).count();
        // Accepted steps of the whole batch: a relaunch that adds none would repeat itself.
        let steps: usize = live.chunks_exact(COUNTERS).map(|c| c[STEPS] as usize).sum();
        if interrupted == 0 || (host_syncs > 1 && steps <= progress) {
            return Ok(Raw {
                d: plan.d,
                s: plan.s,
                batch: plan.batch,
                capacity: plan.capacity,
                out: f32::from_bytes(&bytes[0]).to_vec(),
                counters: live.to_vec(),
                record: bytes.get(2).map_or_else(Vec::new, |b| f32::from_bytes(b).to_vec()),
                host_syncs,
            });
        }
        progress = steps;
        ints[I_RESUME] = 1;
    }
}
