"""What several test files share."""

import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pc
import pytest

import findmatches

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("FINDMATCHES_BIN", REPO / "target" / "release" / "findmatches"))


@pytest.fixture
def baseline_and_new(tmp_path):
    """24,000 generated customers cut four fifths / one fifth: a baseline of the
    first part in tmp_path/"fm" (bundled model), the rest in tmp_path/"new.csv".
    Gives (baseline records, new records)."""
    assert BIN.exists(), f"{BIN} missing: run `cargo build --release` first"
    subprocess.run([str(BIN), "-q", "synth", "--entities", "12000", "--seed", "5", "-o", str(tmp_path / "all.csv")],
                   check=True)
    lines = (tmp_path / "all.csv").read_text().splitlines(keepends=True)
    cut = 1 + (len(lines) - 1) * 4 // 5
    (tmp_path / "base.csv").write_text("".join(lines[:cut]))
    (tmp_path / "new.csv").write_text(lines[0] + "".join(lines[cut:]))
    names = lines[0].strip().split(",")
    base = pc.read_csv(tmp_path / "base.csv",
                       convert_options=pc.ConvertOptions(column_types={n: pa.string() for n in names}))
    findmatches.Baseline.create(tmp_path / "fm", findmatches.Model.bundled(), base)
    return cut - 1, len(lines) - cut
