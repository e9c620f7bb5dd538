//! `findmatches explain`: a pair's score taken apart.

use crate::util::{read_csv, repo, Workdir};

#[test]
fn explanation_adds_up_to_the_score_dedup_gives() {
    let wd = Workdir::new();
    let input = repo("examples/data/customers.csv").display().to_string();
    wd.ok(&["dedup", "--input", &input, "-o", "out.csv", "--pairs", "pairs.csv", "-q"]);
    let (_, pairs) = read_csv(&wd.path("pairs.csv"));
    // The strongest candidate pair and a weak one.
    let mut pairs: Vec<(String, String, f64)> =
        pairs.iter().map(|r| (r[0].clone(), r[1].clone(), r[2].parse().unwrap())).collect();
    pairs.sort_by(|x, y| y.2.total_cmp(&x.2));
    for (left, right, scored) in [pairs[0].clone(), pairs[pairs.len() - 1].clone()] {
        let out = wd.ok(&["explain", "--input", &input, "--pair", &format!("{left},{right}"), "--json"]);
        let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let parts = e["parts"].as_array().unwrap();
        let sum: f64 = parts.iter().map(|p| p["evidence"].as_f64().unwrap()).sum();
        let evidence = e["evidence"].as_f64().unwrap();
        assert!((e["intercept"].as_f64().unwrap() + sum - evidence).abs() < 1e-6, "{e}");
        let probability = e["probability"].as_f64().unwrap();
        assert!((1.0 / (1.0 + (-evidence).exp()) - probability).abs() < 1e-4, "{e}");
        assert!((probability - scored).abs() < 1e-4, "explain {probability} vs dedup {scored}");
        assert_eq!(e["is_match"].as_bool().unwrap(), probability >= e["threshold"].as_f64().unwrap());
        let columns: Vec<&str> = parts.iter().map(|p| p["part"].as_str().unwrap()).collect();
        assert!(columns.starts_with(&["first_name", "last_name", "email"]), "{columns:?}");
    }
    // The text waterfall names every column and the verdict.
    let (left, right, _) = &pairs[0];
    let text = wd.ok(&["explain", "--input", &input, "--pair", &format!("{left},{right}")]);
    for needle in ["start (intercept)", "first_name", "birth_date", "= evidence", ": match"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn unknown_keys_and_malformed_pairs_are_usage_errors() {
    let wd = Workdir::new();
    let input = repo("examples/data/customers.csv").display().to_string();
    let err = wd.fails(&["explain", "--input", &input, "--pair", "c00003,nope"], 2);
    assert!(err.contains("no record has key 'nope'"), "{err}");
    let err = wd.fails(&["explain", "--input", &input, "--pair", "c00003"], 2);
    assert!(err.contains("KEY1,KEY2"), "{err}");
}
