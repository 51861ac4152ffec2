//! Uploading a solve's inputs, launching the kernel and reading its outputs back in one read.

use cubecl::prelude::*;

use super::kernel::{
    self, COUNTERS, I_CHECKPOINTS, I_RESUME, STATUS, STATUS_INTERRUPTED, STEPS, checkpoint_width, counters_len,
    record_width,
};
use crate::error::{SetupError, SolveError};
use crate::kernel_field::KernelField;

/// Threads per workgroup.
pub(super) const CUBE: u32 = 64;

/// `v` on the device as floats of type `E`.
pub(super) fn upload<E: KernelFloat>(client: &cubecl::client::Client, v: &[f64]) -> cubecl::server::Handle {
    client.create_from_slice(E::as_bytes(&v.iter().map(|&x| E::from_f64(x)).collect::<Vec<E>>()))
}

/// Floats of type `E` read back, as f64.
pub(super) fn download<E: KernelFloat>(bytes: &[u8]) -> Vec<f64> {
    E::from_bytes(bytes).iter().map(|&x| x.to_f64()).collect()
}

/// A kernel argument over the first `len` elements of `handle`, which holds at least that many.
pub(super) fn arg(handle: &cubecl::server::Handle, len: usize) -> BufferArg {
    // SAFETY: the callers size every buffer for the lengths they pass.
    unsafe { BufferArg::from_raw_parts(handle.clone(), len) }
}

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

    /// The device buffers a launch allocates, `(what, bytes)`, for floats of `size` bytes.
    pub fn buffers(&self, size: usize) -> [(&'static str, usize); 4] {
        [
            ("states", self.out_len() * size),
            ("counters", counters_len(self.batch) * 4),
            ("step record", self.record_len() * size),
            ("checkpoints", self.state_len() * size),
        ]
    }
}

/// Error unless every buffer (`(what, bytes)`) fits the device's largest allocation (`page`
/// bytes) and all of them together its memory (`total`, where the runtime reports it).
pub(super) fn check_buffers(buffers: &[(&str, usize)], page: usize, total: Option<usize>) -> Result<(), SetupError> {
    let refuse = |why: String| Err(SetupError::InvalidOption { what: "batch", why });
    if let Some(&(what, bytes)) = buffers.iter().find(|(_, bytes)| *bytes > page) {
        return refuse(format!(
            "the batch needs {bytes} bytes for its {what}, more than the device's largest buffer ({page} bytes); split the batch"
        ));
    }
    let sum: usize = buffers.iter().map(|(_, bytes)| bytes).sum();
    match total {
        Some(total) if sum > total => refuse(format!(
            "the batch needs {sum} bytes of device memory, more than the device's {total} bytes; split the batch"
        )),
        _ => Ok(()),
    }
}

/// What one launch read back.
pub(super) struct Raw {
    pub d: usize,
    pub s: usize,
    pub batch: usize,
    pub capacity: usize,
    pub out: Vec<f64>,
    pub counters: Vec<u32>,
    pub record: Vec<f64>,
    /// The record as it stays on the device, for the backward kernel, and its length.
    pub record_on_device: (cubecl::server::Handle, usize),
    pub host_syncs: usize,
}

/// The kernel's float type: f32 (wgpu) or f64 (CUDA).
pub(super) trait KernelFloat: Float + CubeElement {
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl KernelFloat for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl KernelFloat for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// Launch the kernel in float type `E` for `plan` and read back its outputs. A launch that
/// leaves trajectories interrupted by the device's loop limit (software Vulkan) is followed by
/// another that resumes them from their checkpoints, while each makes progress; on hardware
/// there is one launch and one read.
pub(super) fn run<E: KernelFloat>(
    client: &cubecl::client::Client,
    plan: &Plan,
    input: &[f64],
    ints: &[u32],
    field: &KernelField,
) -> Result<Raw, SolveError> {
    let (fi, fd) = field.tables();
    let size = size_of::<E>();
    let input_h = upload::<E>(client, input);
    let fi_h = client.create_from_slice(u32::as_bytes(&fi));
    let fd_h = upload::<E>(client, &fd);
    let (out_len, counters_len, record_len, state_len) =
        (plan.out_len(), counters_len(plan.batch), plan.record_len(), plan.state_len());
    let out_h = client.empty(out_len * size);
    let counters_h = client.empty(counters_len * 4);
    let record_h = client.empty(record_len * size);
    let state_h = client.empty(state_len * size);
    let groups = (plan.batch as u32).div_ceil(CUBE);
    let mut ints = ints.to_vec();
    let (mut host_syncs, mut progress) = (0, 0);
    loop {
        let ints_h = client.create_from_slice(u32::as_bytes(&ints));
        kernel::solve_ensemble::launch::<E>(
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
        // Without checkpoints (ints[I_CHECKPOINTS] = 0) an interrupted trajectory cannot resume.
        if interrupted == 0 || ints[I_CHECKPOINTS] == 0 || (host_syncs > 1 && steps <= progress) {
            return Ok(Raw {
                d: plan.d,
                s: plan.s,
                batch: plan.batch,
                capacity: plan.capacity,
                out: download::<E>(&bytes[0]),
                counters: live.to_vec(),
                record: bytes.get(2).map_or_else(Vec::new, |b| download::<E>(b)),
                record_on_device: (record_h, record_len),
                host_syncs,
            });
        }
        progress = steps;
        ints[I_RESUME] = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::check_buffers;

    #[test]
    fn buffers_beyond_one_allocation_or_the_whole_memory_are_refused_by_name() {
        let buffers = [("states", 60), ("step record", 50)];
        assert!(check_buffers(&buffers, 60, Some(110)).is_ok());
        assert!(check_buffers(&buffers, 60, None).is_ok());
        let err = check_buffers(&buffers, 55, None).unwrap_err().to_string();
        assert!(err.contains("60 bytes for its states") && err.contains("largest buffer (55 bytes)"), "{err}");
        let err = check_buffers(&buffers, 60, Some(100)).unwrap_err().to_string();
        assert!(err.contains("needs 110 bytes of device memory") && err.contains("device's 100 bytes"), "{err}");
    }
}
