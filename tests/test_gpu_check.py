"""benchmarks/gpu_check.py's comparison of a CPU and a GPU table, and its tables saved for and
read as a reference (no GPU needed)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import load_script
from mnist1d.pipeline import compare

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    return load_script(SCRIPT, "gpu_check")


def history():
    """A benchmark job's table: labels, integer keys, losses, accuracies, a timing column."""
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


def test_compares_through_the_compare_module(gpu_check):
    """gpu_check has no comparison of its own: its runs are compared by
    mnist1d.pipeline.compare with the tolerance set of --dtype."""
    for name in ("column_kind", "compare_tables", "describe_tolerance", "TOLERANCES",
                 "KEY_COLUMNS"):
        assert not hasattr(gpu_check, name), name
    assert gpu_check.TOLERANCE_SETS == {"float32": compare.DEVICE_TOLERANCES,
                                        "float64": compare.FLOAT64_TOLERANCES}
    other = history()
    other.loc[4, "test_acc"] += 10.0
    result = gpu_check.compare_runs({"history": history()}, {"history": other})["history"]
    assert not result["ok"]
    assert [(c["column"], c["kind"], c["outside"]) for c in result["columns"] if not c["ok"]] == [
        ("test_acc", "accuracy", 1)]
    assert result["max_abs"] == pytest.approx(10.0)
    # loss 1e-3 off: within float32's tolerance, far outside float64's
    other = history()
    other["train_loss"] *= 1 + 1e-3
    assert gpu_check.compare_runs({"h": history()}, {"h": other})["h"]["ok"]
    assert not gpu_check.compare_runs({"h": history()}, {"h": other}, "float64")["h"]["ok"]


def test_docstring_states_the_float32_tolerances(gpu_check):
    """The docstring's table gives compare.DEVICE_TOLERANCES' numbers, as the run prints them."""
    doc = " ".join(gpu_check.__doc__.split())
    for kind in compare.DEVICE_TOLERANCES:
        if kind in ("probe_accuracy", "spread"):     # told in the accuracy and value rows
            continue
        assert f"{kind} {compare.describe_tolerance(kind, compare.DEVICE_TOLERANCES)}" in doc
    float64 = compare.FLOAT64_TOLERANCES
    assert (f"to {compare.describe_tolerance('loss', float64)}, keys to "
            f"{compare.describe_tolerance('key', float64)}, accuracies exactly") in doc
    assert compare.describe_tolerance("accuracy", float64) == "equal"


def test_compare_runs_reports_a_missing_table(gpu_check):
    result = gpu_check.compare_runs({"a": history(), "b": history()}, {"a": history()})
    assert result["a"]["ok"] and not result["b"]["ok"]


# --- --save-tables and --reference -----------------------------------------------------------

def mixed_table():
    """Every kind of column a job's table has: text, int keys, float32 and float64 values (a
    NaN among them), a bool, and numbered float32 outputs."""
    frame = history()
    frame["train_loss"] = frame["train_loss"].astype(np.float32)
    frame.loc[1, "test_acc"] = np.nan
    frame["kept"] = [True, False, True, True, False, False]
    frame["output0"] = np.float32(1) / np.arange(1, 7, dtype=np.float32) / np.float32(3)
    frame["lr"] = np.array([0.1, 1e-7, 3.0, 1 / 3, 2.5e-5, np.pi])
    return frame


def test_save_load_round_trip(gpu_check, tmp_path):
    tables = {("benchmark", "cnn normal", "cpu", "history"): mixed_table(),
              ("benchmark", "cnn normal", "cuda", "history"): mixed_table().iloc[:4],
              ("ssl", "training", "cpu", "embeddings"): pd.DataFrame({"stage": ["before"],
                                                                      "example": [0]})}
    options = {"preset": "smoke", "compile": "off", "ssl_probes": "off",
               "config_sha256": "abc", "experiments": ["benchmark", "ssl"]}
    path = tmp_path / "ref.json.gz"
    size = gpu_check.save_tables(path, tables, options, ["cpu", "cuda"],
                                 {"ssl": {"verdict": "TIMEOUT", "jobs_total": 1, "jobs": []}},
                                 ["python x, torch y"])
    assert size == path.stat().st_size and size < 10_000
    assert not list(tmp_path.glob("*.tmp"))
    doc = gpu_check.load_tables(path)
    assert doc["options"] == options and doc["labels"] == ["cpu", "cuda"]
    assert doc["experiments"]["ssl"]["verdict"] == "TIMEOUT"
    assert set(doc["tables"]) == set(tables)
    for key, frame in tables.items():
        loaded = doc["tables"][key]
        assert list(loaded.columns) == list(frame.columns) and len(loaded) == len(frame)
        result = compare.frame_comparison(frame, loaded, key[-1], compare.FLOAT64_TOLERANCES)
        assert result["ok"] and result["max_abs"] == 0.0, result["problems"]
    loaded = doc["tables"][("benchmark", "cnn normal", "cpu", "history")]
    original = mixed_table()
    for name in ("train_loss", "output0", "lr", "test_acc", "seed", "kept"):   # bit for bit
        assert loaded[name].dtype == original[name].dtype, name
        np.testing.assert_array_equal(loaded[name].to_numpy(), original[name].to_numpy())
    assert list(loaded["model"]) == ["cnn"] * 6
    # the reference's tables are its first device's
    reference = gpu_check.Reference(str(path), doc)
    assert reference.label == "cpu"
    assert len(reference.job_tables("benchmark", "cnn normal")["history"]) == 6
    assert reference.job_tables("benchmark", "mlp normal") is None
    assert "ssl is TIMEOUT" in reference.describe()
    missing = gpu_check.compare_with_reference(reference, "benchmark", "mlp normal",
                                               {"history": mixed_table()})
    assert [c["ok"] for c in missing.values()] == [False]


def test_load_rejects_other_files(gpu_check, tmp_path):
    (tmp_path / "plain.txt").write_text("not gzip")
    with pytest.raises(ValueError, match="not a gpu_check tables file"):
        gpu_check.load_tables(tmp_path / "plain.txt")
    import gzip
    with gzip.open(tmp_path / "other.json.gz", "wt") as f:
        f.write('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a gpu_check tables file"):
        gpu_check.load_tables(tmp_path / "other.json.gz")


def test_options_mismatch(gpu_check):
    here = {"preset": "smoke", "compile": "on", "ssl_probes": "off", "config_sha256": "abc",
            "experiments": ["lottery", "ssl"]}
    assert gpu_check.options_mismatch(dict(here), here) == []
    superset = dict(here, experiments=["metalearn_lr", "lottery", "ssl", "benchmark"])
    assert gpu_check.options_mismatch(superset, here) == []
    lines = gpu_check.options_mismatch(
        dict(here, compile="off", config_sha256="xyz", experiments=["lottery"]), here)
    assert len(lines) == 3
    assert "--compile off there, on here" in lines
    assert any("ssl not in the reference" in line for line in lines)
    assert any("configuration" in line for line in lines)


def test_reference_with_other_options_is_refused(gpu_check, tmp_path):
    """No training: the run stops before it makes a dataset."""
    path = tmp_path / "ref.json.gz"
    args = type("Args", (), {"compile": "on", "ssl_probes": "off"})()
    options = gpu_check.run_options(args, gpu_check.smoke_config(True), ["metalearn_lr"])
    gpu_check.save_tables(path, {}, options, ["cpu"])
    out = tmp_path / "out"
    code = gpu_check.main(["--out", str(out), "--devices", "cpu", "--compile", "off",
                           "--only", "metalearn_lr", "--reference", str(path)])
    assert code == 2
    text = (out / "gpu_check.txt").read_text()
    assert "made with other options" in text and "--compile on there, off here" in text
    assert "dataset" not in text and "configuration" not in text   # only what differs
    code = gpu_check.main(["--out", str(out), "--devices", "cpu", "--compile", "on",
                           "--only", "lottery", "--reference", str(path)])
    assert code == 2
    assert "lottery not in the reference" in (out / "gpu_check.txt").read_text()


def run_script(*args):
    result = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=SCRIPT.parent.parent,
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=str(SCRIPT.parent.parent)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout.strip().splitlines()


def test_reference_end_to_end(gpu_check, tmp_path):
    """metalearn_lr, eager, on the CPU twice: saved, then compared with itself as reference; a
    reference with a learning rate 10 % off fails against it."""
    common = ["--compile", "off", "--only", "metalearn_lr"]
    ref = tmp_path / "ref.json.gz"
    lines = run_script("--out", str(tmp_path / "a"), "--devices", "cpu", "cpu", *common,
                       "--save-tables", str(ref))
    assert lines[-1] == "gpu_check: 1 of 1 experiments agree within tolerance"
    doc = gpu_check.load_tables(ref)
    assert set(doc["tables"]) == {("metalearn_lr", "trials", label, "trials")
                                  for label in ("cpu", "cpu#2")}
    assert doc["options"]["compile"] == "off" and doc["options"]["experiments"] == [
        "metalearn_lr"]

    lines = run_script("--out", str(tmp_path / "b"), "--devices", "cpu", "cpu", *common,
                       "--reference", str(ref))
    assert lines[-1] == (f"gpu_check: 1 of 1 experiments agree within tolerance; "
                         f"vs reference ({ref}): cpu 1 of 1, cpu#2 1 of 1")
    summary = pd.read_csv(tmp_path / "b" / "gpu_check.csv")
    assert list(summary["vs_reference_verdict"]) == ["PASS", "PASS"]
    assert (summary["vs_reference_max_abs_diff"] == 0).all()
    assert (summary["vs_reference_values"] > 0).all()
    columns = pd.read_csv(tmp_path / "b" / "gpu_check_columns.csv")
    assert set(columns["comparison"]) == {"cpu vs cpu#2", "reference cpu vs cpu",
                                          "reference cpu vs cpu#2"}

    trials = doc["tables"][("metalearn_lr", "trials", "cpu", "trials")]
    trials["lr"] *= 1.1
    bad = tmp_path / "bad.json.gz"
    gpu_check.save_tables(bad, {("metalearn_lr", "trials", "cpu", "trials"): trials},
                          doc["options"], ["cpu"])
    lines = run_script("--out", str(tmp_path / "c"), "--devices", "cpu", *common,
                       "--reference", str(bad))
    assert lines[-1] == (f"gpu_check: cpu only, 1 of 1 experiments ran; "
                         f"vs reference ({bad}): cpu 0 of 1")
    summary = pd.read_csv(tmp_path / "c" / "gpu_check.csv")
    assert list(summary["verdict"]) == ["DONE"]
    assert list(summary["vs_reference_verdict"]) == ["FAIL"]


# --- --dtype float64 -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def float64_run(tmp_path_factory):
    """Every experiment, eager, in float64 on the CPU twice, its tables saved."""
    root = tmp_path_factory.mktemp("float64")
    lines = run_script("--out", str(root / "out"), "--devices", "cpu", "cpu", "--compile", "off",
                       "--dtype", "float64", "--deadline-s", "0", "--save-tables",
                       str(root / "tables.json.gz"))
    return root, lines


def test_float64_twice_on_the_cpu_is_identical(gpu_check, float64_run):
    """Every job kind trains in float64 (its job function's `dtype`) and reproduces itself bit
    for bit: no difference at all, and the float64 tolerances pass."""
    root, lines = float64_run
    summary = pd.read_csv(root / "out" / "gpu_check.csv")
    text = (root / "out" / "gpu_check.txt").read_text()
    assert "dtype float64; tolerances (mnist1d.pipeline.compare.FLOAT64_TOLERANCES)" in text
    # every experiment's jobs take --dtype: none is SKIPPED
    assert set(summary.verdict) == {"PASS"}, summary
    assert list(dict.fromkeys(summary.experiment)) == list(gpu_check.EXPERIMENTS)
    assert (summary.compared_values > 0).all() and (summary.max_abs_diff == 0).all()
    columns = pd.read_csv(root / "out" / "gpu_check_columns.csv")
    numeric = columns[columns["kind"].isin(list(compare.FLOAT64_TOLERANCES))]
    assert len(numeric) and (numeric.max_abs == 0).all() and numeric.ok.all()
    n = len(gpu_check.EXPERIMENTS)
    assert lines[-1] == f"gpu_check: {n} of {n} experiments agree within tolerance"
    # the checks made on each device alone passed on both runs
    for label in ("cpu", "cpu#2"):
        for check in ("stopped after round 0, resumed: resumed = uninterrupted: masks: PASS",
                      "resumed = uninterrupted: history: PASS",
                      "bn_mlp normal (the per-seed fallback): trains through the per-seed "
                      "fallback: PASS",
                      "two jobs hold GPU 0 at once (2 slots): PASS",
                      "the third waits until one ends, then gets GPU 0: PASS"):
            assert any(line.strip().startswith(label + " ") and check in line
                       for line in text.splitlines()), (label, check)


def test_float64_finds_a_difference_of_one_in_a_million(gpu_check, float64_run, tmp_path):
    """The float64 check can fail: one loss of the saved float64 run moved by 1e-6 relative (far
    inside float32's tolerance) fails against a fresh float64 run."""
    root, _ = float64_run
    doc = gpu_check.load_tables(root / "tables.json.gz")
    key = ("metalearn_lr", "trials", "cpu", "trials")
    trials = doc["tables"][key].copy()
    assert trials["outer_loss"].dtype == np.float64
    moved = trials.copy()
    moved.loc[3, "outer_loss"] *= 1 + 1e-6
    assert not compare.frame_comparison(trials, moved, "trials", compare.FLOAT64_TOLERANCES)["ok"]
    assert compare.frame_comparison(trials, moved, "trials", compare.DEVICE_TOLERANCES)["ok"]
    bad = tmp_path / "moved.json.gz"
    gpu_check.save_tables(bad, {key: moved}, doc["options"], ["cpu"])
    lines = run_script("--out", str(tmp_path / "out"), "--devices", "cpu", "--compile", "off",
                       "--dtype", "float64", "--only", "metalearn_lr", "--reference", str(bad))
    assert lines[-1] == (f"gpu_check: cpu only, 1 of 1 experiments ran; "
                         f"vs reference ({bad}): cpu 0 of 1")
    columns = pd.read_csv(tmp_path / "out" / "gpu_check_columns.csv")
    row = columns[(columns.comparison == "reference cpu vs cpu")
                  & (columns.column == "outer_loss")].iloc[0]
    assert row.outside == 1 and not row.ok and row.max_rel == pytest.approx(1e-6, rel=1e-5)
    # a float32 reference is refused by a float64 run (and the other way round)
    f32 = tmp_path / "f32.json.gz"
    gpu_check.save_tables(f32, {key: trials}, dict(doc["options"], dtype="float32"), ["cpu"])
    code = gpu_check.main(["--out", str(tmp_path / "refused"), "--devices", "cpu", "--compile",
                           "off", "--dtype", "float64", "--only", "metalearn_lr", "--reference",
                           str(f32)])
    assert code == 2
    assert "--dtype float32 there, float64 here" in (tmp_path / "refused" /
                                                      "gpu_check.txt").read_text()


# --- the checks made on one device ------------------------------------------------------------

@pytest.fixture
def gpu_check_jobs(gpu_check):
    return sys.modules["gpu_check_jobs"]      # imported by gpu_check from beside it


def test_an_exact_check_finds_one_rounding_step(gpu_check_jobs):
    """The resumed search is held to the uninterrupted one exactly: one float32 value one
    rounding step off, or one mask bit, fails."""
    frame = mixed_table()
    assert compare.frame_comparison(frame, frame.copy(), "search",
                                    gpu_check_jobs.EXACT_TOLERANCES)["ok"]
    moved = frame.copy()
    moved.loc[2, "train_loss"] = np.nextafter(moved.loc[2, "train_loss"], np.float32(10))
    result = compare.frame_comparison(frame, moved, "search", gpu_check_jobs.EXACT_TOLERANCES)
    assert not result["ok"] and result["max_abs"] < 1e-6
    masks = [{"w": np.packbits(np.ones((2, 40), dtype=bool), axis=1)}]
    flipped = [{"w": masks[0]["w"].copy()}]
    flipped[0]["w"][1, 3] ^= 1
    tables = [gpu_check_jobs.mask_table(type("Masks", (), {
        "rounds": r, "members": [(42, "magnitude"), (42, "random")], "first_round": 0})())
        for r in (masks, flipped)]
    assert list(tables[0].ones) == [40, 40] and list(tables[1].ones) == [40, 39]
    assert not compare.frame_comparison(*tables, "masks", gpu_check_jobs.EXACT_TOLERANCES)["ok"]


def test_gpu_claim_fails_when_the_third_job_does_not_wait(gpu_check, gpu_check_jobs,
                                                          monkeypatch, tmp_path):
    """With three slots the third job claims at once: the claim check fails, and with one device
    (nothing compared between devices) the experiment is FAIL, not DONE."""
    monkeypatch.setattr(gpu_check_jobs, "CLAIM_SLOTS", 3)
    code = gpu_check.main(["--out", str(tmp_path / "out"), "--devices", "cpu", "--only",
                           "gpu_claim", "--save-tables", str(tmp_path / "t.json.gz"),
                           "--deadline-s", "0"])
    assert code == 0
    summary = pd.read_csv(tmp_path / "out" / "gpu_check.csv")
    assert list(summary.verdict) == ["FAIL"]
    text = (tmp_path / "out" / "gpu_check.txt").read_text()
    assert "two jobs hold GPU 0 at once (3 slots): PASS" in text
    assert "the third waits until one ends, then gets GPU 0: FAIL" in text
    doc = gpu_check.load_tables(tmp_path / "t.json.gz")
    claims = doc["tables"][("gpu_claim", "3 jobs, 3 slots on one GPU", "cpu", "claims")]
    assert list(claims.gpu) == [0, 0, 0] and list(claims.holding_at_claim) == [0, 1, 2]
    assert not claims.waited.any()


# --- --perturb ulp: the rounding floor, and the ROUNDING verdict -------------------------------

def test_nudged_moves_every_nonzero_value_one_ulp(gpu_check_jobs):
    x = np.array([[0.0, 1.0, -2.5, 3e-3]], dtype=np.float32)
    for dtype in (np.float32, np.float64):
        moved = gpu_check_jobs.nudged(x, dtype)
        assert moved.dtype == dtype and moved[0, 0] == 0.0
        spacing = np.abs(np.spacing(x.astype(dtype)))
        np.testing.assert_array_equal(np.abs(moved) - np.abs(x.astype(dtype)),
                                      np.where(x == 0, 0, spacing))
        down = gpu_check_jobs.nudged(x, dtype, down=True)
        assert down[0, 0] == 0 and (np.abs(down[0, 1:]) < np.abs(x[0, 1:])).all()
    # only while perturbing, and only x and x_test
    data = {"x": x, "x_test": x[:, ::-1], "y": np.array([3])}
    datasets = gpu_check_jobs.Datasets({}, print, "ulp")
    datasets.made["d"] = data
    assert datasets["d"] is data
    datasets.perturbing = True
    seen = datasets["d"]
    assert seen is datasets["d"] and seen["y"] is data["y"]
    assert (seen["x"] != x).sum() == 3 and (seen["x_test"] != x[:, ::-1]).sum() == 3
    assert gpu_check_jobs.Datasets({}, print, "off", torch_float64()).np_dtype == np.float64


def torch_float64():
    import torch
    return torch.float64


def perturbed_run(tmp_path, dtype):
    """metalearn_lr, eager, on the CPU twice, the second run's inputs nudged by one ulp."""
    tables = tmp_path / f"{dtype}.json.gz"
    lines = run_script("--out", str(tmp_path / dtype), "--devices", "cpu", "cpu", "--compile",
                       "off", "--only", "metalearn_lr", "--dtype", dtype, "--perturb", "ulp",
                       "--save-tables", str(tables))
    columns = pd.read_csv(tmp_path / dtype / "gpu_check_columns.csv")
    return lines, columns, tables


def test_perturbed_run_measures_the_rounding_floor(gpu_check, tmp_path):
    """One ulp of input moves metalearn_lr's losses and learning rates by a few float32 (or
    float64) rounding steps, no more: the perturbation reaches the job, and this job does not
    amplify it. A reference made so gives each column's floor; a difference within
    FLOOR_FACTOR x the floor is ROUNDING, one beyond it FAIL."""
    for dtype, largest in (("float32", 1e-5), ("float64", 1e-13)):
        lines, columns, tables = perturbed_run(tmp_path, dtype)
        assert lines[-1] == ("gpu_check: inputs nudged by one ulp: 1 of 1 experiments stay "
                             "within tolerance (the others' rounding floor exceeds it)")
        assert any("nudged by one ulp of " + dtype in line for line in lines)
        moved = columns[columns.kind.isin(["loss", "learning_rate"])]
        assert (moved.max_abs > 0).any() and (moved.max_rel < largest).all(), moved
        assert (columns[columns.kind == "key"].max_abs == 0).all()

    # the float32 reference's floors, and the verdicts they give
    doc = gpu_check.load_tables(tables.with_name("float32.json.gz"))
    reference = gpu_check.Reference("ref", doc)
    assert reference.perturbed and "rounding floor" in reference.describe()
    floors = reference.floors("metalearn_lr", "trials", "float32")["trials"]
    assert floors["start_lr"] == 0 and max(floors["lr"], floors["outer_loss"]) > 0
    plain = reference.job_tables("metalearn_lr", "trials")["trials"]
    column = max(("lr", "outer_loss", "final_inner_loss"), key=floors.get)
    tight = {kind: (0.0, 0.0) for kind in compare.DEVICE_TOLERANCES}   # every move fails
    verdicts = []
    for times in (0.5, 2.0):   # moved by half, twice FLOOR_FACTOR x the floor
        other = plain.astype({column: np.float64})
        other.loc[2, column] += times * gpu_check.FLOOR_FACTOR * floors[column]
        result = compare.frame_set_comparison({"trials": plain}, {"trials": other}, tight)
        gpu_check.judge_by_floor(result, {"trials": floors})
        verdicts.append(gpu_check.verdict_of(gpu_check.tables_comparison(result)))
    assert verdicts == ["ROUNDING", "FAIL"]


def test_rounding_needs_every_failure_within_the_floor(gpu_check):
    """ROUNDING only where every column outside its tolerance is within FLOOR_FACTOR x its
    floor and the rows line up; no floor (a reference without --perturb) is no excuse."""
    other = history()
    other["test_loss"] *= 1.2                     # 20 %: outside the 5 % tolerance
    floors = {"history": {"test_loss": 0.3, "train_loss": 0.0}}
    verdict = {}
    for name, tables, floor in (
            ("within", other, floors), ("no floor", other, None),
            ("small floor", other, {"history": {"test_loss": 0.01}}),
            ("an accuracy too", other.assign(test_acc=other.test_acc + 5), floors),
            ("rows", other.iloc[:4], floors)):
        result = gpu_check.judge_by_floor(gpu_check.compare_runs({"history": history()},
                                                                 {"history": tables}), floor)
        verdict[name] = gpu_check.verdict_of(gpu_check.tables_comparison(result))
    assert verdict == {"within": "ROUNDING", "no floor": "FAIL", "small floor": "FAIL",
                       "an accuracy too": "FAIL", "rows": "FAIL"}
    assert gpu_check.verdict_of(gpu_check.tables_comparison(gpu_check.compare_runs(
        {"history": history()}, {"history": history()}))) == "PASS"
