//! `findmatches dedup [--model M] [--config C] --input D -o OUT`: give every
//! row of one table a match_id and a match_confidence_score.
//!
//! Without `--model`, the bundled model runs with a definition inferred
//! from the data (or `--config`), which must fit its columns.
//!
//! Examples:
//!   findmatches dedup --input examples/data/customers.csv -o out.csv
//!   findmatches dedup --model model.json --input customers.parquet -o out.parquet

use std::path::PathBuf;
use std::time::Instant;

use findmatches::baseline::{file_sha256, Baseline, Processed};
use findmatches::report::Report;
use findmatches::{matcher, write, Matcher};

use super::{progress::Bar, Global};

/// Find duplicates within one table.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: super::ModelArgs,
    /// The data: CSV, TSV (optionally .gz), Parquet, a directory of Parquet
    /// parts, or - for standard input.
    #[arg(long, short)]
    input: PathBuf,
    /// Also write every candidate pair (left_key, right_key,
    /// match_probability) here (.csv, .tsv, .parquet): for audit, or to
    /// measure blocking recall against a truth.
    #[arg(long, value_name = "FILE")]
    pairs: Option<PathBuf>,
    #[command(flatten)]
    out: super::OutputArgs,
    #[command(flatten)]
    report: super::ReportArgs,
    /// Also keep the clustered records as a baseline in this directory, for
    /// `findmatches incremental`.
    #[arg(long, value_name = "DIR")]
    baseline: Option<PathBuf>,
    #[command(flatten)]
    bad_rows: super::BadRowArgs,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    let start = Instant::now();
    args.out.check(global)?;
    if let Some(pairs) = &args.pairs {
        super::check_output(pairs)?;
    }
    args.report.check()?;
    args.bad_rows.check()?;
    global.fits(&[&args.input])?;
    let mut rejects = Vec::new();
    let table = args.bad_rows.read(&args.input, &mut rejects)?;
    let model = args.model.resolve(&table)?;
    let table = args.bad_rows.keyed(table, &model.definition.primary_key, &mut rejects)?;
    if let Some(dir) = &args.baseline {
        if args.input == std::path::Path::new(findmatches::read::STDIO) {
            return Err(findmatches::Error::usage(
                "--baseline records the file it was made from, so that no file is matched twice: \
                 give --input a file, not standard input",
            )
            .into());
        }
        if dir.join(findmatches::baseline::MANIFEST_FILE).exists() {
            return Err(findmatches::Error::usage(format!(
                "{}: a baseline already exists here; match new files with `findmatches incremental`",
                dir.display()
            ))
            .into());
        }
    }
    let bar = Bar::new(global.quiet);
    let matcher = Matcher::new(model, &bar);
    let output = matcher.dedup(&table)?;
    bar.finish();
    let batch = matcher::output_batch(&[&table], &output)?;
    args.out.write(&batch)?;
    if let Some(path) = &args.pairs {
        write::write_batch(path, &matcher::pairs_batch(&output.records, &output.pairs)?, None)?;
    }
    args.report.write(global, || {
        Report::of_dedup(&args.input.display().to_string(), &table, matcher.model(), &output)
    })?;
    if let Some(dir) = &args.baseline {
        let name = args.input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let processed = Processed {
            sha256: file_sha256(&args.input)?,
            name,
            generation: 1,
            rows: table.num_rows() as u64,
        };
        Baseline::create(
            dir,
            matcher.model(),
            &table,
            &output.records,
            &output.clustering.match_ids,
            processed,
        )?;
        global.say(format!("created baseline {} (generation 1)", dir.display()));
    }
    args.bad_rows.report(&mut rejects, global)?;
    report(global, &output.stats, &args.out.output, start);
    Ok(())
}

/// The summary of a matching run, for dedup and link.
pub fn report(global: &Global, stats: &matcher::MatchStats, output: &std::path::Path, start: Instant) {
    let seconds = start.elapsed().as_secs_f64();
    global.say(format!(
        "{} records -> {} clusters ({} records matched; {} candidate pairs, {} above threshold {:.2}); \
         wrote {} in {seconds:.2} s",
        stats.records,
        stats.clusters,
        stats.matched_records,
        stats.blocking.candidates,
        stats.pairs_above_threshold,
        stats.threshold,
        output.display(),
    ));
    global.emit(serde_json::json!({ "output": output, "stats": stats, "seconds": seconds }));
}
