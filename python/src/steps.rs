//! The distributed steps (`findmatches::distributed`) for
//! `findmatches.spark`: each takes and gives pyarrow record batches, and
//! runs with the GIL released.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_pyarrow::PyArrowType;
use findmatches::block::index::StoredIndex;
use findmatches::block::Mode;
use findmatches::distributed::{Blocker, Clusterer, Distributed, Ranker};
use findmatches::MatchModel;
use pyo3::prelude::*;

use crate::{raise, UsageError};

type Batch = PyArrowType<RecordBatch>;
type PyTable = PyArrowType<arrow_pyarrow::Table>;

fn batches(table: PyTable) -> Vec<RecordBatch> {
    table.0.into_inner().0
}

fn mode(name: &str) -> PyResult<Mode> {
    match name {
        "dedup" => Ok(Mode::Dedup),
        "link" => Ok(Mode::Link),
        _ => Err(UsageError::new_err(format!("mode is 'dedup' or 'link', not '{name}'"))),
    }
}

fn model(json: &str) -> PyResult<MatchModel> {
    MatchModel::from_json(json, std::path::Path::new("the model")).map_err(raise)
}

/// Votes for day-first and month-first dates in each matched column of a
/// raw batch: a list of (day_first, month_first).
#[pyfunction]
pub fn day_votes(py: Python<'_>, model_json: &str, name: &str, raw: Batch) -> PyResult<Vec<(u64, u64)>> {
    let model = model(model_json)?;
    py.detach(|| Distributed::day_votes(&model.definition, name, &raw.0)).map_err(raise)
}

/// The steps of one run of a model over parts of the data.
#[pyclass(name = "Steps", module = "findmatches", frozen)]
pub struct PySteps {
    inner: Arc<Distributed>,
}

#[pymethods]
impl PySteps {
    /// The steps of the model (its JSON) in `mode` ("dedup" or "link"),
    /// dates read month first where `month_first` says so (summed
    /// `day_votes`), with the corpus counts when given: `records` in all,
    /// `summed` counts by term and their `totals`.
    #[new]
    #[pyo3(signature = (model_json, mode_name, votes, records=None, summed=None, totals=None))]
    fn new(
        py: Python<'_>,
        model_json: &str,
        mode_name: &str,
        votes: Vec<(u64, u64)>,
        records: Option<u64>,
        summed: Option<PyTable>,
        totals: Option<PyTable>,
    ) -> PyResult<PySteps> {
        let model = model(model_json)?;
        let run =
            Distributed::new(model, mode(mode_name)?, Distributed::day_orders(&votes)).map_err(raise)?;
        let run = match (records, summed, totals) {
            (Some(records), Some(summed), Some(totals)) => {
                let (summed, totals) = (batches(summed), batches(totals));
                let stats = py.detach(|| run.stats_from(records, &summed, &totals)).map_err(raise)?;
                run.with_stats(Arc::new(stats))
            }
            (None, None, None) => run,
            _ => return Err(UsageError::new_err("records, summed and totals come together")),
        };
        Ok(PySteps { inner: Arc::new(run) })
    }

    /// Normalize a part of the raw input (gid, source, the key and the
    /// matched columns); `name` names it in errors.
    fn normalize(&self, py: Python<'_>, name: &str, raw: Batch) -> PyResult<Batch> {
        py.detach(|| self.inner.normalize(name, &raw.0)).map(PyArrowType).map_err(raise)
    }

    /// The columns of normalized records.
    fn normalized_schema(&self) -> PyArrowType<arrow_schema::Schema> {
        PyArrowType(
            findmatches::distributed::normalized_schema(&self.inner.model().definition).as_ref().clone(),
        )
    }

    /// What a part of the normalized records adds to the corpus counts:
    /// kind, column, term, count.
    fn count(&self, py: Python<'_>, normalized: Batch) -> PyResult<Batch> {
        py.detach(|| Distributed::counts_batch(&self.inner.count(&normalized.0)?))
            .map(PyArrowType)
            .map_err(raise)
    }

    /// The blocking keys of a part of the normalized records: key, gid, source.
    fn keys(&self, py: Python<'_>, normalized: Batch) -> PyResult<Batch> {
        py.detach(|| self.inner.keys(&normalized.0)).map(PyArrowType).map_err(raise)
    }

    /// Blocks larger than this are skipped.
    fn max_block(&self) -> usize {
        self.inner.max_block()
    }

    /// The model's match threshold.
    fn threshold(&self) -> f32 {
        self.inner.model().threshold()
    }

    /// Records with fewer key candidates than this query the blocking
    /// index (0: no index).
    fn index_fallback(&self) -> PyResult<usize> {
        self.inner.index_fallback().map_err(raise)
    }

    /// The source the index holds and the one that queries it (None: all).
    fn index_sources(&self) -> (Option<u16>, Option<u16>) {
        self.inner.index_sources()
    }

    /// The primary keys the model's labels name, when clustering holds
    /// them (else none).
    fn labeled_keys(&self) -> Vec<String> {
        let model = self.inner.model();
        if !model.definition.tuning.enforce_provided_labels {
            return Vec::new();
        }
        let mut keys: Vec<String> =
            model.labels.iter().flat_map(|l| [l.left.clone(), l.right.clone()]).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The labeled pairs clustering holds, between the records holding
    /// labeled keys (gid, key): a list of (a, b, is_match) by gid.
    fn label_links(&self, labeled: PyTable) -> PyResult<Vec<(i64, i64, bool)>> {
        let links = self.inner.label_links(&batches(labeled)).map_err(raise)?;
        Ok(links.into_iter().map(|l| (l.a, l.b, l.is_match)).collect())
    }

    /// A fresh maker of blocks from keys.
    fn blocker(&self) -> PyResult<PyBlocker> {
        Ok(PyBlocker { inner: self.inner.blocker().map_err(raise)? })
    }

    /// A fresh ranker of key neighbours.
    fn ranker(&self) -> PyResult<PyRanker> {
        Ok(PyRanker { inner: self.inner.ranker().map_err(raise)? })
    }

    /// Write the blocking index of the normalized records in `table` into
    /// the new directory `dir`.
    fn write_index(&self, py: Python<'_>, dir: PathBuf, table: PyTable) -> PyResult<()> {
        let parts = batches(table);
        py.detach(|| self.inner.write_index(&dir, &parts)).map_err(raise)
    }

    /// The index neighbours of the normalized records in a batch: a, b.
    fn query_index(&self, py: Python<'_>, index: &PyIndex, normalized: Batch) -> PyResult<Batch> {
        py.detach(|| self.inner.query_index(&index.inner, &normalized.0)).map(PyArrowType).map_err(raise)
    }

    /// Score candidate pairs joined to both records (a_*, b_* columns):
    /// a, b, score.
    fn score(&self, py: Python<'_>, joined: Batch) -> PyResult<Batch> {
        py.detach(|| self.inner.score(&joined.0)).map(PyArrowType).map_err(raise)
    }

    /// A clusterer over the pairs at or above the threshold (a, b, score)
    /// and the records holding labeled keys (gid, key).
    fn clusterer(&self, py: Python<'_>, edges: PyTable, labeled: PyTable) -> PyResult<PyClusterer> {
        let (edges, labeled) = (batches(edges), batches(labeled));
        py.detach(|| self.inner.clusterer(&edges, &labeled))
            .map(|inner| PyClusterer { inner, steps: Arc::clone(&self.inner) })
            .map_err(raise)
    }
}

/// Makes blocks of keys (key, gid rows of whole keys, in any order): rows
/// gid, weight, others for each member of each block.
#[pyclass(name = "Blocker", module = "findmatches")]
pub struct PyBlocker {
    inner: Blocker,
}

#[pymethods]
impl PyBlocker {
    /// Take more rows.
    fn push(&mut self, py: Python<'_>, batch: Batch) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.push(&batch.0)).map_err(raise)
    }

    /// The rows of every block, in batches.
    fn finish(&mut self, py: Python<'_>) -> PyResult<Vec<Batch>> {
        let inner = &mut self.inner;
        py.detach(|| inner.finish()).map(|b| b.into_iter().map(PyArrowType).collect()).map_err(raise)
    }
}

/// Keeps each record's best key neighbours from its blocks' rows (gid,
/// weight, others: all rows of a record, in any order).
#[pyclass(name = "Ranker", module = "findmatches")]
pub struct PyRanker {
    inner: Ranker,
}

#[pymethods]
impl PyRanker {
    /// Take more rows.
    fn push(&mut self, py: Python<'_>, batch: Batch) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.push(&batch.0)).map_err(raise)
    }

    /// The pairs of every record's kept neighbours: a, b.
    fn finish(&mut self, py: Python<'_>) -> PyResult<Batch> {
        let inner = &mut self.inner;
        py.detach(|| inner.finish()).map(PyArrowType).map_err(raise)
    }
}

/// A blocking index written by `Steps.write_index`, opened read-only.
#[pyclass(name = "Index", module = "findmatches", frozen)]
pub struct PyIndex {
    inner: StoredIndex,
}

#[pymethods]
impl PyIndex {
    /// Open the index in `dir`.
    #[new]
    fn new(dir: PathBuf) -> PyResult<PyIndex> {
        StoredIndex::open(&dir).map(|inner| PyIndex { inner }).map_err(raise)
    }
}

/// Clusters the records that pairs at or above the threshold join.
#[pyclass(name = "Clusterer", module = "findmatches", frozen)]
pub struct PyClusterer {
    inner: Clusterer,
    steps: Arc<Distributed>,
}

#[pymethods]
impl PyClusterer {
    /// The gids of the records it clusters (those of the pairs and the
    /// labeled ones), ascending.
    fn gids(&self) -> Vec<i64> {
        self.inner.gids().to_vec()
    }

    /// The gids of the records whose normalized rows clustering needs.
    fn scored_on_demand(&self) -> Vec<i64> {
        self.inner.scored_on_demand()
    }

    /// Cluster with those rows and each record's best score (gid, best):
    /// gid, leader, confidence of each record joined to another.
    fn cluster(&self, py: Python<'_>, rows: PyTable, best: PyTable) -> PyResult<Batch> {
        let (rows, best) = (batches(rows), batches(best));
        py.detach(|| self.inner.cluster(&self.steps, &rows, &best)).map(PyArrowType).map_err(raise)
    }
}
