//! `--report`: the HTML report of a run.

use crate::util::{read_csv, repo, Workdir};

fn dedup_with_report(wd: &Workdir, input: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec![
        "dedup",
        "--input",
        input,
        "-o",
        "out.csv",
        "--pairs",
        "pairs.csv",
        "--report",
        "r.html",
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    let out = wd.ok(&args);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    (std::fs::read_to_string(wd.path("r.html")).unwrap(), summary)
}

/// The probabilities a report's review section lists under `heading`, in order.
fn listed(html: &str, heading: &str) -> Vec<String> {
    let start = html.find(&format!("<h3>{heading}</h3>")).unwrap();
    let rest = &html[start + heading.len() + 9..];
    let end = rest.find("<h3>").or_else(|| rest.find("</section>")).unwrap();
    rest[..end]
        .split("<th>probability ")
        .skip(1)
        .map(|s| s.split(|c: char| c != '.' && !c.is_ascii_digit()).next().unwrap().to_string())
        .collect()
}

#[test]
fn a_dedup_report_is_one_offline_page_with_the_runs_figures_and_its_weakest_matches() {
    let wd = Workdir::new();
    let (html, summary) =
        dedup_with_report(&wd, &repo("examples/data/customers.csv").display().to_string(), &[]);
    let stats = &summary["stats"];
    for id in ["run", "scores", "review"] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "no {id} section");
    }
    for (label, value) in [
        ("records", &stats["records"]),
        ("candidate pairs", &stats["blocking"]["candidates"]),
        ("clusters (records alone included)", &stats["clusters"]),
        ("records matched (in clusters of two or more)", &stats["matched_records"]),
    ] {
        assert!(
            html.contains(&format!("<tr><td>{label}</td><td class=\"num\">{value}</td></tr>")),
            "{label} {value}"
        );
    }
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "histograms of scores and cluster sizes, the model's weights"
    );
    for id in ["model", "largest-keys", "weights", "importance"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "no {id}");
    }
    // Self-contained: nothing fetched (the SVG namespace is a name, not a fetch).
    let fetches = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for outside in ["http://", "https://", "<script src", "<link", "@import"] {
        assert!(!fetches.contains(outside), "the report reaches for {outside}");
    }
    assert!(html.len() < 200_000, "{} bytes", html.len());
    // The weakest matches are the lowest-scoring pairs at or above the
    // threshold, lowest first; the closest non-matches the highest below it.
    let threshold = stats["threshold"].as_f64().unwrap();
    let (header, rows) = read_csv(&wd.path("pairs.csv"));
    let p = header.iter().position(|h| h == "match_probability").unwrap();
    let mut scores: Vec<f64> = rows.iter().map(|r| r[p].parse().unwrap()).collect();
    scores.sort_by(f64::total_cmp);
    let fmt = |v: &f64| format!("{v:.4}");
    let above: Vec<String> = scores.iter().filter(|&&s| s >= threshold).take(10).map(fmt).collect();
    let below: Vec<String> = scores.iter().rev().filter(|&&s| s < threshold).take(10).map(fmt).collect();
    assert_eq!(listed(&html, "Weakest matches"), above);
    assert_eq!(listed(&html, "Closest non-matches"), below);
    assert_eq!(above.len(), 10);
}

#[test]
fn report_values_are_escaped_and_a_wrong_name_is_refused_before_the_run() {
    let wd = Workdir::new();
    // The bundled example with markup in every first name.
    let (header, rows) = read_csv(&repo("examples/data/customers.csv"));
    let first = header.iter().position(|h| h == "first_name").unwrap();
    let mut writer = csv::Writer::from_path(wd.path("people.csv")).unwrap();
    writer.write_record(&header).unwrap();
    for mut row in rows {
        row[first] = format!("<b>{} & co</b>", row[first]);
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    let model = repo("models/default.json").display().to_string();
    let (html, _) = dedup_with_report(&wd, "people.csv", &["--model", &model]);
    assert!(
        html.contains(" &amp; co&lt;&#x2f;b&gt;") || html.contains(" &amp; co&lt;/b&gt;"),
        "values are not escaped"
    );
    assert!(!html.contains(" & co</b>"));
    std::fs::remove_file(wd.path("out.csv")).unwrap();
    let err = wd.fails(&["dedup", "--input", "people.csv", "-o", "out.csv", "--report", "r.txt"], 2);
    assert!(err.contains("r.txt: a report must end in .html"), "{err}");
    assert!(!wd.path("out.csv").exists(), "the run went ahead");
}

/// The first pair listed under `heading`: its two keys, and the evidence
/// of each matched column as printed, with whether its values are shaded.
fn first_pair(html: &str, heading: &str) -> ((String, String), Vec<(String, bool)>) {
    let start = html.find(&format!("<h3>{heading}</h3>")).unwrap();
    let table = &html[start..];
    let table = &table[..table.find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    let cell = |row: &str, n: usize| {
        let c = row.split("<td").nth(n + 1).unwrap();
        let c = &c[c.find('>').unwrap() + 1..];
        c[..c.find('<').unwrap()].to_string()
    };
    let keys = (cell(rows[0], 1), cell(rows[0], 2));
    let evidence = (rows[1..].iter())
        .filter(|r| !r.contains("colspan"))
        .map(|r| (cell(r, 3), r.contains("class=\"differs\"")))
        .collect();
    (keys, evidence)
}

#[test]
fn a_review_pairs_evidence_is_explains_column_by_column() {
    let wd = Workdir::new();
    let input = repo("examples/data/customers.csv").display().to_string();
    let (html, _) = dedup_with_report(&wd, &input, &[]);
    for heading in ["Weakest matches", "Closest non-matches"] {
        let ((left, right), shown) = first_pair(&html, heading);
        let out = wd.ok(&["explain", "--input", &input, "--pair", &format!("{left},{right}"), "--json"]);
        let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let columns =
            ["first_name", "last_name", "email", "phone", "street", "city", "state", "zip", "birth_date"];
        let parts = e["parts"].as_array().unwrap();
        // Shaded where the values differ as the model compares them
        // (normalized: a date written two ways is not shaded).
        let expected: Vec<(String, bool)> = columns
            .iter()
            .map(|c| {
                let part = parts.iter().find(|p| p["part"] == *c).unwrap();
                (format!("{:+.2}", part["evidence"].as_f64().unwrap()), part["left"] != part["right"])
            })
            .collect();
        assert_eq!(shown, expected, "{heading}: {left},{right}");
        let total = format!("<b>{:+.2}</b>", e["evidence"].as_f64().unwrap());
        let start = html.find(&format!("<h3>{heading}</h3>")).unwrap();
        let table = &html[start..start + html[start..].find("</table>").unwrap()];
        assert!(table.contains(&total), "{heading}: no total {total}");
    }
}

/// Run `args` (with `--report r.html --json -q`) in `wd`: the report and the summary.
fn reported(wd: &Workdir, args: &[&str]) -> (String, serde_json::Value) {
    let _ = std::fs::remove_file(wd.path("r.html"));
    let mut all = args.to_vec();
    all.extend_from_slice(&["--report", "r.html", "--json", "-q"]);
    let out = wd.ok(&all);
    let summary = serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null);
    (std::fs::read_to_string(wd.path("r.html")).unwrap(), summary)
}

fn figure(html: &str, label: &str) -> String {
    let row = format!("<tr><td>{label}</td><td class=\"num\">");
    let at = html.find(&row).unwrap_or_else(|| panic!("no figure {label}")) + row.len();
    html[at..at + html[at..].find('<').unwrap()].to_string()
}

fn sections(html: &str) -> Vec<&str> {
    html.split("<section id=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect()
}

#[test]
fn link_incremental_and_evaluate_report_their_own_figures() {
    let wd = Workdir::new();
    let data = |f: &str| repo(&format!("examples/data/{f}")).display().to_string();
    let (jan, feb) = (data("prospects_2026_01.csv"), data("prospects_2026_02.csv"));
    // Link: a run's sections, its figures.
    let (html, summary) = reported(&wd, &["link", "--left", &jan, "--right", &feb, "-o", "link.csv"]);
    assert_eq!(sections(&html), ["run", "scores", "review", "model"]);
    assert_eq!(figure(&html, "candidate pairs"), summary["stats"]["blocking"]["candidates"].to_string());
    assert_eq!(figure(&html, "records"), summary["stats"]["records"].to_string());
    // Its review shows each pair's records from their own tables: the
    // evidence is explain's for those keys in the two inputs.
    let ((left, right), shown) = first_pair(&html, "Weakest matches");
    let out =
        wd.ok(&["explain", "--input", &jan, "--input", &feb, "--pair", &format!("{left},{right}"), "--json"]);
    let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let first_name = e["parts"].as_array().unwrap().iter().find(|p| p["part"] == "first_name").unwrap();
    assert_eq!(shown[0].0, format!("{:+.2}", first_name["evidence"].as_f64().unwrap()));
    assert!(html.contains(&format!("<b>{:+.2}</b>", e["evidence"].as_f64().unwrap())));
    // Incremental, merging: the statuses, each merge with its bridge.
    wd.ok(&["dedup", "--input", &data("customers.csv"), "-o", "base.csv", "--baseline", "b", "-q"]);
    let (html, summary) =
        reported(&wd, &["incremental", "--baseline", "b", "--input", &jan, "-o", "i.csv", "--allow-merges"]);
    assert_eq!(sections(&html), ["run", "scores", "review", "model", "incremental"]);
    for (status, label) in [
        ("existing", "new rows that joined a baseline cluster (existing)"),
        ("new_duplicate", "new rows that matched only new rows (new_duplicate)"),
        ("new_unique", "new rows that matched nothing (new_unique)"),
        ("generation", "baseline generation"),
    ] {
        assert_eq!(figure(&html, label), summary[status].to_string(), "{status}");
    }
    let merges = summary["merges"].as_array().unwrap();
    assert!(!merges.is_empty(), "the example bridges two baseline clusters");
    let (out_header, out_rows) = read_csv(&wd.path("i.csv"));
    let id_col = out_header.iter().position(|h| h == "match_id").unwrap();
    for m in merges {
        let (kept, absorbed) = (m[0].to_string(), m[1].to_string());
        let at = html.find(&format!("Baseline cluster {absorbed} merged into {kept}")).unwrap();
        let table = &html[at..at + html[at..].find("</table>").unwrap()];
        // Every new row now in the kept cluster is listed as a bridge,
        // then one record of each baseline cluster.
        let new_rows = out_rows.iter().filter(|r| r[id_col] == kept).count();
        assert_eq!(table.matches("<tr><td>new</td>").count(), new_rows);
        assert!(
            table.contains("<tr><td>baseline, kept</td>")
                && table.contains("<tr><td>baseline, absorbed</td>")
        );
    }
    assert!(html.contains("<td>prospects_2026_01.csv</td>") && html.contains("<td>customers.csv</td>"));
    // The baseline's report lists the merges it recorded.
    wd.ok(&["report", "--baseline", "b", "-o", "b.html", "-q"]);
    let baseline = std::fs::read_to_string(wd.path("b.html")).unwrap();
    let recorded: Vec<String> = merges.iter().map(|m| format!("{} ← {}", m[0], m[1])).collect();
    assert!(
        baseline
            .contains(&format!("Merges the baseline recorded (kept ← absorbed): {}", recorded.join(", "))),
        "{recorded:?}"
    );
    // Evaluate: the held-out figures and the confusion matrix.
    let (html, e) = reported(
        &wd,
        &[
            "evaluate",
            "--input",
            &data("customers.csv"),
            "--labels",
            &repo("labels/customers_labels.csv").display().to_string(),
        ],
    );
    assert_eq!(sections(&html), ["model", "evaluate"]);
    let c = &e["confusion"];
    let matrix = format!(
        "<tr><th>labeled match</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n\
         <tr><th>labeled non-match</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        c["true_matches"], c["missed_matches"], c["false_matches"], c["true_non_matches"]
    );
    assert!(html.contains(&matrix), "confusion matrix");
    assert_eq!(figure(&html, "AUPRC"), format!("{:.3}", e["auprc"].as_f64().unwrap()));
    assert_eq!(html.matches("<svg").count(), 3, "weights, precision-recall, against the threshold");
    assert!(html.contains(&format!(
        "<tr><td>{}</td><td class=\"num\">",
        e["column_importance"][0][0].as_str().unwrap()
    )));
}

#[test]
fn a_models_report_gives_each_levels_weight_and_a_baselines_its_history() {
    let wd = Workdir::new();
    let model_path = repo("models/default.json");
    wd.ok(&["report", "--model", &model_path.display().to_string(), "-o", "m.html", "-q"]);
    let html = std::fs::read_to_string(wd.path("m.html")).unwrap();
    assert_eq!(sections(&html), ["model"]);
    // A level's weight: the column's `present` and every level up to it,
    // and at `exact` its similarities too (an exact value is fully similar).
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model_path).unwrap()).unwrap();
    let weight = |f: &str| {
        let i = model["features"].as_array().unwrap().iter().position(|x| x == f).unwrap();
        model["weights"][i].as_f64().unwrap()
    };
    let names = ["present", "initial", "similar", "close", "exact", "jaro_winkler"];
    let exact: f64 = names.iter().map(|n| weight(&format!("first_name.{n}"))).sum();
    let similar: f64 = names[..3].iter().map(|n| weight(&format!("first_name.{n}"))).sum();
    let row = format!(
        "<tr><td>first_name</td><td>name</td><td class=\"num\">+0.00</td><td class=\"num\">{:+.2}</td>",
        weight("first_name.present")
    );
    let at =
        html.find(&row).unwrap_or_else(|| panic!("no {row}: missing moves nothing, different is `present`"));
    let row = &html[at..at + html[at..].find("</tr>").unwrap()];
    for (level, value) in [("exact", exact), ("similar", similar)] {
        assert!(
            row.contains(&format!("<span class=\"level\">{level} <b>{value:+.2}</b>")),
            "{level} in {row}"
        );
    }
    let data = repo("examples/data/customers.csv").display().to_string();
    wd.ok(&["dedup", "--input", &data, "-o", "o.csv", "--baseline", "b", "-q"]);
    wd.ok(&["report", "--baseline", "b", "-o", "b.html", "-q"]);
    let html = std::fs::read_to_string(wd.path("b.html")).unwrap();
    assert_eq!(sections(&html), ["model", "incremental"]);
    assert_eq!(figure(&html, "baseline generation"), "1");
    assert!(html.contains("<td>customers.csv</td><td class=\"num\">1939</td>"));
    let err = wd.fails(&["report", "-o", "x.html"], 2);
    assert!(err.contains("--model") && err.contains("--baseline"), "{err}");
}

#[test]
fn an_incremental_run_whose_report_fails_says_its_records_are_folded_in() {
    let wd = Workdir::new();
    let data = |f: &str| repo(&format!("examples/data/{f}")).display().to_string();
    wd.ok(&["dedup", "--input", &data("customers.csv"), "-o", "base.csv", "--baseline", "b", "-q"]);
    // A directory where the report should go: the path checks out before
    // the run (its directory is writable), and writing it fails after.
    std::fs::create_dir(wd.path("r.html")).unwrap();
    let jan = data("prospects_2026_01.csv");
    let err = wd
        .fails(&["incremental", "--baseline", "b", "--input", &jan, "-o", "i.csv", "--report", "r.html"], 1);
    assert!(
        err.contains(
            "i.csv is written and the new records are folded in (generation 2); only the report failed"
        ),
        "{err}"
    );
    let again = wd.ok(&["incremental", "--baseline", "b", "--input", &jan, "-o", "i2.csv", "--json", "-q"]);
    assert!(again.contains("\"noop\":true"), "the run was committed: {again}");
}

/// A headless Chromium (`chromium`, or `FINDMATCHES_BROWSER`); None when
/// there is none and `FINDMATCHES_REQUIRE_BROWSER` is not 1 (`.ci/run`
/// installs the Debian package and sets it).
fn browser() -> Option<String> {
    let name = std::env::var("FINDMATCHES_BROWSER").unwrap_or_else(|_| "chromium".to_string());
    let found = std::process::Command::new(&name).arg("--version").output().is_ok_and(|o| o.status.success());
    match (found, std::env::var("FINDMATCHES_REQUIRE_BROWSER").as_deref()) {
        (true, _) => Some(name),
        (false, Ok("1")) => panic!("{name} not found and FINDMATCHES_REQUIRE_BROWSER=1"),
        (false, _) => {
            eprintln!("skipped: no {name} (set FINDMATCHES_REQUIRE_BROWSER=1 to require it)");
            None
        }
    }
}

#[test]
fn every_kind_of_report_renders_in_headless_chromium_with_its_sections_and_no_console_errors() {
    let Some(chromium) = browser() else { return };
    let wd = Workdir::new();
    let data = |f: &str| repo(&format!("examples/data/{f}")).display().to_string();
    let (customers, jan, feb) =
        (data("customers.csv"), data("prospects_2026_01.csv"), data("prospects_2026_02.csv"));
    let labels = repo("labels/customers_labels.csv").display().to_string();
    let model = repo("models/default.json").display().to_string();
    let kinds: [(&str, Vec<&str>, &[&str]); 6] = [
        (
            "dedup",
            vec!["dedup", "--input", &customers, "-o", "d.csv", "--baseline", "b", "--report"],
            &["run", "scores", "review", "model"],
        ),
        (
            "link",
            vec!["link", "--left", &jan, "--right", &feb, "-o", "l.csv", "--report"],
            &["run", "scores", "review", "model"],
        ),
        (
            "incremental",
            vec![
                "incremental",
                "--baseline",
                "b",
                "--input",
                &jan,
                "-o",
                "i.csv",
                "--allow-merges",
                "--report",
            ],
            &["run", "scores", "review", "model", "incremental"],
        ),
        (
            "evaluate",
            vec!["evaluate", "--input", &customers, "--labels", &labels, "--report"],
            &["model", "evaluate"],
        ),
        ("model", vec!["report", "--model", &model, "-o"], &["model"]),
        ("baseline", vec!["report", "--baseline", "b", "-o"], &["model", "incremental"]),
    ];
    for (kind, mut args, expected) in kinds {
        let page = format!("{kind}.html");
        args.extend_from_slice(&[&page, "-q"]);
        wd.ok(&args);
        let url = format!("file://{}", wd.path(&page).display());
        let headless = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"];
        let run = |extra: &[&str]| {
            let out =
                std::process::Command::new(&chromium).args(headless).args(extra).arg(&url).output().unwrap();
            assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
            out
        };
        // The page as the browser built it: its sections, and the filter
        // box the script adds to a review (so the script ran).
        let dom = run(&["--dump-dom"]);
        let (html, log) = (String::from_utf8_lossy(&dom.stdout), String::from_utf8_lossy(&dom.stderr));
        assert_eq!(sections(&html), expected, "{kind}");
        assert!(html.matches("<svg").count() >= 1, "{kind}: no chart");
        assert_eq!(
            html.contains("id=\"filter\""),
            expected.contains(&"review"),
            "{kind}: the script did not run"
        );
        let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
        assert!(console.is_empty(), "{kind}: console messages: {console:?}");
        // A screenshot with something on it: a blank page compresses to a few kilobytes.
        let shot = wd.path(&format!("{kind}.png"));
        run(&["--window-size=1200,2000", &format!("--screenshot={}", shot.display())]);
        let bytes = std::fs::read(&shot).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{kind}: not a PNG");
        assert!(bytes.len() > 50_000, "{kind}: a {}-byte screenshot: blank?", bytes.len());
    }
}
