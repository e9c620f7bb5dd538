//! `findmatches report (--model M | --baseline DIR) -o FILE.html`: the HTML
//! report of a model (its weights per agreement level, its training) or of
//! a baseline (its model, generations and the files folded in). Runs
//! report themselves: `--report FILE.html` on dedup, link, incremental and
//! evaluate.
//!
//! Examples:
//!   findmatches report --model models/default.json -o model.html
//!   findmatches report --baseline customers.fm -o baseline.html

use std::path::PathBuf;

use findmatches::baseline::Baseline;
use findmatches::report::Report;
use findmatches::MatchModel;

use super::Global;

/// Write the HTML report of a model or a baseline.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model to report on.
    #[arg(long, short)]
    model: Option<PathBuf>,
    /// The baseline to report on (its model and history).
    #[arg(long, short)]
    baseline: Option<PathBuf>,
    /// The report (.html).
    #[arg(long, short, value_name = "FILE.html")]
    output: PathBuf,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    super::check_report(&args.output)?;
    let report = match (&args.model, &args.baseline) {
        (Some(_), Some(_)) => {
            return Err(findmatches::Error::usage(
                "--model or --baseline, not both: a baseline's report holds its model",
            )
            .into())
        }
        (Some(path), None) => Report::of_model(&path.display().to_string(), &MatchModel::load(path)?),
        (None, Some(dir)) => {
            let baseline = Baseline::open(dir)?;
            Report::of_baseline(&dir.display().to_string(), baseline.model(), baseline.manifest())
        }
        (None, None) => {
            return Err(
                findmatches::Error::usage("report on what? give --model FILE or --baseline DIR").into()
            )
        }
    };
    report.write(&args.output)?;
    global.say(format!("wrote the report {}", args.output.display()));
    global.emit(serde_json::json!({ "report": args.output }));
    Ok(())
}
