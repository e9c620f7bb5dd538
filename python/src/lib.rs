//! The Python module `findmatches._findmatches`: the library's matcher,
//! Arrow in and Arrow out, through the Arrow C stream interface (a table of
//! one chunk crosses without a copy). `findmatches/__init__.py` wraps it.
//!
//! Errors are the library's, raised as `findmatches.FindMatchesError`
//! with the CLI's message (`UsageError` for how it was called, `DataError`
//! for the data).

use std::path::PathBuf;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_pyarrow::PyArrowType;
use findmatches::baseline::{shards, table_sha256, Baseline, Processed, RECORDS_SUFFIX};
use findmatches::incremental::{self, Session};
use findmatches::labels::Labels;
use findmatches::matcher::{self, Matcher, NoProgress};
use findmatches::read::BadRows;
use findmatches::{MatchModel, Table, TransformDef};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use lookups::PyLookups;

mod lookups;
mod steps;

create_exception!(_findmatches, FindMatchesError, PyException, "A findmatches error.");
create_exception!(_findmatches, UsageError, FindMatchesError, "findmatches was called wrongly.");
create_exception!(_findmatches, DataError, FindMatchesError, "The data or a file cannot be used.");

/// A library error as a Python exception, with the CLI's message.
fn raise(err: findmatches::Error) -> PyErr {
    if err.is_usage() {
        UsageError::new_err(err.to_string())
    } else {
        DataError::new_err(err.to_string())
    }
}

/// A Python table (anything with `__arrow_c_stream__`: a `pyarrow.Table`,
/// a `RecordBatchReader`) as a findmatches table named `name` in messages.
fn table(name: &str, data: PyArrowType<arrow_pyarrow::Table>) -> PyResult<Table> {
    let (mut batches, schema) = data.0.into_inner();
    // One chunk is taken as it is; several (a pyarrow.Table read in
    // blocks) are joined into the one batch a findmatches table is.
    let batch = match batches.len() {
        1 => batches.pop().expect("one batch"),
        _ => arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| DataError::new_err(format!("{name}: {e}")))?,
    };
    Ok(Table::from_batch(name, batch))
}

/// Labels as given from Python: a labeling or pairs file, or a table of
/// one (a filled-in labeling sheet, a pairs table).
enum LabelSource {
    File(PathBuf),
    Sheet(Table),
}

impl LabelSource {
    fn from_python(items: Vec<Bound<'_, PyAny>>) -> PyResult<Vec<LabelSource>> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                if item.hasattr("__arrow_c_stream__")? {
                    Ok(LabelSource::Sheet(table(&format!("labels[{i}]"), item.extract()?)?))
                } else {
                    Ok(LabelSource::File(item.extract()?))
                }
            })
            .collect()
    }

    fn read(&self, key: &str) -> findmatches::Result<Labels> {
        match self {
            LabelSource::File(path) => Labels::read(path, key),
            LabelSource::Sheet(sheet) => Labels::from_table(sheet, key),
        }
    }
}

fn read_labels(sources: &[LabelSource], key: &str) -> findmatches::Result<Vec<Labels>> {
    sources.iter().map(|s| s.read(key)).collect()
}

/// One table ("table") or the two of a link ("left", "right").
fn named(tables: Vec<PyArrowType<arrow_pyarrow::Table>>) -> PyResult<Vec<Table>> {
    let names: &[&str] = match tables.len() {
        1 => &["table"],
        2 => &["left", "right"],
        n => return Err(UsageError::new_err(format!("one table (dedup) or two (link), not {n}"))),
    };
    tables.into_iter().zip(names).map(|(t, name)| table(name, t)).collect()
}

fn to_python(batch: RecordBatch) -> PyResult<PyArrowType<arrow_pyarrow::Table>> {
    let schema = batch.schema();
    arrow_pyarrow::Table::try_new(vec![batch], schema)
        .map(PyArrowType)
        .map_err(|e| DataError::new_err(e.to_string()))
}

/// A trained matcher: a transform definition, the weights of its features
/// and a threshold.
#[pyclass(name = "Model", module = "findmatches", frozen)]
struct PyModel {
    inner: MatchModel,
}

#[pymethods]
impl PyModel {
    /// A model saved by `save` or `findmatches train`.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<PyModel> {
        MatchModel::load(&path).map(|inner| PyModel { inner }).map_err(raise)
    }

    /// The model bundled with findmatches (trained on the example customers).
    #[staticmethod]
    fn bundled() -> PyResult<PyModel> {
        findmatches::bundled_model().map(|inner| PyModel { inner }).map_err(raise)
    }

    /// Train on `tables` (one, or the two of a link) under the definition
    /// at `config` (default: inferred from the first table, as `findmatches
    /// init` does), from the labeling or pairs files `labels` (none: learn
    /// without labels), as `findmatches train` does.
    #[staticmethod]
    #[pyo3(signature = (tables, config=None, labels=Vec::new()))]
    fn train(
        py: Python<'_>,
        tables: Vec<PyArrowType<arrow_pyarrow::Table>>,
        config: Option<PathBuf>,
        labels: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<PyModel> {
        let tables = named(tables)?;
        let labels = LabelSource::from_python(labels)?;
        py.detach(|| {
            let def = match &config {
                Some(path) => TransformDef::load(path)?,
                None => findmatches::infer::infer(&tables[0])?,
            };
            let config_path = config.clone().unwrap_or_else(|| PathBuf::from("the inferred definition"));
            for t in &tables {
                def.check_headers(&t.headers(), &config_path, t.path())?;
            }
            let labels = read_labels(&labels, &def.primary_key)?;
            let refs: Vec<&Table> = tables.iter().collect();
            if labels.is_empty() {
                matcher::train_unsupervised(&def, &refs)
            } else {
                matcher::train(&def, &refs, &labels)
            }
        })
        .map(|inner| PyModel { inner })
        .map_err(raise)
    }

    /// Write the model (JSON), atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.inner.save(&path).map_err(raise)
    }

    /// Every row of `table` with a `match_id` and a `match_confidence_score`,
    /// as `findmatches dedup` writes them.
    fn dedup(
        &self,
        py: Python<'_>,
        data: PyArrowType<arrow_pyarrow::Table>,
    ) -> PyResult<PyArrowType<arrow_pyarrow::Table>> {
        let data = table("table", data)?;
        let batch = py.detach(|| -> findmatches::Result<RecordBatch> {
            let data = self.keyed(data)?;
            let output = Matcher::new(self.inner.clone(), &NoProgress).dedup(&data)?;
            matcher::output_batch(&[&data], &output)
        });
        to_python(batch.map_err(raise)?)
    }

    /// The rows of `left` and `right` with a `source` column (`names`: by
    /// default "left" and "right"; they also name the tables in errors), a
    /// `match_id` shared by rows that match and a `match_confidence_score`,
    /// as `findmatches link` writes them.
    #[pyo3(signature = (left, right, names=None))]
    fn link(
        &self,
        py: Python<'_>,
        left: PyArrowType<arrow_pyarrow::Table>,
        right: PyArrowType<arrow_pyarrow::Table>,
        names: Option<(String, String)>,
    ) -> PyResult<PyArrowType<arrow_pyarrow::Table>> {
        let (a, b) = names.unwrap_or_else(|| ("left".to_string(), "right".to_string()));
        let (left, right) = (table(&a, left)?, table(&b, right)?);
        let batch = py.detach(|| -> findmatches::Result<RecordBatch> {
            let (left, right) = (self.keyed(left)?, self.keyed(right)?);
            let output = Matcher::new(self.inner.clone(), &NoProgress).link(&left, &right)?;
            matcher::output_batch(&[&left, &right], &output)
        });
        to_python(batch.map_err(raise)?)
    }

    /// The model's quality, estimated from the labeling or pairs files
    /// `labels` on `tables` (one, or the two of a link), as `findmatches
    /// evaluate --json` prints it: JSON text.
    fn evaluate_json(
        &self,
        py: Python<'_>,
        tables: Vec<PyArrowType<arrow_pyarrow::Table>>,
        labels: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let tables = named(tables)?;
        let labels = LabelSource::from_python(labels)?;
        py.detach(|| -> findmatches::Result<String> {
            for t in &tables {
                self.inner.check_table(t)?;
            }
            let labels = read_labels(&labels, &self.inner.definition.primary_key)?;
            let refs: Vec<&Table> = tables.iter().collect();
            let evaluation = findmatches::evaluate::evaluate_labels(&self.inner, &refs, &labels)?;
            Ok(serde_json::to_string(&evaluation).expect("an evaluation serializes"))
        })
        .map_err(raise)
    }

    /// Why the records keyed `left` and `right` in `tables` scored what they
    /// did, as `findmatches explain --json` prints it: JSON text.
    fn explain_json(
        &self,
        py: Python<'_>,
        tables: Vec<PyArrowType<arrow_pyarrow::Table>>,
        left: String,
        right: String,
    ) -> PyResult<String> {
        let tables = named(tables)?;
        py.detach(|| -> findmatches::Result<String> {
            for t in &tables {
                self.inner.check_table(t)?;
            }
            let refs: Vec<&Table> = tables.iter().collect();
            let explanation = findmatches::explain::explain_keys(&self.inner, &refs, &left, &right)?;
            Ok(serde_json::to_string(&explanation).expect("an explanation serializes"))
        })
        .map_err(raise)
    }

    /// The model as JSON text, as `save` writes it.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The probability at and above which a pair is a match.
    #[getter]
    fn threshold(&self) -> f32 {
        self.inner.threshold()
    }

    /// The primary key column.
    #[getter]
    fn primary_key(&self) -> String {
        self.inner.definition.primary_key.clone()
    }

    /// The matched columns and their kinds.
    #[getter]
    fn columns(&self) -> Vec<(String, String)> {
        (self.inner.definition.columns.iter()).map(|(c, k)| (c.clone(), k.as_str().to_string())).collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(primary_key={:?}, columns={}, threshold={:.3})",
            self.inner.definition.primary_key,
            self.inner.definition.columns.len(),
            self.inner.threshold()
        )
    }
}

impl PyModel {
    /// The table checked against the model, its keys present and unique.
    fn keyed(&self, data: Table) -> findmatches::Result<Table> {
        self.inner.check_table(&data)?;
        Ok(data.with_valid_keys(&self.inner.definition.primary_key, BadRows::Fail)?.0)
    }
}

/// A persisted, clustered baseline: the records matched so far with their
/// match_ids, for incremental runs (the CLI's `dedup --baseline` and
/// `incremental`, with the same guarantees: one writer at a time, atomic
/// commits, each input folded in once).
#[pyclass(name = "Baseline", module = "findmatches", frozen)]
struct PyBaseline {
    dir: PathBuf,
}

/// What marks an in-memory table as processed: its content's SHA-256, and
/// a name for messages (`name`, or one made from the hash).
fn identity(data: &Table, name: Option<String>) -> findmatches::Result<(String, String)> {
    let sha256 = table_sha256(data)?;
    let name = name.unwrap_or_else(|| format!("table-{}", &sha256[..12]));
    Ok((sha256, name))
}

#[pymethods]
impl PyBaseline {
    /// Dedup `data` with `model` and keep the clustered records as a new
    /// baseline in `dir` (generation 1); `name` labels the table in the
    /// baseline's record of what it holds.
    #[staticmethod]
    #[pyo3(signature = (dir, model, data, name=None))]
    fn create(
        py: Python<'_>,
        dir: PathBuf,
        model: &PyModel,
        data: PyArrowType<arrow_pyarrow::Table>,
        name: Option<String>,
    ) -> PyResult<PyBaseline> {
        let data = table("table", data)?;
        py.detach(|| -> findmatches::Result<()> {
            if dir.join(findmatches::baseline::MANIFEST_FILE).exists() {
                return Err(findmatches::Error::usage(format!(
                    "{}: a baseline already exists here; match new tables with Baseline.open(dir).incremental",
                    dir.display()
                )));
            }
            let data = model.keyed(data)?;
            let output = Matcher::new(model.inner.clone(), &NoProgress).dedup(&data)?;
            let (sha256, name) = identity(&data, name)?;
            let processed = Processed { sha256, name, generation: 1, rows: data.num_rows() as u64 };
            Baseline::create(&dir, &model.inner, &data, &output.records, &output.clustering.match_ids, processed)
                .map(drop)
        })
        .map_err(raise)?;
        Ok(PyBaseline { dir })
    }

    /// A baseline made by `create` or `findmatches dedup --baseline`.
    #[staticmethod]
    fn open(dir: PathBuf) -> PyResult<PyBaseline> {
        Baseline::open(&dir).map_err(raise)?;
        Ok(PyBaseline { dir })
    }

    /// Match `data` against the baseline and within itself, then fold it in
    /// as the next generation (not with `dry_run`). Returns every new row
    /// with `match_id`, `match_confidence_score`, `match_status` and
    /// `matched_baseline_key`, as `findmatches incremental` writes them;
    /// None when a table of the same content was folded in already (unless
    /// `force`). `wait`: seconds to wait for another writer. `lookups`: an
    /// object that answers the baseline lookups (`key_rows`, `clusters`:
    /// see `findmatches.spark`) instead of this machine's files.
    #[pyo3(signature = (data, allow_merges=false, dry_run=false, force=false, name=None, wait=None, lookups=None))]
    #[allow(clippy::too_many_arguments)]
    fn incremental(
        &self,
        py: Python<'_>,
        data: PyArrowType<arrow_pyarrow::Table>,
        allow_merges: bool,
        dry_run: bool,
        force: bool,
        name: Option<String>,
        wait: Option<f64>,
        lookups: Option<Py<PyAny>>,
    ) -> PyResult<Option<PyArrowType<arrow_pyarrow::Table>>> {
        let data = table("table", data)?;
        let batch = py.detach(|| -> PyResult<Option<RecordBatch>> {
            let wait = wait.map(Duration::from_secs_f64);
            let mut session = Session::open(&self.dir, None, dry_run, wait).map_err(raise)?;
            let (sha256, name) = identity(&data, name).map_err(raise)?;
            if session.processed(&sha256).is_some() && !force {
                return Ok(None);
            }
            session.model().check_table(&data).map_err(raise)?;
            let data = data
                .with_valid_keys(&session.model().definition.primary_key, BadRows::Fail)
                .map_err(raise)?
                .0;
            let output = match lookups {
                None => session.match_new(&data, allow_merges, &NoProgress).map_err(raise)?,
                Some(object) => {
                    let lookups = PyLookups::new(object, session.baseline()).map_err(raise)?;
                    let output = session.match_new_with(&lookups, &data, allow_merges, &NoProgress);
                    // A lookup's own exception (Spark's) is raised as it is.
                    let raised = lookups.raised.lock().ok().and_then(|mut r| r.take());
                    match (output, raised) {
                        (Ok(output), _) => output,
                        (Err(_), Some(err)) => return Err(err),
                        (Err(err), None) => return Err(raise(err)),
                    }
                }
            };
            let batch = incremental::output_batch(&data, &output, false).map_err(raise)?;
            session.commit(&data, &output, sha256, name).map_err(raise)?;
            Ok(Some(batch))
        });
        batch?.map(to_python).transpose()
    }

    /// The baseline's files as Spark reads them: `columns` (stored, in
    /// order), `segments` (per generation: `generation`, `first_row`,
    /// `rows`, `records` (its Parquet file), `key_shards` (how many; 0 for
    /// generations written before shards) and `shards` (their files, in
    /// shard order)) and `merges` ((absorbed match_id, the one it is now)).
    fn layout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let baseline = Baseline::open(&self.dir).map_err(raise)?;
        let manifest = baseline.manifest();
        let segments = PyList::empty(py);
        for segment in &manifest.segments {
            let path = |name: &str| self.dir.join(name).to_string_lossy().into_owned();
            let records = segment.file(RECORDS_SUFFIX);
            let shards: Vec<String> =
                segment.dir_files(shards::SHARDS_SUFFIX).iter().map(|f| path(&f.name)).collect();
            let entry = PyDict::new(py);
            entry.set_item("generation", segment.generation)?;
            entry.set_item("first_row", segment.first_row)?;
            entry.set_item("rows", segment.rows)?;
            entry.set_item("records", records.map(|f| path(&f.name)))?;
            entry.set_item("key_shards", segment.key_shards)?;
            entry.set_item("shards", shards)?;
            segments.append(entry)?;
        }
        let merges: Vec<(u64, u64)> =
            manifest.merges.iter().map(|&(_, absorbed)| (absorbed, manifest.resolve(absorbed))).collect();
        let layout = PyDict::new(py);
        layout.set_item("columns", manifest.columns.clone())?;
        layout.set_item("primary_key", manifest.primary_key.clone())?;
        layout.set_item("segments", segments)?;
        layout.set_item("merges", merges)?;
        Ok(layout)
    }

    /// The baseline's model.
    #[getter]
    fn model(&self) -> PyResult<PyModel> {
        Ok(PyModel { inner: Baseline::open(&self.dir).map_err(raise)?.model().clone() })
    }

    /// Its generation, records and clusters, as its manifest says now.
    #[getter]
    fn generation(&self) -> PyResult<u64> {
        Ok(Baseline::open(&self.dir).map_err(raise)?.manifest().generation)
    }

    /// Records it holds.
    #[getter]
    fn records(&self) -> PyResult<u64> {
        Ok(Baseline::open(&self.dir).map_err(raise)?.manifest().records)
    }

    /// Clusters (entities) it holds.
    #[getter]
    fn clusters(&self) -> PyResult<u64> {
        Ok(Baseline::open(&self.dir).map_err(raise)?.manifest().clusters)
    }

    fn __repr__(&self) -> String {
        format!("Baseline({:?})", self.dir)
    }
}

/// Labeling sets to label, as `findmatches label generate` makes them: a
/// labeling sheet (`labeling_set_id`, an empty `label`, every column).
/// Under the definition at `config` (default: `model`'s, or inferred from
/// the first table); with a `model`, its labeled records are left out and,
/// with `uncertain` (the default when a model is given), the sets gather
/// where it is least sure.
#[pyfunction]
#[pyo3(signature = (tables, config=None, model=None, uncertain=None, sets=10, set_size=10, seed=1))]
#[allow(clippy::too_many_arguments)]
fn label_generate(
    py: Python<'_>,
    tables: Vec<PyArrowType<arrow_pyarrow::Table>>,
    config: Option<PathBuf>,
    model: Option<&PyModel>,
    uncertain: Option<bool>,
    sets: usize,
    set_size: usize,
    seed: u64,
) -> PyResult<PyArrowType<arrow_pyarrow::Table>> {
    if set_size < 2 {
        return Err(UsageError::new_err("set_size must be at least 2"));
    }
    let uncertain = uncertain.unwrap_or(model.is_some());
    if uncertain && model.is_none() {
        return Err(UsageError::new_err("uncertain sets need a model"));
    }
    let tables = named(tables)?;
    let model = model.map(|m| m.inner.clone());
    let batch = py.detach(|| -> findmatches::Result<RecordBatch> {
        let def = match (&config, &model) {
            (Some(path), _) => TransformDef::load(path)?,
            (None, Some(model)) => model.definition.clone(),
            (None, None) => findmatches::infer::infer(&tables[0])?,
        };
        let model = match (model, &config) {
            (Some(model), Some(path)) => {
                model.check_definition(&def, path)?;
                Some(model.with_tuning(def.tuning.clone()))
            }
            (model, _) => model,
        };
        let refs: Vec<&Table> = tables.iter().collect();
        let (records, sets) =
            matcher::labeling_round(&def, &refs, model.as_ref(), uncertain, sets, set_size, seed)?;
        findmatches::labels::labeling_sheet(&refs, &records, &sets, &|_| None)
    });
    to_python(batch.map_err(raise)?)
}

#[pymodule]
fn _findmatches(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_class::<PyBaseline>()?;
    m.add_function(wrap_pyfunction!(label_generate, m)?)?;
    m.add_function(wrap_pyfunction!(steps::day_votes, m)?)?;
    m.add_class::<steps::PySteps>()?;
    m.add_class::<steps::PyBlocker>()?;
    m.add_class::<steps::PyRanker>()?;
    m.add_class::<steps::PyIndex>()?;
    m.add_class::<steps::PyClusterer>()?;
    m.add("FindMatchesError", m.py().get_type::<FindMatchesError>())?;
    m.add("UsageError", m.py().get_type::<UsageError>())?;
    m.add("DataError", m.py().get_type::<DataError>())?;
    Ok(())
}
