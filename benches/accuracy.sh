#!/usr/bin/env bash
# Accuracy and speed on the public benchmarks in ../shared/data, the way a
# user would run them: init -> label (<= 200 records, answers from the truth,
# as a careful labeler would give them) -> train -> dedup / link -> score.
#
#   bash benches/accuracy.sh [SEED]
#
# Needs ../shared (data and tools/score.py). Prints pairwise and B-cubed
# scores and the wall time of train + dedup (Febrl3) and train + link (DBLP-ACM).
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-1}
shared=../shared
cargo build --release --quiet
fm=target/release/findmatches
out=$(mktemp -d)
score() { "$shared/tools/py" "$shared/tools/score.py" "$@"; }

febrl=$shared/data/febrl
$fm init -q "$febrl/febrl3.csv" -o "$out/febrl3.toml"
$fm label generate -q --config "$out/febrl3.toml" --input "$febrl/febrl3.csv" \
    --answers "$febrl/febrl3_truth.csv" --sets 20 --set-size 10 --seed "$seed" -o "$out/febrl3_labels.csv"
start=$(date +%s%N)
$fm train -q --config "$out/febrl3.toml" --input "$febrl/febrl3.csv" --labels "$out/febrl3_labels.csv" -o "$out/febrl3.json"
$fm dedup -q --model "$out/febrl3.json" --input "$febrl/febrl3.csv" -o "$out/febrl3_out.csv"
end=$(date +%s%N)
echo "== Febrl3 (dedup, labels seed $seed): train + dedup $(( (end - start) / 1000000 )) ms"
score --pred "$out/febrl3_out.csv" --truth "$febrl/febrl3_truth.csv" --key rec_id

dblp=$shared/data/dblp_acm
$fm init -q "$dblp/dblp.csv" -o "$out/dblp.toml"
$fm label generate -q --config "$out/dblp.toml" --input "$dblp/dblp.csv" --input "$dblp/acm.csv" \
    --answers "$dblp/truth.csv" --sets 20 --set-size 10 --seed "$seed" -o "$out/dblp_labels.csv"
start=$(date +%s%N)
$fm train -q --config "$out/dblp.toml" --input "$dblp/dblp.csv" --input "$dblp/acm.csv" \
    --labels "$out/dblp_labels.csv" -o "$out/dblp.json"
$fm link -q --model "$out/dblp.json" --left "$dblp/dblp.csv" --right "$dblp/acm.csv" -o "$out/dblp_out.csv"
end=$(date +%s%N)
echo "== DBLP-ACM (link, labels seed $seed): train + link $(( (end - start) / 1000000 )) ms"
score --pred "$out/dblp_out.csv" --truth "$dblp/truth.csv" --key id --truth-key rec_id
echo "(files in $out)"
