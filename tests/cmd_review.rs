//! `label review` driven through a pseudo-terminal, key by key, the way a
//! person at a console uses it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{read_csv, words, Workdir};

const PROMPT: &str = "Same entity?";

/// findmatches running on the slave side of a pseudo-terminal; the test
/// holds the master side.
struct Console {
    child: Child,
    keys: File,
    screen: Arc<Mutex<String>>,
}

impl Console {
    fn spawn(wd: &Workdir, args: &[&str]) -> Console {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: 50, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty writes two descriptors we then own.
        let rc =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: fresh descriptors from openpty, owned once each.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let child = Command::new(env!("CARGO_BIN_EXE_findmatches"))
            .args(args)
            .current_dir(wd.path("."))
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("spawn findmatches");
        let keys = File::from(master);
        let mut output = keys.try_clone().unwrap();
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the child has closed the terminal.
            while let Ok(n @ 1..) = output.read(&mut buf) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Console { child, keys, screen }
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// Wait until the screen shows `text` `count` times.
    fn wait_for(&self, text: &str, count: usize) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= count {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no {count}× {text:?} on screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Press a key once question number `asked` is on screen.
    fn press(&mut self, asked: usize, key: char) {
        self.wait_for(PROMPT, asked);
        write!(self.keys, "{key}").unwrap();
        self.keys.flush().unwrap();
    }

    fn finish(mut self) -> String {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(20), "still running:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(self.child.wait().unwrap().success(), "{}", self.screen());
        std::thread::sleep(Duration::from_millis(100));
        self.screen()
    }
}

fn labels(wd: &Workdir) -> Vec<String> {
    read_csv(&wd.path("sets.csv")).1.into_iter().map(|r| r[1].clone()).collect()
}

#[test]
fn console_labeling_with_keys_back_unsure_and_resume() {
    let wd = Workdir::new();
    wd.ok(&["synth", "--entities", "200", "--seed", "3", "-o", "data.csv", "-q"]);
    wd.ok(&["init", "data.csv", "-o", "def.toml", "-q"]);
    wd.ok(&words("label generate --config def.toml --input data.csv --sets 2 --set-size 4 -o sets.csv -q"));
    assert!(labels(&wd).iter().all(String::is_empty));

    let mut console = Console::spawn(&wd, &["label", "review", "sets.csv"]);
    let first = console.wait_for(PROMPT, 1);
    // The first record of set 1 starts an entity; the second is shown
    // beside it, column by column, differences marked.
    assert!(first.contains("set-0001") && first.contains("a record of entity 1"), "{first}");
    assert!(first.lines().any(|l| l.starts_with("* customer_id")), "{first}");
    console.press(1, 'n');
    // Back to the first question: it is asked again.
    console.press(2, 'b');
    let again = console.wait_for(PROMPT, 3);
    let question = |screen: &str, n: usize| screen.split(PROMPT).nth(n - 1).unwrap().to_string();
    let strip = |s: String| s.replace("(nothing to undo in this session)", "");
    assert_eq!(
        strip(question(&again, 3)).trim_start_matches(|c: char| c != '─'),
        strip(question(&again, 1)).trim_start_matches(|c: char| c != '─')
    );
    console.press(3, 'y');
    console.press(4, 'u');
    console.press(5, 'q');
    let end = console.finish();
    assert!(end.contains("saved: 3 of 8 records labeled (1 unsure)"), "{end}");
    let after = labels(&wd);
    assert_eq!(&after[..3], &["1", "1", "?"], "{after:?}");
    assert!(after[3..].iter().all(String::is_empty), "{after:?}");

    // A second session resumes at the first unlabeled record and answers
    // "different" until the file is done.
    let mut console = Console::spawn(&wd, &["label", "review", "sets.csv"]);
    let resumed = console.wait_for(PROMPT, 1);
    assert!(resumed.contains("3 of 8 records labeled"), "{resumed}");
    let mut asked = 1;
    loop {
        console.press(asked, 'n');
        asked += 1;
        let start = Instant::now();
        while console.screen().matches(PROMPT).count() < asked && console.child.try_wait().unwrap().is_none()
        {
            assert!(start.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(20));
        }
        if console.child.try_wait().unwrap().is_some() {
            break;
        }
    }
    let end = console.finish();
    assert!(end.contains("done: 8 of 8 records labeled (1 unsure)"), "{end}");
    let done = labels(&wd);
    assert!(done.iter().all(|l| !l.is_empty()), "{done:?}");
    // The file is a labeling file training reads: the unsure record says
    // nothing, and "different" answers are non-matches.
    let store =
        wd.ok(&["label", "import", "--config", "def.toml", "--store", "store.csv", "sets.csv", "--json"]);
    let store: serde_json::Value = serde_json::from_str(store.trim()).unwrap();
    // Set 1: 3 labeled of 4 (3 pairs, 1 match); set 2: 4 records, 6 pairs, none a match.
    assert_eq!((store["pairs"].as_u64(), store["matches"].as_u64()), (Some(9), Some(1)), "{done:?}");
}
