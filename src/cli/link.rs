//! `findmatches link [--model M] --left A --right B -o OUT`: match the rows
//! of two tables. One output holds both tables' rows, with a `source`
//! column; rows of A and B that match share a match_id.
//!
//! By default (`link_one_to_one = true` in the tuning) a row matches at
//! most one row of the other table.
//!
//! Examples:
//!   findmatches link --model model.json --left dblp.csv --right acm.csv -o links.csv

use std::path::PathBuf;
use std::time::Instant;

use findmatches::report::Report;
use findmatches::{matcher, write, Matcher};

use super::{progress::Bar, Global};

/// Match the rows of two tables to each other.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: super::ModelArgs,
    /// The first table.
    #[arg(long)]
    left: PathBuf,
    /// The second table.
    #[arg(long)]
    right: PathBuf,
    /// Also write every candidate pair (left_key, right_key,
    /// match_probability) here (.csv, .tsv, .parquet): for audit, or to
    /// measure blocking recall against a truth.
    #[arg(long, value_name = "FILE")]
    pairs: Option<PathBuf>,
    #[command(flatten)]
    out: super::OutputArgs,
    #[command(flatten)]
    report: super::ReportArgs,
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
    global.fits(&[&args.left, &args.right])?;
    let mut rejects = Vec::new();
    let left = args.bad_rows.read(&args.left, &mut rejects)?;
    let right = args.bad_rows.read(&args.right, &mut rejects)?;
    let model = args.model.resolve(&left)?;
    model.check_table(&right)?;
    let key = &model.definition.primary_key;
    let left = args.bad_rows.keyed(left, key, &mut rejects)?;
    let right = args.bad_rows.keyed(right, key, &mut rejects)?;
    let bar = Bar::new(global.quiet);
    let matcher = Matcher::new(model, &bar);
    let output = matcher.link(&left, &right)?;
    bar.finish();
    let batch = matcher::output_batch(&[&left, &right], &output)?;
    args.out.write(&batch)?;
    if let Some(path) = &args.pairs {
        write::write_batch(path, &matcher::pairs_batch(&output.records, &output.pairs)?, None)?;
    }
    args.report.write(global, || {
        let title = format!("{} × {}", args.left.display(), args.right.display());
        Report::of_link(&title, &left, &right, matcher.model(), &output)
    })?;
    args.bad_rows.report(&mut rejects, global)?;
    super::dedup::report(global, &output.stats, &args.out.output, start);
    Ok(())
}
