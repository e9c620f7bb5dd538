#!/usr/bin/env bash
# Regenerate the bundled example data, its labels and the default model.
#
#   bash examples/make_bundled.sh
#
# examples/data/customers.csv   70% of the rows of 1,400 generated people (seed 42), ~30% of
#                               whom have 1-5 duplicates; prospects_2026_01.csv and
#                               prospects_2026_02.csv share the other rows (new people,
#                               existing customers again, duplicates within the month)
# examples/customers.toml       the definition `findmatches init` infers for it
# labels/customers_labels.csv   20 labeling sets of 10 similar records, labeled from the truth
# models/default.json           the model trained on those labels (bundled into the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
fm=target/release/findmatches
$fm synth --entities 1400 --seed 42 --truth examples/data/customers_truth.csv \
    -o examples/data/customers.csv -o examples/data/prospects_2026_01.csv -o examples/data/prospects_2026_02.csv \
    --fractions 0.7,0.15,0.15
$fm init examples/data/customers.csv -o examples/customers.toml --force
$fm label generate --config examples/customers.toml --input examples/data/customers.csv \
    --answers examples/data/customers_truth.csv --sets 20 --set-size 10 --seed 1 -o labels/customers_labels.csv
$fm train --config examples/customers.toml --input examples/data/customers.csv \
    --labels labels/customers_labels.csv -o models/default.json
cargo build --release --quiet   # re-embed the new model
