"""Labels the way ../shared/data/README.md's side-by-side table made them, to compare
with its labeled column on its own protocol (benches/suite.sh uses `label generate
--answers` instead): 20 labeling sets of at most 10 records, each around an entity with
duplicates (its records first) filled with its neighbours in sort order of one column.
Every set holds matches; the non-matches are alphabetical neighbours, easy ones.

    python3 benches/table_labels.py OUT.csv TRUTH.csv KEY COLUMN SEED INPUT.csv [INPUT2.csv]

KEY is the primary key column of the inputs, COLUMN the main name or title column,
TRUTH a `rec_id,entity_id` file. Standard library only.
"""
import csv
import random
import sys
from collections import defaultdict

SETS, SET_SIZE, REACH = 20, 10, 50


def main():
    out, truth_path, key, column, seed = sys.argv[1:6]
    inputs = sys.argv[6:]
    rows, header = [], None
    for path in inputs:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = header or reader.fieldnames
            rows += list(reader)
    with open(truth_path, newline="") as f:
        truth = {r["rec_id"]: r["entity_id"] for r in csv.DictReader(f)}
    members = defaultdict(list)
    for i, r in enumerate(rows):
        members[truth[r[key]]].append(i)
    with_duplicates = [e for e, m in members.items() if len(m) > 1]
    random.seed(int(seed))
    random.shuffle(with_duplicates)
    order = sorted(range(len(rows)), key=lambda i: (rows[i][column] or "").lower())
    place = {i: k for k, i in enumerate(order)}
    used, sets = set(), []
    for entity in with_duplicates:
        if len(sets) == SETS:
            break
        group = [i for i in members[entity] if i not in used][:SET_SIZE]
        if len(group) < 2:
            continue
        at = place[group[0]]
        for step in range(1, REACH):
            for j in (at - step, at + step):
                if len(group) < SET_SIZE and 0 <= j < len(order) and order[j] not in used and order[j] not in group:
                    group.append(order[j])
        used.update(group)
        sets.append(group)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["labeling_set_id", "label"] + header)
        for n, group in enumerate(sets):
            for i in group:
                w.writerow([f"set-{n + 1:04}", truth[rows[i][key]]] + [rows[i][h] for h in header])


if __name__ == "__main__":
    main()
