"""benchmarks/gpu_check.py's comparison of a CPU and a GPU table (no GPU needed)."""
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def history():
    """A benchmark job's table: labels, keys, losses, accuracies, a timing column."""
    steps = [0, 50, 100]
    return pd.DataFrame({
        "model": ["cnn"] * 6, "variant": ["normal"] * 6,
        "seed": [0] * 3 + [1] * 3, "step": steps * 2,
        "train_loss": [2.30, 1.10, 0.70, 2.31, 1.12, 0.72],
        "test_loss": [2.31, 1.20, 0.80, 2.30, 1.21, 0.82],
        "train_acc": [10.0, 60.0, 75.0, 11.0, 61.0, 74.0],
        "test_acc": [9.5, 58.0, 71.0, 10.5, 57.5, 70.0],
        "batch_loss": [2.30, 1.00, 0.65, 2.29, 1.01, 0.66],
        "seconds": [0.1, 0.2, 0.3, 0.1, 0.2, 0.3]})


def test_identical_tables_pass(gpu_check):
    result = gpu_check.compare_tables(history(), history())
    assert result["ok"] and not result["problems"]
    assert result["max_abs"] == 0.0
    # 6 rows x (2 labels + 2 keys + 5 numbers); the timing column is not compared
    assert result["values"] == 6 * 9
    assert "seconds" not in [c["column"] for c in result["columns"]]


def test_ten_point_accuracy_difference_fails(gpu_check):
    other = history()
    other.loc[4, "test_acc"] += 10.0
    result = gpu_check.compare_tables(history(), other)
    assert not result["ok"]
    bad = [c for c in result["columns"] if not c["ok"]]
    assert [(c["column"], c["kind"], c["outside"]) for c in bad] == [("test_acc", "accuracy", 1)]
    assert bad[0]["max_abs"] == pytest.approx(10.0)
    assert result["max_abs"] == pytest.approx(10.0)


def test_rounding_sized_differences_pass(gpu_check):
    other = history()
    for name in ("train_loss", "test_loss", "batch_loss"):
        other[name] *= 1 + 1e-3
    other["train_acc"] += np.array([0.1, -0.2, 0.3, 0.0, 1.5, -1.9])
    result = gpu_check.compare_tables(history(), other)
    assert result["ok"]
    columns = {c["column"]: c for c in result["columns"]}
    assert columns["train_loss"]["max_rel"] == pytest.approx(1e-3)
    assert columns["train_acc"]["max_abs"] == pytest.approx(1.9)


def test_timing_columns_are_ignored(gpu_check):
    other = history()
    other["seconds"] *= 100.0
    result = gpu_check.compare_tables(history(), other)
    assert result["ok"] and result["values"] == 6 * 9
    assert gpu_check.column_kind("seconds", other["seconds"]) == "timing"
    assert gpu_check.column_kind("wall_s", other["seconds"]) == "timing"


def test_misaligned_rows_and_nan_fail(gpu_check):
    other = history()
    other.loc[1, "step"] = 60
    assert not gpu_check.compare_tables(history(), other)["ok"]
    other = history()
    other.loc[2, "train_loss"] = np.nan
    result = gpu_check.compare_tables(history(), other)
    assert not result["ok"] and any("NaN" in p for p in result["problems"])
    both = history()
    both.loc[2, "train_loss"] = np.nan        # NaN in both (an evaluation that was skipped)
    assert gpu_check.compare_tables(both, both.copy())["ok"]
    assert not gpu_check.compare_tables(history(), history().iloc[:5])["ok"]


def test_column_kinds(gpu_check):
    number = pd.Series([1.0])
    kinds = {name: gpu_check.column_kind(name, number)
             for name in ("lr", "lr_next", "test_error", "knn_acc", "outer_loss", "meta_grad",
                          "noise", "outer_step")}
    assert kinds == {"lr": "learning_rate", "lr_next": "learning_rate", "test_error": "accuracy",
                     "knn_acc": "accuracy", "outer_loss": "loss", "meta_grad": "value",
                     "noise": "key", "outer_step": "key"}
    assert gpu_check.column_kind("loss", pd.Series(["mse"])) == "label"   # double descent's


def test_compare_runs_reports_a_missing_table(gpu_check):
    result = gpu_check.compare_runs({"a": history(), "b": history()}, {"a": history()})
    assert result["a"]["ok"] and not result["b"]["ok"]
