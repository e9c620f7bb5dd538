#!/usr/bin/env bash
# Every test: the Rust suite (unit, end-to-end CLI, doc), then the Python
# package's (python/): a venv in target/pyvenv with maturin, pyarrow, pandas
# and pytest from the package registry, the wheel built from python/ and
# installed there, pytest against the binary the Rust suite built.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release
venv=target/pyvenv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q maturin pyarrow pandas pytest
rm -rf target/wheels
"$venv/bin/maturin" build --release -q -m python/Cargo.toml -o target/wheels
"$venv/bin/pip" install -q --force-reinstall --no-deps target/wheels/findmatches-*.whl
FINDMATCHES_BIN="$PWD/target/release/findmatches" "$venv/bin/python" -m pytest -q python/tests
