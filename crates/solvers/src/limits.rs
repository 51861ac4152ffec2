//! The limits stiffnode checks before it allocates or integrates anything, so that a mistyped
//! size is a one-line error instead of an exhausted memory, and a meaningless tolerance is an
//! error instead of a wrong answer. The README lists them.

/// Largest state dimension: the engine's linear algebra is dense, a `d×d` Jacobian and several
/// factored `d×d` matrices per trajectory (8 MB each at this size).
pub const MAX_DIM: usize = 1000;

/// Largest stoichiometric coefficient or reaction order: mass action expands whole orders into
/// repeated factors, and real mechanisms stay far below.
pub const MAX_COEFFICIENT: f64 = 100.0;

/// Largest magnitude of a state value (initial states, data): products of such values in the
/// rates already leave f64's range (about 1e308).
pub const MAX_STATE: f64 = 1e100;

/// Relative tolerances must be below this: at 1 or above, the error control accepts anything.
pub const MAX_RTOL: f64 = 1.0;

/// Largest number of parameters of a neural vector field (80 MB of f64 values, and as much for
/// each of their gradients and optimizer moments).
pub const MAX_PARAMS: usize = 10_000_000;

/// Largest step limit: a solve that needs more steps is better served by another method or
/// looser tolerances, and every step may be recorded for the gradient.
pub const MAX_STEPS: usize = 1_000_000;

/// Default limit on the record a solve keeps for its gradient (steps, stages and step points of
/// all its trajectories; up to twice this in memory while it grows): a solve that passes it stops
/// with an error instead of exhausting the memory.
pub const MAX_RECORD_BYTES: usize = 2 << 30;
