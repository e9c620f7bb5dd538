//! Durable files: every file findmatches writes goes through
//! [`atomic_write`]. The bytes go to a temporary file in the target's own
//! directory (a rename is only atomic within one filesystem), are synced,
//! and the temporary file is renamed over the target, then the directory
//! is synced. A failure or a kill at any instant leaves either the old
//! file or the new one, never a half-written one. A kill also leaves the
//! temporary file (`.NAME.PID.XXXXXX.tmp`, hidden); the next write of the
//! same target removes those whose process is gone.
//!
//! A floor below the stages: reading (a labels store), the model, the
//! index, the baseline and the output all write through it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Write `path` atomically: `fill` writes the content into a buffered
/// temporary file that replaces `path` only once complete and synced.
pub fn atomic_write<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<&mut File>) -> Result<()>,
{
    let (dir, name) = dir_and_name(path);
    let mut temp = temporary(path)?;
    {
        let mut writer = BufWriter::with_capacity(1 << 20, temp.as_file_mut());
        fill(&mut writer)?;
        writer.flush().map_err(|e| Error::io(path, e))?;
    }
    temp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    remove_orphans(dir, name);
    Ok(())
}

/// Remove the temporary files killed writers of `dir/name` left: those of
/// processes that no longer run. Best effort: a file that cannot be
/// removed stays, and is never read anyway.
fn remove_orphans(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        let Some(pid) = rest.strip_suffix(".tmp").and_then(|r| r.split_once('.')).map(|(pid, _)| pid) else {
            continue;
        };
        if pid.parse::<u32>().is_ok_and(|pid| !process_alive(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` runs: this one does; on Linux, one with a /proc
/// entry. Elsewhere every process is assumed to, so nothing of another's
/// is taken for abandoned.
pub(crate) fn process_alive(pid: u32) -> bool {
    pid == std::process::id()
        || !cfg!(target_os = "linux")
        || Path::new("/proc").join(pid.to_string()).exists()
}

/// The directory `path` is in (`.` for a bare name) and its file name.
fn dir_and_name(path: &Path) -> (&Path, &str) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    (dir, path.file_name().and_then(|n| n.to_str()).unwrap_or("output"))
}

/// A new temporary file beside `path`: `.NAME.PID.XXXXXX.tmp`, removed
/// when dropped unless persisted.
fn temporary(path: &Path) -> Result<tempfile::NamedTempFile> {
    let (dir, name) = dir_and_name(path);
    let mut builder = tempfile::Builder::new();
    // As any new file: read-write for all, less the umask (a temporary
    // file's default, owner only, would stay with the file it becomes).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.prefix(&format!(".{name}.{}.", std::process::id())).suffix(".tmp").tempfile_in(dir).map_err(|e| {
        let why = format!("cannot create a file in {}: {}", dir.display(), std::io::Error::from(e.kind()));
        Error::io(path, std::io::Error::new(e.kind(), why))
    })
}

/// Check, before any work, that `path` can be written: a temporary file
/// can be made beside it (a read-only or missing directory fails here, not
/// after the run).
pub fn check_writable(path: &Path) -> Result<()> {
    temporary(path).map(drop)
}

/// Write `rows` (the header first) as a comma-separated file, atomically.
pub fn atomic_csv<R, F>(path: &Path, rows: impl IntoIterator<Item = R>) -> Result<()>
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    atomic_write(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        for row in rows {
            out.write_record(row).map_err(|e| match e.into_kind() {
                csv::ErrorKind::Io(e) => Error::io(path, e),
                other => Error::data(path, Default::default(), format!("{other:?}")),
            })?;
        }
        out.flush().map_err(|e| Error::io(path, e))
    })
}

/// Make a directory's entries (renames, new files) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_file_written_atomically_has_the_permissions_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        std::fs::write(&plain, "x").unwrap();
        let atomic = dir.path().join("atomic.txt");
        atomic_write(&atomic, |w| w.write_all(b"x").map_err(|e| Error::io(&atomic, e))).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain), "the umask's permissions, not the owner's only");
    }

    #[test]
    fn failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();
        let err = atomic_write(&path, |w| {
            w.write_all(b"half").unwrap();
            Err(Error::usage("stop"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }
}
