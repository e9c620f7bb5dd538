#!/usr/bin/env bash
# Every test: the Rust suite (unit, end-to-end CLI, doc), then the Python
# package's (python/): a venv in target/pyvenv with maturin, pyarrow, pandas,
# pytest and PySpark 4.3 from the package registry, the wheel built from
# python/ and installed there, pytest against the binary the Rust suite built
# and a local Spark (local[2]; needs Java 17 on the PATH or in JAVA_HOME);
# then the Spark tests again on PySpark 3.5, the line AWS Glue 5 runs, in
# target/pyvenv35 (but the driver-kill test).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release
venv=target/pyvenv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q maturin pyarrow "pandas<3" pytest "pyspark==4.3.*"
rm -rf target/wheels
"$venv/bin/maturin" build --release -q -m python/Cargo.toml -o target/wheels
"$venv/bin/pip" install -q --force-reinstall --no-deps target/wheels/findmatches-*.whl
if ! command -v java >/dev/null && [ -z "${JAVA_HOME:-}" ]; then
    echo "java not found: the Spark tests need Java 17 (apt-get install openjdk-17-jre-headless)" >&2
    exit 1
fi
# Spark on loopback only, its Python workers from the venv; a missing
# PySpark fails the Spark tests instead of skipping them.
export SPARK_LOCAL_IP=127.0.0.1 FINDMATCHES_REQUIRE_SPARK=1
export FINDMATCHES_BIN="$PWD/target/release/findmatches"
PYSPARK_PYTHON="$venv/bin/python" "$venv/bin/python" -m pytest -q -W ignore::FutureWarning -W ignore::DeprecationWarning python/tests
venv35=target/pyvenv35
[ -x "$venv35/bin/python" ] || python3 -m venv "$venv35"
"$venv35/bin/pip" install -q pyarrow "pandas<3" pytest "pyspark==3.5.*"
"$venv35/bin/pip" install -q --force-reinstall --no-deps target/wheels/findmatches-*.whl
# (the driver-kill test once is enough: it tests the baseline's commit)
PYSPARK_PYTHON="$venv35/bin/python" "$venv35/bin/python" -m pytest -q -W ignore::FutureWarning \
    -W ignore::DeprecationWarning -k "not killed" python/tests/test_spark.py
