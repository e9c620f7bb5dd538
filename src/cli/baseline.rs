//! `findmatches baseline info DIR`: what a baseline holds — records,
//! clusters, generations, processed files. `findmatches baseline export DIR
//! -o FILE`: every record with its current match_id. `findmatches baseline
//! verify DIR`: every file checked against the SHA-256 its manifest records.
//!
//! Examples:
//!   findmatches baseline info customers.fm
//!   findmatches baseline info customers.fm --json
//!   findmatches baseline verify customers.fm
//!   findmatches baseline export customers.fm -o customers_clustered.parquet

use std::path::PathBuf;

use std::sync::Arc;

use arrow_array::{RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use findmatches::baseline::Baseline;
use findmatches::matcher::MATCH_ID;
use findmatches::write;

use super::Global;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Show what a baseline holds.
    Info(InfoArgs),
    /// Write every baseline record with its current match_id.
    Export(ExportArgs),
    /// Check every file of a baseline against the SHA-256 its manifest
    /// records (runs check sizes only); exit 1 naming a damaged file.
    Verify(InfoArgs),
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The baseline directory.
    dir: PathBuf,
    /// Output file (.csv, .tsv, .parquet).
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The baseline directory.
    dir: PathBuf,
}

pub fn run(command: &Command, global: &Global) -> anyhow::Result<()> {
    match command {
        Command::Info(args) => info(args, global),
        Command::Export(args) => export(args, global),
        Command::Verify(args) => verify(args, global),
    }
}

fn verify(args: &InfoArgs, global: &Global) -> anyhow::Result<()> {
    let baseline = Baseline::open(&args.dir)?;
    let (files, bytes) = baseline.verify()?;
    global.say(format!(
        "{}: generation {}, {files} files ({} MB) match their SHA-256",
        args.dir.display(),
        baseline.manifest().generation,
        bytes.div_ceil(1 << 20)
    ));
    global.emit(serde_json::json!({
        "baseline": args.dir, "generation": baseline.manifest().generation, "files": files, "bytes": bytes, "ok": true
    }));
    Ok(())
}

fn export(args: &ExportArgs, global: &Global) -> anyhow::Result<()> {
    super::check_output(&args.output)?;
    let baseline = Baseline::open(&args.dir)?;
    let (table, ids) = baseline.load()?;
    let batch = table.batch();
    let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    fields.push(Field::new(MATCH_ID, DataType::UInt64, false));
    columns.push(Arc::new(UInt64Array::from(ids)));
    let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    write::write_batch(&args.output, &out, None)?;
    global.say(format!(
        "wrote {} records of {} to {}",
        out.num_rows(),
        args.dir.display(),
        args.output.display()
    ));
    Ok(())
}

fn info(args: &InfoArgs, global: &Global) -> anyhow::Result<()> {
    let baseline = Baseline::open(&args.dir)?;
    let m = baseline.manifest();
    if global.json {
        println!("{}", serde_json::to_string(m)?);
        return Ok(());
    }
    println!("baseline     {}", args.dir.display());
    println!("generation   {}", m.generation);
    println!("records      {}", m.records);
    println!("clusters     {}", m.clusters);
    println!("next id      {}", m.next_match_id);
    println!("model        {}", &m.model_fingerprint[..16.min(m.model_fingerprint.len())]);
    println!("merges       {}", m.merges.len());
    println!("processed files:");
    for p in &m.processed {
        println!("  generation {:>4}  {:>9} rows  {}  {}", p.generation, p.rows, &p.sha256[..12], p.name);
    }
    Ok(())
}
