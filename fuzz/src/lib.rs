//! Shared by the fuzz targets.

/// libfuzzer-sys's panic hook aborts on every panic, even one findmatches
/// catches (it turns panics of third-party decoders on damaged files into
/// errors). Replace it with a silent one: a panic that escapes still
/// fails the run, as libfuzzer-sys aborts when the target unwinds.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// `data` as a file named `name` in a fresh temporary directory (kept
/// alive by the returned guard).
pub fn as_file(data: &[u8], name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, data).expect("write the input");
    (dir, path)
}
