//! Labels: what a person said about records, in the two accepted formats.
//!
//! - **FindMatches labeling file**: CSV `labeling_set_id,label,<source
//!   columns>` including the primary key. Within one labeling set, rows
//!   with the same label are one entity (every pair a match) and rows with
//!   different labels are different entities (every pair a non-match);
//!   across sets nothing is said. A row whose label is empty (not labeled
//!   yet) or `?` (the labeler was unsure) says nothing either.
//! - **Pairs file**: CSV `left_key,right_key,is_match` (`is_match`: 1/0,
//!   true/false, yes/no, match/no_match).
//!
//! The format is told from the header. Keys are resolved against the
//! records being trained on; a key the records lack, a set of one row or a
//! malformed value is an error naming the labels file, line and column.
//!
//! [`generate_sets`] makes labeling sets from candidate pairs: groups of
//! similar records, the way a person would want to review them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::FxHashMap;

use crate::durable::atomic_csv;
use crate::error::{Error, Position, Result};
use crate::read::Table;
use crate::record::{CandidatePair, RecordId, Records};
use crate::review::UNSURE;
use crate::rng::Rng;
use crate::stats::logit;

/// Column holding the labeling set of a row.
pub const SET_COLUMN: &str = "labeling_set_id";
/// Column holding the entity label of a row within its set.
pub const LABEL_COLUMN: &str = "label";

/// One labeled pair of records, by key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabeledPair {
    /// First record's key.
    pub left: String,
    /// Second record's key.
    pub right: String,
    /// Whether they are the same entity.
    pub is_match: bool,
    /// Where the label came from (for errors).
    pub position: Position,
}

/// The labeled pairs of one labels file.
#[derive(Clone, Debug)]
pub struct Labels {
    /// The file.
    pub path: PathBuf,
    /// The pairs.
    pub pairs: Vec<LabeledPair>,
}

impl Labels {
    /// Read a labeling file or a pairs file; `key` is the primary key column.
    pub fn read(path: &Path, key: &str) -> Result<Labels> {
        Labels::from_table(&Table::read(path)?, key)
    }

    /// The labels of a labeling sheet or a pairs table already read (its
    /// name, [`Table::path`], stands for the file in messages).
    pub fn from_table(table: &Table, key: &str) -> Result<Labels> {
        let path = table.path();
        let headers = table.headers();
        let has = |c: &str| headers.iter().any(|h| h == c);
        let pairs = if has(SET_COLUMN) && has(LABEL_COLUMN) {
            if !has(key) {
                return Err(Error::data(
                    path,
                    Position::line(1),
                    format!("labeling file has no primary key column '{key}'"),
                ));
            }
            set_pairs(table, key)?
        } else if has("left_key") && has("right_key") && has("is_match") {
            plain_pairs(table)?
        } else {
            return Err(Error::data(
                path,
                Position::line(1),
                format!(
                    "not a labels file: expected columns {SET_COLUMN},{LABEL_COLUMN},{key},... \
                     or left_key,right_key,is_match"
                ),
            ));
        };
        Ok(Labels { path: path.to_path_buf(), pairs })
    }

    /// Fold `newer` labels into these (a label store): a pair labeled in
    /// both takes `newer`'s label. The result is sorted by pair, each pair
    /// once, keys in order.
    pub fn merge(&mut self, newer: &Labels) {
        let canonical = |p: &LabeledPair| {
            let (l, r) = if p.left <= p.right { (&p.left, &p.right) } else { (&p.right, &p.left) };
            LabeledPair {
                left: l.clone(),
                right: r.clone(),
                is_match: p.is_match,
                position: p.position.clone(),
            }
        };
        let mut all: Vec<(usize, LabeledPair)> = self.pairs.iter().map(|p| (0, canonical(p))).collect();
        all.extend(newer.pairs.iter().map(|p| (1, canonical(p))));
        // Newest first within a pair, so dedup keeps it.
        all.sort_by(|(ax, a), (bx, b)| (&a.left, &a.right, bx).cmp(&(&b.left, &b.right, ax)));
        all.dedup_by(|(_, a), (_, b)| a.left == b.left && a.right == b.right);
        self.pairs = all.into_iter().map(|(_, p)| p).filter(|p| p.left != p.right).collect();
    }

    /// Write the pairs as a pairs file (`left_key,right_key,is_match`),
    /// atomically.
    pub fn write_pairs(&self, path: &Path) -> Result<()> {
        let header = ["left_key", "right_key", "is_match"];
        let rows = self
            .pairs
            .iter()
            .map(|p| [p.left.as_str(), p.right.as_str(), if p.is_match { "1" } else { "0" }]);
        atomic_csv(path, std::iter::once(header).chain(rows))
    }

    /// The labeled pairs as record ids of `records`, with their labels.
    pub fn resolve(&self, records: &Records) -> Result<Vec<(CandidatePair, bool)>> {
        let mut index: FxHashMap<&str, Option<RecordId>> =
            FxHashMap::with_capacity_and_hasher(records.len(), Default::default());
        for (i, k) in records.keys().iter().enumerate() {
            index.entry(k.as_str()).and_modify(|v| *v = None).or_insert(Some(i as RecordId));
        }
        let find = |key: &str, p: &LabeledPair, column: &str| -> Result<RecordId> {
            match index.get(key) {
                Some(Some(id)) => Ok(*id),
                Some(None) => Err(Error::data(
                    &self.path,
                    p.position.clone().with_column(column),
                    format!("key '{key}' is in more than one input; keys of labeled records must be unique"),
                )),
                None => Err(Error::data(
                    &self.path,
                    p.position.clone().with_column(column),
                    format!("key '{key}' is not in the input data"),
                )),
            }
        };
        let mut out = Vec::with_capacity(self.pairs.len());
        for p in &self.pairs {
            let a = find(&p.left, p, "left")?;
            let b = find(&p.right, p, "right")?;
            if a != b {
                out.push((CandidatePair::new(a, b), p.is_match));
            }
        }
        out.sort_unstable_by_key(|(p, _)| *p);
        out.dedup_by_key(|(p, _)| *p);
        Ok(out)
    }
}

fn value(array: &arrow_array::StringArray, row: usize) -> &str {
    if array.is_null(row) {
        ""
    } else {
        array.value(row).trim()
    }
}

fn set_pairs(table: &Table, key: &str) -> Result<Vec<LabeledPair>> {
    let (sets, labels, keys) =
        (table.strings(SET_COLUMN)?, table.strings(LABEL_COLUMN)?, table.strings(key)?);
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut by_set: HashMap<String, usize> = HashMap::new();
    for row in 0..table.num_rows() {
        for (column, array) in [(SET_COLUMN, &sets), (key, &keys)] {
            if value(array, row).is_empty() {
                return Err(Error::data(
                    table.path(),
                    table.position(row).with_column(column),
                    format!("empty {column}"),
                ));
            }
        }
        let set = value(&sets, row).to_string();
        let g = *by_set.entry(set.clone()).or_insert_with(|| {
            groups.push((set, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(row);
    }
    let mut pairs = Vec::new();
    for (set, rows) in &groups {
        if rows.len() < 2 {
            return Err(Error::data(
                table.path(),
                table.position(rows[0]).with_column(SET_COLUMN),
                format!("labeling set '{set}' has a single record; a set needs two or more"),
            ));
        }
        let labeled: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&r| !value(&labels, r).is_empty() && value(&labels, r) != UNSURE)
            .collect();
        for (i, &x) in labeled.iter().enumerate() {
            for &y in &labeled[i + 1..] {
                pairs.push(LabeledPair {
                    left: value(&keys, x).to_string(),
                    right: value(&keys, y).to_string(),
                    is_match: value(&labels, x) == value(&labels, y),
                    position: table.position(y),
                });
            }
        }
    }
    Ok(pairs)
}

fn plain_pairs(table: &Table) -> Result<Vec<LabeledPair>> {
    let (left, right, flag) =
        (table.strings("left_key")?, table.strings("right_key")?, table.strings("is_match")?);
    (0..table.num_rows())
        .map(|row| {
            let is_match = match value(&flag, row).to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "y" | "match" => true,
                "0" | "false" | "no" | "n" | "no_match" | "nonmatch" => false,
                other => {
                    return Err(Error::data(
                        table.path(),
                        table.position(row).with_column("is_match"),
                        format!("'{other}' is not a yes/no value"),
                    ))
                }
            };
            for (column, array) in [("left_key", &left), ("right_key", &right)] {
                if value(array, row).is_empty() {
                    return Err(Error::data(
                        table.path(),
                        table.position(row).with_column(column),
                        "empty key",
                    ));
                }
            }
            Ok(LabeledPair {
                left: value(&left, row).to_string(),
                right: value(&right, row).to_string(),
                is_match,
                position: table.position(row),
            })
        })
        .collect()
}

/// What labeling sets to make.
#[derive(Clone, Debug)]
pub struct SetRequest {
    /// How many sets.
    pub sets: usize,
    /// Records per set, at most.
    pub set_size: usize,
    /// Random seed.
    pub seed: u64,
    /// Records to leave out (already labeled), by id; may be empty.
    pub labeled: Vec<bool>,
}

/// A model's view of the candidates, for active learning: each
/// candidate's P(match) and the model's threshold.
#[derive(Clone, Debug)]
pub struct ModelScores {
    /// P(match) of each candidate pair, in the same order.
    pub probabilities: Vec<f32>,
    /// The threshold the model matches at.
    pub threshold: f32,
}

/// Where a labeling set starts: one record, or a pair.
type Start = (RecordId, Option<RecordId>);

/// With a model, sets start in turn from: a pair it is unsure of, a random
/// record (exploring where the model may be confidently wrong), another
/// unsure pair, and a random likely match (confirming what it believes).
/// Indexes into the queues of [`active_starts`].
const ACTIVE_PATTERN: [usize; 4] = [0, 1, 0, 2];

/// Groups of records for a person to label. No record is in two sets and
/// no record `request.labeled` marks is in any.
///
/// - Without `scores`: each set starts from a random record with
///   candidates and takes its few most similar candidates (idf cosine of
///   all words), then theirs, breadth first, up to `set_size`.
/// - With `scores` (active learning): sets start in turn as
///   [`ACTIVE_PATTERN`] says, most from the candidate pairs the model is
///   least sure about (probability nearest one half, in logit space),
///   where labels teach it most; they grow the same way, by probability.
pub fn generate_sets(
    records: &Records,
    candidates: &[CandidatePair],
    scores: Option<&ModelScores>,
    request: &SetRequest,
) -> Vec<Vec<RecordId>> {
    let n = records.len();
    let similarity: Vec<f32> = match scores {
        Some(s) => s.probabilities.clone(),
        None => candidates.iter().map(|p| records.words().cosine(p.a as usize, p.b as usize)).collect(),
    };
    let mut neighbours: Vec<Vec<(f32, RecordId)>> = vec![Vec::new(); n];
    for (p, &s) in candidates.iter().zip(&similarity) {
        neighbours[p.a as usize].push((s, p.b));
        neighbours[p.b as usize].push((s, p.a));
    }
    for list in &mut neighbours {
        list.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    }
    let mut rng = Rng::new(request.seed);
    let mut random: Vec<RecordId> =
        (0..n as RecordId).filter(|&i| !neighbours[i as usize].is_empty()).collect();
    rng.shuffle(&mut random);
    let random: Vec<Start> = random.into_iter().map(|r| (r, None)).collect();
    let (queues, pattern): (Vec<Vec<Start>>, &[usize]) = match scores {
        None => (vec![random], &[0]),
        Some(s) => (active_starts(candidates, s, random, &mut rng), &ACTIVE_PATTERN),
    };
    let mut used: Vec<bool> = (0..n).map(|i| request.labeled.get(i).copied().unwrap_or(false)).collect();
    let mut cursor = vec![0usize; queues.len()];
    let mut out = Vec::new();
    'sets: while out.len() < request.sets {
        // The pattern's queue, or any other once it runs dry.
        let preferred = pattern[out.len() % pattern.len()];
        for q in std::iter::once(preferred).chain(0..queues.len()) {
            while let Some(&(first, second)) = queues[q].get(cursor[q]) {
                cursor[q] += 1;
                if used[first as usize] || second.is_some_and(|s| used[s as usize]) {
                    continue;
                }
                let group = grow(first, second, &neighbours, &used, request.set_size);
                if group.len() >= 2 {
                    for &r in &group {
                        used[r as usize] = true;
                    }
                    out.push(group);
                    continue 'sets;
                }
            }
        }
        break;
    }
    out
}

/// A set from its start: a few neighbours of each member, breadth first,
/// so the group spans several nearby entities, not one record's whole
/// neighbourhood.
fn grow(
    first: RecordId,
    second: Option<RecordId>,
    neighbours: &[Vec<(f32, RecordId)>],
    used: &[bool],
    set_size: usize,
) -> Vec<RecordId> {
    let per_record = (set_size / 3).max(2);
    let mut group: Vec<RecordId> = std::iter::once(first).chain(second).collect();
    let mut frontier = 0;
    while group.len() < set_size && frontier < group.len() {
        let from = group[frontier] as usize;
        let mut taken = 0;
        for &(_, other) in &neighbours[from] {
            if group.len() == set_size || taken == per_record {
                break;
            }
            if !used[other as usize] && !group.contains(&other) {
                group.push(other);
                taken += 1;
            }
        }
        frontier += 1;
    }
    group
}

/// The queues of [`ACTIVE_PATTERN`]: candidate pairs by how unsure the
/// model is of them, most unsure first (ties in random order); `random`
/// records; likely matches (at or over the threshold) in random order.
///
/// "Unsure" is a probability near one half, not near the threshold. The
/// threshold usually sits low, in the valley above the non-matches
/// (clustering guards precision), and pairs there are nearly all
/// non-matches the model already knows; the pairs it would call either
/// way are at even odds. (Measured by `benches/teaching.sh`; see the
/// README's teaching loop.)
fn active_starts(
    candidates: &[CandidatePair],
    scores: &ModelScores,
    random: Vec<Start>,
    rng: &mut Rng,
) -> Vec<Vec<Start>> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    rng.shuffle(&mut order);
    let likely: Vec<usize> =
        order.iter().copied().filter(|&i| scores.probabilities[i] >= scores.threshold).collect();
    order.sort_by(|&x, &y| {
        let distance = |i: usize| logit(scores.probabilities[i] as f64).abs();
        distance(x).total_cmp(&distance(y))
    });
    let pairs = |idx: Vec<usize>| -> Vec<Start> {
        idx.into_iter().map(|i| (candidates[i].a, Some(candidates[i].b))).collect()
    };
    vec![pairs(order), random, pairs(likely)]
}

/// Labeling sets as a FindMatches labeling sheet: `labeling_set_id`,
/// `label` (from `label_of`; missing for a person to fill in), then every
/// column of the source rows as text. `tables` are the tables `records`
/// was built from, in order; all must have the same columns.
pub fn labeling_sheet(
    tables: &[&Table],
    records: &Records,
    sets: &[Vec<RecordId>],
    label_of: &dyn Fn(RecordId) -> Option<String>,
) -> Result<RecordBatch> {
    let headers = tables.first().map(|t| t.headers()).unwrap_or_default();
    let columns = tables
        .iter()
        .map(|t| headers.iter().map(|h| t.strings(h)).collect::<Result<Vec<_>>>())
        .collect::<Result<Vec<_>>>()?;
    let rows: Vec<RecordId> = sets.iter().flatten().copied().collect();
    let set_ids: StringArray = sets
        .iter()
        .enumerate()
        .flat_map(|(s, set)| set.iter().map(move |_| Some(format!("set-{:04}", s + 1))))
        .collect();
    let labels: StringArray = rows.iter().map(|&id| label_of(id)).collect();
    let mut fields =
        vec![Field::new(SET_COLUMN, DataType::Utf8, false), Field::new(LABEL_COLUMN, DataType::Utf8, true)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(set_ids), Arc::new(labels)];
    for (c, name) in headers.iter().enumerate() {
        let values: StringArray = rows
            .iter()
            .map(|&id| {
                let source = records.sources()[id as usize] as usize;
                let row = id as usize - records.source_range(source).start;
                let column = &columns[source][c];
                (!column.is_null(row)).then(|| column.value(row).to_string())
            })
            .collect();
        fields.push(Field::new(name, DataType::Utf8, true));
        arrays.push(Arc::new(values));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| {
        Error::data(tables.first().map_or(Path::new(""), |t| t.path()), Position::default(), e.to_string())
    })
}

/// A FindMatches labeling file kept as text, every column as it was, for
/// editing its labels (console labeling) and writing it back.
#[derive(Clone, Debug)]
pub struct LabelingSheet {
    /// The file it was read from.
    pub path: PathBuf,
    /// Column names.
    pub header: Vec<String>,
    /// The rows, one value per column.
    pub rows: Vec<Vec<String>>,
    set_column: usize,
    label_column: usize,
}

impl LabelingSheet {
    /// Read a labeling file (CSV with `labeling_set_id` and `label`).
    pub fn read(path: &Path) -> Result<LabelingSheet> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
        let csv_error = |e: csv::Error| {
            let line = e.position().map_or(0, |p| p.line());
            Error::data(path, Position::line(line), e.to_string())
        };
        let header: Vec<String> = reader.headers().map_err(csv_error)?.iter().map(str::to_string).collect();
        let column = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                Error::data(path, Position::line(1), format!("not a labeling file: no '{name}' column"))
            })
        };
        let (set_column, label_column) = (column(SET_COLUMN)?, column(LABEL_COLUMN)?);
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_error)?;
            let line = record.position().map_or(0, |p| p.line());
            if record.get(set_column).is_none_or(|s| s.trim().is_empty()) {
                return Err(Error::data(
                    path,
                    Position::line(line).with_column(SET_COLUMN),
                    "empty labeling_set_id",
                ));
            }
            rows.push(record.iter().map(str::to_string).collect());
        }
        if rows.is_empty() {
            return Err(Error::data(path, Position::line(1), "the labeling file has no rows"));
        }
        Ok(LabelingSheet { path: path.to_path_buf(), header, rows, set_column, label_column })
    }

    /// Each row's labeling set.
    pub fn sets(&self) -> Vec<String> {
        self.rows.iter().map(|r| r[self.set_column].clone()).collect()
    }

    /// Each row's label (empty: not labeled yet).
    pub fn labels(&self) -> Vec<String> {
        self.rows.iter().map(|r| r[self.label_column].clone()).collect()
    }

    /// The columns of a row other than the set and the label, as
    /// (name, value).
    pub fn fields(&self, row: usize) -> Vec<(&str, &str)> {
        (0..self.header.len())
            .filter(|&c| c != self.set_column && c != self.label_column)
            .map(|c| (self.header[c].as_str(), self.rows[row][c].as_str()))
            .collect()
    }

    /// Write the sheet to `path` with `labels` (one per row) in its label
    /// column, atomically.
    pub fn write(&self, path: &Path, labels: &[String]) -> Result<()> {
        let rows = self.rows.iter().zip(labels).map(|(row, label)| {
            row.iter().enumerate().map(|(c, v)| if c == self.label_column { label } else { v }).collect()
        });
        atomic_csv(path, std::iter::once(self.header.iter().collect::<Vec<_>>()).chain(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_learning_starts_from_even_odds_not_the_threshold() {
        // A low threshold (0.06) with a near-sure non-match right at it:
        // the pair at even odds is the one to ask about.
        let candidates: Vec<CandidatePair> =
            [(0, 1), (2, 3), (4, 5), (6, 7)].iter().map(|&(a, b)| CandidatePair::new(a, b)).collect();
        let scores = ModelScores { probabilities: vec![0.06, 0.45, 0.97, 0.01], threshold: 0.06 };
        let queues = active_starts(&candidates, &scores, Vec::new(), &mut Rng::new(7));
        let unsure: Vec<Start> = queues[0].iter().take(2).copied().collect();
        assert_eq!(unsure, vec![(2, Some(3)), (0, Some(1))]);
        // Likely matches are those the model would match: at or over its threshold.
        let mut likely = queues[2].clone();
        likely.sort_unstable();
        assert_eq!(likely, vec![(0, Some(1)), (2, Some(3)), (4, Some(5))]);
    }
}
