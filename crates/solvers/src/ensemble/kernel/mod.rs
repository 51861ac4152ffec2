//! The forward solve as one device kernel: a thread per trajectory runs the whole adaptive
//! integration in its local memory — the stages, simplified Newton with a pivoted LU, the
//! embedded error estimate, the step-size controller and exact landing on every output time —
//! and writes the states at the output times, its status and counters, and (optionally) its
//! step record. It is the host engine's algorithm step for step (`engine/driver.rs`, `rk.rs`,
//! `newton.rs`, `full.rs`; design.md §3, §8, §11): Runge–Kutta stages solved one by one for a
//! diagonally implicit tableau, or all together by RADAU5's transformed Newton iteration
//! (Hairer & Wanner II, IV.8, (8.15)–(8.20)) for a fully implicit one; RADAU5's Jacobian reuse,
//! starting values and controllers (Gustafsson 1991).
//!
//! The method arrives as data ([`Coefficients`](super::program::Coefficients), built from the
//! same tableau as the host engine uses); `d`, `s` and the method's structure are compile-time.
//!
//! One module per concern, each the counterpart of a host module: [`layout`] (the buffers),
//! [`lane`] (a trajectory's memory, by named places), [`newton`] (`engine/newton.rs`),
//! [`stages`] (`rk.rs`, `full.rs`), [`control`] (`step_control.rs`, the error estimate and the
//! initial step), [`checkpoint`] (the record and resuming), [`solve`] (`driver.rs`).

mod checkpoint;
mod control;
mod lane;
mod layout;
mod newton;
mod solve;
mod stages;

pub(super) use checkpoint::limiter_fired;
pub(super) use lane::{field_jacobian, new_lane};
pub use layout::*;
pub use solve::solve_ensemble;
