//! init → label → train → dedup, and link, on generated data.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use findmatches::synth::{generate, SynthOptions};

use crate::util::{column_map, likest, pairwise_f1, read_csv, repo, words, Workdir};

/// `label generate` over `inputs` answered from `truth.csv`, then `train`
/// on those labels into `model.json`; returns train's JSON summary.
fn label_and_train(wd: &Workdir, inputs: &[&str], sets: &str) -> serde_json::Value {
    let inputs: Vec<&str> = inputs.iter().flat_map(|i| ["--input", i]).collect();
    let mut label = vec!["label", "generate", "--config", "def.toml", "--answers", "truth.csv", "-q"];
    label.extend(["--sets", sets, "-o", "labels.csv"]);
    label.extend(&inputs);
    wd.ok(&label);
    let mut train =
        vec!["train", "--config", "def.toml", "--labels", "labels.csv", "-o", "model.json", "--json"];
    train.extend(&inputs);
    serde_json::from_str(wd.ok(&train).trim()).unwrap()
}

/// Dedup `data.csv` with `model` and insist on a pairwise F1 of at least
/// `bar` against `truth.csv`.
fn assert_dedup_f1(wd: &Workdir, model: &str, bar: f64) {
    wd.ok(&["dedup", "--model", model, "--input", "data.csv", "-o", "out.csv", "-q"]);
    let pred = column_map(&wd.path("out.csv"), "customer_id", "match_id");
    let truth = column_map(&wd.path("truth.csv"), "customer_id", "entity_id");
    let (p, r, f1) = pairwise_f1(&pred, &truth);
    assert!(f1 >= bar, "P {p:.4} R {r:.4} F1 {f1:.4}");
}

#[test]
fn init_train_dedup_end_to_end() {
    let wd = Workdir::new();
    wd.ok(&["synth", "--entities", "500", "--seed", "5", "-o", "data.csv", "--truth", "truth.csv", "-q"]);
    wd.ok(&["init", "data.csv", "-o", "def.toml", "-q"]);
    let def = std::fs::read_to_string(wd.path("def.toml")).unwrap();
    assert!(def.contains("primary_key = \"customer_id\"") && def.contains("email = \"email\""), "{def}");
    let summary = label_and_train(&wd, &["data.csv"], "15");
    let (header, rows) = read_csv(&wd.path("labels.csv"));
    assert_eq!(&header[..3], &["labeling_set_id", "label", "customer_id"]);
    assert!(rows.len() <= 150 && rows.iter().all(|r| !r[1].is_empty()));
    assert!(summary["training"]["matches"].as_u64().unwrap() > 0);
    assert_dedup_f1(&wd, "model.json", 0.95);
}

#[test]
fn pairs_file_labels_train_a_model() {
    let wd = Workdir::new();
    wd.ok(&["synth", "--entities", "300", "--seed", "8", "-o", "data.csv", "--truth", "truth.csv", "-q"]);
    wd.ok(&["init", "data.csv", "-o", "def.toml", "-q"]);
    // Pairs from the truth, as a person would label them: each duplicate
    // with its first record; neighbours in file order as (mostly)
    // non-matches; and look-alikes, many not matches (one street address:
    // households), without which no model learns where matches end.
    let truth = column_map(&wd.path("truth.csv"), "customer_id", "entity_id");
    let mut keys: Vec<&String> = truth.keys().collect();
    keys.sort();
    let mut lines = vec!["left_key,right_key,is_match".to_string()];
    for w in keys.windows(2).take(150) {
        lines.push(format!("{},{},{}", w[0], w[1], u8::from(truth[w[0]] == truth[w[1]])));
    }
    let street = column_map(&wd.path("data.csv"), "customer_id", "street");
    let mut by_street: Vec<(&String, &String)> = keys.iter().map(|k| (&street[*k], *k)).collect();
    by_street.sort();
    for w in by_street.windows(2).filter(|w| !w[0].0.is_empty() && w[0].0 == w[1].0).take(100) {
        lines.push(format!("{},{},{}", w[0].1, w[1].1, u8::from(truth[w[0].1] == truth[w[1].1])));
    }
    let mut first: std::collections::HashMap<&String, &String> = Default::default();
    for k in &keys {
        match first.get(&truth[*k]) {
            Some(f) => lines.push(format!("{f},{k},yes")),
            None => {
                first.insert(&truth[*k], k);
            }
        }
    }
    wd.write("pairs.csv", &(lines.join("\n") + "\n"));
    wd.ok(&[
        "train",
        "--config",
        "def.toml",
        "--input",
        "data.csv",
        "--labels",
        "pairs.csv",
        "-o",
        "m.json",
        "-q",
    ]);
    wd.ok(&["dedup", "--model", "m.json", "--input", "data.csv", "-o", "out.csv", "-q"]);
    let pred = column_map(&wd.path("out.csv"), "customer_id", "match_id");
    let (_, _, f1) = pairwise_f1(&pred, &truth);
    assert!(f1 >= 0.95, "F1 {f1:.4}");
}

/// Two tables of the same people: each person's first record on the left,
/// one duplicate (if any) on the right, plus right-only people.
fn write_link_tables(wd: &Workdir) -> std::collections::HashMap<String, String> {
    let data = generate(&SynthOptions {
        entities: 400,
        duplicate_share: 0.6,
        max_duplicates: 1,
        seed: 21,
        key_prefix: "x".into(),
        ..SynthOptions::default()
    });
    let mut seen = std::collections::HashSet::new();
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (row, entity) in data.entity.iter().enumerate() {
        if seen.insert(*entity) && entity % 5 != 0 {
            left.push(row)
        } else {
            right.push(row)
        }
    }
    let take = |rows: &[usize], prefix: &str| -> RecordBatch {
        let columns: Vec<ArrayRef> = (0..data.batch.num_columns())
            .map(|c| {
                let col = data.batch.column(c).as_any().downcast_ref::<StringArray>().unwrap();
                let values: StringArray = rows
                    .iter()
                    .map(|&r| {
                        if c == 0 {
                            Some(format!("{prefix}{}", col.value(r)))
                        } else {
                            col.is_valid(r).then(|| col.value(r).to_string())
                        }
                    })
                    .collect();
                Arc::new(values) as ArrayRef
            })
            .collect();
        RecordBatch::try_new(data.batch.schema(), columns).unwrap()
    };
    findmatches::write::write_batch(&wd.path("left.csv"), &take(&left, "L"), None).unwrap();
    findmatches::write::write_batch(&wd.path("right.csv"), &take(&right, "R"), None).unwrap();
    let keys = data.batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    let mut truth = std::collections::HashMap::new();
    let mut lines = vec!["customer_id,entity_id".to_string()];
    for (rows, prefix) in [(&left, "L"), (&right, "R")] {
        for &r in rows {
            let key = format!("{prefix}{}", keys.value(r));
            lines.push(format!("{key},{}", data.entity[r]));
            truth.insert(key, data.entity[r].to_string());
        }
    }
    wd.write("truth.csv", &(lines.join("\n") + "\n"));
    truth
}

#[test]
fn link_two_tables() {
    let wd = Workdir::new();
    let truth = write_link_tables(&wd);
    wd.ok(&["init", "left.csv", "-o", "def.toml", "-q"]);
    label_and_train(&wd, &["left.csv", "right.csv"], "20");
    wd.ok(&[
        "link",
        "--model",
        "model.json",
        "--left",
        "left.csv",
        "--right",
        "right.csv",
        "-o",
        "out.csv",
        "-q",
    ]);
    let (header, rows) = read_csv(&wd.path("out.csv"));
    assert_eq!(header[0], "source");
    let (source, key, id) = (0, 1, header.iter().position(|h| h == "match_id").unwrap());
    // One to one: a match_id never holds two rows of the same table.
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        assert!(
            seen.insert((r[id].clone(), r[source].clone())),
            "two rows of {} in cluster {}",
            r[source],
            r[id]
        );
    }
    // Compare only pairs across the tables (within-table duplicates were
    // put on one side on purpose).
    let pred: std::collections::HashMap<String, String> =
        rows.iter().map(|r| (r[key].clone(), r[id].clone())).collect();
    let cross_truth: std::collections::HashMap<String, String> = {
        let mut per_entity: std::collections::HashMap<&String, Vec<&String>> = Default::default();
        for (k, e) in &truth {
            per_entity.entry(e).or_default().push(k);
        }
        truth
            .iter()
            .map(|(k, e)| {
                let both = per_entity[e].iter().any(|o| o.starts_with('L'))
                    && per_entity[e].iter().any(|o| o.starts_with('R'));
                // Keep entities that span both tables; make right-side extras singletons.
                let first_right = per_entity[e].iter().filter(|o| o.starts_with('R')).min().copied();
                let keep = both && (k.starts_with('L') || Some(k) == first_right);
                (k.clone(), if keep { e.clone() } else { format!("solo-{k}") })
            })
            .collect()
    };
    let (p, r, f1) = pairwise_f1(&pred, &cross_truth);
    assert!(f1 >= 0.9, "link P {p:.4} R {r:.4} F1 {f1:.4}");
}

#[test]
fn enforced_labels_hold_whatever_the_model_says() {
    let wd = Workdir::new();
    let data = repo("examples/data/customers.csv");
    let data = data.to_str().unwrap();
    let labeled: std::collections::HashSet<String> =
        column_map(&repo("labels/customers_labels.csv"), "customer_id", "label").into_keys().collect();
    let truth = column_map(&repo("examples/data/customers_truth.csv"), "customer_id", "entity_id");
    let (_, rows) = read_csv(&repo("examples/data/customers.csv"));
    let free: Vec<&str> = rows.iter().map(|r| r[0].as_str()).filter(|k| !labeled.contains(*k)).collect();
    // A true duplicate pair, labeled "not a match", and two strangers,
    // labeled "a match", none of them in the bundled labels.
    let entity = |k: &str| truth[k].clone();
    let duplicates = free.iter().enumerate().flat_map(|(i, &a)| {
        free[i + 1..].iter().filter(move |&&b| entity(a) == entity(b)).map(move |&b| (a, b))
    });
    let (p, q) = likest(&repo("examples/data/customers.csv"), duplicates).unwrap();
    let x = free[0];
    let y = *free.iter().find(|&&b| entity(b) != entity(x) && b != p && b != q).unwrap();
    wd.write("extra.csv", &format!("left_key,right_key,is_match\n{p},{q},0\n{x},{y},1\n"));
    let def = std::fs::read_to_string(repo("examples/customers.toml")).unwrap();
    wd.write("def.toml", &def);
    wd.write(
        "enforce.toml",
        &def.replace("enforce_provided_labels = false", "enforce_provided_labels = true"),
    );
    let labels = repo("labels/customers_labels.csv");
    wd.ok(&[
        "train",
        "--config",
        "def.toml",
        "--input",
        data,
        "--labels",
        labels.to_str().unwrap(),
        "--labels",
        "extra.csv",
        "-o",
        "m.json",
        "-q",
    ]);
    let same = |out: &str, a: &str, b: &str| {
        let ids = column_map(&wd.path(out), "customer_id", "match_id");
        ids[a] == ids[b]
    };
    wd.ok(&["dedup", "--model", "m.json", "--input", data, "-o", "free.csv", "-q"]);
    assert!(same("free.csv", p, q) && !same("free.csv", x, y), "the model alone should side with the truth");
    wd.ok(&[
        "dedup",
        "--model",
        "m.json",
        "--config",
        "enforce.toml",
        "--input",
        data,
        "-o",
        "enforced.csv",
        "-q",
    ]);
    assert!(!same("enforced.csv", p, q), "labeled non-match {p},{q} was clustered together");
    assert!(same("enforced.csv", x, y), "labeled match {x},{y} was split");
}

#[test]
fn label_store_appends_overrides_replaces_and_exports() {
    let wd = Workdir::new();
    let def = repo("examples/customers.toml");
    let def = def.to_str().unwrap();
    let bundled = repo("labels/customers_labels.csv");
    wd.ok(&["label", "import", "--config", def, "--store", "store.csv", bundled.to_str().unwrap(), "-q"]);
    let (header, first) = read_csv(&wd.path("store.csv"));
    assert_eq!(header, ["left_key", "right_key", "is_match"]);
    assert_eq!(first.len(), 900, "20 sets of 10 records give 900 pairs");
    // A later import wins where it disagrees, and adds what is new.
    let flipped = &first[0];
    let now = if flipped[2] == "1" { "0" } else { "1" };
    // Keys in either order name the same pair.
    wd.write(
        "more.csv",
        &format!("left_key,right_key,is_match\n{},{},{now}\nzz1,zz2,1\n", flipped[1], flipped[0]),
    );
    wd.ok(&["label", "import", "--config", def, "--store", "store.csv", "more.csv", "-q"]);
    let (_, second) = read_csv(&wd.path("store.csv"));
    assert_eq!(second.len(), 901);
    let row = second.iter().find(|r| r[0] == flipped[0] && r[1] == flipped[1]).unwrap();
    assert_eq!(row[2], now);
    wd.ok(&["label", "export", "--store", "store.csv", "-o", "out.csv", "-q"]);
    assert_eq!(read_csv(&wd.path("out.csv")).1, second);
    wd.ok(&["label", "import", "--config", def, "--store", "store.csv", "--replace", "more.csv", "-q"]);
    assert_eq!(read_csv(&wd.path("store.csv")).1.len(), 2);
}

/// `synth` with `flags` into data.csv and truth.csv, `init`, `train`
/// without labels (its method must say so), `dedup`: pairwise F1 ≥ `bar`.
/// Returns train's JSON summary.
fn unsupervised_dedup_f1(flags: &str, bar: f64) -> serde_json::Value {
    let wd = Workdir::new();
    wd.ok(&words(&format!("synth -o data.csv --truth truth.csv -q {flags}")));
    wd.ok(&["init", "data.csv", "-o", "def.toml", "-q"]);
    let summary: serde_json::Value = serde_json::from_str(
        wd.ok(&["train", "--config", "def.toml", "--input", "data.csv", "-o", "model.json", "--json"]).trim(),
    )
    .unwrap();
    assert_eq!(summary["training"]["method"], "unsupervised");
    assert_dedup_f1(&wd, "model.json", bar);
    summary
}

#[test]
fn train_without_labels_learns_a_first_model() {
    // With households (a household's people share an address, surname and
    // often a phone: EM once took them for matches, F1 0.59 here), without
    // moves, which the Fellegi-Sunter model gets only partly right: a move
    // changes street, city, state, zip and phone at once (F1 0.83 with
    // them, recall 0.72; on 5,000 people 0.92).
    unsupervised_dedup_f1("--entities 800 --seed 12 --without moves", 0.95);
}

#[test]
fn train_without_labels_keeps_households_apart() {
    // 9,500 records with every phenomenon synth makes, households among
    // them: weighed as independent, a household's street, town, postcode,
    // state and surname outweighed a different first name and birth date
    // (F1 0.929, P 0.950); weighed once, 0.993.
    let summary = unsupervised_dedup_f1("--entities 5000 --seed 7", 0.97);
    let implied = summary["training"]["implied_columns"].as_array().cloned().unwrap_or_default();
    assert!(implied.contains(&"city".into()) && !implied.contains(&"first_name".into()), "{implied:?}");
}

#[test]
fn train_without_labels_holds_at_scale() {
    // 24k records with every phenomenon synth makes: EM on the candidates
    // alone called "agrees on anything" the matches here (F1 0.008, P
    // 0.004); the rules' pairs hold it to the people (0.93).
    unsupervised_dedup_f1("--entities 12000 --seed 21", 0.9);
}

#[test]
fn train_without_labels_on_people_with_many_records() {
    // 33k records of 3,000 people, most with many: EM over all columns
    // split "moved" from "stayed" and weighed names at nothing (F1 0.56,
    // P 0.44); the first fit stands instead (0.97).
    unsupervised_dedup_f1("--entities 3000 --seed 8 --duplicate-share 0.95 --max-duplicates 20", 0.9);
}

#[test]
fn active_learning_sets_leave_out_labeled_records() {
    let wd = Workdir::new();
    wd.ok(&["synth", "--entities", "400", "--seed", "6", "-o", "data.csv", "--truth", "truth.csv", "-q"]);
    wd.ok(&["init", "data.csv", "-o", "def.toml", "-q"]);
    label_and_train(&wd, &["data.csv"], "5");
    let keys = |file: &str| -> std::collections::HashSet<String> {
        read_csv(&wd.path(file)).1.into_iter().map(|r| r[2].clone()).collect()
    };
    let labeled = keys("labels.csv");
    for strategy in ["uncertain", "similar"] {
        let out = format!("{strategy}.csv");
        let args = format!(
            "label generate --config def.toml --input data.csv --model model.json --strategy {strategy} \
             --sets 5 -o {out} -q"
        );
        wd.ok(&words(&args));
        let (_, rows) = read_csv(&wd.path(&out));
        assert!(rows.len() >= 10 && rows.iter().all(|r| r[1].is_empty()), "{strategy}: {rows:?}");
        let fresh = keys(&out);
        assert!(fresh.is_disjoint(&labeled), "{strategy} repeats labeled records");
    }
    assert_ne!(keys("uncertain.csv"), keys("similar.csv"));
    let err = wd
        .fails(&words("label generate --config def.toml --input data.csv --strategy uncertain -o x.csv"), 2);
    assert!(err.contains("needs a --model"), "{err}");
}
