"""findmatches: fuzzy record matching from Python.

The same Rust core as the ``findmatches`` command line, Arrow in and Arrow
out: tables go to Rust through the Arrow C stream interface, without a copy,
and come back as ``pyarrow.Table``. pandas DataFrames are accepted too.

    >>> import findmatches, pyarrow.csv
    >>> customers = pyarrow.csv.read_csv("customers.csv")
    >>> model = findmatches.Model.train([customers])          # no labels: EM
    >>> matched = model.dedup(customers)                      # + match_id, match_confidence_score

Errors are raised as :class:`FindMatchesError` (:class:`UsageError` for how
findmatches was called, :class:`DataError` for the data), with the command
line's messages.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence, Union

import pyarrow as pa

from ._findmatches import Baseline as _Baseline
from ._findmatches import DataError, FindMatchesError, UsageError
from ._findmatches import Model as _Model
from ._findmatches import label_generate as _Model_label_generate

__all__ = ["Model", "Baseline", "label_generate", "FindMatchesError", "UsageError", "DataError"]

PathLike = Union[str, "os.PathLike[str]"]


def _arrow(data: Any) -> Any:
    """A table Rust can read through the Arrow C stream interface."""
    if hasattr(data, "__arrow_c_stream__"):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is optional
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(
        f"expected a pyarrow.Table, a pyarrow.RecordBatch or a pandas.DataFrame, got {type(data).__name__}"
    )


def _tables(tables: Union[Any, Sequence[Any]]) -> list:
    """One table, or a list of one or two, for Rust."""
    if not isinstance(tables, (list, tuple)):
        tables = [tables]
    return [_arrow(t) for t in tables]


def _labels(labels: Any) -> list:
    """Labels for Rust: files by path, tables (filled-in labeling sheets, pairs) as Arrow."""
    if labels is None:
        return []
    if isinstance(labels, (str, os.PathLike)) or not isinstance(labels, (list, tuple)):
        labels = [labels]
    return [os.fspath(item) if isinstance(item, (str, os.PathLike)) else _arrow(item) for item in labels]


def label_generate(
    tables: Union[Any, Sequence[Any]],
    config: Optional[PathLike] = None,
    model: Optional["Model"] = None,
    uncertain: Optional[bool] = None,
    sets: int = 10,
    set_size: int = 10,
    seed: int = 1,
) -> pa.Table:
    """Labeling sets to label, as ``findmatches label generate`` makes them.

    A labeling sheet: ``labeling_set_id``, an empty ``label`` column and every
    column of the records. Fill ``label`` (rows of one set with the same label
    are one entity) and pass the sheet back as ``labels=`` to :meth:`Model.train`.
    With a ``model``, its labeled records are left out and (``uncertain``, the
    default then) the sets gather around the pairs it is least sure of.
    """
    return _Model_label_generate(
        _tables(tables),
        None if config is None else os.fspath(config),
        None if model is None else model._inner,
        uncertain,
        sets,
        set_size,
        seed,
    )


class Model:
    """A trained matcher: a transform definition, feature weights and a threshold."""

    __slots__ = ("_inner",)

    def __init__(self, inner: _Model) -> None:
        self._inner = inner

    @classmethod
    def load(cls, path: PathLike) -> "Model":
        """A model saved by :meth:`save` or ``findmatches train``."""
        return cls(_Model.load(os.fspath(path)))

    @classmethod
    def bundled(cls) -> "Model":
        """The model shipped with findmatches (trained on the example customers)."""
        return cls(_Model.bundled())

    @classmethod
    def train(
        cls,
        tables: Union[Any, Sequence[Any]],
        config: Optional[PathLike] = None,
        labels: Any = None,
    ) -> "Model":
        """Train on one table (dedup) or a list of two (link), as ``findmatches train``.

        ``config`` is a transform definition (TOML; by default inferred from the
        first table, as ``findmatches init`` does); ``labels`` one or more
        labeling or pairs files, or tables of them (a filled-in sheet from
        :func:`label_generate`); none: learn without labels.
        """
        return cls(
            _Model.train(
                _tables(tables),
                None if config is None else os.fspath(config),
                _labels(labels),
            )
        )

    def save(self, path: PathLike) -> None:
        """Write the model as JSON, atomically."""
        self._inner.save(os.fspath(path))

    def dedup(self, table: Any) -> pa.Table:
        """Every row of ``table`` plus ``match_id`` and ``match_confidence_score``."""
        return self._inner.dedup(_arrow(table))

    def link(self, left: Any, right: Any, names: Optional[Sequence[str]] = None) -> pa.Table:
        """The rows of both tables, a ``source`` column first, matching rows sharing a ``match_id``.

        ``source`` holds ``names`` (default ``("left", "right")``), which also
        name the tables in errors; give the file names to get the CLI's output.
        """
        return self._inner.link(_arrow(left), _arrow(right), None if names is None else tuple(names))

    def evaluate(self, tables: Union[Any, Sequence[Any]], labels: Any) -> dict:
        """Quality estimated from labels, as ``findmatches evaluate --json`` prints it.

        ``estimate`` holds precision, recall and F1 estimated on the data; the
        rest is held out over the labeled pairs (5-fold cross-validation):
        ``precision``, ``recall``, ``f1`` with 95% intervals, ``max_f1``,
        ``auprc``, ``confusion``, ``column_importance``, ``blocking_recall``.
        """
        return json.loads(self._inner.evaluate_json(_tables(tables), _labels(labels)))

    def explain(self, tables: Union[Any, Sequence[Any]], left: str, right: str) -> dict:
        """Why two records (by primary key) scored what they did: each column's
        contribution to the evidence (log-odds), as ``findmatches explain --json``."""
        return json.loads(self._inner.explain_json(_tables(tables), str(left), str(right)))

    def to_json(self) -> str:
        """The model as JSON text, as :meth:`save` writes it."""
        return self._inner.to_json()

    @property
    def threshold(self) -> float:
        """The match probability at and above which a pair matches."""
        return self._inner.threshold

    @property
    def primary_key(self) -> str:
        """The primary key column."""
        return self._inner.primary_key

    @property
    def columns(self) -> list:
        """The matched columns, as (name, kind) pairs."""
        return self._inner.columns

    def __repr__(self) -> str:
        return repr(self._inner)


class Baseline:
    """A persisted, clustered baseline for incremental matching.

    The command line's ``dedup --baseline`` and ``incremental``, with the same
    guarantees: one writer at a time (a lock in the directory), each commit
    atomic (a crash or kill leaves the old generation or the new one), and a
    table of the same content never folded in twice.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: _Baseline) -> None:
        self._inner = inner

    @classmethod
    def create(cls, dir: PathLike, model: Model, table: Any, name: Optional[str] = None) -> "Baseline":
        """Dedup ``table`` with ``model`` and keep it as a new baseline in ``dir``."""
        return cls(_Baseline.create(os.fspath(dir), model._inner, _arrow(table), name))

    @classmethod
    def open(cls, dir: PathLike) -> "Baseline":
        """A baseline made by :meth:`create` or ``findmatches dedup --baseline``."""
        return cls(_Baseline.open(os.fspath(dir)))

    def incremental(
        self,
        table: Any,
        allow_merges: bool = False,
        dry_run: bool = False,
        force: bool = False,
        name: Optional[str] = None,
        wait: Optional[float] = None,
    ) -> Optional[pa.Table]:
        """Match ``table`` against the baseline and within itself, then fold it in.

        Returns the new rows with ``match_id``, ``match_confidence_score``,
        ``match_status`` (existing, new_duplicate, new_unique) and
        ``matched_baseline_key``; None when a table of the same content was
        folded in already (``force`` to redo it). ``dry_run`` leaves the
        baseline as it is; ``allow_merges`` lets a new row merge baseline
        clusters it bridges; ``wait`` is how long to wait for another writer.
        """
        return self._inner.incremental(_arrow(table), allow_merges, dry_run, force, name, wait)

    @property
    def model(self) -> Model:
        """The model the baseline was built with."""
        return Model(self._inner.model)

    @property
    def generation(self) -> int:
        """Commits so far (1: as created)."""
        return self._inner.generation

    @property
    def records(self) -> int:
        """Records held."""
        return self._inner.records

    @property
    def clusters(self) -> int:
        """Clusters (entities) held."""
        return self._inner.clusters

    def __repr__(self) -> str:
        return repr(self._inner)
