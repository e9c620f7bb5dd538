//! Every write path, killed (SIGKILL) at spread instants: the target holds
//! the old content or the complete new content, never a part.
//! (Baseline commits have their own trials in `cmd_incremental`.)

use std::time::{Duration, Instant};

use crate::util::{spread_kills, words, Workdir};

const OLD: &[u8] = b"the previous content\n";

/// Run `args` once to completion for the new content of `target`, then
/// `trials` times (at least) from the old content, killed after delays
/// spread over the run's length; every outcome must be the old or the new
/// content, and both must occur. A last full run removes the temporary
/// files killed writers left (and a made-up one of a process that does not
/// exist), but not one of a live process.
fn kill_trials(wd: &Workdir, args: &[&str], target: &str, trials: u64) {
    let path = wd.path(target);
    let _ = std::fs::remove_file(&path);
    let start = Instant::now();
    wd.ok(args);
    let span = start.elapsed().as_millis() as u64 + 20;
    let new = std::fs::read(&path).unwrap();
    spread_kills(trials, Duration::from_millis(span), |delay| {
        std::fs::write(&path, OLD).unwrap();
        wd.killed(delay, args);
        let now = std::fs::read(&path).unwrap();
        assert!(
            now == OLD || now == new,
            "{target} is neither the old nor the new content after a kill at {delay:?} ({} bytes)",
            now.len()
        );
        now == OLD
    });
    let orphan = wd.path(&format!(".{target}.4294967.x1y2z3.tmp"));
    let live = wd.path(&format!(".{target}.{}.x1y2z3.tmp", std::process::id()));
    std::fs::write(&orphan, b"partial").unwrap();
    std::fs::write(&live, b"partial").unwrap();
    wd.ok(args);
    assert_eq!(std::fs::read(&path).unwrap(), new);
    let temps: Vec<String> = wd
        .files()
        .into_iter()
        .filter(|f| f.starts_with(&format!(".{target}.")) && f.ends_with(".tmp"))
        .collect();
    assert_eq!(
        temps,
        [format!(".{target}.{}.x1y2z3.tmp", std::process::id())],
        "only the live writer's is left"
    );
    std::fs::remove_file(live).unwrap();
}

fn data(wd: &Workdir) {
    wd.ok(&words("synth --entities 15000 --seed 4 -o data.csv --truth truth.csv -q"));
    wd.ok(&words("init data.csv -o def.toml -q"));
}

#[test]
fn killed_dedup_outputs_are_old_or_new() {
    let wd = Workdir::new();
    data(&wd);
    kill_trials(&wd, &words("dedup --input data.csv -o out.csv -q"), "out.csv", 16);
    kill_trials(&wd, &words("dedup --input data.csv -o out.parquet -q"), "out.parquet", 16);
}

#[test]
fn killed_model_saves_and_label_imports_are_old_or_new() {
    let wd = Workdir::new();
    data(&wd);
    wd.ok(&words(
        "label generate --config def.toml --input data.csv --answers truth.csv --sets 20 -o sets.csv -q",
    ));
    let train = "train --config def.toml --input data.csv --labels sets.csv -o model.json -q";
    kill_trials(&wd, &words(train), "model.json", 16);
    // A big pairs file, so the import takes a while.
    let mut pairs = String::from("left_key,right_key,is_match\n");
    for i in 0..150_000 {
        pairs.push_str(&format!("k{i},k{},{}\n", i + 1, i % 2));
    }
    wd.write("pairs.csv", &pairs);
    let import = "label import --config def.toml --store store.csv --replace pairs.csv -q";
    kill_trials(&wd, &words(import), "store.csv", 16);
}
