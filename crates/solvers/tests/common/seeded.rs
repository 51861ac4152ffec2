//! How every property test of the workspace is configured (this file is included by path from
//! each crate's tests): the same cases in every run, from a fixed seed per test, so that CI is
//! reproducible and a red run is a change's doing, not the draw's; other cases by hand with
//! `PROPTEST_SEED=N` (and more of them with `PROPTEST_CASES=N`). A failing case shrinks for at
//! most [`MAX_SHRINK_MS`], so that a slow failing case is reported, not turned into a CI time-out
//! by a thousand re-runs.
#![allow(dead_code)]

use proptest::test_runner::{Config, RngSeed};

/// The longest a failure is shrunk, in milliseconds.
pub const MAX_SHRINK_MS: u32 = 60_000;

/// `PROPTEST_CASES` cases (default `default_cases`) from `PROPTEST_SEED` (default `seed`).
pub fn seeded(default_cases: u32, seed: u64) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed_from_env(seed)),
        max_shrink_time: MAX_SHRINK_MS,
        failure_persistence: None,
        ..Config::default()
    }
}

/// `PROPTEST_SEED` if set, else `seed`.
pub fn seed_from_env(seed: u64) -> u64 {
    std::env::var("PROPTEST_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(seed)
}
