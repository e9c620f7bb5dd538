//! `findmatches dedup` on the bundled example and generated data.

use arrow_array::Array;

use crate::util::{column_map, pairwise_f1, read_csv, repo, Workdir};

fn bundled_input() -> String {
    repo("examples/data/customers.csv").display().to_string()
}

#[test]
fn bundled_example_runs_without_a_model_and_finds_the_duplicates() {
    let wd = Workdir::new();
    wd.ok(&["dedup", "--input", &bundled_input(), "-o", "out.csv", "-q"]);
    let (input_header, input_rows) = read_csv(&repo("examples/data/customers.csv"));
    let (header, rows) = read_csv(&wd.path("out.csv"));
    let mut expected = input_header.clone();
    expected.extend(["match_id".to_string(), "match_confidence_score".to_string()]);
    assert_eq!(header, expected);
    assert_eq!(rows.len(), input_rows.len());
    // Every input row and value is carried through, in order.
    for (out, inp) in rows.iter().zip(&input_rows) {
        assert_eq!(&out[..inp.len()], &inp[..]);
        let confidence: f64 = out[inp.len() + 1].parse().unwrap();
        assert!((0.0..=1.0).contains(&confidence));
    }
    let pred = column_map(&wd.path("out.csv"), "customer_id", "match_id");
    let truth = column_map(&repo("examples/data/customers_truth.csv"), "customer_id", "entity_id");
    let (p, r, f1) = pairwise_f1(&pred, &truth);
    assert!(f1 >= 0.97, "pairwise P {p:.4} R {r:.4} F1 {f1:.4}");
}

#[test]
fn match_ids_are_deterministic() {
    let wd = Workdir::new();
    wd.ok(&["dedup", "--input", &bundled_input(), "-o", "a.csv", "-q"]);
    wd.ok(&["dedup", "--input", &bundled_input(), "-o", "b.csv", "-q", "--threads", "1"]);
    let a = std::fs::read(wd.path("a.csv")).unwrap();
    let b = std::fs::read(wd.path("b.csv")).unwrap();
    assert!(a == b, "two runs gave different output");
}

#[test]
fn parquet_in_and_out() {
    let wd = Workdir::new();
    wd.ok(&["synth", "--entities", "150", "--seed", "3", "-o", "in.parquet", "--truth", "truth.csv", "-q"]);
    wd.ok(&["dedup", "--input", "in.parquet", "-o", "out.parquet", "-q"]);
    let table = findmatches::Table::read(&wd.path("out.parquet")).unwrap();
    let input = findmatches::Table::read(&wd.path("in.parquet")).unwrap();
    assert_eq!(table.num_rows(), input.num_rows());
    let ids = table.strings("match_id").unwrap();
    assert_eq!(ids.len(), input.num_rows());
    assert!(table.headers().contains(&"match_confidence_score".to_string()));
}

fn json_stats(out: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(out.trim()).expect("json summary")["stats"].clone()
}

fn with_tuning(wd: &Workdir, name: &str, knob: &str, value: f64) -> String {
    let def = std::fs::read_to_string(repo("examples/customers.toml")).unwrap();
    let line = def.lines().find(|l| l.starts_with(knob)).expect("knob in definition").to_string();
    wd.write(name, &def.replace(&line, &format!("{knob} = {value}")));
    name.to_string()
}

#[test]
fn precision_recall_tradeoff_moves_the_threshold() {
    let wd = Workdir::new();
    wd.ok(&["synth", "--entities", "400", "--seed", "11", "-o", "in.csv", "-q"]);
    let mut matched = Vec::new();
    let mut thresholds = Vec::new();
    for (i, value) in [0.05, 0.5, 0.95].into_iter().enumerate() {
        let config = with_tuning(&wd, &format!("t{i}.toml"), "precision_recall_tradeoff", value);
        let out =
            wd.ok(&["dedup", "--config", &config, "--input", "in.csv", "-o", "out.csv", "-q", "--json"]);
        let stats = json_stats(&out);
        thresholds.push(stats["threshold"].as_f64().unwrap());
        matched.push(stats["pairs_above_threshold"].as_u64().unwrap());
    }
    assert!(thresholds[0] < thresholds[1] && thresholds[1] < thresholds[2], "{thresholds:?}");
    assert!(matched[0] > matched[2], "higher precision setting should accept fewer pairs: {matched:?}");
    assert!(matched[0] >= matched[1] && matched[1] >= matched[2], "{matched:?}");
}

#[test]
fn accuracy_cost_tradeoff_widens_the_candidate_search() {
    let wd = Workdir::new();
    wd.ok(&["synth", "--entities", "400", "--seed", "12", "-o", "in.csv", "-q"]);
    let mut candidates = Vec::new();
    for (i, value) in [0.0, 0.5, 1.0].into_iter().enumerate() {
        let config = with_tuning(&wd, &format!("a{i}.toml"), "accuracy_cost_tradeoff", value);
        let out =
            wd.ok(&["dedup", "--config", &config, "--input", "in.csv", "-o", "out.csv", "-q", "--json"]);
        candidates.push(json_stats(&out)["blocking"]["candidates"].as_u64().unwrap());
    }
    assert!(candidates[0] < candidates[1] && candidates[1] < candidates[2], "{candidates:?}");
}

#[test]
fn pairs_file_lists_the_scored_candidates_behind_every_cluster() {
    let wd = Workdir::new();
    let out = wd.ok(&[
        "dedup",
        "--input",
        &bundled_input(),
        "-o",
        "out.csv",
        "--pairs",
        "pairs.csv",
        "--json",
        "-q",
    ]);
    let stats = json_stats(&out);
    let threshold = stats["threshold"].as_f64().unwrap();
    let (header, rows) = read_csv(&wd.path("pairs.csv"));
    assert_eq!(header, ["left_key", "right_key", "match_probability"]);
    assert_eq!(rows.len() as u64, stats["blocking"]["candidates"].as_u64().unwrap());
    let mut scored = std::collections::HashMap::new();
    for r in &rows {
        let p: f64 = r[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{r:?}");
        scored.insert((r[0].clone(), r[1].clone()), p);
        scored.insert((r[1].clone(), r[0].clone()), p);
    }
    // A cluster of two was joined by one candidate pair above the threshold.
    let ids = column_map(&wd.path("out.csv"), "customer_id", "match_id");
    let mut members: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for (key, id) in &ids {
        members.entry(id.as_str()).or_default().push(key.as_str());
    }
    let twos: Vec<&Vec<&str>> = members.values().filter(|m| m.len() == 2).collect();
    assert!(!twos.is_empty());
    for m in twos {
        let p = scored.get(&(m[0].to_string(), m[1].to_string())).copied();
        assert!(p.is_some_and(|p| p >= threshold - 1e-6), "{m:?}: {p:?} vs threshold {threshold}");
    }
}
