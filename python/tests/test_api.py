"""The Python API against the command line on the bundled example data.

Needs the binary (``cargo build --release``; ``FINDMATCHES_BIN`` to point
elsewhere) and the wheel installed (``tests/run.sh`` does both).
"""

import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pc
import pytest

import findmatches

from conftest import BIN, REPO, kill_trials  # noqa: E402

DATA = REPO / "examples" / "data"


def read(path: Path) -> pa.Table:
    """A CSV with every column as strings, as findmatches reads it."""
    names = path.open().readline().strip().split(",")
    return pc.read_csv(path, convert_options=pc.ConvertOptions(column_types={n: pa.string() for n in names}))


def cli(*args: str) -> None:
    assert BIN.exists(), f"{BIN} missing: run `cargo build --release` first"
    subprocess.run([str(BIN), "-q", *map(str, args)], check=True)


def same_rows(python: pa.Table, cli_csv: Path) -> None:
    """The Python output equals the CLI's row for row (the CLI writes scores with 4 decimals)."""
    written = read(cli_csv)
    assert python.column_names == written.column_names
    for name in python.column_names:
        ours = python.column(name)
        if name == "match_confidence_score":
            assert [f"{v:.4f}".rstrip("0").rstrip(".") for v in ours.to_pylist()] == [
                v.rstrip("0").rstrip(".") if "." in v else v for v in written.column(name).to_pylist()
            ]
        else:
            # A missing value is an empty field in CSV.
            assert ["" if v is None else str(v) for v in ours.to_pylist()] == written.column(name).to_pylist(), name


def test_dedup_equals_the_cli_row_for_row(tmp_path):
    cli("dedup", "--input", DATA / "customers.csv", "-o", tmp_path / "cli.csv")
    out = findmatches.Model.bundled().dedup(read(DATA / "customers.csv"))
    assert out.num_rows == read(DATA / "customers.csv").num_rows
    same_rows(out, tmp_path / "cli.csv")


def test_trained_model_and_link_equal_the_cli(tmp_path):
    customers = read(DATA / "customers.csv")
    labels = REPO / "labels" / "customers_labels.csv"
    config = REPO / "examples" / "customers.toml"
    model = findmatches.Model.train(customers, config=config, labels=labels)
    cli("train", "--config", config, "--input", DATA / "customers.csv", "--labels", labels, "-o", tmp_path / "m.json")
    assert model.to_json() == Path(tmp_path / "m.json").read_text()
    model.save(tmp_path / "py.json")
    assert findmatches.Model.load(tmp_path / "py.json").to_json() == model.to_json()

    prospects = read(DATA / "prospects_2026_01.csv")
    out = model.link(customers, prospects, names=("customers.csv", "prospects_2026_01.csv"))
    cli("link", "--model", tmp_path / "m.json", "--left", DATA / "customers.csv",
        "--right", DATA / "prospects_2026_01.csv", "-o", tmp_path / "cli.csv")
    same_rows(out, tmp_path / "cli.csv")
    assert set(model.link(customers, prospects).column("source").to_pylist()) == {"left", "right"}


def test_pandas_and_record_batches_are_accepted_and_unsupervised_training_works():
    customers = read(DATA / "customers.csv")
    model = findmatches.Model.train([customers.to_pandas()])
    assert model.primary_key == "customer_id"
    assert ("email", "email") in model.columns
    out = model.dedup(customers.to_batches()[0])
    matched = out.num_rows - len(set(out.column("match_id").to_pylist()))
    assert matched > 100, "learning without labels found too few duplicates"
    assert isinstance(model.dedup(customers.to_pandas()), pa.Table)


def test_errors_are_python_exceptions_with_the_cli_messages():
    model = findmatches.Model.bundled()
    customers = read(DATA / "customers.csv")
    with pytest.raises(findmatches.DataError, match="lacks column"):
        model.dedup(customers.drop_columns(["email"]))
    twice = pa.concat_tables([customers.slice(0, 3), customers.slice(0, 1)])
    with pytest.raises(findmatches.DataError, match=r"table: .*c00000.*row 1.*row 4"):
        model.dedup(twice)
    with pytest.raises(findmatches.UsageError, match="no such file"):
        findmatches.Model.load("no-such-model.json")
    with pytest.raises(findmatches.FindMatchesError):
        findmatches.Model.train(customers, labels="no-such-labels.csv")
    with pytest.raises(TypeError, match="pyarrow.Table"):
        model.dedup([1, 2, 3])


def test_evaluate_and_explain_give_the_cli_json(tmp_path):
    labels = REPO / "labels" / "customers_labels.csv"
    model = findmatches.Model.bundled()
    customers = read(DATA / "customers.csv")
    ours = model.evaluate(customers, labels)
    cli_json = subprocess.run(
        [str(BIN), "evaluate", "--json", "--input", DATA / "customers.csv", "--labels", labels],
        check=True, capture_output=True, text=True,
    ).stdout
    assert ours == json.loads(cli_json)
    assert 0.9 < ours["f1"] <= 1.0 and ours["confusion"]["true_matches"] > 0
    why = model.explain(customers, "c00555", "c00331")
    cli_why = subprocess.run(
        [str(BIN), "explain", "--json", "--input", DATA / "customers.csv", "--pair", "c00555,c00331"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert why == json.loads(cli_why)
    assert {p["part"] for p in why["parts"]} >= {"first_name", "birth_date"}
    with pytest.raises(findmatches.UsageError, match="no record has key 'nobody'"):
        model.explain(customers, "c00555", "nobody")


def test_baseline_incremental_equals_the_cli_and_folds_each_table_once(tmp_path):
    customers = read(DATA / "customers.csv")
    prospects = read(DATA / "prospects_2026_01.csv")
    model = findmatches.Model.bundled()
    base = findmatches.Baseline.create(tmp_path / "py", model, customers, name="customers")
    assert (base.generation, base.records) == (1, customers.num_rows)
    with pytest.raises(findmatches.UsageError, match="already exists"):
        findmatches.Baseline.create(tmp_path / "py", model, customers)

    dry = base.incremental(prospects, dry_run=True)
    assert base.generation == 1
    out = findmatches.Baseline.open(tmp_path / "py").incremental(prospects)
    assert out.equals(dry)
    assert base.generation == 2 and base.records == customers.num_rows + prospects.num_rows
    assert base.incremental(prospects) is None, "the same table was folded in twice"
    assert base.generation == 2
    assert base.model.to_json() == model.to_json()

    cli("dedup", "--input", DATA / "customers.csv", "-o", tmp_path / "d.csv", "--baseline", tmp_path / "cli")
    cli("incremental", "--baseline", tmp_path / "cli", "--input", DATA / "prospects_2026_01.csv",
        "-o", tmp_path / "inc.csv")
    same_rows(out, tmp_path / "inc.csv")
    statuses = out.column("match_status").to_pylist()
    assert statuses.count("existing") > 100 and "new_unique" in statuses


def test_label_generate_equals_the_cli_and_a_filled_sheet_trains(tmp_path):
    customers = read(DATA / "customers.csv")
    config = REPO / "examples" / "customers.toml"
    sheet = findmatches.label_generate(customers, config=config, sets=5, seed=3)
    cli("label", "generate", "--config", config, "--input", DATA / "customers.csv",
        "--sets", "5", "--seed", "3", "-o", tmp_path / "sheet.csv")
    same_rows(sheet, tmp_path / "sheet.csv")
    assert sheet.column_names[:2] == ["labeling_set_id", "label"]
    assert set(sheet.column("label").to_pylist()) == {None}

    # Fill it from the truth, as a person would, and train on the table itself.
    truth = dict(pc.read_csv(DATA / "customers_truth.csv").to_pandas().astype(str).values)
    filled = sheet.to_pandas()
    filled["label"] = [truth[k] for k in filled["customer_id"]]
    model = findmatches.Model.train(customers, config=config, labels=filled)
    filled.to_csv(tmp_path / "filled.csv", index=False)
    from_file = findmatches.Model.train(customers, config=config, labels=tmp_path / "filled.csv")
    assert model.to_json() == from_file.to_json()

    # Active learning: the model's labeled records are left out.
    active = findmatches.label_generate(customers, model=model, sets=5, seed=3)
    assert not set(active.column("customer_id").to_pylist()) & set(filled["customer_id"])
    with pytest.raises(findmatches.UsageError, match="need a model"):
        findmatches.label_generate(customers, config=config, uncertain=True)


KILLED_RUN = """
import sys, pyarrow as pa, pyarrow.csv as pc, findmatches
names = open(sys.argv[2]).readline().strip().split(",")
table = pc.read_csv(sys.argv[2], convert_options=pc.ConvertOptions(column_types={n: pa.string() for n in names}))
print("ready", flush=True)
findmatches.Baseline.open(sys.argv[1]).incremental(table)
"""


def test_a_python_process_killed_mid_run_leaves_the_old_or_the_new_generation(tmp_path, baseline_and_new):
    # Then a stale lock is recovered, and a table folded in is not folded
    # in twice.
    kill_trials(tmp_path, KILLED_RUN, [0.3 + 0.09 * i for i in range(12)], rerun=True)
