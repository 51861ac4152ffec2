//! One module per subcommand, and the arguments they share.

pub mod args;
pub mod bench;
pub mod bench_ensemble;
pub mod bench_gradient;
pub mod bench_training;
pub mod evaluate;
pub mod generate;
pub mod gradcheck;
pub mod inspect;
pub mod methods;
pub mod predict;
pub mod solve;
pub mod stability;
pub mod train;
