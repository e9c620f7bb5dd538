//! `findmatches synth -o customers.csv [-o more.csv ...] [--truth truth.csv]`: generate
//! realistic customer records with known duplicates: names with real
//! frequencies, households (one address, mostly one surname, different
//! people), twins, juniors, family e-mails; duplicates with moves, surname
//! changes, nicknames, titles, missing values, typos, swapped names,
//! reformatted phones, e-mails and dates, street abbreviations; a few
//! people with many records. `--without households,twins,...` leaves
//! phenomena out (see `findmatches synth --help`).
//!
//! With several `-o` files, the shuffled rows are split between them by
//! `--fractions`: a person's records can then fall in several files (an
//! existing customer in this month's prospects) or in one (a duplicate
//! within it).
//!
//! Examples:
//!   findmatches synth --entities 1000 --seed 7 -o customers.csv --truth truth.csv
//!   findmatches synth --entities 2000 -o crm.csv -o signups.csv --fractions 0.7,0.3
//!   findmatches synth --entities 1000 -o plain.csv --without households,large-entities

use std::path::PathBuf;

use findmatches::{read, synth, write};

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
    /// Output file (.csv or .parquet); repeat to split the rows.
    #[arg(short, long, required = true)]
    output: Vec<PathBuf>,
    /// Share of the rows each output gets, comma-separated (default: equal).
    #[arg(long, value_delimiter = ',')]
    fractions: Vec<f64>,
    /// Also write the truth (customer_id,entity_id) here.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Phenomena to leave out, comma-separated: households, twins, juniors,
    /// moves, surname-changes, family-emails, nicknames, titles, missing,
    /// large-entities.
    #[arg(long, value_delimiter = ',')]
    without: Vec<synth::Phenomenon>,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    for output in &args.output {
        super::check_output(output)?;
    }
    let fractions = if args.fractions.is_empty() {
        vec![1.0 / args.output.len() as f64; args.output.len()]
    } else {
        args.fractions.clone()
    };
    if fractions.len() != args.output.len() || fractions.iter().any(|f| !(0.0..=1.0).contains(f)) {
        return Err(
            findmatches::Error::usage("--fractions needs one share between 0 and 1 per -o file").into()
        );
    }
    if !(0.0..=1.0).contains(&args.duplicate_share) {
        return Err(findmatches::Error::usage("--duplicate-share must be between 0 and 1").into());
    }
    let data = synth::generate(&synth::SynthOptions {
        entities: args.entities,
        duplicate_share: args.duplicate_share,
        max_duplicates: args.max_duplicates,
        seed: args.seed,
        key_prefix: args.key_prefix.clone(),
        without: args.without.clone(),
    });
    let total = data.batch.num_rows();
    let sum: f64 = fractions.iter().sum();
    let mut start = 0;
    for (i, (output, share)) in args.output.iter().zip(&fractions).enumerate() {
        let end = if i + 1 == fractions.len() {
            total
        } else {
            (start + (share / sum * total as f64).round() as usize).min(total)
        };
        write::write_batch(output, &data.batch.slice(start, end - start), None)?;
        start = end;
    }
    if let Some(truth) = &args.truth {
        super::check_output(truth)?;
        write::write_batch(truth, &data.truth_batch(), None)?;
    }
    global.say(format!(
        "wrote {} records of {} people to {}",
        data.entity.len(),
        args.entities,
        read::describe(&args.output)
    ));
    global.emit(
        serde_json::json!({ "output": args.output, "records": data.entity.len(), "entities": args.entities }),
    );
    Ok(())
}
