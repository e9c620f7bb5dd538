//! `findmatches incremental --baseline DIR --input NEW -o OUT`: match a new
//! file against a clustered baseline and within itself, then fold it in.
//!
//! Only new×baseline and new×new pairs are compared. Each output row gets
//! `match_id`, `match_confidence_score`, `match_status`
//! (`existing|new_duplicate|new_unique`) and `matched_baseline_key`.
//! Baseline match_ids never change: a row matching two baseline clusters
//! joins the stronger, unless `--allow-merges` (every merge is reported).
//! Unless `--dry-run`, the new rows are then committed to the baseline
//! atomically. The same input file again is a no-op (`--force` redoes it).
//!
//! Examples:
//!   findmatches incremental --baseline customers.fm --input prospects_2026_01.csv -o jan.csv
//!   findmatches incremental --baseline customers.fm --input feb.csv -o unique.csv --unique-only --dry-run

use std::path::PathBuf;
use std::time::{Duration, Instant};

use findmatches::baseline::file_sha256;
use findmatches::incremental::Session;
use findmatches::report::Report;
use findmatches::{incremental, write, MatchModel};

use super::{progress::Bar, Global};

/// Match a new file against a baseline and within itself, then fold it in.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The baseline directory (made by `dedup --baseline`).
    #[arg(long, short)]
    baseline: PathBuf,
    /// The new records: CSV, TSV (optionally .gz), Parquet or a directory
    /// of Parquet parts (a file: standard input cannot be recorded as
    /// processed).
    #[arg(long, short)]
    input: PathBuf,
    /// Output file (.csv, .tsv, .parquet).
    #[arg(short, long)]
    output: PathBuf,
    /// The model; must be the one the baseline was built with (default: the baseline's).
    #[arg(long, short)]
    model: Option<PathBuf>,
    /// Match and write the output, but leave the baseline as it is.
    #[arg(long)]
    dry_run: bool,
    /// Let a new row merge baseline clusters it bridges (merges are reported).
    #[arg(long)]
    allow_merges: bool,
    /// Process the input even if the baseline already holds it.
    #[arg(long)]
    force: bool,
    /// Write one row per new entity that matches no baseline record.
    #[arg(long)]
    unique_only: bool,
    /// Wait up to this many seconds for another writer to finish.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "600")]
    wait: Option<u64>,
    #[command(flatten)]
    report: super::ReportArgs,
    #[command(flatten)]
    bad_rows: super::BadRowArgs,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    let start = Instant::now();
    super::check_output(&args.output)?;
    args.report.check()?;
    if args.input == std::path::Path::new(findmatches::read::STDIO) {
        return Err(findmatches::Error::usage(
            "incremental records each file it processes, so that none is processed twice: \
             give --input a file, not standard input",
        )
        .into());
    }
    args.bad_rows.check()?;
    global.fits(&[&args.input])?;
    let model = match &args.model {
        Some(path) => Some((MatchModel::load(path)?, path.as_path())),
        None => None,
    };
    let mut session = Session::open(&args.baseline, model, args.dry_run, args.wait.map(Duration::from_secs))?;
    let sha256 = file_sha256(&args.input)?;
    if let Some(done) = session.processed(&sha256) {
        if !args.force {
            global.say(format!(
                "{} was already folded into {} (generation {}, as {}); nothing to do (--force to redo it)",
                args.input.display(),
                args.baseline.display(),
                done.generation,
                done.name
            ));
            global.emit(serde_json::json!({ "noop": true, "generation": done.generation }));
            return Ok(());
        }
    }
    let mut rejects = Vec::new();
    let new = args.bad_rows.read(&args.input, &mut rejects)?;
    let new = args.bad_rows.keyed(new, &session.model().definition.primary_key, &mut rejects)?;
    let bar = Bar::new(global.quiet);
    let output = session.match_new(&new, args.allow_merges, &bar)?;
    bar.finish();
    let batch = incremental::output_batch(&new, &output, args.unique_only)?;
    write::write_batch(&args.output, &batch, None)?;
    for (kept, absorbed) in &output.clustering.merges {
        global.say(format!("merged baseline cluster {absorbed} into {kept}"));
    }
    args.bad_rows.report(&mut rejects, global)?;
    let name = args.input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let generation = session.baseline().manifest().generation;
    let committed = session.commit(&new, &output, sha256, name).map_err(|e| {
        // The output is written first, so a run whose commit fails (a full
        // disk) still has its matches; say what holds.
        anyhow::Error::from(e).context(format!(
            "{} is written but its records are not folded in: the baseline is unchanged \
             (generation {generation}); run again to fold them in",
            args.output.display(),
        ))
    })?;
    let (existing, duplicates, unique) = output.status_counts();
    let m = session.baseline().manifest();
    args.report
        .write(global, || {
            Report::of_incremental(
                &args.input.display().to_string(),
                &new,
                session.model(),
                &output,
                m,
                committed,
            )
        })
        .map_err(|e| {
            // The report comes last, as it shows the baseline after the
            // commit: say that the run itself is done.
            let done = if committed {
                format!("folded in (generation {})", m.generation)
            } else {
                "matched".to_string()
            };
            e.context(format!(
                "{} is written and the new records are {done}; only the report failed",
                args.output.display()
            ))
        })?;
    global.say(format!(
        "{} new records: {existing} existing, {duplicates} new duplicates, {unique} new unique; wrote {}; {}",
        new.num_rows(),
        args.output.display(),
        if committed {
            format!(
                "baseline now generation {} with {} records in {} clusters",
                m.generation, m.records, m.clusters
            )
        } else {
            "baseline unchanged (dry run)".to_string()
        }
    ));
    global.emit(serde_json::json!({
        "output": args.output,
        "existing": existing,
        "new_duplicate": duplicates,
        "new_unique": unique,
        "merges": output.clustering.merges,
        "committed": committed,
        "generation": m.generation,
        "stats": output.stats,
        "seconds": start.elapsed().as_secs_f64(),
    }));
    Ok(())
}
