"""Dedup and link the bundled example customers from Python (pyarrow in, pyarrow out).

    pip install ./python            # or the built wheel: pip install findmatches-*.whl
    python examples/python_dedup.py
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pc

import findmatches

data = Path(__file__).parent / "data"


def read(path):
    names = path.open().readline().strip().split(",")
    return pc.read_csv(path, convert_options=pc.ConvertOptions(column_types={n: pa.string() for n in names}))


customers = read(data / "customers.csv")
prospects = read(data / "prospects_2026_01.csv")

# The bundled model (findmatches.Model.bundled()), or one trained: from labels, as
# here, or without (labels=None: Fellegi-Sunter EM).
model = findmatches.Model.train(customers, labels=Path(__file__).parents[1] / "labels" / "customers_labels.csv")
model.save("model.json")

matched = model.dedup(customers)  # a pyarrow.Table: every row + match_id, match_confidence_score
sizes = matched.group_by("match_id").aggregate([("customer_id", "count")])
print(f"{customers.num_rows} customers, {sizes.num_rows} entities")

linked = model.link(customers, prospects).to_pandas()  # source is "left" or "right"
known = linked[linked.duplicated("match_id", keep=False) & (linked.source == "right")]
print(f"{len(known)} of {prospects.num_rows} prospects are existing customers")
