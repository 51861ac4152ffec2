//! One module per subcommand.

pub mod bench;
pub mod bench_gradient;
pub mod generate;
pub mod gradcheck;
pub mod methods;
pub mod solve;
pub mod stability;
pub mod steps;
