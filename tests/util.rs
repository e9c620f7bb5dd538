//! A scratch directory and a way to run the binary in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary working directory for one test.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("write fixture");
        path
    }

    /// Run findmatches with `args` in this directory.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_findmatches"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run findmatches")
    }

    /// Run findmatches with `args` in this directory, `input` on its
    /// standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_findmatches"))
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start findmatches");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("run findmatches");
        // A run that stops before reading (a usage error) closes the pipe
        // first: a broken pipe is its answer, not the test's failure.
        match feeder.join().expect("feed stdin") {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
            _ => {}
        }
        out
    }

    /// Start findmatches with `args` and kill it (SIGKILL) after `delay`.
    pub fn killed(&self, delay: std::time::Duration, args: &[&str]) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_findmatches"))
            .args(args)
            .current_dir(self.dir.path())
            .spawn()
            .expect("start findmatches");
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Run and insist on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "findmatches {args:?} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and insist on failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "findmatches {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
        stderr
    }

    /// The files in the directory.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// The repository's root (for the bundled example).
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Read a CSV into a header and rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).expect("open csv");
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

/// Pairwise precision, recall and F1 of `key -> cluster` against `key -> entity`.
pub fn pairwise_f1(pred: &HashMap<String, String>, truth: &HashMap<String, String>) -> (f64, f64, f64) {
    fn pairs(m: &HashMap<String, String>) -> std::collections::HashSet<(String, String)> {
        let mut groups: HashMap<&str, Vec<&str>> = HashMap::new();
        for (k, c) in m {
            groups.entry(c).or_default().push(k);
        }
        let mut out = std::collections::HashSet::new();
        for members in groups.values() {
            for (i, a) in members.iter().enumerate() {
                for b in &members[i + 1..] {
                    let (x, y) = if a < b { (a, b) } else { (b, a) };
                    out.insert((x.to_string(), y.to_string()));
                }
            }
        }
        out
    }
    // Only the records the prediction covers.
    let truth: HashMap<String, String> =
        truth.iter().filter(|(k, _)| pred.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let (p, t) = (pairs(pred), pairs(&truth));
    let tp = p.intersection(&t).count() as f64;
    let precision = if p.is_empty() { 1.0 } else { tp / p.len() as f64 };
    let recall = if t.is_empty() { 1.0 } else { tp / t.len() as f64 };
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    (precision, recall, f1)
}

/// `key -> value` from two columns of a CSV.
/// Of the rows of `file` (a CSV with the key first) whose keys `pairs`
/// names, the pair whose fields agree most (case aside): an easy true
/// duplicate, for tests about something else than the model's judgement.
pub fn likest<'a>(
    file: &Path,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<(&'a str, &'a str)> {
    let (_, rows) = read_csv(file);
    let by_key: HashMap<&str, &Vec<String>> = rows.iter().map(|r| (r[0].as_str(), r)).collect();
    let agree = |a: &str, b: &str| {
        let (x, y) = (by_key[a], by_key[b]);
        x.iter().zip(y).skip(1).filter(|(u, v)| !u.is_empty() && u.to_lowercase() == v.to_lowercase()).count()
    };
    pairs.max_by_key(|&(a, b)| (agree(a, b), std::cmp::Reverse((a, b))))
}

pub fn column_map(path: &Path, key: &str, value: &str) -> HashMap<String, String> {
    let (header, rows) = read_csv(path);
    let k = header.iter().position(|h| h == key).expect("key column");
    let v = header.iter().position(|h| h == value).expect("value column");
    rows.into_iter().map(|r| (r[k].clone(), r[v].clone())).collect()
}

/// The words of a command line (for arguments without spaces).
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Kill trials at spread instants. `trial(delay)` starts a run, kills it
/// after `delay` and checks what it left, returning whether that is the
/// state from before the run (else after). Delays are spread over `span`;
/// if all trials land on one side, more are made, later or earlier, until
/// both sides are seen, so the trials straddle the commit whatever the
/// machine's load. Returns (before, after) counts.
pub fn spread_kills(
    trials: u64,
    span: std::time::Duration,
    mut trial: impl FnMut(std::time::Duration) -> bool,
) -> (u64, u64) {
    // seen[1]: trials that left the state from before; seen[0]: after.
    let mut seen = [0u64; 2];
    for i in 0..trials {
        seen[usize::from(trial(span * i as u32 / trials as u32))] += 1;
    }
    for extra in 1..=40u32 {
        if seen[0] > 0 && seen[1] > 0 {
            break;
        }
        // None after: kill later; none before: sooner.
        let delay = if seen[0] == 0 { span * (extra + 1) } else { span / (2 << extra.min(16)) };
        seen[usize::from(trial(delay))] += 1;
    }
    let (before, after) = (seen[1], seen[0]);
    assert!(before > 0 && after > 0, "kills never landed on both sides: {before} before, {after} after");
    (before, after)
}
