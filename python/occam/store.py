"""Reading a sweep store (the SQLite file ``occam sweep`` writes) as tables."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Union

import numpy as np

from . import _occam


class Store:
    """A sweep store, read-only. :meth:`trials` has one row per trial, :meth:`points` one
    row per stored per-point measurement: the same columns as ``occam export`` (every
    configuration field by its dotted path, results, metrics; missing values are
    null/NaN).

    With pandas installed both return a ``pandas.DataFrame`` (integer and boolean
    columns with missing values use pandas' nullable ``Int64``/``boolean``). Without
    pandas they return a dict mapping each column name to a NumPy array (float64 with NaN
    for missing values, int64, bool) or, for text and columns with missing values, a
    list (None for missing)."""

    def __init__(self, path: Union[str, "os.PathLike[str]"]):
        self.path = os.fspath(path)

    def trials(self) -> Any:
        return self._table("trials")

    def points(self) -> Any:
        return self._table("points")

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def _table(self, rows: str) -> Any:
        columns, values = _occam.read_store(self.path, rows)
        data: Dict[str, Any] = {}
        try:
            import pandas as pd
        except ImportError:
            pd = None
        for (name, kind), column in zip(columns, values):
            data[name] = _column(kind, column, pd)
        if pd is None:
            return data
        return pd.DataFrame(data, columns=[name for name, _ in columns])


def _column(kind: str, column: Union[np.ndarray, List[Any]], pd: Any) -> Any:
    if kind == "float64":
        return column
    has_null = any(v is None for v in column)
    if kind == "int64":
        if not has_null:
            return np.asarray(column, dtype=np.int64)
        return pd.array(column, dtype="Int64") if pd is not None else column
    if kind == "bool":
        if not has_null:
            return np.asarray(column, dtype=bool)
        return pd.array(column, dtype="boolean") if pd is not None else column
    return column
