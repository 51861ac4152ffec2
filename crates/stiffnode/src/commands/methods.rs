//! `stiffnode methods`: the method table.

use serde_json::json;
use stiffnode_solvers::methods;

/// Arguments of `stiffnode methods`.
#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let infos: Vec<_> = methods::all().iter().map(|m| m.info()).collect();
    if args.json {
        let rows: Vec<_> = infos
            .iter()
            .map(|i| {
                json!({"name": i.name, "order": i.order, "stages": i.stages, "a_stable": i.a_stable,
                       "l_stable": i.l_stable, "stiffly_accurate": i.stiffly_accurate, "embedded": i.embedded})
            })
            .collect();
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    let yn = |b: bool| if b { "yes" } else { "no" };
    println!(
        "{:<18} {:>5} {:>6}  {:<8} {:<8} {:<16} {:<14}",
        "name", "order", "stages", "A-stable", "L-stable", "stiffly accurate", "error estimate"
    );
    for i in infos {
        println!(
            "{:<18} {:>5} {:>6}  {:<8} {:<8} {:<16} {:<14}",
            i.name,
            i.order,
            i.stages,
            yn(i.a_stable),
            yn(i.l_stable),
            yn(i.stiffly_accurate),
            yn(i.embedded)
        );
    }
    Ok(())
}
