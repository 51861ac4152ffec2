//! `stiffnode`: train neural ODEs on stiff chemical kinetics, and solve, check and benchmark.

mod alloc;
mod commands;
mod plots;
mod report;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "stiffnode", version, about = "Stiff ODE solvers and neural ODE training on Burn")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the integration methods and their properties.
    Methods(commands::methods::Args),
    /// Evaluate a method's stability function R(z) and R'(z) at complex points.
    Stability(commands::stability::Args),
    /// Solve a built-in problem and print the final state and work counters.
    Solve(commands::solve::Args),
    /// Train a model on a dataset (TOML configuration; see examples/).
    Train(commands::train::Args),
    /// A trained model's states at chosen times (CSV).
    Predict(commands::predict::Args),
    /// Score a trained model on a dataset: normalized MAE, ignition delays, invariants.
    Evaluate(commands::evaluate::Args),
    /// Per-mode gradient log of a training run: table and plots.
    Inspect(commands::inspect::Args),
    /// Check the solver's gradients against finite differences on a mechanism.
    Gradcheck(commands::gradcheck::Args),
    /// Generate a dataset from a mechanism at reference accuracy.
    Generate(commands::generate::Args),
    /// Benchmark ROBER solves (JSON lines).
    Bench(commands::bench::Args),
}

fn main() -> ExitCode {
    // Output piped into `head` and the like ends quietly when the reader closes the pipe, as
    // with other Unix tools (Rust ignores SIGPIPE, which turns a closed pipe into a panic).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    report_panics_on_one_line();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Methods(a) => commands::methods::run(a),
        Command::Stability(a) => commands::stability::run(a),
        Command::Solve(a) => commands::solve::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Evaluate(a) => commands::evaluate::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Gradcheck(a) => commands::gradcheck::run(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Bench(a) => commands::bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of contexts joined by ": ".
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to standard output as clap writes them; a wrong command line is one
/// `error:` line (clap's message up to its first blank line) and exit status 1, as every other
/// wrong input.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let message: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    let message = message.join(" ");
    eprintln!("error: {}", message.strip_prefix("error: ").unwrap_or(&message));
    ExitCode::FAILURE
}

/// A panic is a bug (ours or a dependency's): it is reported as one `error:` line naming the
/// place, with Rust's usual report and backtrace only when `RUST_BACKTRACE` asks for them.
fn report_panics_on_one_line() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" (at {}:{})", l.file(), l.line())).unwrap_or_default();
        let what = what.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("error: internal error, please report it: {what}{at}");
    }));
}
