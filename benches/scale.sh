#!/usr/bin/env bash
# Whole-run benchmark at scale: generate customer records with ground truth,
# train on at most 200 labeled records (answers from the truth), dedup, and
# report wall time, peak RSS, candidate pairs, blocking recall and pairwise F1;
# optionally Splink 5 on the same file in the same session.
#
#   bash benches/scale.sh [--runs N] [--splink] [SIZE...]     (SIZE: 100k, 1m, ...; default 100k 1m)
#
# Times are medians of N runs (default 3) of `train` + `dedup`, each under
# /usr/bin/time -v; peak RSS is the larger of the two commands'. Blocking
# recall (the share of true pairs among the candidates) comes from one more,
# untimed dedup with --pairs. Labels come
# from `label generate` on the file's first 100k rows (20 sets of 10 records).
# Needs ../shared (score.py; Splink in /tmp/splink-venv, see
# ../shared/tools/peers/README.md). Scratch files go to a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
splink=0
sizes=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --splink) splink=1; shift ;;
        *) sizes+=("$1"); shift ;;
    esac
done
[ ${#sizes[@]} -gt 0 ] || sizes=(100k 1m)
shared=$(cd ../shared && pwd)
cargo build --release --quiet
fm=$PWD/target/release/findmatches
out=$(mktemp -d)
cd "$out"
score() { "$shared/tools/py" "$shared/tools/score.py" "$@"; }
# wall seconds and peak RSS (KB) of a /usr/bin/time -v report
wall() { grep "Elapsed (wall" "$1" | awk '{print $NF}' | awk -F: '{print $(NF-1) * 60 + $NF}'; }
rss() { grep "Maximum resident" "$1" | awk '{print $NF}'; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf "%-6s %9s %8s %10s %10s %9s %8s %8s %s\n" size records synth train+dedup "(per 1M)" "peak RSS" pairs "blk rec" "P / R / F1"
for size in "${sizes[@]}"; do
    case "$size" in
        *k) n=$(( ${size%k} * 1000 )) ;;
        *m) n=$(( ${size%m} * 1000000 )) ;;
        *) n=$size ;;
    esac
    # About 1.9 records per person: 30% of people have 1-5 duplicates.
    entities=$(( n * 10 / 19 ))
    /usr/bin/time -v -o synth.time $fm synth -q --entities $entities --seed 5 -o data_$size.csv --truth truth_$size.csv
    records=$(( $(wc -l < data_$size.csv) - 1 ))
    $fm init -q data_$size.csv -o def_$size.toml --force
    head -n 100001 data_$size.csv > slice.csv
    $fm label generate -q --config def_$size.toml --input slice.csv --answers truth_$size.csv \
        --sets 20 --set-size 10 --seed 1 -o labels_$size.csv
    : > walls.txt; : > rss.txt
    for i in $(seq "$runs"); do
        /usr/bin/time -v -o train.time $fm train -q --config def_$size.toml --input data_$size.csv \
            --labels labels_$size.csv -o model_$size.json
        /usr/bin/time -v -o dedup.time $fm dedup -q --json --model model_$size.json --input data_$size.csv \
            -o out_$size.parquet > dedup_$size.json
        echo "$(wall train.time) $(wall dedup.time)" | awk '{print $1 + $2}' >> walls.txt
        echo "$(rss train.time) $(rss dedup.time)" | awk '{print ($1 > $2) ? $1 : $2}' >> rss.txt
    done
    # Once more, untimed, with every candidate pair written: blocking recall.
    $fm dedup -q --model model_$size.json --input data_$size.csv -o out_$size.parquet --pairs pairs_$size.parquet
    t=$(median < walls.txt)
    m=$(median < rss.txt)
    pairs=$(grep -o '"candidates":[0-9]*' dedup_$size.json | cut -d: -f2)
    recall=$(score --pred pairs_$size.parquet --pred-pairs --truth truth_$size.csv --truth-key customer_id --truth-cluster-col entity_id --json | grep -o '"pairwise_recall": [0-9.]*' | awk '{print $2}')
    f1=$(score --pred out_$size.parquet --key customer_id --truth truth_$size.csv --truth-key customer_id --truth-cluster-col entity_id | grep pairwise | sed -E 's/.*P=([0-9.]+) R=([0-9.]+) F1=([0-9.]+).*/\1 \/ \2 \/ \3/')
    printf "%-6s %9d %7.1fs %9.1fs %9.1fs %7d MB %8d %8.4f %s\n" "$size" "$records" "$(wall synth.time)" "$t" \
        "$(echo "$t $records" | awk '{print $1 / $2 * 1e6}')" $(( m / 1024 )) "$pairs" "$recall" "$f1"
    if [ "$splink" = 1 ]; then
        cols=$(grep -E '^[a-z_]+ *= *"[a-z]+"' def_$size.toml | grep -v primary_key | sed -E 's/^([a-z_]+) *= *"([a-z]+)"/\2:\1/' | paste -sd,)
        /usr/bin/time -v -o splink.time /tmp/splink-venv/bin/python "$shared/tools/peers/splink_dedup.py" \
            --input data_$size.csv --key customer_id --columns "$cols" --out splink_$size --quiet > splink_$size.log
        sf1=$(score --pred splink_$size/clusters.parquet --key customer_id --truth truth_$size.csv --truth-key customer_id --truth-cluster-col entity_id | grep pairwise | sed -E 's/.*P=([0-9.]+) R=([0-9.]+) F1=([0-9.]+).*/\1 \/ \2 \/ \3/')
        printf "%-6s %9d %8s %9.1fs %9.1fs %7d MB %8s %8s %s   <- Splink 5 (one run)\n" "$size" "$records" "" \
            "$(wall splink.time)" "$(echo "$(wall splink.time) $records" | awk '{print $1 / $2 * 1e6}')" \
            $(( $(rss splink.time) / 1024 )) "" "" "$sf1"
    fi
done
echo "(files in $out)"
