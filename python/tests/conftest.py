"""What several test files share."""

import os
import signal
import shutil
import subprocess
import sys
import time
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


def kill_trials(tmp_path, script: str, delays, *, whole_group: bool = False, rerun: bool = False) -> None:
    """Run `script` (a Python program: argv baseline dir, new file; it prints
    "ready" once it has read its input, then folds the new file in) on copies
    of the `baseline_and_new` baseline, SIGKILLed each of `delays` (fractions
    of a whole run's time) after "ready": its process group too with
    `whole_group` (a Spark driver's JVM). Each copy must verify and hold the
    old generation or the new one, and both must occur. With `rerun`, the
    run then completes on each copy: a stale lock is recovered and the file
    is folded in once."""
    new = tmp_path / "new.csv"
    base_rows = findmatches.Baseline.open(tmp_path / "fm").records
    new_rows = len(new.read_text().splitlines()) - 1

    def run(dir, delay=None):
        child = subprocess.Popen([sys.executable, "-c", script, str(dir), str(new)],
                                 stdout=subprocess.PIPE, start_new_session=whole_group)
        assert child.stdout.readline().strip() == b"ready"
        start = time.monotonic()
        if delay is None:
            assert child.wait() == 0
            return time.monotonic() - start
        time.sleep(delay)
        try:
            if whole_group:
                os.killpg(child.pid, signal.SIGKILL)
            else:
                child.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass  # it had finished
        child.wait()

    # A run's time, the longer of two: a trial slower than the one timed
    # would otherwise see every kill fall before its commit.
    took = 0.0
    for timing in ("timing1", "timing2"):
        shutil.copytree(tmp_path / "fm", tmp_path / timing)
        took = max(took, run(tmp_path / timing))
    outcomes = set()
    for i, fraction in enumerate(delays):
        trial = tmp_path / f"trial{i}"
        shutil.copytree(tmp_path / "fm", trial)
        run(trial, delay=took * fraction)
        subprocess.run([str(BIN), "-q", "baseline", "verify", str(trial)], check=True)
        base = findmatches.Baseline.open(trial)
        assert (base.generation, base.records) in {(1, base_rows), (2, base_rows + new_rows)}
        outcomes.add(base.generation)
        if rerun:
            run(trial)
            base = findmatches.Baseline.open(trial)
            assert (base.generation, base.records) == (2, base_rows + new_rows)
    assert outcomes == {1, 2}, (
        f"the kills never fell {'after' if 1 in outcomes else 'before'} the commit "
        f"(a run took {took:.2f} s; kills at {[round(took * f, 2) for f in delays]} s)"
    )
