//! A baseline looked up by Python: the library's [`BaselineLookups`]
//! answered by an object with two methods (`findmatches.spark` answers
//! them with Spark over the baseline's Parquet files):
//!
//! - `key_rows(keys: pa.Array[uint64], cap: int) -> pa.Table` with columns
//!   `key` (uint64) and `row` (uint32): each baseline row holding a key,
//!   and a null row for a key more than `cap` rows hold (the answer may
//!   come in parts: a key with more than `cap` rows in all, or a null
//!   among them, is too common);
//! - `clusters(rows: pa.Array[uint32]) -> pa.Table` with `row`,
//!   `match_id` (current, merges applied) and the baseline's stored
//!   columns: the rows asked for and every other member of their clusters.
//!
//! The blocking index, a directory of the baseline, is read where it lies.

use std::sync::{Arc, Mutex};

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_pyarrow::PyArrowType;
use arrow_schema::{DataType, Field, Schema};
use findmatches::baseline::{Baseline, BaselineLookups, BaselineReader};
use findmatches::record::RecordId;
use findmatches::{Error, Records, Result, Table};
use pyo3::prelude::*;

/// Lookups answered by a Python object.
pub struct PyLookups<'b> {
    object: Py<PyAny>,
    /// For the blocking index.
    local: BaselineReader<'b>,
    /// The baseline's stored columns, in order.
    columns: Vec<String>,
    /// What the records fetched are called in messages.
    name: std::path::PathBuf,
    /// The first Python exception a lookup raised, to raise again as it is.
    pub raised: Mutex<Option<PyErr>>,
}

impl<'b> PyLookups<'b> {
    pub fn new(object: Py<PyAny>, baseline: &'b Baseline) -> Result<PyLookups<'b>> {
        Ok(PyLookups {
            object,
            local: baseline.reader()?,
            columns: baseline.manifest().columns.clone(),
            name: baseline.dir().join("baseline"),
            raised: Mutex::new(None),
        })
    }

    /// Call `method` with `args`; the table it returns, as one batch.
    fn call(
        &self,
        method: &str,
        args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>>,
    ) -> Result<RecordBatch> {
        let answer = Python::attach(|py| -> PyResult<RecordBatch> {
            let args = args(py)?;
            let table: PyArrowType<arrow_pyarrow::Table> =
                self.object.bind(py).call_method1(method, args)?.extract()?;
            let (batches, schema) = table.0.into_inner();
            arrow_select::concat::concat_batches(&schema, &batches)
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
        });
        answer.map_err(|e| {
            let said = format!("looking up the baseline ({method}): {e}");
            if let Ok(mut raised) = self.raised.lock() {
                raised.get_or_insert(e);
            }
            Error::usage(said)
        })
    }
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str, method: &str) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::usage(format!("{method} answered without a column {name} of the type asked")))
}

impl BaselineLookups for PyLookups<'_> {
    fn key_rows_of(&self, keys: &[u64], cap: usize) -> Result<Vec<Option<Vec<u32>>>> {
        let array = UInt64Array::from(keys.to_vec()).into_data();
        let cap = cap.min(i64::MAX as usize);
        let batch = self.call("key_rows", |py| (PyArrowType(array), cap).into_pyobject(py))?;
        let (found, rows) = (
            column::<UInt64Array>(&batch, "key", "key_rows")?,
            column::<UInt32Array>(&batch, "row", "key_rows")?,
        );
        let mut answers: Vec<Option<Vec<u32>>> = vec![Some(Vec::new()); keys.len()];
        for i in 0..batch.num_rows() {
            let Ok(at) = keys.binary_search(&found.value(i)) else {
                return Err(Error::usage(format!("key_rows answered key {} not asked for", found.value(i))));
            };
            match (&mut answers[at], rows.is_null(i)) {
                (_, true) => answers[at] = None,
                (Some(list), false) => list.push(rows.value(i)),
                (None, false) => {}
            }
        }
        // A key's rows may come in parts (a shard per generation): past
        // the cap in all, it is too common to block on.
        for answer in answers.iter_mut() {
            match answer {
                Some(list) if list.len() > cap => *answer = None,
                Some(list) => list.sort_unstable(),
                None => {}
            }
        }
        Ok(answers)
    }

    fn clusters_of(&self, rows: &[u32]) -> Result<(Vec<u32>, Table, Vec<u64>)> {
        let array = UInt32Array::from(rows.to_vec()).into_data();
        let batch = self.call("clusters", |py| (PyArrowType(array),).into_pyobject(py))?;
        let found = column::<UInt32Array>(&batch, "row", "clusters")?;
        let ids = column::<UInt64Array>(&batch, "match_id", "clusters")?;
        let mut order: Vec<usize> = (0..batch.num_rows()).collect();
        order.sort_by_key(|&i| found.value(i));
        let take = UInt32Array::from(order.iter().map(|&i| i as u32).collect::<Vec<_>>());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for name in &self.columns {
            let values = column::<StringArray>(&batch, name, "clusters")?;
            columns.push(
                arrow_select::take::take(values, &take, None).map_err(|e| Error::usage(e.to_string()))?,
            );
        }
        let schema =
            Schema::new(self.columns.iter().map(|c| Field::new(c, DataType::Utf8, true)).collect::<Vec<_>>());
        let table =
            RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| Error::usage(e.to_string()))?;
        let sorted: Vec<u32> = order.iter().map(|&i| found.value(i)).collect();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::usage("clusters answered a row twice"));
        }
        Ok((
            sorted,
            Table::from_batch(self.name.clone(), table),
            order.iter().map(|&i| ids.value(i)).collect(),
        ))
    }

    fn index_neighbours(&self, records: &Records, id: RecordId, k: usize) -> Result<Vec<u32>> {
        self.local.index_neighbours(records, id, k)
    }
}
