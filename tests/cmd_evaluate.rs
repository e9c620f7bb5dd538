//! `findmatches evaluate`: a held-out estimate from labels.

use crate::util::{column_map, pairwise_f1, repo, Workdir};

fn evaluate(wd: &Workdir, extra: &[&str]) -> serde_json::Value {
    let input = repo("examples/data/customers.csv").display().to_string();
    let labels = repo("labels/customers_labels.csv").display().to_string();
    let mut args = vec!["evaluate", "--input", &input, "--labels", &labels, "--json"];
    args.extend(extra);
    serde_json::from_str(wd.ok(&args).trim()).unwrap()
}

#[test]
fn the_estimate_is_consistent_and_close_to_the_real_f1() {
    let wd = Workdir::new();
    let e = evaluate(&wd, &[]);
    let n = |k: &str| e[k].as_f64().unwrap();
    let c = &e["confusion"];
    let count = |k: &str| c[k].as_u64().unwrap() as f64;
    let (tm, missed, fm, tn) =
        (count("true_matches"), count("missed_matches"), count("false_matches"), count("true_non_matches"));
    assert_eq!(tm + missed + fm + tn, n("pairs"));
    assert_eq!(tm + missed, n("matches"));
    assert!((n("precision") - tm / (tm + fm).max(1.0)).abs() < 1e-9, "{e}");
    assert!((n("recall") - tm / (tm + missed)).abs() < 1e-9, "{e}");
    assert!(n("max_f1") >= n("f1") && (0.0..=1.0).contains(&n("auprc")), "{e}");
    // The 95% intervals hold their figure, and are as wide as the counts
    // behind them allow (161 labeled matches: a few hundredths).
    for (figure, interval) in [("precision", "precision_interval"), ("recall", "recall_interval")] {
        let (lo, hi) = (e[interval][0].as_f64().unwrap(), e[interval][1].as_f64().unwrap());
        assert!(lo <= n(figure) && n(figure) <= hi, "{figure} outside {lo}..{hi}: {e}");
        assert!(hi - lo > 0.005 && hi - lo < 0.1, "{interval} {lo}..{hi}");
    }
    assert!((0.0..=1.0).contains(&n("blocking_recall")));
    let importance = e["column_importance"].as_array().unwrap();
    let shares: Vec<f64> = importance.iter().map(|p| p[1].as_f64().unwrap()).collect();
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(shares.windows(2).all(|w| w[0] >= w[1]), "not largest first: {shares:?}");
    assert_eq!(importance.len(), 11, "nine columns, the name swap and the record: {importance:?}");
    // Against the truth: the estimate is within 0.03 of the F1 of a real run.
    let input = repo("examples/data/customers.csv").display().to_string();
    wd.ok(&["dedup", "--input", &input, "-o", "out.csv", "-q"]);
    let pred = column_map(&wd.path("out.csv"), "customer_id", "match_id");
    let mut truth = column_map(&repo("examples/data/customers_truth.csv"), "customer_id", "entity_id");
    truth.retain(|k, _| pred.contains_key(k));
    let (_, _, real) = pairwise_f1(&pred, &truth);
    assert!((n("f1") - real).abs() <= 0.03, "estimate {} vs real {real}", n("f1"));
    let data = e["estimate"]["f1"].as_f64().unwrap();
    assert!((data - real).abs() <= 0.03, "data estimate {data} vs real {real}");
}

#[test]
fn a_stricter_tuning_is_evaluated_at_its_own_threshold() {
    let wd = Workdir::new();
    let def = std::fs::read_to_string(repo("examples/customers.toml"))
        .unwrap()
        .replace("precision_recall_tradeoff = 0.5", "precision_recall_tradeoff = 0.99");
    wd.write("strict.toml", &def);
    let base = evaluate(&wd, &[]);
    let strict = evaluate(&wd, &["--config", "strict.toml"]);
    assert!(strict["threshold"].as_f64().unwrap() > base["threshold"].as_f64().unwrap() + 0.3);
    assert!(strict["recall"].as_f64().unwrap() <= base["recall"].as_f64().unwrap());
    assert_eq!(strict["auprc"], base["auprc"], "the ranking does not depend on the threshold");
}
