//! `findmatches label generate --config C --input D [--model M] -o
//! labeling_set.csv`: groups of records for a person to label, as a
//! FindMatches labeling file with an empty `label` column. Without a model,
//! groups of similar records; with one, active learning: groups around the
//! pairs the model is least sure of, leaving out the records it was
//! trained on (`--strategy similar` keeps the exclusion but picks as
//! without a model).
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
use findmatches::{labels, matcher, write};
use findmatches::{MatchModel, Table, TransformDef};

use super::Global;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Make labeling sets: groups of similar records to label.
    Generate(GenerateArgs),
    /// Add labels to a label store (a pairs file), or replace its content.
    Import(ImportArgs),
    /// Write every label of a store out as a pairs file.
    Export(ExportArgs),
    /// Label a labeling file at the console, a pair of records at a time.
    Review(super::review::ReviewArgs),
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The transform definition (TOML): its primary key names the records
    /// of labeling files.
    #[arg(long, short)]
    config: PathBuf,
    /// The label store: a pairs file (left_key,right_key,is_match), created
    /// if missing.
    #[arg(long)]
    store: PathBuf,
    /// Replace the store's labels instead of adding to them.
    #[arg(long)]
    replace: bool,
    /// Labeling files or pairs files; later ones win where they disagree.
    #[arg(required = true)]
    labels: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The label store.
    #[arg(long)]
    store: PathBuf,
    /// Where to write its labels (a pairs file).
    #[arg(short, long)]
    output: PathBuf,
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
    /// A model to learn actively from: sets go where it is least sure, and
    /// records it was trained on are left out.
    #[arg(long, short)]
    model: Option<PathBuf>,
    /// How to pick the sets: `uncertain` (the default with --model) or
    /// `similar` (random records with their most similar candidates; the
    /// default without).
    #[arg(long, value_enum)]
    strategy: Option<Strategy>,
}

/// How `label generate` picks its sets.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Around the pairs the model is least sure of (needs --model).
    Uncertain,
    /// Random records with their most similar candidates.
    Similar,
}

pub fn run(command: &Command, global: &Global) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => generate(args, global),
        Command::Import(args) => import(args, global),
        Command::Review(args) => super::review::run(args, global),
        Command::Export(args) => {
            let store = labels::Labels::read(&args.store, "")?;
            store.write_pairs(&args.output)?;
            global.say(format!("wrote {} labeled pairs to {}", store.pairs.len(), args.output.display()));
            global.emit(serde_json::json!({ "output": args.output, "pairs": store.pairs.len() }));
            Ok(())
        }
    }
}

fn import(args: &ImportArgs, global: &Global) -> anyhow::Result<()> {
    let def = TransformDef::load(&args.config)?;
    let mut store = if args.replace || !args.store.exists() {
        labels::Labels { path: args.store.clone(), pairs: Vec::new() }
    } else {
        labels::Labels::read(&args.store, &def.primary_key)?
    };
    let before = store.pairs.len();
    for path in &args.labels {
        store.merge(&labels::Labels::read(path, &def.primary_key)?);
    }
    store.write_pairs(&args.store)?;
    let matches = store.pairs.iter().filter(|p| p.is_match).count();
    global.say(format!(
        "{} now holds {} labeled pairs ({} matches, {} non-matches; {} before)",
        args.store.display(),
        store.pairs.len(),
        matches,
        store.pairs.len() - matches,
        if args.replace { 0 } else { before }
    ));
    global.emit(serde_json::json!({ "store": args.store, "pairs": store.pairs.len(), "matches": matches }));
    Ok(())
}

fn generate(args: &GenerateArgs, global: &Global) -> anyhow::Result<()> {
    if args.set_size < 2 {
        return Err(findmatches::Error::usage("--set-size must be at least 2").into());
    }
    let strategy =
        args.strategy.unwrap_or(if args.model.is_some() { Strategy::Uncertain } else { Strategy::Similar });
    if strategy == Strategy::Uncertain && args.model.is_none() {
        return Err(findmatches::Error::usage("--strategy uncertain needs a --model").into());
    }
    let def = TransformDef::load(&args.config)?;
    let model = match &args.model {
        Some(path) => {
            let model = MatchModel::load(path)?;
            model.check_definition(&def, path)?;
            Some(model.with_tuning(def.tuning.clone()))
        }
        None => None,
    };
    global.fits(&args.input)?;
    let tables = args.input.iter().map(|p| Table::read(p)).collect::<Result<Vec<_>, _>>()?;
    for t in &tables {
        def.check_headers(&t.headers(), &args.config, t.path())?;
    }
    let refs: Vec<&Table> = tables.iter().collect();
    let (records, sets) = matcher::labeling_round(
        &def,
        &refs,
        model.as_ref(),
        strategy == Strategy::Uncertain,
        args.sets,
        args.set_size,
        args.seed,
    )?;
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
    write::write_batch(&args.output, &labels::labeling_sheet(&refs, &records, &sets, &label_of)?, None)?;
    let rows: usize = sets.iter().map(Vec::len).sum();
    global.say(format!("wrote {} labeling sets ({rows} records) to {}", sets.len(), args.output.display()));
    global.emit(serde_json::json!({ "output": args.output, "sets": sets.len(), "records": rows }));
    Ok(())
}
