//! The device backward pass from the host's side (design.md §11): the output cotangents go up
//! (the forward's record is still there), `∂L/∂y0` and the parameter product summed over the
//! trajectories come back;
//! relaunched from the walk's checkpoints where the device stopped the kernel's loops (software
//! Vulkan).

use cubecl::prelude::*;

use super::adjoint::{self, adjoint_state_width};
use super::kernel::{I_LEN, I_RESUME, I_TWO, STATUS_INTERRUPTED, STATUS_NON_FINITE};
use super::launch::{CUBE, KernelFloat, Plan, arg, download, upload};
use crate::error::SolveError;
use crate::kernel_field::KernelField;
use crate::tableau::{StepOutput, Tableau};

/// What the backward kernel returns: `Σ_b Σ (∂f/∂θ)ᵀμ` in the kernel's parameter order
/// ([`KernelField::product_width`] values), `∂L/∂y0` (`batch·d`), read-backs.
pub(super) struct Backward {
    pub params: Vec<f64>,
    pub y0: Vec<f64>,
    pub host_syncs: usize,
}

/// The forward solve the walk goes back over: its method, output times, each trajectory's steps
/// and its record, still on the device (buffer and length).
pub(super) struct Recorded<'a> {
    pub tab: &'a Tableau,
    pub save_at: &'a [f64],
    pub steps: &'a [u32],
    pub record: &'a (cubecl::server::Handle, usize),
}

/// The device buffers a walk allocates or keeps, `(what, bytes)`, for floats of `size` bytes.
pub(super) fn buffers(plan: &Plan, field: &KernelField, size: usize) -> [(&'static str, usize); 3] {
    let batch = plan.batch;
    [
        ("adjoint's parameter gradients", batch * 2 * field.product_width() * size),
        ("adjoint checkpoints", batch * 2 * adjoint_state_width(plan.d) * size),
        ("step record", plan.buffers(size)[2].1),
    ]
}

/// Walk `forward` back from the output cotangents `outputs` (`batch·d` per output time).
pub(super) fn run<E: KernelFloat>(
    client: &cubecl::client::Client,
    plan: &Plan,
    forward: &Recorded,
    outputs: &[Vec<f64>],
    field: &KernelField,
) -> Result<Backward, SolveError> {
    let (d, s, batch) = (plan.d, plan.s, plan.batch);
    // The slopes form (`δ = 1`, `e = b`; design.md §4) for now: in f32 the stage-value form
    // missed the MLP test's ∂L/∂y0 by 5.7e-3 against the host's f64 walk of the same record
    // (1e-3 allowed), the slopes form stays within it; the kernel takes either.
    let output = StepOutput { start: 1.0, values: vec![0.0; s], slopes: forward.tab.b.clone() };
    let mut input: Vec<f64> = forward.tab.a.concat();
    input.extend(&output.values);
    input.extend(&output.slopes);
    input.push(output.start);
    input.extend(forward.save_at);
    input.extend(outputs.iter().flatten());
    let mut ints = vec![0u32; I_LEN];
    (ints[0], ints[1], ints[4], ints[I_TWO]) = (batch as u32, plan.n_out as u32, plan.capacity as u32, 2);
    ints.extend(forward.steps);
    let (fi, fd) = field.tables();
    let size = size_of::<E>();
    let input_h = upload::<E>(client, &input);
    let fi_h = client.create_from_slice(u32::as_bytes(&fi));
    let fd_h = upload::<E>(client, &fd);

    let n_params = field.product_width();
    let (grad_len, state_len) = ((batch * 2 * n_params).max(1), batch * 2 * adjoint_state_width(d));
    let grad_h = client.empty(grad_len * size);
    let state_h = client.empty(state_len * size);
    let slots_h = client.empty(batch * 2 * 4);
    let groups = (batch as u32).div_ceil(CUBE);
    let (mut host_syncs, mut progress) = (0, 0.0);
    loop {
        let ints_h = client.create_from_slice(u32::as_bytes(&ints));
        adjoint::adjoint_ensemble::launch::<E>(
            client,
            CubeCount::Static(groups, 1, 1),
            CubeDim::new_1d(CUBE),
            arg(&input_h, input.len()),
            arg(&ints_h, ints.len()),
            arg(&fi_h, fi.len()),
            arg(&fd_h, fd.len()),
            arg(&forward.record.0, forward.record.1),
            arg(&grad_h, grad_len),
            arg(&state_h, state_len),
            arg(&slots_h, batch * 2),
            d,
            s,
            plan.mlp,
            plan.width,
            field.depth(),
        );
        let bytes =
            client.read(vec![state_h.clone(), slots_h.clone()]).map_err(|e| SolveError::Device(e.to_string()))?;
        host_syncs += 1;
        let (state, slots) = (download::<E>(&bytes[0]), u32::from_bytes(&bytes[1]).to_vec());
        let width = adjoint_state_width(d);
        let current = |b: usize| &state[(2 * b + slots[2 * b] as usize) * width..][..width];
        if let Some(b) = (0..batch).find(|&b| slots[2 * b + 1] == STATUS_NON_FINITE) {
            let why = format!("trajectory {b}: the adjoint's stage matrix is singular in a recorded step");
            return Err(SolveError::NonFiniteGradient(why));
        }
        let interrupted = (0..batch).filter(|&b| slots[2 * b + 1] == STATUS_INTERRUPTED).count();
        let walked: f64 = (0..batch).map(|b| current(b)[0]).sum();
        if interrupted > 0 && (host_syncs == 1 || walked > progress) {
            progress = walked;
            ints[I_RESUME] = 1;
            continue;
        }
        if interrupted > 0 {
            let why = "the backward kernel stopped without progress: one step takes more loop iterations than the device allows";
            return Err(SolveError::Device(why.into()));
        }
        let y0 = (0..batch).flat_map(|b| current(b)[2..].to_vec()).collect();
        let grad = download::<E>(&client.read_one(grad_h.clone()).map_err(|e| SolveError::Device(e.to_string()))?);
        let mut params = vec![0.0; n_params];
        for b in 0..batch {
            let own = &grad[(2 * b + slots[2 * b] as usize) * n_params..][..n_params];
            params.iter_mut().zip(own).for_each(|(p, g)| *p += g);
        }
        return Ok(Backward { params, y0, host_syncs: host_syncs + 1 });
    }
}
