//! `findmatches synth -o customers.csv [--truth truth.csv]`: generate
//! realistic customer records with known duplicates (typos, nicknames,
//! swapped names, missing values, reformatted phones, e-mails and dates,
//! street abbreviations).
//!
//! Examples:
//!   findmatches synth --entities 1000 --seed 7 -o customers.csv --truth truth.csv

use std::path::PathBuf;

use findmatches::{synth, write};

use super::Global;

/// Generate customer records with known duplicates.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of distinct people.
    #[arg(long, default_value_t = 1000)]
    entities: usize,
    /// Share of people with duplicates (0..1).
    #[arg(long, default_value_t = 0.3)]
    duplicate_share: f64,
    /// Most duplicates per person.
    #[arg(long, default_value_t = 5)]
    max_duplicates: usize,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Prefix of the generated keys.
    #[arg(long, default_value = "c")]
    key_prefix: String,
    /// Output file (.csv or .parquet).
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the truth (customer_id,entity_id) here.
    #[arg(long)]
    truth: Option<PathBuf>,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    super::check_output(&args.output)?;
    if !(0.0..=1.0).contains(&args.duplicate_share) {
        return Err(findmatches::Error::usage("--duplicate-share must be between 0 and 1").into());
    }
    let data = synth::generate(&synth::SynthOptions {
        entities: args.entities,
        duplicate_share: args.duplicate_share,
        max_duplicates: args.max_duplicates,
        seed: args.seed,
        key_prefix: args.key_prefix.clone(),
    });
    write::write_batch(&args.output, &data.batch)?;
    if let Some(truth) = &args.truth {
        super::check_output(truth)?;
        write::write_batch(truth, &data.truth_batch())?;
    }
    global.say(format!(
        "wrote {} records of {} people to {}",
        data.entity.len(),
        args.entities,
        args.output.display()
    ));
    global.emit(
        serde_json::json!({ "output": args.output, "records": data.entity.len(), "entities": args.entities }),
    );
    Ok(())
}
