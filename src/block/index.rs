//! The blocking index: tantivy over each record's words and the character
//! trigrams of its names; each record's top-k most similar records are
//! candidates.
//!
//! Words that more than [`MAX_DF_SHARE`] of the records hold say little
//! and make queries slow, so queries leave them out.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use tantivy::collector::TopDocs;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::{Index, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::Mode;
use crate::config::ColumnKind;
use crate::durable::sync_dir;
use crate::error::{Error, Result};
use crate::record::{CandidatePair, RecordId, Records};

/// Words held by more than this share of records are left out of queries.
const MAX_DF_SHARE: f64 = 0.02;
/// ... unless the data is so small that this many records is still rare.
const MIN_DF_CAP: u32 = 20;
/// Memory budget of the index writer.
const WRITER_MEMORY: usize = 64 << 20;

fn tantivy_error(e: tantivy::TantivyError) -> Error {
    Error::usage(format!("blocking index: {e}"))
}

struct Fields {
    row: Field,
    words: Field,
    grams: Field,
}

/// The words and name trigrams of record `id`.
fn record_terms(records: &Records, id: RecordId, words: &mut Vec<String>, grams: &mut Vec<String>) {
    words.clear();
    grams.clear();
    let set = records.words();
    words.extend(set.get(id as usize).iter().map(|&t| set.token(t).to_string()));
    for column in records.columns() {
        match column.kind() {
            ColumnKind::Name => {
                for word in column.value(id).split(' ').filter(|w| w.len() >= 3) {
                    let b = word.as_bytes();
                    for w in b.windows(3) {
                        grams.push(String::from_utf8_lossy(w).into_owned());
                    }
                }
            }
            ColumnKind::Email => {
                let local = column.value(id).split('@').next().unwrap_or("");
                if local.len() >= 3 {
                    words.push(local.chars().filter(char::is_ascii_alphanumeric).collect());
                }
            }
            _ => {}
        }
    }
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let indexing =
        TextFieldIndexing::default().set_tokenizer("raw").set_index_option(IndexRecordOption::WithFreqs);
    let text = TextOptions::default().set_indexing_options(indexing);
    let fields = Fields {
        row: builder.add_u64_field("row", FAST | INDEXED),
        words: builder.add_text_field("words", text.clone()),
        grams: builder.add_text_field("grams", text),
    };
    (builder.build(), fields)
}

/// Add records `ids` to a new `index`, each document holding `row(id)`.
fn fill(
    index: &Index,
    fields: &Fields,
    records: &Records,
    ids: Range<usize>,
    row: &dyn Fn(usize) -> u64,
) -> Result<()> {
    // One writer thread: the segment layout, and so the order of tied
    // neighbours, is then the same whatever the thread count.
    let mut writer: IndexWriter = index.writer_with_num_threads(1, WRITER_MEMORY).map_err(tantivy_error)?;
    let (mut words, mut grams) = (Vec::new(), Vec::new());
    for id in ids {
        record_terms(records, id as RecordId, &mut words, &mut grams);
        let mut doc = TantivyDocument::default();
        doc.add_u64(fields.row, row(id));
        for w in &words {
            doc.add_text(fields.words, w);
        }
        for g in &grams {
            doc.add_text(fields.grams, g);
        }
        writer.add_document(doc).map_err(tantivy_error)?;
    }
    writer.commit().map_err(tantivy_error)?;
    writer.wait_merging_threads().map_err(tantivy_error)
}

/// A searchable index: its searcher, fields and each segment's `row`
/// column.
struct Searchable {
    searcher: Searcher,
    fields: Fields,
    rows: Vec<tantivy::columnar::Column<u64>>,
    max_df: u64,
}

impl Searchable {
    fn new(index: &Index, fields: Fields) -> Result<Searchable> {
        let reader =
            index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(tantivy_error)?;
        let searcher = reader.searcher();
        let rows = searcher
            .segment_readers()
            .iter()
            .map(|s| s.fast_fields().u64("row").map_err(tantivy_error))
            .collect::<Result<Vec<_>>>()?;
        let max_df = ((searcher.num_docs() as f64 * MAX_DF_SHARE) as u32).max(MIN_DF_CAP) as u64;
        Ok(Searchable { searcher, fields, rows, max_df })
    }

    /// The `limit` documents most similar to record `id` of `records`:
    /// (BM25 score, row), best first.
    fn similar(
        &self,
        records: &Records,
        id: RecordId,
        limit: usize,
        scratch: &mut (Vec<String>, Vec<String>),
    ) -> Result<Vec<(f32, u64)>> {
        let (words, grams) = scratch;
        record_terms(records, id, words, grams);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, terms) in [(self.fields.words, &*words), (self.fields.grams, &*grams)] {
            for t in terms {
                let term = Term::from_field_text(field, t);
                if self.searcher.doc_freq(&term).map_err(tantivy_error)? <= self.max_df {
                    clauses
                        .push((Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))));
                }
            }
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let top = self
            .searcher
            .search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit).order_by_score())
            .map_err(tantivy_error)?;
        Ok(top
            .into_iter()
            .filter_map(|(score, addr)| {
                Some((score, self.rows[addr.segment_ord as usize].first(addr.doc_id)?))
            })
            .collect())
    }
}

/// For every record with `wanted[record]`, its `k` most similar records by
/// the index, as pairs.
pub fn neighbour_pairs(
    records: &Records,
    k: usize,
    mode: Mode,
    wanted: &[bool],
) -> Result<Vec<CandidatePair>> {
    if records.len() < 2 || k == 0 {
        return Ok(Vec::new());
    }
    let (indexed, queried) = match mode {
        Mode::Dedup => (0..records.len(), 0..records.len()),
        Mode::Link => (records.source_range(1), records.source_range(0)),
        Mode::Incremental => (0..records.len(), records.source_range(1)),
    };
    let queried: Vec<usize> = queried.filter(|&i| wanted[i]).collect();
    if queried.is_empty() {
        return Ok(Vec::new());
    }
    let (schema, fields) = schema();
    let index = Index::create_in_ram(schema);
    fill(&index, &fields, records, indexed.clone(), &|id| id as u64)?;
    let searchable = Searchable::new(&index, fields)?;
    let limit = k + usize::from(mode != Mode::Link);
    let sources = records.sources();
    let results: Vec<Result<Vec<CandidatePair>>> = queried
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |scratch, id| {
                let id = id as RecordId;
                Ok(searchable
                    .similar(records, id, limit, scratch)?
                    .into_iter()
                    .map(|(_, other)| other as RecordId)
                    .filter(|&other| {
                        other != id && mode.allows(sources[id as usize], sources[other as usize])
                    })
                    .map(|other| CandidatePair::new(id, other))
                    .collect())
            },
        )
        .collect();
    let mut pairs = Vec::new();
    for r in results {
        pairs.extend(r?);
    }
    Ok(pairs)
}

/// Write the blocking index of records `ids` into `dir` (absent or empty),
/// each record's document holding its row, numbered from `first_row`;
/// every file is synced. Returns the files' names.
pub fn write_index(dir: &Path, records: &Records, ids: Range<usize>, first_row: u64) -> Result<Vec<String>> {
    let start = ids.start;
    write_index_with(dir, records, ids, &|id| first_row + (id - start) as u64)
}

/// Write the blocking index of all `records` into `dir` (absent or empty),
/// record `i`'s document holding row `rows[i]`, as [`write_index`] does.
pub fn write_index_rows(dir: &Path, records: &Records, rows: &[u64]) -> Result<Vec<String>> {
    if rows.len() != records.len() {
        return Err(Error::usage(format!("{} rows for {} records", rows.len(), records.len())));
    }
    write_index_with(dir, records, 0..records.len(), &|id| rows[id])
}

fn write_index_with(
    dir: &Path,
    records: &Records,
    ids: Range<usize>,
    row: &dyn Fn(usize) -> u64,
) -> Result<Vec<String>> {
    let io = |e| Error::io(dir, e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let (schema, fields) = schema();
    let index = Index::create_in_dir(dir, schema).map_err(tantivy_error)?;
    fill(&index, &fields, records, ids, row)?;
    drop(index);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".lock") {
            // The writer's lock files, left behind: nothing needs them.
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            continue;
        }
        std::fs::File::open(entry.path())
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(entry.path(), e))?;
        names.push(name);
    }
    sync_dir(dir).map_err(io)?;
    names.sort();
    Ok(names)
}

/// A blocking index written by [`write_index`], opened read-only (no lock
/// files, no writes: a baseline may be read by several runs at once).
pub struct StoredIndex {
    searchable: Searchable,
}

impl StoredIndex {
    /// Open the index in `dir`.
    pub fn open(dir: &Path) -> Result<StoredIndex> {
        let bad = |e: tantivy::TantivyError| Error::corrupt(dir, format!("blocking index: {e}"));
        let directory = ReadOnly(MmapDirectory::open(dir).map_err(|e| Error::corrupt(dir, e.to_string()))?);
        let index = Index::open(directory).map_err(bad)?;
        let (_, fields) = schema();
        Ok(StoredIndex {
            searchable: Searchable::new(&index, fields).map_err(|e| Error::corrupt(dir, e.to_string()))?,
        })
    }

    /// The `k` stored rows most similar to record `id` of `records`:
    /// (BM25 score, row), best first.
    pub fn similar(&self, records: &Records, id: RecordId, k: usize) -> Result<Vec<(f32, u32)>> {
        Ok(self.similar_rows(records, id, k)?.into_iter().map(|(s, r)| (s, r as u32)).collect())
    }

    /// [`StoredIndex::similar`] with rows of any size.
    pub fn similar_rows(&self, records: &Records, id: RecordId, k: usize) -> Result<Vec<(f32, u64)>> {
        let mut scratch = (Vec::new(), Vec::new());
        self.searchable.similar(records, id, k, &mut scratch)
    }
}

/// A directory that only reads: locks are no-ops and writes fail.
#[derive(Clone, Debug)]
struct ReadOnly(MmapDirectory);

impl Directory for ReadOnly {
    fn get_file_handle(&self, path: &Path) -> std::result::Result<Arc<dyn FileHandle>, OpenReadError> {
        self.0.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> std::result::Result<(), DeleteError> {
        Err(DeleteError::IoError { io_error: Arc::new(read_only()), filepath: path.to_path_buf() })
    }

    fn exists(&self, path: &Path) -> std::result::Result<bool, OpenReadError> {
        self.0.exists(path)
    }

    fn open_write(&self, path: &Path) -> std::result::Result<WritePtr, OpenWriteError> {
        Err(OpenWriteError::wrap_io_error(read_only(), path.to_path_buf()))
    }

    fn atomic_read(&self, path: &Path) -> std::result::Result<Vec<u8>, OpenReadError> {
        self.0.atomic_read(path)
    }

    fn atomic_write(&self, _path: &Path, _data: &[u8]) -> std::io::Result<()> {
        Err(read_only())
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn acquire_lock(&self, _lock: &Lock) -> std::result::Result<DirectoryLock, LockError> {
        Ok(DirectoryLock::from(Box::new(())))
    }

    fn watch(&self, _callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        Ok(WatchHandle::empty())
    }
}

fn read_only() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, "a stored blocking index is read-only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransformDef;
    use crate::read::Table;
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    fn papers(titles: &[&str]) -> Records {
        let def = TransformDef::from_toml(
            "primary_key = \"id\"\n[columns]\ntitle = \"text\"\n",
            Path::new("def.toml"),
        )
        .unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("title", DataType::Utf8, true),
        ]));
        let ids: Vec<String> = (0..titles.len()).map(|i| format!("p{i}")).collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(ids)), Arc::new(StringArray::from(titles.to_vec()))],
        )
        .unwrap();
        Records::build(&def, &[&Table::from_batch("papers", batch)]).unwrap()
    }

    #[test]
    fn a_stored_index_finds_similar_records_by_row_and_stays_read_only() {
        let records = papers(&[
            "fast record linkage with blocking indexes",
            "a survey of entity resolution",
            "learning to match product offers",
            "entity resolution on a budget",
        ]);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("g000002.index");
        let files = write_index(&dir, &records, 1..4, 100).unwrap();
        assert!(files.contains(&"meta.json".to_string()), "{files:?}");
        let index = StoredIndex::open(&dir).unwrap();
        let query = papers(&["entity resolution survey"]);
        let found = index.similar(&query, 0, 2).unwrap();
        let rows: Vec<u32> = found.iter().map(|f| f.1).collect();
        assert_eq!(rows, vec![100, 102], "records 1 and 3, as rows from 100");
        assert!(found[0].0 > found[1].0);
        // Reading wrote nothing (no lock files): a baseline may be shared.
        let mut now: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        now.sort();
        assert_eq!(now, files);
    }
}
