#!/usr/bin/env bash
# The public suite: every set in ../shared/data, run as a new user would, with
# one default configuration for all (no per-set setting):
#
#   init (as is) -> label generate --answers (20 sets of at most 10 records,
#   answered from the truth) -> train -> dedup / link -> score
#   init (as is) -> train without labels -> dedup / link -> score
#
# and Splink 5 (../shared/tools/peers/splink_dedup.py, unsupervised, its
# defaults, given the column kinds `init` chose) on the same files in the
# same run.
#
#   bash benches/suite.sh [--seeds "1 2 3"] [--no-splink] [SET...]
#
# SET: febrl1 febrl2 febrl3 fake_1000 cora cddb dblp_acm restaurants imdb_tmdb
# walmart_amazon (default: all). One row per set: pairwise F1 with labels
# (the mean over the label seeds, with the mean P / R and the lowest F1; which
# records get labeled varies with the seed), the wall time of train + match
# (median over the seeds), without labels (deterministic: one run), blocking
# recall (share of the true pairs among the candidate pairs of the first
# seed's run), `evaluate`'s estimate of F1 from the labels alone (largest gap
# to the real F1 over the seeds), and Splink's F1 (P / R) and wall time.
# Needs ../shared (data, tools/score.py; Splink in /tmp/splink-venv, see
# ../shared/tools/peers/README.md). FINDMATCHES=path runs another build;
# SUITE_OUT=dir keeps the files there.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="1 2 3"
splink=1
sets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) seeds=$2; shift 2 ;;
        --no-splink) splink=0; shift ;;
        *) sets+=("$1"); shift ;;
    esac
done
[ ${#sets[@]} -gt 0 ] ||
    sets=(febrl1 febrl2 febrl3 fake_1000 cora cddb dblp_acm restaurants imdb_tmdb walmart_amazon)
shared=$(cd ../shared && pwd)
data=$shared/data
if [ -n "${FINDMATCHES:-}" ]; then
    fm=$FINDMATCHES     # another build, to compare
else
    cargo build --release --quiet
    fm=$PWD/target/release/findmatches
fi
out=${SUITE_OUT:-$(mktemp -d)}
mkdir -p "$out"
splink_py=/tmp/splink-venv/bin/python
py() { "$shared/tools/py" "$@"; }

# "P R F1" of a prediction (clusters or pairs) against a truth.
score() {
    py "$shared/tools/score.py" --json "$@" |
        py -c 'import json,sys; p=json.load(sys.stdin); print("%.4f %.4f %.4f" % (p["pairwise_precision"], p["pairwise_recall"], p["pairwise_f1"]))'
}
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

printf "| set | findmatches, 200 labels: mean F1 (P / R), lowest; train + match | no labels: F1 (P / R) | blocking recall | evaluate: largest gap | Splink 5: F1 (P / R), wall |\n"
printf "|---|---|---|---|---|---|\n"
for set in "${sets[@]}"; do
    truth_key=()
    case $set in
        febrl1 | febrl2 | febrl3)
            inputs=("$data/febrl/$set.csv"); truth=$data/febrl/${set}_truth.csv; key=rec_id ;;
        fake_1000 | cora | cddb)
            inputs=("$data/$set/$set.csv"); truth=$data/$set/truth.csv; key=rec_id ;;
        dblp_acm) inputs=("$data/dblp_acm/dblp.csv" "$data/dblp_acm/acm.csv") ;;
        restaurants) inputs=("$data/restaurants/rest1.csv" "$data/restaurants/rest2.csv") ;;
        imdb_tmdb) inputs=("$data/imdb_tmdb/imdb.csv" "$data/imdb_tmdb/tmdb.csv") ;;
        walmart_amazon) inputs=("$data/walmart_amazon/walmart.csv" "$data/walmart_amazon/amazon.csv") ;;
        *) echo "unknown set $set" >&2; exit 2 ;;
    esac
    if [ ${#inputs[@]} -eq 2 ]; then
        truth=$data/$set/truth.csv; key=id; truth_key=(--truth-key rec_id)
        match() { $fm link -q --model "$1" --left "${inputs[0]}" --right "${inputs[1]}" -o "$2" "${@:3}"; }
    else
        match() { $fm dedup -q --model "$1" --input "${inputs[0]}" -o "$2" "${@:3}"; }
    fi
    in_args=()
    for f in "${inputs[@]}"; do in_args+=(--input "$f"); done
    d=$out/$set
    mkdir -p "$d"
    $fm init -q --force "${inputs[0]}" -o "$d/def.toml"
    : >"$d/seeds"
    for seed in $seeds; do
        s=$d/seed$seed
        mkdir -p "$s"
        $fm label generate -q --config "$d/def.toml" "${in_args[@]}" --answers "$truth" \
            --sets 20 --set-size 10 --seed "$seed" -o "$s/labels.csv"
        t0=$(now)
        $fm train -q --config "$d/def.toml" "${in_args[@]}" --labels "$s/labels.csv" -o "$s/model.json"
        match "$s/model.json" "$s/out.csv" --pairs "$s/pairs.csv"
        t=$(ms "$t0" "$(now)")
        read -r p r f <<<"$(score --pred "$s/out.csv" --truth "$truth" --key $key "${truth_key[@]}")"
        estimate=$($fm evaluate -q --json --model "$s/model.json" "${in_args[@]}" --labels "$s/labels.csv" |
            py -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["estimate"]["f1"])') || estimate=nan
        echo "$seed $p $r $f $t $estimate" >>"$d/seeds"
    done
    t_median=$(awk '{print $5}' "$d/seeds" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    labeled=$(awk -v t="$t_median" '{p += $2; r += $3; f += $4; n++; if (min == "" || $4 < min) min = $4
                    gap = $6 - $4; if (gap < 0) gap = -gap; if ($6 == "nan") gap = 1; if (gap > g) g = gap}
        END {printf "%.4f (%.4f / %.4f), %.4f; %.2f s|%.4f", f / n, p / n, r / n, min, t / 1000, g}' "$d/seeds")
    gap=${labeled#*|}
    labeled=${labeled%|*}
    first=$(set -- $seeds; echo "$1")
    read -r _ blocking _ <<<"$(score --pred "$d/seed$first/pairs.csv" --pred-pairs --truth "$truth" "${truth_key[@]}")"
    if $fm train -q --config "$d/def.toml" "${in_args[@]}" -o "$d/unsupervised.json" 2>"$d/unsupervised.err"; then
        match "$d/unsupervised.json" "$d/unsupervised.csv"
        read -r p r f <<<"$(score --pred "$d/unsupervised.csv" --truth "$truth" --key $key "${truth_key[@]}")"
        unsupervised="$f ($p / $r)"
    else
        unsupervised="fails: $(tail -n 1 "$d/unsupervised.err")"
    fi
    peer=-
    if [ $splink = 1 ]; then
        columns=$(awk '/^\[columns\]/ {on = 1; next} /^\[/ {on = 0} on && /=/ {
                gsub(/[" ]/, ""); split($0, kv, "="); if (kv[2] != "ignore") printf "%s%s:%s", sep, kv[2], kv[1]; sep = ","}' \
            "$d/def.toml")
        link=()
        [ ${#inputs[@]} -eq 2 ] && link=(--link)
        pk=$(awk -F'"' '/^primary_key/ {print $2}' "$d/def.toml")
        t0=$(now)
        if $splink_py "$shared/tools/peers/splink_dedup.py" "${in_args[@]}" "${link[@]}" --key "$pk" \
            --columns "$columns" --threads 2 --quiet --out "$d/splink" >"$d/splink.log" 2>&1; then
            t_splink=$(ms "$t0" "$(now)")
            read -r p r f <<<"$(score --pred "$d/splink/clusters.parquet" --truth "$truth" --key "$pk" "${truth_key[@]}")"
            peer="$f ($p / $r), $(awk -v t="$t_splink" 'BEGIN {printf "%.1f s", t / 1000}')"
        else
            peer="fails (see $d/splink.log)"
        fi
    fi
    printf "| %s | %s | %s | %s | %s | %s |\n" "$set" "$labeled" "$unsupervised" "$blocking" "$gap" "$peer"
done
echo "(files in $out)" >&2
