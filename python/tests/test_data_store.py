"""Datasets exactly as `occam data export` writes them, and a sweep store read into
pandas with the same columns and values as `occam sweep export`, or into NumPy arrays
without pandas."""

import json
import math
import sys

import numpy as np
import pytest

import occam
from conftest import run_occam


def test_load_dataset_equals_the_exported_arrays(occam_binary, fashion, tmp_path):
    npz = tmp_path / "f.npz"
    run_occam(occam_binary, "data", "export", "fashion-mnist", "--npz", str(npz), "--train-size", "300")
    exported = np.load(npz)
    X, y = fashion
    np.testing.assert_array_equal(X, exported["x_test"])
    np.testing.assert_array_equal(y, exported["y_test"])
    Xt, yt = occam.load_dataset("fashion-mnist", "train", train_size=300)
    assert Xt.shape == (300, 28, 28, 1) and Xt.dtype == np.float32 and yt.dtype == np.int64
    np.testing.assert_array_equal(Xt, exported["x_train"])
    np.testing.assert_array_equal(yt, exported["y_train"])
    # Normalized per example: zero mean, unit variance.
    flat = Xt.reshape(300, -1).astype(np.float64)
    np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=1), 1, atol=1e-4)


SPEC = """
name = "py"
[axes]
data = ["fashion-mnist"]
width = [8, 16]
depth = [2]
batch = [32]
steps = [30]
seed = [1]
[fixed]
train_size = 200
[measure]
jacobian_points = 20
per_point = true
[measure.transitions]
trajectory = "translate"
count = 2
"""


@pytest.fixture(scope="module")
def store(occam_binary, fashion, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("store")
    (tmp / "spec.toml").write_text(SPEC)
    run_occam(occam_binary, "sweep", "run", str(tmp / "spec.toml"), "--store", str(tmp / "s.sqlite"), "--quiet")
    for rows, extra in (("trials", []), ("points", ["--points"])):
        run_occam(occam_binary, "sweep", "export", str(tmp / "s.sqlite"), *extra, "--jsonl", str(tmp / f"{rows}.jsonl"))
    return tmp


def exported(store, rows):
    return [json.loads(line) for line in (store / f"{rows}.jsonl").read_text().splitlines()]


def same(a, b):
    if b is None:
        return a is None or (isinstance(a, float) and math.isnan(a)) or a is getattr(__import__("pandas"), "NA", None)
    if isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    return a == b


@pytest.mark.parametrize("rows", ["trials", "points"])
def test_store_tables_equal_the_export(store, rows):
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    table = getattr(occam.Store(store / "s.sqlite"), rows)()
    want = exported(store, rows)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == list(want[0].keys())
    assert len(table) == len(want) == (2 if rows == "trials" else 40)
    for i, row in enumerate(want):
        for name, value in row.items():
            got = table[name].iloc[i]
            got = None if got is pd.NA else got
            assert same(got, value), f"row {i} {name}: {got!r} vs exported {value!r}"
    if rows == "trials":
        assert table["train.width"].tolist() == [8, 16]
        assert table["train.width"].dtype == np.int64 and table["test_accuracy"].dtype == np.float64


def test_store_without_pandas_gives_numpy_columns(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    table = occam.Store(store / "s.sqlite").trials()
    assert isinstance(table, dict)
    assert isinstance(table["test_accuracy"], np.ndarray) and table["test_accuracy"].dtype == np.float64
    assert table["train.width"].tolist() == [8, 16]
    assert table["train.lbfgs_steps"] == [None, None]
    assert table["status"] == ["completed", "completed"]
