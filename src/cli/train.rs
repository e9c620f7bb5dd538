//! `findmatches train --config C --input D [--input D2] --labels L -o MODEL`:
//! fit a model to labeled examples.
//!
//! Labels are a FindMatches labeling file (`labeling_set_id,label,<columns>`)
//! or a pairs file (`left_key,right_key,is_match`); `--labels` repeats.
//! `--input` repeats to train a link model on both tables. Without
//! `--labels`, the model is learned unsupervised (Fellegi–Sunter EM): a
//! first result to generate the first labeling set from.
//!
//! Examples:
//!   findmatches train --config findmatches.toml --input customers.csv \
//!       --labels labels.csv -o model.json

use std::path::PathBuf;
use std::time::Instant;

use findmatches::labels::Labels;
use findmatches::model::TrainingMethod;
use findmatches::{matcher, Table, TransformDef};

use super::Global;

/// Train a model from labeled examples.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The transform definition (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Data the labels refer to; repeat for both tables of a link.
    #[arg(long, short, required = true)]
    input: Vec<PathBuf>,
    /// Labels: a labeling file or a pairs file; repeat to combine. None:
    /// learn without labels.
    #[arg(long, short)]
    labels: Vec<PathBuf>,
    /// Where to write the model (JSON).
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    let start = Instant::now();
    let def = TransformDef::load(&args.config)?;
    global.fits(&args.input)?;
    let tables = args.input.iter().map(|p| Table::read(p)).collect::<Result<Vec<_>, _>>()?;
    for t in &tables {
        def.check_headers(&t.headers(), &args.config, t.path())?;
    }
    let labels =
        args.labels.iter().map(|p| Labels::read(p, &def.primary_key)).collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&Table> = tables.iter().collect();
    let model = if labels.is_empty() {
        matcher::train_unsupervised(&def, &refs)?
    } else {
        matcher::train(&def, &refs, &labels)?
    };
    model.save(&args.output)?;
    let t = &model.training;
    let learned_from = match t.method {
        TrainingMethod::Labels => "labeled pairs",
        TrainingMethod::Unsupervised => "pairs labeled without supervision (Fellegi-Sunter EM)",
    };
    global.say(format!(
        "trained on {} {learned_from} ({} matches, {} non-matches, {} records): training accuracy {:.3}, \
         log-loss {:.3}; wrote {} in {:.2} s",
        t.pairs,
        t.matches,
        t.non_matches,
        t.records,
        t.training_accuracy,
        t.training_log_loss,
        args.output.display(),
        start.elapsed().as_secs_f64()
    ));
    if !t.implied_columns.is_empty() {
        global.say(format!(
            "weighed at nothing, as other columns imply them among distinct entities: {}",
            t.implied_columns.join(", ")
        ));
    }
    global.emit(serde_json::json!({
        "output": args.output,
        "training": t,
        "fingerprint": model.fingerprint,
        "seconds": start.elapsed().as_secs_f64(),
    }));
    Ok(())
}
