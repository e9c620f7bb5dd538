//! `findmatches evaluate [--model M] --input D [--input D2] --labels L`:
//! a held-out estimate of the matcher's quality on labeled pairs
//! (precision, recall, F1, max F1, AUPRC, confusion matrix, column
//! importance) and blocking recall.
//!
//! Examples:
//!   findmatches evaluate --model model.json --input customers.csv --labels labels.csv
//!   findmatches evaluate --model model.json --input customers.csv --labels labels.csv --json

use std::path::PathBuf;

use findmatches::evaluate::evaluate_labels;
use findmatches::labels::Labels;
use findmatches::report::Report;
use findmatches::Table;

use super::Global;

/// Estimate how well a model matches, from labels.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: super::ModelOnData,
    /// Labels: a labeling file or a pairs file; repeat to combine.
    #[arg(long, short, required = true)]
    labels: Vec<PathBuf>,
    #[command(flatten)]
    report: super::ReportArgs,
}

pub fn run(args: &Args, global: &Global) -> anyhow::Result<()> {
    args.report.check()?;
    let (model, tables) = args.data.load(global)?;
    let def = &model.definition;
    let labels =
        args.labels.iter().map(|p| Labels::read(p, &def.primary_key)).collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&Table> = tables.iter().collect();
    let e = evaluate_labels(&model, &refs, &labels)?;
    args.report.write(global, || {
        let title = args.labels.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        Ok(Report::of_evaluation(&title, &model, e.clone()))
    })?;
    if global.json {
        println!("{}", serde_json::to_string(&e)?);
        return Ok(());
    }
    let c = &e.confusion;
    let importance: Vec<String> = e.column_importance.iter().map(|(p, v)| format!("{p} {v:.2}")).collect();
    let d = &e.estimate;
    print!(
        "estimated on the data ({} candidate pairs, weighted by the labels below): \
         precision {:.3}, recall {:.3}, F1 {:.3}\n\
         held-out estimate (5-fold cross-validation) over {} labeled pairs: {} matches, {} non-matches\n\
         \x20 at threshold {:.3}: precision {:.3} ({:.2}–{:.2}), recall {:.3} ({:.2}–{:.2}), F1 {:.3} \
         (95% intervals from {} predicted and {} labeled matches)\n\
         \x20 max F1 {:.3} (at threshold {:.3}); AUPRC {:.3}\n\
         \x20 confusion: {} matches found, {} missed, {} false matches, {} non-matches kept apart\n\
         \x20 blocking recall: {} of {} labeled matches are candidates ({:.3})\n\
         \x20 column importance: {}\n",
        d.candidate_pairs,
        d.precision,
        d.recall,
        d.f1,
        e.pairs,
        e.matches,
        e.pairs - e.matches,
        e.threshold,
        e.precision,
        e.precision_interval.0,
        e.precision_interval.1,
        e.recall,
        e.recall_interval.0,
        e.recall_interval.1,
        e.f1,
        c.true_matches + c.false_matches,
        e.matches,
        e.max_f1,
        e.max_f1_threshold,
        e.auprc,
        c.true_matches,
        c.missed_matches,
        c.false_matches,
        c.true_non_matches,
        e.blocked_matches,
        e.matches,
        e.blocking_recall,
        importance.join(", ")
    );
    Ok(())
}
