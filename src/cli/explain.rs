//! `findmatches explain [--model M] --input D [--input D2] --pair KEY1,KEY2`:
//! each column's contribution to a pair's match probability, as a text
//! waterfall (or JSON with `--json`).
//!
//! Examples:
//!   findmatches explain --input customers.csv --pair c0000012,c0000345
//!   findmatches explain --model model.json --input dblp.csv --input acm.csv --pair 12,87 --json

use findmatches::explain::{explain_keys, Explanation};
use findmatches::Table;

use super::Global;

/// Why a pair of records scored what it did.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: super::ModelOnData,
    /// The two records' primary keys.
    #[arg(long, value_name = "KEY1,KEY2")]
    pair: String,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    let Some((left, right)) = args.pair.split_once(',') else {
        return Err(findmatches::Error::usage("--pair takes two keys: KEY1,KEY2").into());
    };
    let (model, tables) = args.data.load(global)?;
    let refs: Vec<&Table> = tables.iter().collect();
    let explanation = explain_keys(&model, &refs, left, right)?;
    if global.json {
        println!("{}", serde_json::to_string(&explanation)?);
    } else {
        print!("{}", waterfall(&explanation));
    }
    Ok(())
}

/// The text waterfall: one line per part, its evidence and a bar.
fn waterfall(e: &Explanation) -> String {
    let scale = e.parts.iter().map(|p| p.evidence.abs()).fold(e.intercept.abs(), f64::max).max(1e-9);
    let bar = |x: f64| {
        let n = ((x.abs() / scale) * 20.0).round() as usize;
        if x >= 0.0 {
            "+".repeat(n)
        } else {
            "-".repeat(n)
        }
    };
    let mut out = format!(
        "{} vs {}: match probability {:.4} (threshold {:.4}): {}\n",
        e.left_key,
        e.right_key,
        e.probability,
        e.threshold,
        if e.is_match { "match" } else { "no match" }
    );
    out += &format!("  {:<28} {:>8.2}  {}\n", "start (intercept)", e.intercept, bar(e.intercept));
    for p in &e.parts {
        let values = if p.left.is_empty() && p.right.is_empty() {
            String::new()
        } else {
            format!("  '{}' | '{}'", p.left, p.right)
        };
        out += &format!("  {:<28} {:>+8.2}  {:<20}{}\n", p.part, p.evidence, bar(p.evidence), values);
    }
    out += &format!(
        "  {:<28} {:>8.2}  (log-odds) -> probability {:.4}\n",
        "= evidence", e.evidence, e.probability
    );
    out
}
