#!/usr/bin/env bash
# The teaching loop, simulated: start with no labels (an
# unsupervised model), then rounds of `label generate` (10 sets of at most
# 10 records, answers taken from the truth, as a careful labeler would give
# them) -> `label import` into a store -> `train` on the store -> `dedup` ->
# pairwise F1. Two arms from the same start: active learning (sets around
# the pairs the current model is least sure of) and random similar-record
# sets (`--strategy similar`), at equal label counts.
#
#   bash benches/teaching.sh [--data febrl3|febrl2|dblp-acm] [ROUNDS] [SEED...]
#
# Defaults: febrl3, 5 rounds, seeds 1 2 3. dblp-acm is a link of its two
# tables.
#
# Needs ../shared (data and tools/score.py). Prints one line per arm, seed
# and round: labeled records so far, pairwise F1 against the truth, and
# `evaluate`'s estimate of F1 on the data from the labels alone; then the
# means per arm and round.
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=febrl3
if [ "${1:-}" = --data ]; then dataset=$2; shift 2; fi
rounds=${1:-5}
shift || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
shared=$(cd ../shared && pwd)
cargo build --release --quiet
fm=$PWD/target/release/findmatches
case $dataset in
    febrl*)
        inputs=(--input "$shared/data/febrl/$dataset.csv")
        truth=$shared/data/febrl/${dataset}_truth.csv
        run() { $fm dedup -q --model "$1" "${inputs[@]}" -o "$2"; }
        key=(--key rec_id) ;;
    dblp-acm)
        inputs=(--input "$shared/data/dblp_acm/dblp.csv" --input "$shared/data/dblp_acm/acm.csv")
        truth=$shared/data/dblp_acm/truth.csv
        run() { $fm link -q --model "$1" --left "${inputs[1]}" --right "${inputs[3]}" -o "$2"; }
        key=(--key id --truth-key rec_id) ;;
    *) echo "unknown --data $dataset" >&2; exit 2 ;;
esac
out=$(mktemp -d)
f1() {
    run "$1" "$out/pred.csv"
    "$shared/tools/py" "$shared/tools/score.py" --pred "$out/pred.csv" --truth "$truth" "${key[@]}" |
        awk '/^pairwise/ {sub("F1=", "", $4); print $4}'
}
$fm init -q "${inputs[1]}" -o "$out/def.toml"
$fm train -q --config "$out/def.toml" "${inputs[@]}" -o "$out/unsupervised.json"
start_f1=$(f1 "$out/unsupervised.json")
printf "%-8s %4s %5s %8s %7s %7s\n" arm seed round labeled F1 "est F1"
for arm in active random; do
    strategy=uncertain
    [ $arm = random ] && strategy=similar
    for seed in "${seeds[@]}"; do
        printf "%-8s %4s %5s %8s %7s %7s\n" $arm "$seed" 0 0 "$start_f1" - | tee -a "$out/results"
        model=$out/unsupervised.json
        store=$out/store-$arm-$seed.csv
        labeled=0
        for round in $(seq 1 "$rounds"); do
            sets=$out/sets-$arm-$seed-$round.csv
            $fm label generate -q --config "$out/def.toml" "${inputs[@]}" --model "$model" \
                --strategy $strategy --answers "$truth" --sets 10 --set-size 10 \
                --seed $((seed * 100 + round)) -o "$sets"
            labeled=$((labeled + $(tail -n +2 "$sets" | wc -l)))
            $fm label import -q --config "$out/def.toml" --store "$store" "$sets"
            model=$out/model-$arm-$seed-$round.json
            $fm train -q --config "$out/def.toml" "${inputs[@]}" --labels "$store" -o "$model"
            estimate=$($fm evaluate -q --json --model "$model" "${inputs[@]}" --labels "$store" |
                grep -o '"estimate":{[^}]*}' | grep -o '"f1":[0-9.]*' | cut -d: -f2)
            printf "%-8s %4s %5s %8s %7s %7.4f\n" $arm "$seed" "$round" $labeled "$(f1 "$model")" "$estimate" |
                tee -a "$out/results"
        done
    done
done
echo "$dataset: mean F1 by round (labeled records: mean):"
awk '{k = $1" "$3; f[k] += $5; l[k] += $4; e[k] += $6; n[k]++}
     END {for (k in f) printf "%-8s round %s  labeled %5.0f  F1 %.4f  estimate %s\n", substr(k, 1, index(k, " ") - 1),
          substr(k, index(k, " ") + 1), l[k] / n[k], f[k] / n[k],
          substr(k, index(k, " ") + 1) == "0" ? "-" : sprintf("%.4f", e[k] / n[k])}' "$out/results" | sort
echo "(files in $out)"
