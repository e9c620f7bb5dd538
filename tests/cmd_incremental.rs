//! `findmatches incremental` and the baseline store.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use findmatches::baseline::{Baseline, LOCK_FILE, MANIFEST_FILE};

use crate::util::{column_map, likest, pairwise_f1, read_csv, spread_kills, words, Workdir};

/// Generated people split into a 60% baseline and four 10% increments,
/// plus the whole file (same rows, same order) and the truth.
fn split(wd: &Workdir, entities: &str) {
    let parts = ["base.csv", "inc1.csv", "inc2.csv", "inc3.csv", "inc4.csv"];
    let mut args = vec!["synth", "--entities", entities, "--seed", "9", "--truth", "truth.csv", "-q"];
    for p in &parts {
        args.extend(["-o", p]);
    }
    args.extend(["--fractions", "0.6,0.1,0.1,0.1,0.1"]);
    wd.ok(&args);
    wd.ok(&["synth", "--entities", entities, "--seed", "9", "-o", "all.csv", "-q"]);
}

fn baseline_ids(wd: &Workdir) -> HashMap<String, u64> {
    let baseline = Baseline::open(&wd.path("fm")).unwrap();
    let (table, ids) = baseline.load().unwrap();
    let keys = table.keys("customer_id").unwrap();
    assert_eq!(keys.len(), ids.len());
    keys.into_iter().zip(ids).collect()
}

#[test]
fn four_increments_agree_with_batch_and_never_change_baseline_ids() {
    let wd = Workdir::new();
    split(&wd, "1500");
    wd.ok(&["dedup", "--input", "base.csv", "-o", "base_out.csv", "--baseline", "fm", "-q"]);
    let first = column_map(&wd.path("base_out.csv"), "customer_id", "match_id");
    for i in 1..=4 {
        wd.ok(&[
            "incremental",
            "--baseline",
            "fm",
            "--input",
            &format!("inc{i}.csv"),
            "-o",
            &format!("out{i}.csv"),
            "-q",
        ]);
        // Baseline ids never change.
        let now = baseline_ids(&wd);
        for (key, id) in &first {
            assert_eq!(now[key].to_string(), *id, "baseline id of {key} changed after increment {i}");
        }
        let (header, rows) = read_csv(&wd.path(&format!("out{i}.csv")));
        let status = header.iter().position(|h| h == "match_status").unwrap();
        let best = header.iter().position(|h| h == "matched_baseline_key").unwrap();
        for r in &rows {
            assert!(["existing", "new_duplicate", "new_unique"].contains(&r[status].as_str()));
            assert_eq!(r[status] == "existing", !r[best].is_empty(), "{r:?}");
        }
    }
    let manifest = Baseline::open(&wd.path("fm")).unwrap().manifest().clone();
    assert_eq!(manifest.generation, 5);
    let final_ids: HashMap<String, String> =
        baseline_ids(&wd).into_iter().map(|(k, v)| (k, v.to_string())).collect();
    let truth = column_map(&wd.path("truth.csv"), "customer_id", "entity_id");
    assert_eq!(final_ids.len(), truth.len(), "records lost or duplicated");
    wd.ok(&["dedup", "--input", "all.csv", "-o", "batch.csv", "-q"]);
    let batch = column_map(&wd.path("batch.csv"), "customer_id", "match_id");
    let (_, _, f1_incremental) = pairwise_f1(&final_ids, &truth);
    let (_, _, f1_batch) = pairwise_f1(&batch, &truth);
    assert!(
        (f1_incremental - f1_batch).abs() <= 0.01,
        "incremental F1 {f1_incremental:.4} vs batch {f1_batch:.4}"
    );
}

#[test]
fn same_file_twice_is_a_noop_and_dry_run_changes_nothing() {
    let wd = Workdir::new();
    split(&wd, "300");
    wd.ok(&["dedup", "--input", "base.csv", "-o", "base_out.csv", "--baseline", "fm", "-q"]);
    let before = std::fs::read(wd.path("fm").join(MANIFEST_FILE)).unwrap();
    wd.ok(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "dry.csv", "--dry-run", "-q"]);
    assert!(wd.path("dry.csv").exists());
    assert_eq!(
        std::fs::read(wd.path("fm").join(MANIFEST_FILE)).unwrap(),
        before,
        "dry run changed the baseline"
    );
    wd.ok(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o1.csv", "-q"]);
    let after_one = std::fs::read(wd.path("fm").join(MANIFEST_FILE)).unwrap();
    let out = wd.run(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o2.csv"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already folded into") && stderr.contains("nothing to do"), "{stderr}");
    assert!(!wd.path("o2.csv").exists());
    assert_eq!(std::fs::read(wd.path("fm").join(MANIFEST_FILE)).unwrap(), after_one);
    // --force redoes it: its keys are then already in the baseline.
    let err =
        wd.fails(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o3.csv", "--force"], 1);
    assert!(err.contains("already in the baseline"), "{err}");
    assert!(err.contains("line 2,"), "the first such row, in file order: {err}");
    // --unique-only: one row per new entity, none existing.
    wd.ok(&[
        "incremental",
        "--baseline",
        "fm",
        "--input",
        "inc2.csv",
        "-o",
        "u.csv",
        "--unique-only",
        "--dry-run",
        "-q",
    ]);
    let (header, rows) = read_csv(&wd.path("u.csv"));
    let (status, id) = (
        header.iter().position(|h| h == "match_status").unwrap(),
        header.iter().position(|h| h == "match_id").unwrap(),
    );
    assert!(rows.iter().all(|r| r[status] != "existing"));
    let mut ids: Vec<&String> = rows.iter().map(|r| &r[id]).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), rows.len());
}

#[test]
fn another_model_is_refused() {
    let wd = Workdir::new();
    split(&wd, "300");
    wd.ok(&["dedup", "--input", "base.csv", "-o", "b.csv", "--baseline", "fm", "-q"]);
    let mut model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wd.path("fm").join("model.json")).unwrap()).unwrap();
    model["fingerprint"] = serde_json::json!("0".repeat(64));
    wd.write("other.json", &model.to_string());
    let err = wd.fails(
        &["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o.csv", "--model", "other.json"],
        1,
    );
    assert!(err.contains("other.json"), "{err}");
    assert_eq!(Baseline::open(&wd.path("fm")).unwrap().manifest().generation, 1);
}

#[test]
fn a_second_writer_is_refused_and_a_dead_writers_lock_is_recovered() {
    let wd = Workdir::new();
    split(&wd, "300");
    wd.ok(&["dedup", "--input", "base.csv", "-o", "b.csv", "--baseline", "fm", "-q"]);
    // A live holder: this test process.
    std::fs::write(wd.path("fm").join(LOCK_FILE), format!("{}\n", std::process::id())).unwrap();
    let err = wd.fails(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o.csv"], 1);
    assert!(err.contains("another findmatches") && err.contains("--wait"), "{err}");
    assert_eq!(Baseline::open(&wd.path("fm")).unwrap().manifest().generation, 1);
    // A holder that no longer exists (killed): the lock is taken over.
    std::fs::write(wd.path("fm").join(LOCK_FILE), "4000000000\n").unwrap();
    wd.ok(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o.csv", "-q"]);
    assert_eq!(Baseline::open(&wd.path("fm")).unwrap().manifest().generation, 2);
    assert!(!wd.path("fm").join(LOCK_FILE).exists());
}

#[test]
fn killed_commits_leave_the_old_or_the_new_generation() {
    let wd = Workdir::new();
    split(&wd, "1500");
    wd.ok(&["dedup", "--input", "base.csv", "-o", "b.csv", "--baseline", "fm", "-q"]);
    kill_trials(&wd, 30);
}

#[test]
fn killed_commits_of_an_indexed_baseline_leave_the_old_or_the_new_generation() {
    let wd = Workdir::new();
    split(&wd, "1500");
    indexed_baseline(&wd);
    kill_trials(&wd, 20);
}

/// Baseline `fm` of `base.csv` with accuracy_cost_tradeoff 0.75: above
/// 0.5 the index is used on any data, so the baseline keeps one.
fn indexed_baseline(wd: &Workdir) {
    let def = std::fs::read_to_string(crate::util::repo("examples/customers.toml"))
        .unwrap()
        .replace("accuracy_cost_tradeoff = 0.5", "accuracy_cost_tradeoff = 0.75");
    wd.write("wide.toml", &def);
    wd.ok(&[
        "dedup",
        "--config",
        "wide.toml",
        "--input",
        "base.csv",
        "-o",
        "b.csv",
        "--baseline",
        "fm",
        "-q",
    ]);
    assert!(Baseline::open(&wd.path("fm")).unwrap().manifest().indexed);
}

/// Kill `incremental` runs on copies of baseline `fm` at spread instants;
/// each copy must open at generation 1 or 2 with every record once, and
/// take the next run.
fn kill_trials(wd: &Workdir, trials: u64) {
    let base_rows = read_csv(&wd.path("base.csv")).1.len();
    let inc_rows = read_csv(&wd.path("inc1.csv")).1.len();
    spread_kills(trials, Duration::from_millis(250), |delay| {
        let _ = std::fs::remove_dir_all(wd.path("trial"));
        copy_dir(&wd.path("fm"), &wd.path("trial"));
        wd.killed(delay, &["incremental", "--baseline", "trial", "--input", "inc1.csv", "-o", "o.csv", "-q"]);
        let baseline = Baseline::open(&wd.path("trial")).expect("baseline opens after a kill");
        let (table, ids) = baseline.load().expect("baseline loads after a kill");
        let keys = table.keys("customer_id").expect("no record duplicated");
        let generation = baseline.manifest().generation;
        let expected = if generation == 1 { base_rows } else { base_rows + inc_rows };
        assert!(generation == 1 || generation == 2);
        assert_eq!(keys.len(), expected, "records lost or added at generation {generation}");
        assert_eq!(ids.len(), expected);
        // A stale lock is recovered: the next run works.
        wd.ok(&["incremental", "--baseline", "trial", "--input", "inc2.csv", "-o", "o2.csv", "-q"]);
        generation == 1
    });
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn baseline_info_and_export() {
    let wd = Workdir::new();
    split(&wd, "300");
    wd.ok(&["dedup", "--input", "base.csv", "-o", "b.csv", "--baseline", "fm", "-q"]);
    wd.ok(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o1.csv", "-q"]);
    let info: serde_json::Value =
        serde_json::from_str(wd.ok(&["baseline", "info", "fm", "--json"]).trim()).unwrap();
    let rows = read_csv(&wd.path("base.csv")).1.len() + read_csv(&wd.path("inc1.csv")).1.len();
    assert_eq!(info["generation"], 2);
    assert_eq!(info["records"].as_u64().unwrap() as usize, rows);
    assert_eq!(info["processed"].as_array().unwrap().len(), 2);
    wd.ok(&["baseline", "export", "fm", "-o", "all.parquet", "-q"]);
    let exported = findmatches::Table::read(&wd.path("all.parquet")).unwrap();
    assert_eq!(exported.num_rows(), rows);
    // Export agrees with the ids the runs reported.
    let ids = exported.strings("match_id").unwrap();
    let keys = exported.keys("customer_id").unwrap();
    let mut reported = column_map(&wd.path("b.csv"), "customer_id", "match_id");
    reported.extend(column_map(&wd.path("o1.csv"), "customer_id", "match_id"));
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(reported[key], ids.value(i), "{key}");
    }
    let err = wd.fails(&["baseline", "info", "nowhere"], 2);
    assert!(err.contains("not a baseline"), "{err}");
    let err = wd.fails(&["incremental", "--baseline", "nowhere", "--input", "inc2.csv", "-o", "o2.csv"], 2);
    assert!(err.contains("not a baseline"), "{err}");
}

#[test]
fn concurrent_writers_one_refused_or_waiting_and_the_baseline_intact() {
    let wd = Workdir::new();
    split(&wd, "1500");
    wd.ok(&["dedup", "--input", "base.csv", "-o", "b.csv", "--baseline", "fm", "-q"]);
    // Two writers at once, different files: each either commits or is
    // refused with the lock message; the baseline holds exactly the
    // committed ones.
    let spawn = |input: &str, output: &str| {
        Command::new(env!("CARGO_BIN_EXE_findmatches"))
            .args(["incremental", "--baseline", "fm", "--input", input, "-o", output, "-q"])
            .current_dir(wd.path(""))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("inc1.csv", "a.csv"), spawn("inc2.csv", "b2.csv"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut committed = 1;
    let mut expected = read_csv(&wd.path("base.csv")).1.len();
    for (out, input) in [(&a, "inc1.csv"), (&b, "inc2.csv")] {
        if out.status.success() {
            committed += 1;
            expected += read_csv(&wd.path(input)).1.len();
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("another findmatches"), "{stderr}");
            assert_eq!(out.status.code(), Some(1));
        }
    }
    let baseline = Baseline::open(&wd.path("fm")).unwrap();
    assert_eq!(baseline.manifest().generation, committed);
    let (table, _) = baseline.load().unwrap();
    assert_eq!(table.num_rows(), expected, "records lost or added");
    table.keys("customer_id").expect("no record twice");

    // --wait: a writer waits for the holder to let go, then commits.
    std::fs::write(wd.path("fm").join(LOCK_FILE), format!("{}\n", std::process::id())).unwrap();
    let waiting = Command::new(env!("CARGO_BIN_EXE_findmatches"))
        .args(["incremental", "--baseline", "fm", "--input", "inc3.csv", "-o", "c.csv", "-q", "--wait", "30"])
        .current_dir(wd.path(""))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    std::fs::remove_file(wd.path("fm").join(LOCK_FILE)).unwrap();
    let status = waiting.wait_with_output().unwrap().status;
    assert!(status.success());
    assert_eq!(Baseline::open(&wd.path("fm")).unwrap().manifest().generation, committed + 1);
}

#[test]
fn a_baseline_that_uses_the_index_stores_and_queries_one_per_generation() {
    let wd = Workdir::new();
    split(&wd, "300");
    indexed_baseline(&wd);
    // A commit killed while building its index leaves a temporary
    // directory; one killed just after renaming it, the directory itself
    // (not named by the manifest). Neither may block the next commit.
    std::fs::create_dir(wd.path("fm/.g000002.index.tmp")).unwrap();
    wd.write("fm/.g000002.index.tmp/meta.json", "{");
    std::fs::create_dir(wd.path("fm/g000002.index")).unwrap();
    wd.write("fm/g000002.index/stale.idx", "stale");
    let out =
        wd.ok(&["incremental", "--baseline", "fm", "--input", "inc1.csv", "-o", "o1.csv", "--json", "-q"]);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(summary["committed"].as_bool().unwrap(), "{summary}");
    let baseline = Baseline::open(&wd.path("fm")).unwrap();
    let manifest = baseline.manifest();
    assert!(manifest.indexed);
    let dirs: Vec<&str> =
        manifest.segments.iter().filter_map(|s| s.dir(findmatches::baseline::INDEX_SUFFIX)).collect();
    assert_eq!(dirs, vec!["g000001.index", "g000002.index"]);
    assert!(!wd.path("fm/.g000002.index.tmp").exists(), "the stray index was not collected");
    assert!(!wd.path("fm/g000002.index/stale.idx").exists(), "a stale index file survived");
    // A record no blocking key finds (only a first name, with two letters
    // too many: another sound, other letters) still finds baseline
    // records: through the stored index alone, which holds the character
    // trigrams of names.
    let (header, rows) = read_csv(&wd.path("base.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let donor = rows.iter().find(|r| r[col("first_name")].len() >= 6).unwrap();
    let first = donor[col("first_name")].clone();
    let lone: Vec<String> = header
        .iter()
        .map(|h| match h.as_str() {
            "customer_id" => "lone1".to_string(),
            "first_name" => format!("{first}qz"),
            _ => String::new(),
        })
        .collect();
    wd.write("lone.csv", &format!("{}\n{}\n", header.join(","), lone.join(",")));
    let out = wd.ok(&[
        "incremental",
        "--baseline",
        "fm",
        "--input",
        "lone.csv",
        "-o",
        "l.csv",
        "--dry-run",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(summary["stats"]["baseline_records_read"].as_u64().unwrap_or(0) > 0, "{summary}");
    assert!(summary["stats"]["blocking"]["index_pairs"].as_u64().unwrap() > 0, "{summary}");
    // Its files are checked like the others: a damaged one is reported.
    let meta = wd.path("fm/g000002.index/meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, &text[..text.len() / 2]).unwrap();
    let err = wd.fails(&["incremental", "--baseline", "fm", "--input", "inc2.csv", "-o", "o2.csv"], 1);
    assert!(err.contains("g000002.index/meta.json") && err.contains("bytes"), "{err}");
}

#[test]
fn enforced_labels_hold_in_incremental_runs() {
    let wd = Workdir::new();
    split(&wd, "400");
    let truth = column_map(&wd.path("truth.csv"), "customer_id", "entity_id");
    let base: Vec<String> = read_csv(&wd.path("base.csv")).1.into_iter().map(|r| r[0].clone()).collect();
    let new: Vec<String> = read_csv(&wd.path("inc1.csv")).1.into_iter().map(|r| r[0].clone()).collect();
    wd.ok(&words("init all.csv -o def.toml -q"));
    let def = std::fs::read_to_string(wd.path("def.toml")).unwrap();
    wd.write(
        "enforce.toml",
        &def.replace("enforce_provided_labels = false", "enforce_provided_labels = true"),
    );
    wd.ok(&words(
        "label generate --config def.toml --input all.csv --answers truth.csv --sets 20 -o sets.csv -q",
    ));
    // A new record and its baseline duplicate, labeled "not a match"; a
    // new record and a baseline stranger, labeled "a match"; none of them
    // in the labeling sets (whose labels would contradict).
    let labeled: std::collections::HashSet<String> =
        column_map(&wd.path("sets.csv"), "customer_id", "label").into_keys().collect();
    let new: Vec<String> = new.into_iter().filter(|k| !labeled.contains(k)).collect();
    let base: Vec<String> = base.into_iter().filter(|k| !labeled.contains(k)).collect();
    let duplicates = new
        .iter()
        .flat_map(|n| base.iter().filter(|b| truth[*b] == truth[n]).map(move |b| (n.as_str(), b.as_str())));
    let (n, b) =
        likest(&wd.path("all.csv"), duplicates).map(|(n, b)| (n.to_string(), b.to_string())).unwrap();
    let n2 = new.iter().find(|k| **k != n && !base.iter().any(|b| truth[b] == truth[*k])).unwrap().clone();
    let b2 = base.iter().find(|k| **k != b).unwrap().clone();
    wd.write("extra.csv", &format!("left_key,right_key,is_match\n{b},{n},0\n{n2},{b2},1\n"));
    for (config, model) in [("def.toml", "free.json"), ("enforce.toml", "enforced.json")] {
        let args = format!(
            "train --config {config} --input all.csv --labels sets.csv --labels extra.csv -o {model} -q"
        );
        wd.ok(&words(&args));
    }
    wd.ok(&words("dedup --model enforced.json --input base.csv -o base_out.csv --baseline fm -q"));
    let ids = baseline_ids(&wd);
    let run = |model: &str, out: &str, dry: bool| {
        let mut args = words("incremental --baseline fm --input inc1.csv -q").to_vec();
        args.extend(["--model", model, "-o", out]);
        if dry {
            args.push("--dry-run");
        }
        wd.ok(&args);
        column_map(&wd.path(out), "customer_id", "match_id")
    };
    // The same weights, so the same fingerprint; only the tuning differs.
    let free = run("free.json", "free.csv", true);
    assert_eq!(free[&n], ids[&b].to_string(), "the model alone should match {n} to {b}");
    assert_ne!(free[&n2], ids[&b2].to_string());
    let enforced = run("enforced.json", "enforced.csv", false);
    assert_ne!(enforced[&n], ids[&b].to_string(), "labeled non-match {n},{b} was clustered together");
    assert_eq!(enforced[&n2], ids[&b2].to_string(), "labeled match {n2},{b2} was split");
}

#[test]
fn key_shards_hold_each_generations_keys_for_spark() {
    use findmatches::baseline::{primary_key_hash, shards};
    let wd = Workdir::new();
    split(&wd, "600");
    wd.ok(&words("dedup -q --input base.csv -o base_out.csv --baseline fm"));
    wd.ok(&words("incremental -q --baseline fm --input inc1.csv -o out1.csv"));
    let baseline = Baseline::open(&wd.path("fm")).unwrap();
    let mut entries: Vec<(u64, u32)> = Vec::new();
    for segment in &baseline.manifest().segments {
        let dir = segment.dir(shards::SHARDS_SUFFIX).unwrap();
        assert_eq!(dir, format!("g{:06}.keys", segment.generation));
        let files = segment.dir_files(shards::SHARDS_SUFFIX);
        assert_eq!(files.len(), segment.key_shards as usize);
        for (shard, file) in files.iter().enumerate() {
            assert_eq!(file.name, format!("{dir}/{}", shards::shard_file(shard)));
            for (key, row) in shards::read(&wd.path("fm").join(&file.name)).unwrap() {
                assert_eq!(shards::shard_of(key, files.len()), shard);
                let row = row as u64;
                assert!(row >= segment.first_row && row < segment.first_row + segment.rows, "row {row}");
                entries.push((key, row as u32));
            }
        }
    }
    // Every record's primary key is there, at its row; and blocking keys
    // beside them (many per record).
    let (table, _) = baseline.load().unwrap();
    let keys = table.keys("customer_id").unwrap();
    entries.sort_unstable();
    for (row, key) in keys.iter().enumerate() {
        assert!(entries.binary_search(&(primary_key_hash(key), row as u32)).is_ok(), "{key} at row {row}");
    }
    assert!(entries.len() > 5 * keys.len(), "{} entries for {} records", entries.len(), keys.len());
}

#[test]
fn a_baseline_of_format_2_is_read_and_gains_key_shards_at_its_next_commit() {
    use findmatches::baseline::{shards, BASELINE_FORMAT_VERSION};
    let wd = Workdir::new();
    split(&wd, "300");
    wd.ok(&words("dedup -q --input base.csv -o base_out.csv --baseline fm"));
    // As a build before key shards wrote it: version 2, no shards.
    let path = wd.path("fm").join(MANIFEST_FILE);
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["format_version"] = 2.into();
    let segment = &mut manifest["segments"][0];
    segment.as_object_mut().unwrap().remove("key_shards");
    let files = segment["files"].as_array_mut().unwrap();
    files.retain(|f| !f["name"].as_str().unwrap().starts_with("g000001.keys/"));
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    std::fs::remove_dir_all(wd.path("fm/g000001.keys")).unwrap();
    wd.ok(&words("baseline verify fm"));
    wd.ok(&words("incremental -q --baseline fm --input inc1.csv -o out1.csv"));
    let baseline = Baseline::open(&wd.path("fm")).unwrap();
    let manifest = baseline.manifest();
    assert_eq!(manifest.format_version, BASELINE_FORMAT_VERSION);
    let shards: Vec<u32> = manifest.segments.iter().map(|s| s.key_shards).collect();
    assert_eq!(shards, [0, 1]);
    assert!(manifest.segments[1].dir(shards::SHARDS_SUFFIX).is_some());
    wd.ok(&words("baseline verify fm"));
    // A newer format than this build's is refused in one line.
    let text =
        std::fs::read_to_string(&path).unwrap().replace("\"format_version\": 3", "\"format_version\": 4");
    std::fs::write(&path, text).unwrap();
    let err = wd.fails(&words("incremental -q --baseline fm --input inc2.csv -o out2.csv"), 1);
    assert!(err.contains("baseline manifest format version 4; this findmatches reads version 3"), "{err}");
}
