//! The blocking index: tantivy over each record's words and the character
//! trigrams of its names; each record's top-k most similar records are
//! candidates.
//!
//! Words that more than [`MAX_DF_SHARE`] of the records hold say little
//! and make queries slow, so queries leave them out.

use rayon::prelude::*;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

use super::Mode;
use crate::compare::CandidatePair;
use crate::config::ColumnKind;
use crate::error::{Error, Result};
use crate::record::{RecordId, Records};

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

fn build_index(records: &Records, ids: std::ops::Range<usize>) -> Result<(Index, Fields)> {
    let mut builder = Schema::builder();
    let indexing =
        TextFieldIndexing::default().set_tokenizer("raw").set_index_option(IndexRecordOption::WithFreqs);
    let text = TextOptions::default().set_indexing_options(indexing);
    let fields = Fields {
        row: builder.add_u64_field("row", FAST | INDEXED),
        words: builder.add_text_field("words", text.clone()),
        grams: builder.add_text_field("grams", text),
    };
    let index = Index::create_in_ram(builder.build());
    // One writer thread: the segment layout, and so the order of tied
    // neighbours, is then the same whatever the thread count.
    let threads = 1;
    let mut writer: IndexWriter = index
        .writer_with_num_threads(threads, WRITER_MEMORY.max((threads * 16) << 20))
        .map_err(tantivy_error)?;
    let (mut words, mut grams) = (Vec::new(), Vec::new());
    for id in ids {
        record_terms(records, id as RecordId, &mut words, &mut grams);
        let mut doc = TantivyDocument::default();
        doc.add_u64(fields.row, id as u64);
        for w in &words {
            doc.add_text(fields.words, w);
        }
        for g in &grams {
            doc.add_text(fields.grams, g);
        }
        writer.add_document(doc).map_err(tantivy_error)?;
    }
    writer.commit().map_err(tantivy_error)?;
    Ok((index, fields))
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
    let n_indexed = indexed.len();
    let (index, fields) = build_index(records, indexed)?;
    let reader = index.reader().map_err(tantivy_error)?;
    let searcher = reader.searcher();
    let rows = searcher
        .segment_readers()
        .iter()
        .map(|s| s.fast_fields().u64("row").map_err(tantivy_error))
        .collect::<Result<Vec<_>>>()?;
    let max_df = ((n_indexed as f64 * MAX_DF_SHARE) as u32).max(MIN_DF_CAP) as u64;
    let limit = k + usize::from(mode != Mode::Link);
    let sources = records.sources();
    let results: Vec<Result<Vec<CandidatePair>>> = queried
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(words, grams), id| {
                let id = id as RecordId;
                record_terms(records, id, words, grams);
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (field, terms) in [(fields.words, &*words), (fields.grams, &*grams)] {
                    for t in terms {
                        let term = Term::from_field_text(field, t);
                        if searcher.doc_freq(&term).map_err(tantivy_error)? <= max_df {
                            clauses.push((
                                Occur::Should,
                                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                            ));
                        }
                    }
                }
                if clauses.is_empty() {
                    return Ok(Vec::new());
                }
                let query = BooleanQuery::new(clauses);
                let top = searcher
                    .search(&query, &TopDocs::with_limit(limit).order_by_score())
                    .map_err(tantivy_error)?;
                Ok(top
                    .into_iter()
                    .filter_map(|(_, addr)| {
                        let other = rows[addr.segment_ord as usize].first(addr.doc_id)? as RecordId;
                        (other != id && mode.allows(sources[id as usize], sources[other as usize]))
                            .then(|| CandidatePair::new(id, other))
                    })
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
