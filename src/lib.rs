/*!
findmatches: fuzzy record matching. Train a matcher from labeled examples,
then give every record of one table (dedup) or two tables (link) a
`match_id` — the same id for the same real-world entity — and a
`match_confidence_score`.

# The pipeline

```text
read ─► normalize ─► block ─► compare ─► score ─► cluster ─► write
```

Each stage is a module: [`read`] (CSV/Parquet into an arrow
[`Table`]), [`normalize`] and [`record`] (per-kind cleaning into
columnar [`Records`]), [`block`] (candidate pairs from exact keys and a
tantivy index), [`compare`] (a feature vector per [`CandidatePair`]),
[`model`] (the trained [`MatchModel`] giving P(match)), [`cluster`]
(chain-resistant clustering into match_ids) and [`write`] (atomic CSV or
Parquet output). [`config`] holds the transform definition, [`labels`]
the labeling-file formats, [`matcher`] ties the stages together.

A stage uses only the stages before it and the floors below them all:
[`error`], [`stats`] (logistic fit, log-odds), [`rng`], [`calendar`] (day
numbers), [`durable`] (atomic files), [`corpus`] (counts over all records), [`names`] (name frequencies) and
[`cache`] (prefetch hints).
A [`CandidatePair`] is a pair of [`record`] ids, so blocking makes them
and comparing reads them without one knowing the other.

# Example

```
use findmatches::{synth, matcher, Table, TransformDef, infer};

// Some generated customers, with known duplicates.
let data = synth::generate(&synth::SynthOptions { entities: 50, ..Default::default() });
let table = Table::from_batch("customers", data.batch);
let def: TransformDef = infer::infer(&table).unwrap();
assert_eq!(def.primary_key, "customer_id");

// Run the bundled model over it.
let model = findmatches::bundled_model().unwrap();
let matcher = matcher::Matcher::new(model, &matcher::NoProgress);
let output = matcher.dedup(&table).unwrap();
assert_eq!(output.clustering.match_ids.len(), table.num_rows());
```
*/
#![deny(missing_docs)]

pub mod baseline;
pub mod block;
pub mod cache;
pub mod calendar;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod corpus;
pub mod distributed;
pub mod durable;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod incremental;
pub mod infer;
pub mod labels;
pub mod matcher;
pub mod model;
pub mod names;
pub mod normalize;
pub mod read;
pub mod record;
pub mod report;
pub mod resources;
pub mod review;
pub mod rng;
pub mod stats;
pub mod synth;
pub mod unsupervised;
pub mod write;

pub use compare::ComparePlan;
pub use config::{ColumnKind, TransformDef, Tuning};
pub use error::{Error, ErrorKind, Result};
pub use matcher::{MatchOutput, Matcher};
pub use model::MatchModel;
pub use read::Table;
pub use record::{CandidatePair, Record, Records};

/// A crash-test hook: with the `failpoints` feature, the process aborts
/// here when `FINDMATCHES_FAILPOINT` names this point. Without the
/// feature it compiles to nothing.
#[doc(hidden)]
#[macro_export]
macro_rules! fail_point {
    ($name:expr) => {
        #[cfg(feature = "failpoints")]
        {
            if std::env::var("FINDMATCHES_FAILPOINT").as_deref() == Ok($name) {
                std::process::abort();
            }
        }
    };
}

/// The default model shipped in `models/default.json`, trained on the
/// labels in `labels/` over generated customer records.
pub const BUNDLED_MODEL_JSON: &str = include_str!("../models/default.json");

/// The bundled default model, parsed.
pub fn bundled_model() -> Result<MatchModel> {
    MatchModel::from_json(BUNDLED_MODEL_JSON, std::path::Path::new("models/default.json"))
}
