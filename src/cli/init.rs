//! `findmatches init DATA [-o findmatches.toml]`: infer a transform
//! definition from a data file's headers and values, for you to edit. It
//! says, column by column, how sure it is: a kind both the header and the
//! values bear out, or one from the header or the values alone (check
//! those), or one where the values overruled the header.
//!
//! Examples:
//!   findmatches init customers.csv
//!   findmatches init customers.parquet -o customers.toml --force

use std::path::PathBuf;

use findmatches::{durable, infer, Table};

use super::Global;

/// Infer a transform definition (primary key, column kinds) from a data file.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data: CSV, TSV (optionally .gz), Parquet, a directory of Parquet
    /// parts, or - for standard input.
    data: PathBuf,
    /// Where to write the definition.
    #[arg(short, long, default_value = "findmatches.toml")]
    output: PathBuf,
    /// Overwrite an existing definition.
    #[arg(long)]
    force: bool,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    if args.output.exists() && !args.force {
        return Err(findmatches::Error::usage(format!(
            "{} exists; pass --force to overwrite it",
            args.output.display()
        ))
        .into());
    }
    let table = Table::read(&args.data)?;
    let (def, guesses) = infer::infer_explained(&table)?;
    let text = def.to_toml();
    durable::atomic_write(&args.output, |w| {
        use std::io::Write;
        w.write_all(text.as_bytes()).map_err(|e| findmatches::Error::io(&args.output, e))
    })?;
    let width = guesses.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let lines: Vec<String> = guesses
        .iter()
        .map(|(c, g)| format!("  {c:width$}  {:8}  {}", g.kind.as_str(), g.describe()))
        .collect();
    global.say(format!(
        "wrote {} (key '{}'); edit it, then `findmatches train`:\n{}",
        args.output.display(),
        def.primary_key,
        lines.join("\n")
    ));
    global.emit(serde_json::json!({ "output": args.output, "definition": def, "guesses": guesses }));
    Ok(())
}
