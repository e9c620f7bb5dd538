//! The manifest: the one file that says what a baseline is. Writing a new
//! manifest (atomically, after every file it names is durable) is the
//! commit; the files it names are never rewritten.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The manifest's file name in a baseline directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The baseline format this build writes. Version 3 added key shards;
/// a version 2 baseline is read (its generations have none) and written
/// as version 3 at its next commit.
pub const BASELINE_FORMAT_VERSION: u32 = 3;
/// The oldest baseline format this build reads.
pub const OLDEST_BASELINE_FORMAT: u32 = 2;

/// A file of a segment, with what it should be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name within the baseline directory.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of its content (hex).
    pub sha256: String,
}

/// The records one generation added, and the files that hold them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The generation that wrote it.
    pub generation: u64,
    /// Baseline row of its first record (rows count across generations).
    pub first_row: u64,
    /// Records in it.
    pub rows: u64,
    /// Its files: records (Parquet), row store, key table, member table,
    /// key shards (Parquet, see [`shards`](super::shards)), blocking index.
    pub files: Vec<FileEntry>,
    /// How many key shards it has (0: written before there were any).
    #[serde(default)]
    pub key_shards: u32,
}

impl Segment {
    /// The file of this segment whose name ends with `suffix`.
    pub fn file(&self, suffix: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name.ends_with(suffix))
    }

    /// The directory of this segment's files whose directory name ends
    /// with `suffix` (its blocking index, its key shards), if it has one.
    pub fn dir(&self, suffix: &str) -> Option<&str> {
        self.files
            .iter()
            .find_map(|f| f.name.split_once('/').map(|(dir, _)| dir).filter(|d| d.ends_with(suffix)))
    }

    /// The files of this segment's directory whose name ends with `suffix`
    /// (its key shards: in shard order), as named in the manifest.
    pub fn dir_files(&self, suffix: &str) -> Vec<&FileEntry> {
        match self.dir(suffix) {
            Some(dir) => self
                .files
                .iter()
                .filter(|f| f.name.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// An input file folded into the baseline (a bookmark).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processed {
    /// SHA-256 of the file's content (hex).
    pub sha256: String,
    /// The file's name when it was processed.
    pub name: String,
    /// The generation it went into.
    pub generation: u64,
    /// Its records.
    pub rows: u64,
}

/// What a baseline holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`BASELINE_FORMAT_VERSION`].
    pub format_version: u32,
    /// Commits so far (1 after creation).
    pub generation: u64,
    /// Fingerprint of the model the baseline was clustered with.
    pub model_fingerprint: String,
    /// The primary key column.
    pub primary_key: String,
    /// The stored columns, in order (match_id comes on top in segments).
    pub columns: Vec<String>,
    /// Whether every generation has a tantivy blocking index (decided when
    /// the baseline is created: see [`Blocking::uses_index`](crate::block::Blocking::uses_index)).
    pub indexed: bool,
    /// Records in all segments.
    pub records: u64,
    /// Distinct match_ids.
    pub clusters: u64,
    /// The next unused match_id.
    pub next_match_id: u64,
    /// Record files, oldest first.
    pub segments: Vec<Segment>,
    /// Baseline clusters merged by `--allow-merges`: (kept, absorbed).
    pub merges: Vec<(u64, u64)>,
    /// Input files folded in, oldest first.
    pub processed: Vec<Processed>,
}

impl Manifest {
    /// Parse a manifest; `path` names it in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Manifest> {
        crate::error::parse_versioned(
            text,
            path,
            OLDEST_BASELINE_FORMAT,
            BASELINE_FORMAT_VERSION,
            "baseline manifest",
        )
    }

    /// The manifest as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The match_id a stored id now stands for, after merges.
    pub fn resolve(&self, mut id: u64) -> u64 {
        // Merges are few; follow the chain (kept ids are always smaller).
        while let Some(&(kept, _)) = self.merges.iter().find(|(_, absorbed)| *absorbed == id) {
            id = kept;
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_versions_and_truncated_manifests_are_refused() {
        let path = Path::new("manifest.json");
        let err = Manifest::from_json(r#"{"format_version": 99}"#, path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest.json: baseline manifest format version 99; this findmatches reads version 3"
        );
        let err = Manifest::from_json(r#"{"format_version": 1}"#, path).unwrap_err();
        assert!(err.to_string().contains("format version 1;"), "{err}");
        let err = Manifest::from_json(r#"{"format_version": 2, "generation": 3"#, path).unwrap_err();
        assert!(err.to_string().starts_with("manifest.json: corrupt"), "{err}");
    }

    #[test]
    fn a_segment_written_before_key_shards_reads_as_having_none() {
        let old = r#"{"generation": 1, "first_row": 0, "rows": 2, "files": [
            {"name": "g000001.index/meta.json", "bytes": 10, "sha256": "ab"}]}"#;
        let segment: Segment = serde_json::from_str(old).unwrap();
        assert_eq!(segment.key_shards, 0);
        assert_eq!(segment.dir(".index"), Some("g000001.index"));
        assert_eq!(segment.dir(".keys"), None);
    }
}
