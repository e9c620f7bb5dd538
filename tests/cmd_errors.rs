//! Bad input: one clear line naming the file (and line/column where
//! known), exit 1 for data, 2 for usage, no panic, no output file.

use crate::util::{repo, Workdir};

const DEF: &str = "primary_key = \"id\"\n[columns]\nname = \"name\"\ncity = \"text\"\n";

pub(crate) fn setup() -> Workdir {
    let wd = Workdir::new();
    wd.write("def.toml", DEF);
    wd.write("good.csv", "id,name,city\n1,ann lee,york\n2,anne lee,york\n3,bob ray,leeds\n4,rob ray,leeds\n");
    wd.write("labels.csv", "labeling_set_id,label,id,name,city\ns1,a,1,ann lee,york\ns1,a,2,anne lee,york\ns1,b,3,bob ray,leeds\n");
    wd
}

fn dedup_fails(wd: &Workdir, input: &str, code: i32) -> String {
    let err = wd.fails(&["dedup", "--model", "model.json", "--input", input, "-o", "out.csv"], code);
    assert!(
        !wd.files().iter().any(|f| f.starts_with("out.csv") || f.starts_with(".out.csv")),
        "output left behind"
    );
    err
}

pub(crate) fn trained() -> Workdir {
    let wd = setup();
    wd.ok(&[
        "train",
        "-q",
        "--config",
        "def.toml",
        "--input",
        "good.csv",
        "--labels",
        "labels.csv",
        "-o",
        "model.json",
    ]);
    wd
}

#[test]
fn missing_input_file_is_a_usage_error() {
    let wd = trained();
    let err = dedup_fails(&wd, "nope.csv", 2);
    assert!(err.contains("nope.csv: no such file"), "{err}");
}

#[test]
fn unknown_column_in_the_definition() {
    let wd = setup();
    wd.write("bad.toml", &DEF.replace("city = \"text\"", "town = \"text\""));
    let err = wd.fails(
        &["train", "--config", "bad.toml", "--input", "good.csv", "--labels", "labels.csv", "-o", "m.json"],
        2,
    );
    assert!(err.contains("bad.toml") && err.contains("'town' not in good.csv"), "{err}");
    assert!(!wd.path("m.json").exists());
}

#[test]
fn unknown_kind_in_the_definition() {
    let wd = setup();
    wd.write("bad.toml", &DEF.replace("\"text\"", "\"txt\""));
    let err = wd.fails(
        &["train", "--config", "bad.toml", "--input", "good.csv", "--labels", "labels.csv", "-o", "m.json"],
        2,
    );
    assert!(err.contains("bad.toml") && err.contains("txt"), "{err}");
}

#[test]
fn duplicate_primary_keys() {
    let wd = trained();
    wd.write("dup.csv", "id,name,city\n1,ann,york\n2,bob,leeds\n1,cy,hull\n");
    let err = dedup_fails(&wd, "dup.csv", 1);
    assert!(err.contains("dup.csv: duplicate primary key '1'") && err.contains("line 2 and line 4"), "{err}");
}

#[test]
fn empty_primary_key() {
    let wd = trained();
    wd.write("empty_key.csv", "id,name,city\n1,ann,york\n,bob,leeds\n");
    let err = dedup_fails(&wd, "empty_key.csv", 1);
    assert!(err.contains("empty_key.csv: line 3, column 'id': empty primary key"), "{err}");
}

#[test]
fn empty_and_header_only_files() {
    let wd = trained();
    wd.write("empty.csv", "");
    assert!(dedup_fails(&wd, "empty.csv", 1).contains("empty.csv: line 1: empty file"));
    wd.write("header.csv", "id,name,city\n");
    assert!(dedup_fails(&wd, "header.csv", 1).contains("header.csv: line 1: no records"));
}

#[test]
fn malformed_csv_row() {
    let wd = trained();
    wd.write("ragged.csv", "id,name,city\n1,ann,york\n2,bob,leeds,extra\n");
    let err = dedup_fails(&wd, "ragged.csv", 1);
    assert!(err.contains("ragged.csv: line 3: 4 fields where the header has 3"), "{err}");
}

#[test]
fn non_utf8_field() {
    let wd = trained();
    std::fs::write(wd.path("latin1.csv"), b"id,name,city\n1,ann,york\n2,Jos\xe9,leeds\n").unwrap();
    let err = dedup_fails(&wd, "latin1.csv", 1);
    assert!(err.contains("latin1.csv: line 3, column 'name': not valid UTF-8"), "{err}");
}

#[test]
fn labels_naming_unknown_keys() {
    let wd = setup();
    wd.write("bad_labels.csv", "left_key,right_key,is_match\n1,2,1\n3,99,0\n");
    let err = wd.fails(
        &[
            "train",
            "--config",
            "def.toml",
            "--input",
            "good.csv",
            "--labels",
            "bad_labels.csv",
            "-o",
            "m.json",
        ],
        1,
    );
    assert!(
        err.contains("bad_labels.csv: line 3, column 'right': key '99' is not in the input data"),
        "{err}"
    );
    assert!(!wd.path("m.json").exists());
}

#[test]
fn labeling_set_of_one_record() {
    let wd = setup();
    wd.write(
        "one.csv",
        "labeling_set_id,label,id,name,city\ns1,a,1,ann,york\ns1,b,2,bob,leeds\ns2,a,3,bob,leeds\n",
    );
    let err = wd.fails(
        &["train", "--config", "def.toml", "--input", "good.csv", "--labels", "one.csv", "-o", "m.json"],
        1,
    );
    assert!(
        err.contains("one.csv: line 4, column 'labeling_set_id'") && err.contains("single record"),
        "{err}"
    );
}

#[test]
fn model_trained_on_another_schema() {
    let wd = trained();
    // The bundled customers model on this data, and this model on customers.
    let err = wd.fails(&["dedup", "--input", "good.csv", "-o", "out.csv"], 1);
    assert!(err.contains("bundled model") && err.contains("first_name"), "{err}");
    let customers = repo("examples/data/customers.csv").display().to_string();
    let err = wd.fails(&["dedup", "--model", "model.json", "--input", &customers, "-o", "out.csv"], 1);
    assert!(err.contains("model.json: needs column(s) id, name"), "{err}");
    assert!(!wd.path("out.csv").exists());
}

#[test]
fn corrupt_model_file() {
    let wd = trained();
    let text = std::fs::read_to_string(wd.path("model.json")).unwrap();
    wd.write("model.json", &text[..text.len() / 2]);
    let err = dedup_fails(&wd, "good.csv", 1);
    assert!(err.contains("model.json: corrupt"), "{err}");
}

#[test]
fn bad_output_extension_and_flags_are_usage_errors() {
    let wd = trained();
    let err = wd.fails(&["dedup", "--model", "model.json", "--input", "good.csv", "-o", "out.xlsx"], 2);
    assert!(err.contains("out.xlsx"), "{err}");
    let out = wd.run(&["dedup", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}
