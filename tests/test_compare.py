"""mnist1d.pipeline.compare: result folders exactly, and against a record within tolerances."""
import numpy as np
import pandas as pd
import pytest

from mnist1d.pipeline import compare


def make_results(root, shift=0.0, seed=0):
    """A small result folder: a training history, a dataset, masks, embeddings and a text."""
    (root / "bench").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "logs").mkdir()
    pd.DataFrame({"model": ["cnn"] * 3, "seed": [seed] * 3, "step": [0, 50, 100],
                  "train_loss": [2.3, 1.2, 0.8], "test_acc": [10.0, 55.0, 70.0 + shift],
                  "wall_s": np.random.rand(3)}).to_csv(root / "bench/history.csv", index=False)
    rng = np.random.default_rng(seed)
    np.savez(root / "data/d.npz", x=rng.normal(size=(3000, 4)), y=rng.integers(0, 10, 3000))
    np.savez(root / "bench/masks.npz", **{"mask/w": rng.random(400) < 0.5,
                                          "sparsity": np.array([0.0, 0.5])})
    np.savez(root / "bench/emb.npz", after=rng.normal(size=(3000, 4)))
    (root / "bench/summary.md").write_text(f"| model | acc |\n| cnn | {70.0 + shift:.1f} |\n")
    (root / "logs/job.log").write_text("anything")
    return root


def test_tables_leave_out_logs_and_timing_columns(tmp_path):
    root = make_results(tmp_path / "a")
    assert sorted(compare.tables(root)) == ["bench/emb.npz", "bench/history.csv",
                                            "bench/masks.npz", "bench/summary.md", "data/d.npz"]
    assert "wall_s" not in compare.read_table(root / "bench/history.csv").columns


def test_exact_comparison_of_two_folders(tmp_path):
    a, b = make_results(tmp_path / "a"), make_results(tmp_path / "b")   # timings differ
    assert compare.compare_folders(a, b) == ([], 5)
    c = make_results(tmp_path / "c", shift=1e-9)       # the table differs, its rendering not
    problems, identical = compare.compare_folders(a, c)
    assert identical == 4 and [p.split(":")[0] for p in problems] == ["differs"]
    assert "bench/history.csv" in problems[0]
    (c / "bench/emb.npz").unlink()
    assert f"only in {a}: bench/emb.npz" in compare.compare_folders(a, c)[0]


def test_record_round_trip_and_tolerances(tmp_path):
    a = make_results(tmp_path / "a")
    path = tmp_path / "rec.json.gz"
    compare.save_record(path, compare.record(a, preset="test"))
    first = path.read_bytes()
    compare.save_record(path, compare.record(a, preset="test"))
    assert path.read_bytes() == first                  # deterministic file
    rec = compare.load_record(path)
    assert rec["preset"] == "test" and set(rec["machine"]) >= {"cpu", "torch"}
    assert compare.check_record(rec, a) == []
    # 2 accuracy points and its rounded rendering: within tolerance
    assert compare.check_record(rec, make_results(tmp_path / "b", shift=2.0)) == []
    # 5 points: outside; the text's numbers are compared more loosely (they render the tables)
    problems = compare.check_record(rec, make_results(tmp_path / "c", shift=5.0))
    assert [p.split(":")[0] for p in problems] == ["bench/history.csv"]
    problems = compare.check_record(rec, make_results(tmp_path / "e", shift=20.0))
    assert [p.split(":")[0] for p in problems] == ["bench/history.csv", "bench/summary.md"]
    # another seed: the seed column, the dataset, masks and embeddings
    problems = compare.check_record(rec, make_results(tmp_path / "d", seed=1))
    assert {p.split(": ")[0] + ": " + p.split(": ")[1] for p in problems} == {
        "bench/history.csv: column seed", "data/d.npz: array x", "data/d.npz: array y",
        "bench/masks.npz: array mask/w", "bench/emb.npz: array after"}


def test_kinds_of_columns_and_arrays():
    kind = compare.table_column_kind
    assert kind("seed", pd.Series([1, 2])) == "integer"
    assert kind("prediction", pd.Series([1, 2])) == "prediction"
    assert kind("model", pd.Series(["a"])) == "label"
    assert kind("interpolates", pd.Series([True])) == "label"
    assert kind("test_acc_mean", pd.Series([1.0])) == "accuracy"
    assert kind("train_error", pd.Series([1.0])) == "accuracy"
    assert kind("batch_loss", pd.Series([1.0])) == "loss"
    assert kind("noise", pd.Series([0.15])) == "key"
    assert kind("lr", pd.Series([0.1])) == "learning_rate"
    assert kind("meta_grad", pd.Series([0.1])) == "value"
    assert kind("test_acc_std", pd.Series([1.0])) == "spread"
    assert kind("mean", pd.Series([1.0]), "ssl/guillotine.csv") == "probe_accuracy"
    assert kind("loss", pd.Series([1.0]), "ssl/history.csv") == "loss"
    f = np.zeros(1)
    assert compare.array_kind("data/a.npz", "x", f) == "generated"
    assert compare.array_kind("ssl/e.npz", "after", f) == "trained_array"
    assert compare.array_kind("lottery/m.npz", "sparsity", f) == "key"
    assert compare.array_kind("lottery/m.npz", "mask/w", np.zeros(1, np.uint8)) == "mask"
    assert compare.array_kind("ssl/e.npz", "y", np.zeros(1, np.int64)) == "integer"


def test_within_treats_nan_and_infinity_as_values():
    assert compare.within("loss", [np.nan, np.inf, 1.0], [np.nan, np.inf, 1.05]).all()
    assert not compare.within("loss", [np.nan], [1.0]).any()
    assert not compare.within("key", [0.15], [0.15 + 1e-6]).any()


def test_load_record_refuses_other_files(tmp_path):
    (tmp_path / "x.json.gz").write_text("not gzip")
    with pytest.raises(ValueError, match="not a result record"):
        compare.load_record(tmp_path / "x.json.gz")


# --- one computation on two devices: frame_comparison and the tolerance sets ------------------

def history():
    """A training history: labels, integer keys, losses, accuracies, a timing column."""
    return pd.DataFrame({
        "model": ["cnn"] * 6, "seed": [0] * 3 + [1] * 3, "step": [0, 50, 100] * 2,
        "train_loss": [2.30, 1.10, 0.70, 2.31, 1.12, 0.72],
        "train_acc": [10.0, 60.0, 75.0, 11.0, 61.0, 74.0],
        "test_acc": [9.5, 58.0, 71.0, 10.5, 57.5, 70.0],
        "noise": [0.1] * 6, "seconds": [0.1, 0.2, 0.3, 0.1, 0.2, 0.3]})


def test_tolerance_sets_cover_every_float_kind():
    kinds = {"key", "accuracy", "probe_accuracy", "loss", "learning_rate", "spread", "value"}
    assert set(compare.TOLERANCES) >= kinds
    assert set(compare.DEVICE_TOLERANCES) == kinds == set(compare.FLOAT64_TOLERANCES)
    for kind in kinds:   # float64 is the tighter, everywhere
        assert compare.FLOAT64_TOLERANCES[kind] <= compare.DEVICE_TOLERANCES[kind]
    assert compare.FLOAT64_TOLERANCES["accuracy"] == (0.0, 0.0)
    describe = compare.describe_tolerance
    assert describe("accuracy", compare.DEVICE_TOLERANCES) == "2 points"
    assert describe("accuracy", compare.FLOAT64_TOLERANCES) == "equal"
    assert describe("loss", compare.DEVICE_TOLERANCES) == "0.05 rel + 0.001 abs"
    assert describe("learning_rate", compare.DEVICE_TOLERANCES) == "0.01 rel"
    assert describe("loss", compare.FLOAT64_TOLERANCES) == "1e-09 rel + 1e-12 abs"
    assert describe("integer") == describe("label") == "equal"
    assert describe("prediction") == "at most 10% differ"


def test_frame_comparison_identical_and_rounding_sized():
    device = compare.DEVICE_TOLERANCES
    result = compare.frame_comparison(history(), history(), "history", device)
    assert result["ok"] and not result["problems"] and result["max_abs"] == 0.0
    assert result["values"] == 6 * 7                  # the timing column is not compared
    kinds = {c["column"]: c["kind"] for c in result["columns"]}
    assert kinds == {"model": "label", "seed": "integer", "step": "integer",
                     "train_loss": "loss", "train_acc": "accuracy", "test_acc": "accuracy",
                     "noise": "key"}
    other = history()
    other["train_loss"] *= 1 + 1e-3
    other["train_acc"] += np.array([0.1, -0.2, 0.3, 0.0, 1.5, -1.9])
    other["seconds"] *= 100
    result = compare.frame_comparison(history(), other, "history", device)
    assert result["ok"]
    columns = {c["column"]: c for c in result["columns"]}
    assert columns["train_loss"]["max_rel"] == pytest.approx(1e-3)
    assert columns["train_acc"]["max_abs"] == pytest.approx(1.9)
    assert columns["train_loss"]["tolerance"] == "0.05 rel + 0.001 abs"
    # the same in float64: outside
    result = compare.frame_comparison(history(), other, "history", compare.FLOAT64_TOLERANCES)
    assert not result["ok"]
    assert {c["column"]: c["outside"] for c in result["columns"] if not c["ok"]} == {
        "train_loss": 6, "train_acc": 5}


def test_frame_comparison_fails_on_what_does_not_line_up():
    device = compare.DEVICE_TOLERANCES
    other = history()
    other.loc[4, "test_acc"] += 10.0
    result = compare.frame_comparison(history(), other, "history", device)
    assert [(c["column"], c["outside"]) for c in result["columns"] if not c["ok"]] == [
        ("test_acc", 1)]
    other = history()
    other.loc[1, "step"] = 60
    assert not compare.frame_comparison(history(), other, "h", device)["ok"]
    other = history()
    other.loc[2, "train_loss"] = np.nan
    result = compare.frame_comparison(history(), other, "h", device)
    assert not result["ok"] and any("NaN" in p for p in result["problems"])
    both = history()
    both.loc[2, "train_loss"] = np.nan                 # NaN in both: an evaluation skipped
    assert compare.frame_comparison(both, both.copy(), "h", device)["ok"]
    assert not compare.frame_comparison(history(), history().iloc[:5], "h", device)["ok"]
    assert not compare.frame_comparison(history(), history().drop(columns="noise"), "h")["ok"]
    sets = compare.frame_set_comparison({"a": history(), "b": history()}, {"a": history()})
    assert sets["a"]["ok"] and not sets["b"]["ok"]
