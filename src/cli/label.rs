//! `findmatches label generate --config C --input D -o labeling_set.csv`:
//! groups of similar records for a person to label, as a FindMatches
//! labeling file with an empty `label` column.
//!
//! `--answers TRUTH` fills the labels from a `key,entity` file instead,
//! which simulates a careful labeler (for benchmarks and tests).
//!
//! Examples:
//!   findmatches label generate --config findmatches.toml --input customers.csv \
//!       -o labeling_set.csv --sets 20 --set-size 10

use std::collections::HashMap;
use std::path::PathBuf;

use arrow_array::Array;
use findmatches::block::{Blocking, Mode};
use findmatches::labels;
use findmatches::{Records, Table, TransformDef};

use super::Global;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Make labeling sets: groups of similar records to label.
    Generate(GenerateArgs),
}

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// The transform definition (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// The data; repeat for both tables of a link.
    #[arg(long, short, required = true)]
    input: Vec<PathBuf>,
    /// Where to write the labeling file.
    #[arg(short, long)]
    output: PathBuf,
    /// Number of labeling sets.
    #[arg(long, default_value_t = 10)]
    sets: usize,
    /// Records per set (at most).
    #[arg(long, default_value_t = 10)]
    set_size: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fill the label column from this `key,entity` file (simulated labeler).
    #[arg(long)]
    answers: Option<PathBuf>,
}

pub fn run(command: &Command, global: &Global) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => generate(args, global),
    }
}

fn generate(args: &GenerateArgs, global: &Global) -> anyhow::Result<()> {
    if args.set_size < 2 {
        return Err(findmatches::Error::usage("--set-size must be at least 2").into());
    }
    let def = TransformDef::load(&args.config)?;
    let tables = args.input.iter().map(|p| Table::read(p)).collect::<Result<Vec<_>, _>>()?;
    for t in &tables {
        def.check_headers(&t.headers(), &args.config, t.path())?;
    }
    let refs: Vec<&Table> = tables.iter().collect();
    let records = Records::build(&def, &refs)?;
    let mode = if tables.len() > 1 { Mode::Link } else { Mode::Dedup };
    let (candidates, _) = Blocking::for_labeling(&def).candidates(&records, &def, mode)?;
    let sets = labels::generate_sets(&records, &candidates, args.sets, args.set_size, args.seed);
    let answers: Option<HashMap<String, String>> = match &args.answers {
        None => None,
        Some(path) => {
            let truth = Table::read(path)?;
            let headers = truth.headers();
            if headers.len() < 2 {
                return Err(findmatches::Error::usage(format!(
                    "{}: needs a key and an entity column",
                    path.display()
                ))
                .into());
            }
            let (k, e) = (truth.strings(&headers[0])?, truth.strings(&headers[1])?);
            Some(
                (0..k.len())
                    .filter(|&i| !k.is_null(i) && !e.is_null(i))
                    .map(|i| (k.value(i).to_string(), e.value(i).to_string()))
                    .collect(),
            )
        }
    };
    let label_of = |id: u32| -> Option<String> {
        let answers = answers.as_ref()?;
        let key = &records.keys()[id as usize];
        Some(answers.get(key).cloned().unwrap_or_else(|| format!("unknown-{key}")))
    };
    labels::write_labeling_file(&args.output, &refs, &records, &sets, &label_of)?;
    let rows: usize = sets.iter().map(Vec::len).sum();
    global.say(format!("wrote {} labeling sets ({rows} records) to {}", sets.len(), args.output.display()));
    global.emit(serde_json::json!({ "output": args.output, "sets": sets.len(), "records": rows }));
    Ok(())
}
