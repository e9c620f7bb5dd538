//! One writer at a time: a lock file created exclusively in the baseline
//! directory, holding the writer's process id. A lock whose process is
//! gone (killed) is stale and is taken over; a live one makes the second
//! writer fail clearly, or wait when asked to.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// The lock file's name in a baseline directory.
pub const LOCK_FILE: &str = ".findmatches-writer.lock";

/// A held writer lock; released when dropped.
#[derive(Debug)]
pub struct WriterLock {
    path: PathBuf,
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl WriterLock {
    /// Take the writer lock of `dir`. A live holder makes this fail with
    /// [`ErrorKind::Locked`], or, with `wait`, retry until it is free.
    pub fn acquire(dir: &Path, wait: Option<Duration>) -> Result<WriterLock> {
        let path = dir.join(LOCK_FILE);
        let start = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    let _ = file.sync_all();
                    return Ok(WriterLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder =
                        std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        // A lock left by a killed process: take it over.
                        Some(pid) if !crate::durable::process_alive(pid) => {
                            let _ = std::fs::remove_file(&path);
                            continue;
                        }
                        // Being written right now, or held: wait or refuse.
                        _ => {}
                    }
                    match wait {
                        Some(limit) if start.elapsed() < limit => {
                            std::thread::sleep(Duration::from_millis(50))
                        }
                        _ => {
                            return Err(ErrorKind::Locked { path, holder }.into());
                        }
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_refused_and_stale_locks_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let held = WriterLock::acquire(dir.path(), None).unwrap();
        let err = WriterLock::acquire(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("another findmatches"), "{err}");
        drop(held);
        assert!(!dir.path().join(LOCK_FILE).exists());
        // A lock naming a process that no longer exists.
        std::fs::write(dir.path().join(LOCK_FILE), "4000000000\n").unwrap();
        let _taken = WriterLock::acquire(dir.path(), None).unwrap();
    }
}
