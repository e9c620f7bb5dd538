//! `findmatches init DATA [-o findmatches.toml]`: infer a transform
//! definition from a data file's headers and values, for you to edit.
//!
//! Examples:
//!   findmatches init customers.csv
//!   findmatches init customers.parquet -o customers.toml --force

use std::path::PathBuf;

use findmatches::{infer, write, Table};

use super::Global;

/// Infer a transform definition (primary key, column kinds) from a data file.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data file (CSV or Parquet).
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
    let def = infer::infer(&table)?;
    let text = def.to_toml();
    write::atomic_write(&args.output, |w| {
        use std::io::Write;
        w.write_all(text.as_bytes()).map_err(|e| findmatches::Error::io(&args.output, e))
    })?;
    let kinds: Vec<String> = def.columns.iter().map(|(c, k)| format!("{c}:{k}")).collect();
    global.say(format!(
        "wrote {} (key '{}'; {}); edit it, then `findmatches train`",
        args.output.display(),
        def.primary_key,
        kinds.join(", ")
    ));
    global.emit(serde_json::json!({ "output": args.output, "definition": def }));
    Ok(())
}
