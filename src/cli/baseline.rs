//! `findmatches baseline info DIR`: what a baseline holds — records,
//! clusters, generations, processed files.
//!
//! Examples:
//!   findmatches baseline info customers.fm
//!   findmatches baseline info customers.fm --json

use std::path::PathBuf;

use findmatches::baseline::Baseline;

use super::Global;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Show what a baseline holds.
    Info(InfoArgs),
}

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The baseline directory.
    dir: PathBuf,
}

pub fn run(command: &Command, global: &Global) -> anyhow::Result<()> {
    match command {
        Command::Info(args) => info(args, global),
    }
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
