#!/usr/bin/env bash
# Incremental mode: equivalence with batch, and cost against baseline size.
#
#   bash benches/incremental.sh [RUNS]
#
# 1. Febrl3 (../shared/data) split at random into a 60% baseline and four 10%
#    increments: pairwise F1 of the final baseline vs batch dedup of the whole file.
# 2. The same 10k new records matched against generated baselines of 100k and
#    1M records: the 100k baseline holds the other records of the new records'
#    people; the 1M one adds 900k records of other people (distractors). Wall
#    time (median of RUNS, default 5, runs interleaved), peak RSS
#    (/usr/bin/time -v) and baseline rows read, for --dry-run (matching only)
#    and for one committing run on a copy.
#
# Needs ../shared (Febrl3, score.py). Scratch files go to a temporary directory
# (about 2 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shared=$(cd ../shared && pwd)
cargo build --release --quiet
fm=$PWD/target/release/findmatches
out=$(mktemp -d)
score() { "$shared/tools/py" "$shared/tools/score.py" "$@" | grep pairwise; }

echo "== Febrl3: 60% baseline + 4 x 10% increments vs batch"
febrl=$shared/data/febrl
cd "$out"
$fm init -q "$febrl/febrl3.csv" -o febrl3.toml
$fm label generate -q --config febrl3.toml --input "$febrl/febrl3.csv" \
    --answers "$febrl/febrl3_truth.csv" --sets 20 --set-size 10 --seed 1 -o febrl3_labels.csv
$fm train -q --config febrl3.toml --input "$febrl/febrl3.csv" --labels febrl3_labels.csv -o febrl3.json
awk -F, 'BEGIN { srand(7) }
    NR == 1 { for (i = 0; i < 5; i++) print > ("part" i ".csv"); next }
    { r = rand(); p = r < 0.6 ? 0 : r < 0.7 ? 1 : r < 0.8 ? 2 : r < 0.9 ? 3 : 4; print > ("part" p ".csv") }' \
    "$febrl/febrl3.csv"
$fm dedup -q --model febrl3.json --input part0.csv -o base_out.csv --baseline febrl.fm
for i in 1 2 3 4; do
    $fm incremental -q --baseline febrl.fm --input part$i.csv -o inc$i.csv
done
$fm baseline export -q febrl.fm -o final.csv
echo -n "incremental: "; score --pred final.csv --truth "$febrl/febrl3_truth.csv" --key rec_id
$fm dedup -q --model febrl3.json --input "$febrl/febrl3.csv" -o batch.csv
echo -n "batch:       "; score --pred batch.csv --truth "$febrl/febrl3_truth.csv" --key rec_id

echo "== Cost: the same 10k new records against 100k and 1M baseline records"
$fm synth -q --entities 58400 --seed 11 -o new10k.csv -o base100k.csv --fractions 0.09,0.91 --truth truth.csv
$fm synth -q --entities 473000 --seed 12 --key-prefix d -o others.csv
(cat base100k.csv; tail -n +2 others.csv) > base1m.csv
$fm init -q base100k.csv -o synth.toml
$fm label generate -q --config synth.toml --input base100k.csv --answers truth.csv \
    --sets 20 --set-size 10 --seed 1 -o synth_labels.csv
$fm train -q --config synth.toml --input base100k.csv --labels synth_labels.csv -o synth.json
for b in 100k 1m; do
    /usr/bin/time -f "dedup --baseline $b: %e s, peak RSS %M KB" \
        $fm dedup -q --model synth.json --input base$b.csv -o base$b.out.csv --baseline b$b.fm
done
for i in $(seq "$runs"); do
    for b in 100k 1m; do
        /usr/bin/time -v -o time.txt $fm incremental -q --json --dry-run --baseline b$b.fm \
            --input new10k.csv -o new_$b.csv > run.json
        wall=$(grep "Elapsed (wall" time.txt | awk '{print $NF}' | awk -F: '{print $(NF-1) * 60 + $NF}')
        rss=$(grep "Maximum resident" time.txt | awk '{print $NF}')
        read_rows=$(grep -o '"baseline_records_read":[0-9]*' run.json | cut -d: -f2)
        echo "$b $wall $rss ${read_rows:-0}" >> runs.txt
    done
done
for b in 100k 1m; do
    grep "^$b " runs.txt | sort -k2 -n | awk -v n="$runs" -v b="$b" '
        { w[NR] = $2; r[NR] = $3; rows = $4 }
        END { m = int((n + 1) / 2); printf "dry run against %s: median %.2f s over %d runs (min %.2f, max %.2f), peak RSS %d MB, %d baseline rows read\n", b, w[m], n, w[1], w[n], r[m] / 1024, rows }'
done
for b in 100k 1m; do
    cp -r b$b.fm c$b.fm
    /usr/bin/time -f "committing run against $b: %e s, peak RSS %M KB" \
        $fm incremental -q --baseline c$b.fm --input new10k.csv -o commit_$b.csv
done
echo "(files in $out)"
