//! The Python module `findmatches._findmatches`: the library's matcher,
//! Arrow in and Arrow out, through the Arrow C stream interface (no copy of
//! the data on the way in or out). `findmatches/__init__.py` wraps it.
//!
//! Errors are the library's, raised as `findmatches.FindMatchesError`
//! with the CLI's message (`UsageError` for how it was called, `DataError`
//! for the data).

use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_pyarrow::PyArrowType;
use findmatches::block::Mode;
use findmatches::labels::Labels;
use findmatches::matcher::{self, Matcher, NoProgress};
use findmatches::read::BadRows;
use findmatches::{MatchModel, Records, Table, TransformDef};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

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
    let (batches, schema) = data.0.into_inner();
    let batch = arrow_select::concat::concat_batches(&schema, &batches)
        .map_err(|e| DataError::new_err(format!("{name}: {e}")))?;
    Ok(Table::from_batch(name, batch))
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
        labels: Vec<PathBuf>,
    ) -> PyResult<PyModel> {
        let tables = named(tables)?;
        py.detach(|| {
            let def = match &config {
                Some(path) => TransformDef::load(path)?,
                None => findmatches::infer::infer(&tables[0])?,
            };
            let config_path = config.clone().unwrap_or_else(|| PathBuf::from("the inferred definition"));
            for t in &tables {
                def.check_headers(&t.headers(), &config_path, t.path())?;
            }
            let labels =
                labels.iter().map(|p| Labels::read(p, &def.primary_key)).collect::<Result<Vec<_>, _>>()?;
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

    /// The rows of `left` and `right` with a `source` column ("left" or
    /// "right"), a `match_id` shared by rows that match and a
    /// `match_confidence_score`, as `findmatches link` writes them.
    fn link(
        &self,
        py: Python<'_>,
        left: PyArrowType<arrow_pyarrow::Table>,
        right: PyArrowType<arrow_pyarrow::Table>,
    ) -> PyResult<PyArrowType<arrow_pyarrow::Table>> {
        let (left, right) = (table("left", left)?, table("right", right)?);
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
        labels: Vec<PathBuf>,
    ) -> PyResult<String> {
        let tables = named(tables)?;
        py.detach(|| -> findmatches::Result<String> {
            let def = &self.inner.definition;
            for t in &tables {
                self.inner.check_table(t)?;
            }
            let labels =
                labels.iter().map(|p| Labels::read(p, &def.primary_key)).collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&Table> = tables.iter().collect();
            let records = Records::build(def, &refs)?;
            let labeled = matcher::labeled_pairs(&records, &labels)?;
            let mode = if tables.len() > 1 { Mode::Link } else { Mode::Dedup };
            let evaluation = findmatches::evaluate::evaluate(&self.inner, &records, &labeled, mode)?;
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
            let records = Records::build(&self.inner.definition, &refs)?;
            let (a, b) = (
                findmatches::explain::record_of(&records, left.trim())?,
                findmatches::explain::record_of(&records, right.trim())?,
            );
            let explanation = findmatches::explain::explain(&self.inner, &records, a, b);
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

#[pymodule]
fn _findmatches(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add("FindMatchesError", m.py().get_type::<FindMatchesError>())?;
    m.add("UsageError", m.py().get_type::<UsageError>())?;
    m.add("DataError", m.py().get_type::<DataError>())?;
    Ok(())
}
