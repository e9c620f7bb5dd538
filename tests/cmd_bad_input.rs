//! The bad-input corpus: each case is a file (or flag) a data engineer
//! might be handed, and must give one clear line naming the file (and the
//! line and column where there is one), exit 1 for data and 2 for usage,
//! no panic and no output file left behind.

use crate::util::{words, Workdir};

const DEF: &str = "primary_key = \"id\"\n[columns]\nname = \"name\"\ncity = \"text\"\nborn = \"date\"\n";
const GOOD: &str = "id,name,city,born\n1,ann lee,york,1990-01-02\n2,anne lee,york,1990-01-02\n\
                    3,bob ray,leeds,1985-03-04\n4,rob ray,leeds,1985-03-04\n";
const LABELS: &str = "labeling_set_id,label,id,name,city,born\ns1,a,1,ann lee,york,1990-01-02\n\
                      s1,a,2,anne lee,york,1990-01-02\ns1,b,3,bob ray,leeds,1985-03-04\n";

/// A fresh directory with a definition, good data, labels and a model.
fn setup() -> Workdir {
    let wd = Workdir::new();
    wd.write("def.toml", DEF);
    wd.write("good.csv", GOOD);
    wd.write("labels.csv", LABELS);
    wd.ok(&words("train -q --config def.toml --input good.csv --labels labels.csv -o model.json"));
    wd
}

struct Case {
    name: &'static str,
    /// Files to write before running (name, bytes).
    files: Vec<(&'static str, Vec<u8>)>,
    args: &'static str,
    code: i32,
    /// Every one of these must be in the message.
    says: &'static [&'static str],
}

fn case(
    name: &'static str,
    files: Vec<(&'static str, &[u8])>,
    args: &'static str,
    code: i32,
    says: &'static [&'static str],
) -> Case {
    Case { name, files: files.into_iter().map(|(f, b)| (f, b.to_vec())).collect(), args, code, says }
}

const DEDUP: &str = "dedup --model model.json --input in.csv -o out.csv";

fn corpus() -> Vec<Case> {
    let big_field =
        format!("id,name,city,born\n1,{},york,1990-01-02\n2,ann,york,1990-01-02\n", "x".repeat(1 << 20));
    let big: &'static [u8] = Box::leak(big_field.into_bytes().into_boxed_slice());
    vec![
        case("empty file", vec![("in.csv", b"")], DEDUP, 1, &["in.csv", "empty file"]),
        case("header only", vec![("in.csv", b"id,name,city,born\n")], DEDUP, 1, &["in.csv", "only a header"]),
        case(
            "a row with too many fields",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n2,bob,leeds,1985-03-04,extra\n")],
            DEDUP,
            1,
            &["in.csv: line 3", "5 fields where the header has 4"],
        ),
        case(
            "a row with too few fields",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n2,bob\n")],
            DEDUP,
            1,
            &["in.csv: line 3", "2 fields where the header has 4"],
        ),
        case(
            "bytes that are not UTF-8",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n2,b\xffb,leeds,1985-03-04\n")],
            DEDUP,
            1,
            &["in.csv: line 3, column 'name'", "not valid UTF-8"],
        ),
        case(
            "a quote never closed",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n2,\"bob,leeds,\n3,cy,york,\n4,dee,hull,\n")],
            DEDUP,
            1,
            &["in.csv: line 3", "never closed"],
        ),
        case(
            "a quote never closed, with bad rows skipped",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n2,bob,leeds,\n3,\"cy,york,\n4,dee,hull\n")],
            "dedup --model model.json --input in.csv -o out.csv --on-bad-row skip",
            1,
            &["in.csv: line 4", "never closed"],
        ),
        case(
            "a NUL byte",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n2,b\0b,leeds,1985-03-04\n")],
            DEDUP,
            1,
            &["in.csv: line 3, column 'name'", "NUL"],
        ),
        case(
            "a header named twice",
            vec![("in.csv", b"id,name,name,born\n1,ann,york,1990-01-02\n")],
            DEDUP,
            1,
            &["in.csv: line 1", "'name' appears twice"],
        ),
        case(
            "an empty header",
            vec![("in.csv", b"id,,city,born\n1,ann,york,1990-01-02\n")],
            DEDUP,
            1,
            &["in.csv: line 1", "header 2 is empty"],
        ),
        case(
            "a header that is not UTF-8",
            vec![("in.csv", b"id,n\xffme,city,born\n1,ann,york,1990-01-02\n")],
            DEDUP,
            1,
            &["in.csv: line 1", "not valid UTF-8"],
        ),
        case(
            "duplicate primary keys",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n2,bob,leeds,\n1,cy,york,\n")],
            DEDUP,
            1,
            &["in.csv", "duplicate primary key '1'", "line 2 and line 4"],
        ),
        case(
            "an empty primary key",
            vec![("in.csv", b"id,name,city,born\n1,ann,york,1990-01-02\n,bob,leeds,\n")],
            DEDUP,
            1,
            &["in.csv: line 3, column 'id'", "empty primary key"],
        ),
        case(
            "a column of the model missing from the file",
            vec![("in.csv", b"id,name,born\n1,ann,1990-01-02\n2,bob,1985-03-04\n")],
            DEDUP,
            1,
            &["model.json", "city"],
        ),
        case(
            "a definition naming a column the file lacks",
            vec![("in.csv", b"id,name,born\n1,ann,1990-01-02\n2,bob,1985-03-04\n")],
            "train --config def.toml --input in.csv --labels labels.csv -o m2.json",
            2,
            &["city"],
        ),
        case(
            "a definition with an unknown kind",
            vec![("bad.toml", b"primary_key = \"id\"\n[columns]\nname = \"person\"\n")],
            "train --config bad.toml --input good.csv --labels labels.csv -o m2.json",
            2,
            &["bad.toml", "person"],
        ),
        case(
            "a definition that is not TOML",
            vec![("bad.toml", b"primary_key = \n[[[\n")],
            "train --config bad.toml --input good.csv --labels labels.csv -o m2.json",
            2,
            &["bad.toml"],
        ),
        case("a missing input file", vec![], "dedup --model model.json --input nope.csv -o out.csv", 2, &["nope.csv"]),
        case(
            "an output of unknown format",
            vec![],
            "dedup --model model.json --input good.csv -o out.xlsx",
            2,
            &["out.xlsx", ".csv"],
        ),
        case(
            "an output directory that does not exist",
            vec![],
            "dedup --model model.json --input good.csv -o nowhere/out.csv",
            2,
            &["nowhere", "no such directory"],
        ),
        case("a truncated model", vec![("m.json", b"{\"format_version\": 1, \"defin")], "dedup --model m.json --input good.csv -o out.csv", 1, &["m.json"]),
        case(
            "a model that is not JSON at all",
            vec![("m.json", b"\x89PNG\r\n\x1a\n")],
            "dedup --model m.json --input good.csv -o out.csv",
            1,
            &["m.json"],
        ),
        case(
            "a model of a newer format",
            vec![("m.json", b"{\"format_version\": 99}")],
            "dedup --model m.json --input good.csv -o out.csv",
            1,
            &["m.json", "version 99"],
        ),
        case(
            "a corrupt Parquet file",
            vec![("in.parquet", b"PAR1 this is not parquet at all PAR1")],
            "dedup --model model.json --input in.parquet -o out.csv",
            1,
            &["in.parquet"],
        ),
        case(
            "labels naming a key the data lacks",
            vec![("pairs.csv", b"left_key,right_key,is_match\n1,99,1\n")],
            "train --config def.toml --input good.csv --labels pairs.csv -o m2.json",
            1,
            &["pairs.csv: line 2, column 'right'", "'99' is not in the input data"],
        ),
        case(
            "a labeling set of one record",
            vec![("one.csv", b"labeling_set_id,label,id,name,city,born\ns1,a,1,ann lee,york,\ns2,a,3,bob ray,leeds,\ns2,b,4,rob ray,leeds,\n")],
            "train --config def.toml --input good.csv --labels one.csv -o m2.json",
            1,
            &["one.csv: line 2, column 'labeling_set_id'", "single record"],
        ),
        case(
            "a labels file of neither format",
            vec![("l.csv", b"a,b,c\n1,2,3\n")],
            "train --config def.toml --input good.csv --labels l.csv -o m2.json",
            1,
            &["l.csv", "not a labels file"],
        ),
        case(
            "an is_match that is not yes or no",
            vec![("pairs.csv", b"left_key,right_key,is_match\n1,2,maybe\n")],
            "train --config def.toml --input good.csv --labels pairs.csv -o m2.json",
            1,
            &["pairs.csv: line 2, column 'is_match'", "'maybe'"],
        ),
        case(
            "labels of a single class",
            vec![("pairs.csv", b"left_key,right_key,is_match\n1,2,1\n3,4,1\n")],
            "train --config def.toml --input good.csv --labels pairs.csv -o m2.json",
            1,
            &["non-matching"],
        ),
        case("zero threads", vec![], "dedup --model model.json --input good.csv -o out.csv --threads 0", 2, &["--threads"]),
        case(
            "rejects without skipping",
            vec![],
            "dedup --model model.json --input good.csv -o out.csv --rejects r.csv",
            2,
            &["--rejects needs --on-bad-row skip"],
        ),
        case("an unknown flag", vec![], "dedup --model model.json --input good.csv -o out.csv --fast", 2, &["--fast"]),
        case(
            "every row bad, skipped",
            vec![("in.csv", b"id,name,city,born\n1,ann\n2,bob\n")],
            "dedup --model model.json --input in.csv -o out.csv --on-bad-row skip",
            1,
            &["in.csv", "no readable records"],
        ),
        case(
            "a 1 MB field is read, not refused",
            vec![("in.csv", big)],
            "dedup --model model.json --input in.csv -o out.csv",
            0,
            &[],
        ),
    ]
}

#[test]
fn every_bad_input_gets_one_clear_line_and_leaves_nothing_behind() {
    let cases = corpus();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for c in &cases {
        let wd = setup();
        for (name, bytes) in &c.files {
            std::fs::write(wd.path(name), bytes).unwrap();
        }
        let out = wd.run(&words(c.args));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(c.code), "{}: {stderr}", c.name);
        assert!(!stderr.contains("panicked"), "{}: panic: {stderr}", c.name);
        if c.code == 0 {
            continue;
        }
        let line = stderr.trim_end();
        assert!(
            line.lines().count() == 1 || (c.code == 2 && line.contains("Usage:")),
            "{}: not one line: {stderr}",
            c.name
        );
        for s in c.says {
            assert!(line.contains(s), "{}: {line:?} does not say {s:?}", c.name);
        }
        let left: Vec<String> =
            wd.files().into_iter().filter(|f| f.contains("out.") || f.contains("m2.json")).collect();
        assert!(left.is_empty(), "{}: output left behind: {left:?}", c.name);
    }
}

#[test]
fn bad_rows_are_skipped_counted_and_listed_on_request() {
    let wd = setup();
    let mut data = GOOD.to_string();
    data.push_str("5,cy ray\n,dan lee,york,\n2,ann again,york,\n6,e\u{0}d,york,\n7,eve,york,2001-02-03\n");
    wd.write("in.csv", &data);
    let err = wd.fails(&words(DEDUP), 1);
    assert!(err.contains("in.csv: line 6: 2 fields where the header has 4"), "{err}");
    let summary = wd.ok(&words(
        "dedup --model model.json --input in.csv -o out.csv --on-bad-row skip --rejects rejects.csv",
    ));
    assert!(summary.is_empty());
    let (header, rows) = crate::util::read_csv(&wd.path("rejects.csv"));
    assert_eq!(header, ["file", "line", "row", "column", "problem"]);
    let lines: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(lines, ["6", "7", "8", "9"], "{rows:?}");
    assert!(rows[1][4].contains("empty primary key") && rows[2][4].contains("duplicate primary key '2'"));
    let (_, out) = crate::util::read_csv(&wd.path("out.csv"));
    let ids: Vec<&str> = out.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "7"], "the first of a repeated key is kept");
}

/// Every file of a directory, by name, with its bytes.
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// A way to damage a baseline directory, by name.
type Damage = (&'static str, fn(&std::path::Path));

#[test]
fn a_damaged_baseline_is_an_error_and_stays_as_it_was() {
    let damages: [Damage; 3] = [
        ("a truncated manifest", |dir| {
            let path = dir.join("manifest.json");
            let text = std::fs::read(&path).unwrap();
            std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        }),
        ("a missing segment file", |dir| {
            let segment = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(".records.parquet"))
                .unwrap();
            std::fs::remove_file(segment).unwrap();
        }),
        ("a truncated segment file", |dir| {
            let segment = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(".records.parquet"))
                .unwrap();
            let bytes = std::fs::read(&segment).unwrap();
            std::fs::write(segment, &bytes[..bytes.len() - 7]).unwrap();
        }),
    ];
    for (name, damage) in damages {
        let wd = setup();
        wd.write("new.csv", "id,name,city,born\n9,ann lee,york,1990-01-02\n10,zed,hull,\n");
        wd.ok(&words("dedup -q --model model.json --input good.csv -o base.csv --baseline fm"));
        damage(&wd.path("fm"));
        let before = snapshot(&wd.path("fm"));
        let err = wd.fails(&words("incremental --baseline fm --input new.csv -o out.csv"), 1);
        assert!(err.contains("fm"), "{name}: {err}");
        assert_eq!(snapshot(&wd.path("fm")), before, "{name}: the baseline changed");
        assert!(!wd.files().iter().any(|f| f.contains("out.")), "{name}: output left behind");
    }
}

/// Inputs fuzzing found to crash findmatches, kept as regression tests
/// (`tests/fuzz_regressions/`): each must be one clear error now.
#[test]
fn fuzz_regressions_are_errors_not_crashes() {
    let dir = crate::util::repo("tests/fuzz_regressions");
    let mut found = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let wd = Workdir::new();
        let input = path.display().to_string();
        let err = wd.fails(&["dedup", "--input", &input, "-o", "out.csv"], 1);
        assert!(err.contains(&input) && err.contains("corrupt Parquet file"), "{err}");
        assert!(!err.contains("internal error"), "{err}");
        found += 1;
    }
    assert!(found >= 2);
}
