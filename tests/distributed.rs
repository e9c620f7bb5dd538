//! The distributed steps, run over parts of the records in this process as
//! Spark runs them over partitions, give what one run gives: the same
//! candidate pairs, the same scores bit for bit, the same clusters and
//! confidences.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int32Type, Int64Type};
use arrow_array::{ArrayRef, Float32Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use findmatches::block::index::StoredIndex;
use findmatches::block::Mode;
use findmatches::corpus::{CorpusStats, Term};
use findmatches::distributed::{gid, normalized_schema, Distributed, GID, KEY, SOURCE};
use findmatches::matcher::Matcher;
use findmatches::{synth, MatchModel, Table};
use proptest::prelude::*;

/// Rows `rows` of `batch`.
fn take(batch: &RecordBatch, rows: &[usize]) -> RecordBatch {
    let idx = arrow_array::UInt32Array::from_iter_values(rows.iter().map(|&r| r as u32));
    arrow_select::take::take_record_batch(batch, &idx).unwrap()
}

/// `tables` with gid and source columns, cut into `parts` parts (records
/// dealt round-robin, so every part holds records from all over).
fn raw_parts(tables: &[&RecordBatch], parts: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for (s, t) in tables.iter().enumerate() {
        let n = t.num_rows();
        let mut columns: Vec<ArrayRef> = t.columns().to_vec();
        columns.push(Arc::new(Int64Array::from_iter_values((0..n).map(|i| gid(s as u16, 7 * i as u64 + 3)))));
        columns.push(Arc::new(Int32Array::from(vec![s as i32; n])));
        let mut fields: Vec<Field> = t.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(GID, DataType::Int64, false));
        fields.push(Field::new(SOURCE, DataType::Int32, false));
        let whole = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        for p in 0..parts {
            let rows: Vec<usize> = (p..n).step_by(parts).collect();
            out.push(take(&whole, &rows));
        }
    }
    out
}

/// The outcome of the steps: candidate pairs with scores, and each
/// record's (leader gid, confidence), by gid.
struct Outcome {
    scores: BTreeMap<(i64, i64), f32>,
    clusters: BTreeMap<i64, (i64, f32)>,
}

/// Steps 1 to 3: the run with its statistics, and the normalized parts.
fn counted(
    model: &MatchModel,
    tables: &[&RecordBatch],
    mode: Mode,
    parts: usize,
) -> (Distributed, Vec<RecordBatch>) {
    let def = model.definition.clone();
    let raw = raw_parts(tables, parts);
    // 1. Day orders.
    let columns = def.matched_columns().count();
    let mut votes = vec![(0u64, 0u64); columns];
    for part in &raw {
        for (v, p) in votes.iter_mut().zip(Distributed::day_votes(&def, "t", part).unwrap()) {
            v.0 += p.0;
            v.1 += p.1;
        }
    }
    let run = Distributed::new(model.clone(), mode, Distributed::day_orders(&votes)).unwrap();
    // 2. Normalize.
    let norm: Vec<RecordBatch> = raw.iter().map(|p| run.normalize("t", p).unwrap()).collect();
    // 3. Count, sum by term as a groupBy would, keep what is kept.
    let mut summed: HashMap<(i32, i32, String), i64> = HashMap::new();
    for part in &norm {
        let rows = Distributed::counts_batch(&run.count(part).unwrap()).unwrap();
        let kinds = rows.column(0).as_primitive::<Int32Type>();
        let cols = rows.column(1).as_primitive::<Int32Type>();
        let terms = rows.column(2).as_string::<i32>();
        let counts = rows.column(3).as_primitive::<Int64Type>();
        for i in 0..rows.num_rows() {
            *summed.entry((kinds.value(i), cols.value(i), terms.value(i).to_string())).or_insert(0) +=
                counts.value(i);
        }
    }
    let mut totals: BTreeMap<(i32, i32), (i64, i64)> = BTreeMap::new();
    for ((k, c, _), n) in &summed {
        let t = totals.entry((*k, *c)).or_insert((0, 0));
        t.0 += n;
        t.1 += n * n;
    }
    let kept: Vec<(&(i32, i32, String), &i64)> = summed
        .iter()
        .filter(|((k, _, t), n)| CorpusStats::keeps(Term::from_u8(*k as u8).unwrap(), t, **n as u64))
        .collect();
    let summed_batch = RecordBatch::try_new(
        findmatches::distributed::counts_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(kept.iter().map(|(k, _)| k.0))),
            Arc::new(Int32Array::from_iter_values(kept.iter().map(|(k, _)| k.1))),
            Arc::new(StringArray::from_iter_values(kept.iter().map(|(k, _)| k.2.as_str()))),
            Arc::new(Int64Array::from_iter_values(kept.iter().map(|(_, n)| **n))),
        ],
    )
    .unwrap();
    let totals_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("kind", DataType::Int32, false),
            Field::new("column", DataType::Int32, false),
            Field::new("total", DataType::Int64, false),
            Field::new("squares", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Int32Array::from_iter_values(totals.keys().map(|k| k.0))),
            Arc::new(Int32Array::from_iter_values(totals.keys().map(|k| k.1))),
            Arc::new(Int64Array::from_iter_values(totals.values().map(|t| t.0))),
            Arc::new(Int64Array::from_iter_values(totals.values().map(|t| t.1))),
        ],
    )
    .unwrap();
    let records: u64 = norm.iter().map(|b| b.num_rows() as u64).sum();
    let stats = run.stats_from(records, &[summed_batch], &[totals_batch]).unwrap();
    (run.with_stats(Arc::new(stats)), norm)
}

fn run_in_parts(model: &MatchModel, tables: &[&RecordBatch], mode: Mode, parts: usize) -> Outcome {
    let def = model.definition.clone();
    let (run, norm) = counted(model, tables, mode, parts);
    // 4. Keys into blocks, block rows into key neighbours, each fed in two
    // batches in no order.
    let mut keyed: Vec<(i64, i64)> = Vec::new();
    for part in &norm {
        let keys = run.keys(part).unwrap();
        let (k, g) = (keys.column(0).as_primitive::<Int64Type>(), keys.column(1).as_primitive::<Int64Type>());
        keyed.extend((0..keys.num_rows()).map(|i| (k.value(i), g.value(i))));
    }
    keyed.reverse();
    let keys_in = RecordBatch::try_from_iter(vec![
        ("key", Arc::new(Int64Array::from_iter_values(keyed.iter().map(|k| k.0))) as ArrayRef),
        (GID, Arc::new(Int64Array::from_iter_values(keyed.iter().map(|k| k.1))) as ArrayRef),
    ])
    .unwrap();
    let in_two = |b: &RecordBatch| {
        let half = b.num_rows() / 2;
        [b.slice(0, half), b.slice(half, b.num_rows() - half)]
    };
    let mut blocker = run.blocker().unwrap();
    for part in in_two(&keys_in) {
        blocker.push(&part).unwrap();
    }
    let rows = blocker.finish().unwrap();
    let rows =
        arrow_select::concat::concat_batches(&findmatches::distributed::block_rows_schema(), &rows).unwrap();
    let mut ranker = run.ranker().unwrap();
    for part in in_two(&rows) {
        ranker.push(&part).unwrap();
    }
    let mut pairs: BTreeSet<(i64, i64)> = BTreeSet::new();
    let collect = |b: RecordBatch, pairs: &mut BTreeSet<(i64, i64)>| {
        let (a, c) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int64Type>());
        pairs.extend((0..b.num_rows()).map(|i| (a.value(i), c.value(i))));
    };
    collect(ranker.finish().unwrap(), &mut pairs);
    // 5. The index, for records with few key candidates.
    let fallback = run.index_fallback().unwrap();
    if fallback > 0 {
        let mut degree: HashMap<i64, usize> = HashMap::new();
        for &(a, b) in &pairs {
            *degree.entry(a).or_default() += 1;
            *degree.entry(b).or_default() += 1;
        }
        let (held, asking) = run.index_sources();
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("index");
        let of_source = |b: &RecordBatch, s: Option<u16>| {
            let src = b.column_by_name(SOURCE).unwrap().as_primitive::<Int32Type>();
            let rows: Vec<usize> =
                (0..b.num_rows()).filter(|&i| s.is_none_or(|s| src.value(i) == s as i32)).collect();
            take(b, &rows)
        };
        let indexed: Vec<RecordBatch> = norm.iter().map(|b| of_source(b, held)).collect();
        run.write_index(&at, &indexed).unwrap();
        let index = StoredIndex::open(&at).unwrap();
        for part in &norm {
            let part = of_source(part, asking);
            let g = part.column_by_name(GID).unwrap().as_primitive::<Int64Type>();
            let rows: Vec<usize> = (0..part.num_rows())
                .filter(|&i| degree.get(&g.value(i)).copied().unwrap_or(0) < fallback)
                .collect();
            collect(run.query_index(&index, &take(&part, &rows)).unwrap(), &mut pairs);
        }
    }
    // 6. Score pairs joined to both records.
    let all = arrow_select::concat::concat_batches(&normalized_schema(&def), &norm).unwrap();
    let g = all.column_by_name(GID).unwrap().as_primitive::<Int64Type>();
    let row: HashMap<i64, usize> = (0..all.num_rows()).map(|i| (g.value(i), i)).collect();
    let list: Vec<(i64, i64)> = pairs.iter().copied().collect();
    let mut scores = BTreeMap::new();
    for chunk in list.chunks(500) {
        let a = take(&all, &chunk.iter().map(|p| row[&p.0]).collect::<Vec<_>>());
        let b = take(&all, &chunk.iter().map(|p| row[&p.1]).collect::<Vec<_>>());
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for (prefix, side) in [("a_", &a), ("b_", &b)] {
            for (f, c) in side.schema().fields().iter().zip(side.columns()) {
                fields.push(Field::new(format!("{prefix}{}", f.name()), f.data_type().clone(), true));
                columns.push(c.clone());
            }
        }
        let joined = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let scored = run.score(&joined).unwrap();
        let (x, y, s) = (
            scored.column(0).as_primitive::<Int64Type>(),
            scored.column(1).as_primitive::<Int64Type>(),
            scored.column(2).as_primitive::<Float32Type>(),
        );
        for i in 0..scored.num_rows() {
            scores.insert((x.value(i), y.value(i)), s.value(i));
        }
    }
    // 7. Cluster on one machine.
    let threshold = model.threshold();
    let mut best: HashMap<i64, f32> = HashMap::new();
    for (&(a, b), &s) in &scores {
        for x in [a, b] {
            let e = best.entry(x).or_insert(0.0);
            *e = e.max(s);
        }
    }
    let edges: Vec<(&(i64, i64), &f32)> = scores.iter().filter(|(_, &s)| s >= threshold).collect();
    let edges = RecordBatch::try_from_iter(vec![
        ("a", Arc::new(Int64Array::from_iter_values(edges.iter().map(|e| e.0 .0))) as ArrayRef),
        ("b", Arc::new(Int64Array::from_iter_values(edges.iter().map(|e| e.0 .1))) as ArrayRef),
        ("score", Arc::new(Float32Array::from_iter_values(edges.iter().map(|e| *e.1))) as ArrayRef),
    ])
    .unwrap();
    let label_keys: BTreeSet<&str> =
        model.labels.iter().flat_map(|l| [l.left.as_str(), l.right.as_str()]).collect();
    let keys = all.column_by_name(KEY).unwrap().as_string::<i32>();
    let labeled_rows: Vec<usize> =
        (0..all.num_rows()).filter(|&i| label_keys.contains(keys.value(i))).collect();
    let labeled = take(&all, &labeled_rows);
    let clusterer = run.clusterer(&[edges], std::slice::from_ref(&labeled)).unwrap();
    let needed: Vec<usize> = clusterer.scored_on_demand().iter().map(|g| row[g]).collect();
    // The best scores of the labeled records only: every other record's
    // best is among the edges when it has one.
    let labeled_gids: BTreeSet<i64> =
        labeled.column_by_name(GID).unwrap().as_primitive::<Int64Type>().values().iter().copied().collect();
    let labeled_best: Vec<(i64, f32)> =
        best.iter().filter(|(g, _)| labeled_gids.contains(g)).map(|(&g, &b)| (g, b)).collect();
    let best_batch = RecordBatch::try_from_iter(vec![
        (GID, Arc::new(Int64Array::from_iter_values(labeled_best.iter().map(|x| x.0))) as ArrayRef),
        ("best", Arc::new(Float32Array::from_iter_values(labeled_best.iter().map(|x| x.1))) as ArrayRef),
    ])
    .unwrap();
    let out = clusterer.cluster(&run, &[take(&all, &needed)], &[best_batch]).unwrap();
    let (og, ol, oc) = (
        out.column(0).as_primitive::<Int64Type>(),
        out.column(1).as_primitive::<Int64Type>(),
        out.column(2).as_primitive::<Float32Type>(),
    );
    let mut clusters: BTreeMap<i64, (i64, f32)> = (0..all.num_rows())
        .map(|i| (g.value(i), (g.value(i), 1.0 - best.get(&g.value(i)).copied().unwrap_or(0.0))))
        .collect();
    for i in 0..out.num_rows() {
        clusters.insert(og.value(i), (ol.value(i), oc.value(i)));
    }
    Outcome { scores, clusters }
}

/// The one-run outcome, in the same terms.
fn run_whole(model: &MatchModel, tables: &[&RecordBatch], mode: Mode) -> Outcome {
    let matcher = Matcher::new(model.clone(), &findmatches::matcher::NoProgress);
    let named: Vec<Table> = tables.iter().map(|b| Table::from_batch("t", (*b).clone())).collect();
    let output = match mode {
        Mode::Link => matcher.link(&named[0], &named[1]).unwrap(),
        _ => matcher.dedup(&named[0]).unwrap(),
    };
    let records = &output.records;
    let sizes: Vec<usize> = tables.iter().map(|t| t.num_rows()).collect();
    let gid_of = |id: u32| {
        let (s, i) = if (id as usize) < sizes[0] { (0, id as u64) } else { (1, id as u64 - sizes[0] as u64) };
        gid(s, 7 * i + 3)
    };
    let scores = output.pairs.iter().map(|p| ((gid_of(p.pair.a), gid_of(p.pair.b)), p.score)).collect();
    let mut first: HashMap<u64, i64> = HashMap::new();
    let mut clusters = BTreeMap::new();
    for id in 0..records.len() as u32 {
        let m = output.clustering.match_ids[id as usize];
        let leader = *first.entry(m).or_insert(gid_of(id));
        clusters.insert(gid_of(id), (leader, output.clustering.confidence[id as usize]));
    }
    Outcome { scores, clusters }
}

fn customers(entities: usize, seed: u64) -> RecordBatch {
    synth::generate(&synth::SynthOptions { entities, seed, ..Default::default() }).batch
}

fn assert_same(whole: &Outcome, parts: &Outcome) {
    assert_eq!(whole.scores.len(), parts.scores.len(), "candidate pairs");
    for (pair, s) in &whole.scores {
        let t = parts.scores.get(pair).unwrap_or_else(|| panic!("pair {pair:?} missing"));
        assert_eq!(s.to_bits(), t.to_bits(), "score of {pair:?}");
    }
    assert_eq!(whole.clusters.len(), parts.clusters.len());
    for (g, (leader, conf)) in &whole.clusters {
        let (l, c) = parts.clusters[g];
        assert_eq!(*leader, l, "cluster of {g}");
        assert_eq!(conf.to_bits(), c.to_bits(), "confidence of {g}: {conf} / {c}");
    }
}

#[test]
fn dedup_in_parts_is_the_single_run() {
    let model = findmatches::bundled_model().unwrap();
    let data = customers(400, 5);
    let whole = run_whole(&model, &[&data], Mode::Dedup);
    assert!(whole.clusters.values().filter(|c| c.0 != whole.clusters.len() as i64).count() > 0);
    for parts in [1, 3, 8] {
        assert_same(&whole, &run_in_parts(&model, &[&data], Mode::Dedup, parts));
    }
}

#[test]
fn link_in_parts_is_the_single_run() {
    let model = findmatches::bundled_model().unwrap();
    let data = customers(300, 9);
    let n = data.num_rows();
    let (left, right) = (data.slice(0, n / 2), data.slice(n / 2, n - n / 2));
    let whole = run_whole(&model, &[&left, &right], Mode::Link);
    assert_same(&whole, &run_in_parts(&model, &[&left, &right], Mode::Link, 4));
}

/// Customers as free text: one line of words per record, as a citation's
/// title is, so blocking queries the index.
fn notes(entities: usize, seed: u64) -> RecordBatch {
    let data = customers(entities, seed);
    let col = |name: &str| data.column_by_name(name).unwrap().as_string::<i32>().clone();
    let (id, first, last, street, city) =
        (col("customer_id"), col("first_name"), col("last_name"), col("street"), col("city"));
    let text: Vec<String> = (0..data.num_rows())
        .map(|i| format!("{} {} of {} in {}", first.value(i), last.value(i), street.value(i), city.value(i)))
        .collect();
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(id) as ArrayRef),
        ("note", Arc::new(StringArray::from(text)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn index_neighbours_in_parts_are_the_single_run_s() {
    let data = notes(300, 17);
    let table = Table::from_batch("notes", data.clone());
    let model = findmatches::bundled_model().unwrap();
    let customers = customers(300, 17);
    for (model, data) in [
        (
            findmatches::matcher::train_unsupervised(&findmatches::infer::infer(&table).unwrap(), &[&table])
                .unwrap(),
            data,
        ),
        (model, customers),
    ] {
        let records =
            findmatches::Records::build(&model.definition, &[&Table::from_batch("t", data.clone())]).unwrap();
        let k = model.definition.tuning.index_neighbours();
        let mut whole: Vec<(i64, i64)> =
            findmatches::block::index::neighbour_pairs(&records, k, Mode::Dedup, &vec![true; records.len()])
                .unwrap()
                .iter()
                .map(|p| (gid(0, 7 * p.a as u64 + 3), gid(0, 7 * p.b as u64 + 3)))
                .collect();
        whole.sort_unstable();
        assert!(whole.len() > records.len());
        let (run, norm) = counted(&model, &[&data], Mode::Dedup, 4);
        let dir = tempfile::tempdir().unwrap();
        run.write_index(&dir.path().join("i"), &norm).unwrap();
        let index = StoredIndex::open(&dir.path().join("i")).unwrap();
        let mut parts: Vec<(i64, i64)> = Vec::new();
        for part in &norm {
            let b = run.query_index(&index, part).unwrap();
            let (x, y) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Int64Type>());
            parts.extend((0..b.num_rows()).map(|i| (x.value(i), y.value(i))));
        }
        parts.sort_unstable();
        assert_eq!(whole, parts);
    }
}

#[test]
fn the_blocking_index_in_parts_is_the_single_run() {
    let data = notes(300, 13);
    let table = Table::from_batch("notes", data.clone());
    let def = findmatches::infer::infer(&table).unwrap();
    let mut model = findmatches::matcher::train_unsupervised(&def, &[&table]).unwrap();
    // Records with fewer than five key candidates query the index.
    model.definition.tuning.accuracy_cost_tradeoff = 1.0;
    let matcher = Matcher::new(model.clone(), &findmatches::matcher::NoProgress);
    assert!(matcher.dedup(&table).unwrap().stats.blocking.index_pairs > 0, "the index is queried");
    let whole = run_whole(&model, &[&data], Mode::Dedup);
    assert_same(&whole, &run_in_parts(&model, &[&data], Mode::Dedup, 5));
    let n = data.num_rows();
    let (left, right) = (data.slice(0, n / 2), data.slice(n / 2, n - n / 2));
    let whole = run_whole(&model, &[&left, &right], Mode::Link);
    assert_same(&whole, &run_in_parts(&model, &[&left, &right], Mode::Link, 3));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn any_data_in_any_parts_is_the_single_run(seed in 0u64..1000, entities in 20usize..200, parts in 1usize..6) {
        let model = findmatches::bundled_model().unwrap();
        let data = customers(entities, seed);
        assert_same(&run_whole(&model, &[&data], Mode::Dedup), &run_in_parts(&model, &[&data], Mode::Dedup, parts));
    }
}
