//! A batch run cut into steps over parts of the records, for an engine
//! that spreads them over machines (`findmatches.spark` drives them from
//! PySpark; nothing here knows Spark). Each step takes and gives Arrow
//! record batches; what a step must know of all records is handed to it
//! (the day order of dates, the [`CorpusStats`], the blocking index), so
//! every record comes out exactly as [`Matcher::dedup`] or
//! [`Matcher::link`] makes it: the same candidate pairs, the same scores,
//! the same clusters.
//!
//! A record is named by its `gid`, an `i64` whose order is the records'
//! order in a single run (the first table's records first: the source
//! sits in the top bits, see [`gid`]). Ties everywhere (key neighbours,
//! clustering) are broken by that order, as a single run breaks them by
//! position.
//!
//! The steps:
//! 1. [`Distributed::day_votes`] per part of the raw input, summed: the
//!    order dates are read in ([`elected_day_order`]).
//! 2. [`Distributed::normalize`] per part: the normalized records
//!    ([`normalized_schema`]), the input of every later step.
//! 3. [`Distributed::count`] per part, summed by term, gathered with
//!    [`Distributed::stats_from`]: the [`CorpusStats`].
//! 4. [`Distributed::keys`] per part: blocking keys. Partitioned by key,
//!    [`Blocker`] makes blocks of them and lists each once for each member;
//!    partitioned by member, [`Ranker`] keeps each record's best neighbours.
//! 5. When the data has free text ([`Distributed::uses_index`]): the
//!    records with fewer key candidates than the fallback degree query a
//!    blocking index of all records ([`Distributed::write_index`],
//!    [`Distributed::query_index`]).
//! 6. [`Distributed::score`] on candidate pairs joined to both records.
//! 7. On one machine, [`Clusterer`]: pairs at or above the threshold, each
//!    record's best score, and the records clustering scores on demand.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rustc_hash::FxHashMap;

use crate::block::index::{write_index_rows, StoredIndex};
use crate::block::keys::{record_keys_below, KeyRanking};
use crate::block::{is_free_text, Blocking, Mode};
use crate::cluster::{self, ClusterOptions, Constraints, ScoredPair};
use crate::compare::ComparePlan;
use crate::config::{ColumnKind, TransformDef};
use crate::corpus::{CorpusStats, PartialCounts, Term};
use crate::error::{Error, Result};
use crate::matcher::{links_one_to_one, MAX_CLUSTER_SIZE};
use crate::model::MatchModel;
use crate::normalize::DayOrder;
use crate::read::Table;
use crate::record::{
    count_terms, day_order_votes, elected_day_order, CandidatePair, ColumnValues, RecordId, Records,
};

/// The record id column.
pub const GID: &str = "__fm_gid";
/// The source table column (0, or 1 for a link's second table).
pub const SOURCE: &str = "__fm_source";
/// The primary key column of normalized records.
pub const KEY: &str = "__fm_key";
/// Bits below a gid's source.
pub const SOURCE_SHIFT: u32 = 56;

/// The gid of the record at `position` (below 2^56, in any order that
/// follows the input's) of table `source`.
pub fn gid(source: u16, position: u64) -> i64 {
    ((source as i64) << SOURCE_SHIFT) | (position as i64 & ((1 << SOURCE_SHIFT) - 1))
}

/// The source table of a gid.
pub fn source_of(gid: i64) -> u16 {
    (gid >> SOURCE_SHIFT) as u16
}

/// The steps of one run of a model, in one mode, over parts of the data.
pub struct Distributed {
    model: MatchModel,
    plan: ComparePlan,
    mode: Mode,
    day_orders: Vec<DayOrder>,
    stats: Option<Arc<CorpusStats>>,
}

impl Distributed {
    /// The steps of `model` in `mode` (dedup or link), dates read in
    /// `day_orders` (one per matched column; see [`Distributed::day_votes`]).
    pub fn new(model: MatchModel, mode: Mode, day_orders: Vec<DayOrder>) -> Result<Distributed> {
        if mode == Mode::Incremental {
            return Err(Error::usage("a distributed run dedups or links"));
        }
        let columns = model.definition.matched_columns().count();
        if day_orders.len() != columns {
            return Err(Error::usage(format!(
                "{} day orders for {columns} matched columns",
                day_orders.len()
            )));
        }
        let plan = ComparePlan::new(&model.definition);
        Ok(Distributed { model, plan, mode, day_orders, stats: None })
    }

    /// These steps with the statistics of all records (from
    /// [`Distributed::stats_from`]), which every step after counting needs.
    pub fn with_stats(self, stats: Arc<CorpusStats>) -> Distributed {
        Distributed { stats: Some(stats), ..self }
    }

    fn def(&self) -> &TransformDef {
        &self.model.definition
    }

    fn stats(&self) -> Result<&CorpusStats> {
        self.stats.as_deref().ok_or_else(|| Error::usage("this step needs the corpus statistics"))
    }

    /// The model.
    pub fn model(&self) -> &MatchModel {
        &self.model
    }

    /// Votes for the order of day and month of each matched column (0 for
    /// columns that are not dates) in a part of the raw input: summed
    /// over all parts, [`elected_day_order`] of each is the order to
    /// normalize with.
    pub fn day_votes(def: &TransformDef, name: &str, raw: &RecordBatch) -> Result<Vec<(u64, u64)>> {
        let table = Table::from_batch(name, raw.clone());
        def.matched_columns()
            .map(|(column, kind)| {
                if kind != ColumnKind::Date {
                    return Ok((0, 0));
                }
                let values = table.strings(column)?;
                let values: Vec<Option<&str>> = values.iter().collect();
                Ok(day_order_votes(&values))
            })
            .collect()
    }

    /// The day orders summed votes elect.
    pub fn day_orders(votes: &[(u64, u64)]) -> Vec<DayOrder> {
        votes.iter().map(|&v| elected_day_order(v)).collect()
    }

    /// Normalize a part of the raw input (named `name` in messages): its
    /// [`GID`] and [`SOURCE`] columns, the primary key and the matched
    /// columns, into the [`normalized_schema`].
    pub fn normalize(&self, name: &str, raw: &RecordBatch) -> Result<RecordBatch> {
        let def = self.def();
        let table = Table::from_batch(name, raw.clone());
        let gids = int64(raw, GID)?;
        let sources = int32(raw, SOURCE)?;
        let keys = table.strings(&def.primary_key)?;
        let mut key_out = Vec::with_capacity(keys.len());
        for row in 0..keys.len() {
            let key = if keys.is_null(row) { "" } else { keys.value(row).trim() };
            if key.is_empty() {
                return Err(Error::usage(format!(
                    "{name}: record {} has an empty primary key '{}'",
                    gids.value(row),
                    def.primary_key
                )));
            }
            key_out.push(key);
        }
        let mut arrays: Vec<ArrayRef> =
            vec![Arc::new(gids.clone()), Arc::new(sources.clone()), Arc::new(StringArray::from(key_out))];
        for ((column, kind), &order) in def.matched_columns().zip(&self.day_orders) {
            let values = table.strings(column)?;
            let values: Vec<Option<&str>> = values.iter().collect();
            let normalized = ColumnValues::normalize(kind, order, &values);
            arrays.extend(column_arrays(&normalized));
        }
        batch(RecordBatch::try_new(normalized_schema(def), arrays))
    }

    /// What a part of the normalized records adds to the corpus counts.
    pub fn count(&self, normalized: &RecordBatch) -> Result<PartialCounts> {
        let columns = self.column_values(normalized)?;
        let mut counts = PartialCounts::default();
        count_terms(&columns, &mut counts);
        Ok(counts)
    }

    /// Partial counts as rows: `kind` (a [`Term`]), `column`, `term`, `count`.
    pub fn counts_batch(counts: &PartialCounts) -> Result<RecordBatch> {
        let (mut kinds, mut columns, mut terms, mut ns) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (kind, column, term, n) in counts.iter() {
            kinds.push(kind as i32);
            columns.push(column as i32);
            terms.push(term);
            ns.push(n as i64);
        }
        batch(RecordBatch::try_new(
            counts_schema(),
            vec![
                Arc::new(Int32Array::from(kinds)),
                Arc::new(Int32Array::from(columns)),
                Arc::new(StringArray::from(terms)),
                Arc::new(Int64Array::from(ns)),
            ],
        ))
    }

    /// The statistics of `records` records from the counts of all parts
    /// summed by term: `summed` rows as [`Distributed::counts_batch`] gives
    /// them (only those [`CorpusStats::keeps`] are needed) and `totals`
    /// per kind and column (`kind`, `column`, `total`: the counts summed,
    /// `squares`: their squares summed).
    pub fn stats_from(
        &self,
        records: u64,
        summed: &[RecordBatch],
        totals: &[RecordBatch],
    ) -> Result<CorpusStats> {
        let columns = self.def().matched_columns().count();
        let mut stats = CorpusStats::empty(records, columns);
        let kind = |n: i32| {
            u8::try_from(n)
                .ok()
                .and_then(Term::from_u8)
                .ok_or_else(|| Error::usage(format!("no term kind {n}")))
        };
        for batch in totals {
            let (kinds, cols) = (int32(batch, "kind")?, int32(batch, "column")?);
            let (total, squares) = (int64(batch, "total")?, int64(batch, "squares")?);
            for i in 0..batch.num_rows() {
                stats.add_total(
                    kind(kinds.value(i))?,
                    cols.value(i) as u32,
                    total.value(i) as u64,
                    squares.value(i) as u64,
                );
            }
        }
        for batch in summed {
            let (kinds, cols) = (int32(batch, "kind")?, int32(batch, "column")?);
            let (terms, counts) = (string(batch, "term")?, int64(batch, "count")?);
            for i in 0..batch.num_rows() {
                let term = if terms.is_null(i) { "" } else { terms.value(i) };
                stats.add_term(
                    kind(kinds.value(i))?,
                    cols.value(i) as u32,
                    term.to_string(),
                    counts.value(i) as u64,
                );
            }
        }
        Ok(stats)
    }

    /// The normalized columns of a batch.
    fn column_values(&self, normalized: &RecordBatch) -> Result<Vec<ColumnValues>> {
        self.def()
            .matched_columns()
            .enumerate()
            .map(|(c, (_, kind))| {
                let values = string(normalized, &format!("v{c}"))?;
                let codes =
                    if kind == ColumnKind::Name { Some(string(normalized, &format!("c{c}"))?) } else { None };
                let numbers = if ColumnValues::has_numbers(kind) {
                    Some(float64(normalized, &format!("n{c}"))?)
                } else {
                    None
                };
                ColumnValues::from_arrays(kind, values, codes, numbers)
            })
            .collect()
    }

    /// The records of normalized batches, in gid order, each once, with
    /// their gids.
    pub fn assemble(&self, normalized: &[RecordBatch]) -> Result<(Records, Vec<i64>)> {
        let def = self.def();
        let schema = normalized_schema(def);
        let batch = arrow_select::concat::concat_batches(&schema, normalized).map_err(arrow)?;
        let gids = int64(&batch, GID)?;
        let mut order: Vec<usize> = (0..batch.num_rows()).collect();
        order.sort_unstable_by_key(|&i| gids.value(i));
        order.dedup_by_key(|i| gids.value(*i));
        let sources = int32(&batch, SOURCE)?;
        let keys = string(&batch, KEY)?;
        let columns: Vec<ColumnValues> =
            self.column_values(&batch)?.iter().map(|c| c.select(&order)).collect();
        let num_sources = if self.mode == Mode::Link { 2 } else { 1 };
        let records = Records::assemble(
            def,
            order.iter().map(|&i| keys.value(i).to_string()).collect(),
            order.iter().map(|&i| sources.value(i) as u16).collect(),
            num_sources,
            columns,
            self.stats()?,
        )?;
        Ok((records, order.iter().map(|&i| gids.value(i)).collect()))
    }

    /// How exact keys rank candidates over all records.
    pub fn ranking(&self) -> Result<KeyRanking> {
        Ok(self.blocking()?.ranking)
    }

    fn blocking(&self) -> Result<Blocking> {
        Ok(Blocking::new(self.def(), self.stats()?.records as usize))
    }

    /// Blocks larger than this are skipped.
    pub fn max_block(&self) -> usize {
        self.def().tuning.max_block()
    }

    /// The blocking keys of a part of the normalized records: `key` (the
    /// key's 64-bit hash), [`GID`]. Keys the counts show to be
    /// held by more than [`Distributed::max_block`] records are left out.
    pub fn keys(&self, normalized: &RecordBatch) -> Result<RecordBatch> {
        let (records, gids) = self.assemble(std::slice::from_ref(normalized))?;
        let keyed =
            record_keys_below(&records, self.def(), 0..records.len() as RecordId, Some(self.max_block()));
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Int64, false),
            Field::new(GID, DataType::Int64, false),
        ]));
        batch(RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(keyed.iter().map(|&(k, _)| k as i64))),
                Arc::new(Int64Array::from_iter_values(keyed.iter().map(|&(_, id)| gids[id as usize]))),
            ],
        ))
    }

    /// A [`Blocker`] for this run.
    pub fn blocker(&self) -> Result<Blocker> {
        Ok(Blocker {
            ranking: self.ranking()?,
            max_block: self.max_block(),
            mode: self.mode,
            keyed: Vec::new(),
        })
    }

    /// A [`Ranker`] for this run.
    pub fn ranker(&self) -> Result<Ranker> {
        Ok(Ranker { ranking: self.ranking()?, mode: self.mode, shares: FxHashMap::default() })
    }

    /// Whether records with few key candidates query the blocking index,
    /// and how few: the fallback degree (0: the index is not used).
    pub fn index_fallback(&self) -> Result<usize> {
        let stats = self.stats()?;
        let free_text = self
            .def()
            .matched_columns()
            .zip(&stats.columns)
            .any(|((_, kind), c)| kind == ColumnKind::Text && is_free_text(c.filled, c.word_total));
        let blocking = self.blocking()?;
        Ok(if blocking.uses_index_given(free_text) { blocking.fallback_degree } else { 0 })
    }

    /// Which source the blocking index holds (`None`: all records) and
    /// which queries it.
    pub fn index_sources(&self) -> (Option<u16>, Option<u16>) {
        match self.mode {
            Mode::Link => (Some(1), Some(0)),
            _ => (None, None),
        }
    }

    /// Write the blocking index of the normalized records (all those
    /// [`Distributed::index_sources`] says it holds) into the new
    /// directory `dir`.
    pub fn write_index(&self, dir: &Path, normalized: &[RecordBatch]) -> Result<()> {
        let (records, gids) = self.assemble(normalized)?;
        let rows: Vec<u64> = gids.iter().map(|&g| g as u64).collect();
        write_index_rows(dir, &records, &rows)?;
        Ok(())
    }

    /// The index neighbours (pairs `a`, `b`, as gids with `a < b`) of the
    /// normalized records given: those with fewer key candidates than
    /// the fallback degree, of the source that queries.
    pub fn query_index(&self, index: &StoredIndex, normalized: &RecordBatch) -> Result<RecordBatch> {
        let (records, gids) = self.assemble(std::slice::from_ref(normalized))?;
        let k = self.blocking()?.index_neighbours;
        let limit = k + usize::from(self.mode != Mode::Link);
        let mut pairs = Vec::new();
        for (id, &gid) in gids.iter().enumerate() {
            for (_, row) in index.similar_rows(&records, id as RecordId, limit)? {
                let other = row as i64;
                if other != gid && self.mode.allows(source_of(gid), source_of(other)) {
                    pairs.push((gid.min(other), gid.max(other)));
                }
            }
        }
        pairs_batch(&pairs)
    }

    /// Score candidate pairs joined to both records: columns `a_<name>`
    /// and `b_<name>` for each column of the [`normalized_schema`], the
    /// pair's first record (lower gid) as `a`. Gives `a`, `b`, `score`.
    pub fn score(&self, joined: &RecordBatch) -> Result<RecordBatch> {
        let side = |prefix: &str| -> Result<RecordBatch> {
            let schema = normalized_schema(self.def());
            let arrays = schema
                .fields()
                .iter()
                .map(|f| column(joined, &format!("{prefix}{}", f.name())).cloned())
                .collect::<Result<Vec<_>>>()?;
            batch(RecordBatch::try_new(schema, arrays))
        };
        let (a, b) = (side("a_")?, side("b_")?);
        let (records, gids) = self.assemble(&[a.clone(), b.clone()])?;
        let (ga, gb) = (int64(&a, GID)?, int64(&b, GID)?);
        let local =
            |g: i64| gids.binary_search(&g).map(|i| i as RecordId).map_err(|_| Error::usage("lost record"));
        let mut buf = vec![0.0f32; self.plan.num_features()];
        let mut scores = Vec::with_capacity(joined.num_rows());
        for i in 0..joined.num_rows() {
            let (x, y) = (local(ga.value(i))?, local(gb.value(i))?);
            if x >= y {
                return Err(Error::usage("a scored pair's first record must have the lower gid"));
            }
            self.plan.compare(&records, x, y, &mut buf);
            scores.push(self.model.probability(&buf));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int64, false),
            Field::new("score", DataType::Float32, false),
        ]));
        batch(RecordBatch::try_new(
            schema,
            vec![Arc::new(ga.clone()), Arc::new(gb.clone()), Arc::new(Float32Array::from(scores))],
        ))
    }

    /// The labeled pairs clustering holds (none unless the model's tuning
    /// says so), between the records holding labeled keys (`gid`, `key`
    /// batches), in the model's label order.
    pub fn label_links(&self, labeled: &[RecordBatch]) -> Result<Vec<LabelLink>> {
        if !self.def().tuning.enforce_provided_labels {
            return Ok(Vec::new());
        }
        let mut ids: FxHashMap<String, i64> = FxHashMap::default();
        for batch in labeled {
            let (g, k) = (int64(batch, GID)?, string(batch, KEY)?);
            ids.extend((0..batch.num_rows()).map(|i| (k.value(i).to_string(), g.value(i))));
        }
        Ok(self
            .model
            .labels
            .iter()
            .filter_map(|l| {
                let (&x, &y) = (ids.get(l.left.as_str())?, ids.get(l.right.as_str())?);
                (x != y).then(|| LabelLink { a: x.min(y), b: x.max(y), is_match: l.is_match })
            })
            .collect())
    }

    /// A [`Clusterer`] over the pairs at or above the threshold (`a`, `b`,
    /// `score` batches) and the records holding labeled keys (`gid`, `key`
    /// batches: the model's labels are held when its tuning says so).
    pub fn clusterer(&self, edges: &[RecordBatch], labeled: &[RecordBatch]) -> Result<Clusterer> {
        let mut raw: Vec<(i64, i64, f32)> = Vec::new();
        for batch in edges {
            let (a, b, s) = (int64(batch, "a")?, int64(batch, "b")?, float32(batch, "score")?);
            raw.extend((0..batch.num_rows()).map(|i| (a.value(i), b.value(i), s.value(i))));
        }
        let links = self.label_links(labeled)?;
        let mut gids: Vec<i64> =
            raw.iter().flat_map(|&(a, b, _)| [a, b]).chain(labeled_gids(labeled)?).collect();
        gids.sort_unstable();
        gids.dedup();
        let local = |g: i64| gids.binary_search(&g).map(|i| i as RecordId).unwrap_or(RecordId::MAX);
        let scored: Vec<ScoredPair> = raw
            .iter()
            .map(|&(a, b, score)| ScoredPair { pair: CandidatePair::new(local(a), local(b)), score })
            .collect();
        let mut constraints = Constraints::default();
        for link in links {
            let pair = CandidatePair::new(local(link.a), local(link.b));
            if link.is_match {
                constraints.must.push(pair)
            } else {
                constraints.cannot.push(pair)
            }
        }
        let options = ClusterOptions {
            threshold: self.model.threshold(),
            one_per_source: links_one_to_one(self.def(), self.mode),
            max_cluster_size: MAX_CLUSTER_SIZE,
        };
        let on_demand =
            cluster::records_scored_on_demand(gids.len(), &scored, options.threshold, &constraints);
        Ok(Clusterer { gids, scored, constraints, options, on_demand })
    }
}

/// A pair of records the model's labels say match or not, by gid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelLink {
    /// The smaller gid.
    pub a: i64,
    /// The larger gid.
    pub b: i64,
    /// Whether the label says they match.
    pub is_match: bool,
}

/// The gids of `labeled` (`gid`, `key` batches).
fn labeled_gids(labeled: &[RecordBatch]) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for batch in labeled {
        out.extend(int64(batch, GID)?.values().iter().copied());
    }
    Ok(out)
}

/// Makes blocks of blocking keys: fed rows `key`, [`GID`] in any order
/// (all rows of a key, and so a partition by key, to one blocker), it gives
/// for each block of 2 to `max_block` records that may pair, one row per
/// member: [`GID`], `weight` (what sharing the key adds,
/// [`KeyRanking::key_weight`]) and `others` (the other members' gids,
/// little-endian `i64`s).
pub struct Blocker {
    ranking: KeyRanking,
    max_block: usize,
    mode: Mode,
    keyed: Vec<(i64, i64)>,
}

/// Rows per batch a [`Blocker`] gives, about.
const BLOCK_ROWS: usize = 16_384;

impl Blocker {
    /// Take more rows.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let (keys, gids) = (int64(batch, "key")?, int64(batch, GID)?);
        self.keyed.extend(keys.values().iter().copied().zip(gids.values().iter().copied()));
        Ok(())
    }

    /// The rows of every block, in batches.
    pub fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        let mut keyed = std::mem::take(&mut self.keyed);
        keyed.sort_unstable();
        let mut out = Vec::new();
        let mut rows = BlockRows::default();
        for block in keyed.chunk_by(|x, y| x.0 == y.0) {
            self.block(block, &mut rows);
            if rows.gids.len() >= BLOCK_ROWS {
                out.push(std::mem::take(&mut rows).batch()?);
            }
        }
        out.push(rows.batch()?);
        Ok(out)
    }

    fn block(&self, block: &[(i64, i64)], out: &mut BlockRows) {
        let n = block.len();
        if n < 2 || n > self.max_block {
            return;
        }
        let first = source_of(block[0].1);
        if !block.iter().any(|&(_, m)| self.mode.allows(first, source_of(m))) {
            return;
        }
        let weight = self.ranking.key_weight(n);
        for (i, &(_, m)) in block.iter().enumerate() {
            out.gids.push(m);
            out.weights.push(weight);
            let mut others = Vec::with_capacity(8 * (n - 1));
            for (j, &(_, o)) in block.iter().enumerate() {
                if j != i {
                    others.extend_from_slice(&o.to_le_bytes());
                }
            }
            out.others.push(others);
        }
    }
}

/// The rows a [`Blocker`] gives.
#[derive(Default)]
struct BlockRows {
    gids: Vec<i64>,
    weights: Vec<f32>,
    others: Vec<Vec<u8>>,
}

impl BlockRows {
    fn batch(self) -> Result<RecordBatch> {
        batch(RecordBatch::try_new(
            block_rows_schema(),
            vec![
                Arc::new(Int64Array::from(self.gids)),
                Arc::new(Float32Array::from(self.weights)),
                Arc::new(BinaryArray::from_iter_values(self.others.iter())),
            ],
        ))
    }
}

/// The columns of the rows a [`Blocker`] gives.
pub fn block_rows_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(GID, DataType::Int64, false),
        Field::new("weight", DataType::Float32, false),
        Field::new("others", DataType::Binary, false),
    ]))
}

/// Keeps each record's best key neighbours from its blocks' rows (those a
/// [`Blocker`] gives) in any order (all rows of a record, and so a
/// partition by gid, to one ranker).
pub struct Ranker {
    ranking: KeyRanking,
    mode: Mode,
    shares: FxHashMap<i64, Vec<(i64, f32)>>,
}

impl Ranker {
    /// Take more rows.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let gids = int64(batch, GID)?;
        let weights = float32(batch, "weight")?;
        let others = typed(batch, "others", |a| a.as_binary_opt::<i32>())?;
        for row in 0..batch.num_rows() {
            let gid = gids.value(row);
            let (source, w) = (source_of(gid), weights.value(row));
            let shares = self.shares.entry(gid).or_default();
            for o in others.value(row).chunks_exact(8) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(o);
                let o = i64::from_le_bytes(bytes);
                if o != gid && self.mode.allows(source, source_of(o)) {
                    shares.push((o, w));
                }
            }
        }
        Ok(())
    }

    /// The pairs (`a`, `b`, gids, `a < b`) of every record's kept
    /// neighbours.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let mut pairs = Vec::new();
        let mut scored: Vec<(u32, f32)> = Vec::new();
        for (gid, mut shares) in self.shares.drain() {
            // Weights summed per neighbour, neighbours in gid order, ranked
            // by position: ties break as by record id.
            shares.sort_unstable_by_key(|s| s.0);
            scored.clear();
            let mut others: Vec<i64> = Vec::new();
            for same in shares.chunk_by(|x, y| x.0 == y.0) {
                scored.push((others.len() as u32, same.iter().map(|s| s.1).sum()));
                others.push(same[0].0);
            }
            for &(i, _) in self.ranking.rank_distinct(&mut scored).iter() {
                let o = others[i as usize];
                pairs.push((gid.min(o), gid.max(o)));
            }
        }
        pairs_batch(&pairs)
    }
}

/// Clusters the records that pairs at or above the threshold join, on one
/// machine: ask [`Clusterer::scored_on_demand`] which records it scores
/// pairs of, then [`Clusterer::cluster`] with them.
pub struct Clusterer {
    gids: Vec<i64>,
    scored: Vec<ScoredPair>,
    constraints: Constraints,
    options: ClusterOptions,
    /// Positions in `gids` of the records clustering scores pairs of.
    on_demand: Vec<RecordId>,
}

impl Clusterer {
    /// The gids of the records it clusters (those of the pairs and the
    /// labeled ones), ascending.
    pub fn gids(&self) -> &[i64] {
        &self.gids
    }

    /// The gids of the records whose normalized rows clustering needs.
    pub fn scored_on_demand(&self) -> Vec<i64> {
        self.on_demand.iter().map(|&i| self.gids[i as usize]).collect()
    }

    /// Cluster, given the normalized rows of the records
    /// [`Clusterer::scored_on_demand`] names and the best candidate score
    /// of records whose best pair is below the threshold (`gid`, `best`
    /// batches; any records: only the labeled ones can have such a best
    /// that matters, the others' best is among the pairs given). Gives `gid`,
    /// `leader` (the gid of its cluster's first record) and `confidence`
    /// for each record joined to another or in a labeled pair; every
    /// other record is alone, with confidence 1 − its best score.
    pub fn cluster(
        &self,
        run: &Distributed,
        rows: &[RecordBatch],
        best: &[RecordBatch],
    ) -> Result<RecordBatch> {
        let (records, row_gids) = run.assemble(rows)?;
        let at: Vec<RecordId> = self
            .gids
            .iter()
            .map(|g| row_gids.binary_search(g).map(|i| i as RecordId).unwrap_or(RecordId::MAX))
            .collect();
        // A record's best pair is at or above the threshold when it has one
        // there: only the records of labeled pairs alone need theirs given.
        let mut bests = vec![0.0f32; self.gids.len()];
        for p in &self.scored {
            for x in [p.pair.a, p.pair.b] {
                bests[x as usize] = bests[x as usize].max(p.score);
            }
        }
        for batch in best {
            let (g, b) = (int64(batch, GID)?, float32(batch, "best")?);
            for i in 0..batch.num_rows() {
                if let Ok(x) = self.gids.binary_search(&g.value(i)) {
                    bests[x] = bests[x].max(b.value(i));
                }
            }
        }
        if let Some(&missing) = self.on_demand.iter().find(|&&x| at[x as usize] == RecordId::MAX) {
            return Err(Error::usage(format!(
                "record {} is needed to cluster and was not given",
                self.gids[missing as usize]
            )));
        }
        let sources: Vec<u16> = self.gids.iter().map(|&g| source_of(g)).collect();
        let plan = &run.plan;
        let score = |a: RecordId, b: RecordId| {
            let mut buf = vec![0.0f32; plan.num_features()];
            plan.compare(&records, at[a as usize], at[b as usize], &mut buf);
            run.model.probability(&buf)
        };
        let clustering = cluster::cluster_with_best(
            self.gids.len(),
            &sources,
            &self.scored,
            bests,
            &self.options,
            &self.constraints,
            score,
        );
        // The first member of each cluster names it.
        let mut leader: FxHashMap<u64, i64> = FxHashMap::default();
        for (i, &id) in clustering.match_ids.iter().enumerate() {
            leader.entry(id).or_insert(self.gids[i]);
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new(GID, DataType::Int64, false),
            Field::new("leader", DataType::Int64, false),
            Field::new("confidence", DataType::Float32, false),
        ]));
        batch(RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(self.gids.clone())),
                Arc::new(Int64Array::from_iter_values(clustering.match_ids.iter().map(|id| leader[id]))),
                Arc::new(Float32Array::from(clustering.confidence)),
            ],
        ))
    }
}

/// The columns of normalized records: [`GID`], [`SOURCE`], [`KEY`], then
/// per matched column `c` (in definition order) its value `v<c>`, its
/// phonetic code `c<c>` (names) and its day or number `n<c>` (dates and
/// numbers).
pub fn normalized_schema(def: &TransformDef) -> SchemaRef {
    let mut fields = vec![
        Field::new(GID, DataType::Int64, false),
        Field::new(SOURCE, DataType::Int32, false),
        Field::new(KEY, DataType::Utf8, false),
    ];
    for (c, (_, kind)) in def.matched_columns().enumerate() {
        fields.push(Field::new(format!("v{c}"), DataType::Utf8, false));
        if kind == ColumnKind::Name {
            fields.push(Field::new(format!("c{c}"), DataType::Utf8, false));
        }
        if ColumnValues::has_numbers(kind) {
            fields.push(Field::new(format!("n{c}"), DataType::Float64, true));
        }
    }
    Arc::new(Schema::new(fields))
}

/// The columns of partial counts.
pub fn counts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("kind", DataType::Int32, false),
        Field::new("column", DataType::Int32, false),
        Field::new("term", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
    ]))
}

/// The columns of candidate pairs: `a`, `b` (gids, `a < b`).
pub fn pairs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Int64, false),
    ]))
}

/// An Arrow failure in a step: its input did not have the shape asked.
fn arrow(e: arrow_schema::ArrowError) -> Error {
    Error::usage(format!("a step's input: {e}"))
}

fn batch(made: std::result::Result<RecordBatch, arrow_schema::ArrowError>) -> Result<RecordBatch> {
    made.map_err(arrow)
}

fn pairs_batch(pairs: &[(i64, i64)]) -> Result<RecordBatch> {
    batch(RecordBatch::try_new(
        pairs_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(pairs.iter().map(|p| p.0))),
            Arc::new(Int64Array::from_iter_values(pairs.iter().map(|p| p.1))),
        ],
    ))
}

/// A normalized column's Arrow arrays, as [`normalized_schema`] lists them.
fn column_arrays(c: &ColumnValues) -> Vec<ArrayRef> {
    let n = c.len();
    let mut out: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values((0..n).map(|i| c.value(i))))];
    if c.kind() == ColumnKind::Name {
        out.push(Arc::new(StringArray::from_iter_values((0..n).map(|i| c.code(i).unwrap_or("")))));
    }
    if ColumnValues::has_numbers(c.kind()) {
        out.push(Arc::new(Float64Array::from_iter(
            (0..n).map(|i| Some(c.number(i)).filter(|x| !x.is_nan())),
        )));
    }
    out
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| Error::usage(format!("a step's input lacks column '{name}'")))
}

fn typed<'b, T: 'static>(
    batch: &'b RecordBatch,
    name: &str,
    cast: impl Fn(&'b ArrayRef) -> Option<&'b T>,
) -> Result<&'b T> {
    let array = column(batch, name)?;
    let data_type = array.data_type().clone();
    cast(array).ok_or_else(|| Error::usage(format!("a step's column '{name}' has type {data_type}")))
}

fn int64<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b Int64Array> {
    typed(batch, name, |a| a.as_primitive_opt::<Int64Type>())
}

fn int32<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b Int32Array> {
    typed(batch, name, |a| a.as_primitive_opt::<Int32Type>())
}

fn float32<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b Float32Array> {
    typed(batch, name, |a| a.as_primitive_opt::<Float32Type>())
}

fn float64<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b Float64Array> {
    typed(batch, name, |a| a.as_primitive_opt::<Float64Type>())
}

fn string<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b StringArray> {
    typed(batch, name, |a| a.as_string_opt::<i32>())
}
