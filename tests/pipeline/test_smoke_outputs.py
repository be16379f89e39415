"""What the smoke preset's `all` made, experiment by experiment (the session's one smoke run)."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import SMOKE
from mnist1d import store
from mnist1d.pipeline import compare
from mnist1d.experiments import double_descent as dd
from mnist1d.experiments import metalearn_afunc as afunc

GOLDEN = Path(__file__).parent / "golden" / "smoke.json.gz"


def test_smoke_benchmark_outputs(smoke_run):
    summary = pd.read_csv(smoke_run / SMOKE / "benchmark/benchmark.csv")
    assert len(summary) == 8 and set(summary.variant) == {"normal", "shuffled"}
    assert (summary.n_seeds == 2).all()
    history = pd.read_csv(smoke_run / SMOKE / "benchmark/history.csv")
    assert {"seed", "step", "train_loss", "test_loss", "train_acc", "test_acc"} <= set(history.columns)
    log = (smoke_run / SMOKE / "logs/benchmark/cnn_normal.log").read_text()
    assert "step     50/100" in log and "test acc" in log
    assert "published" in (smoke_run / SMOKE / "benchmark/benchmark.md").read_text()


def test_smoke_human_outputs(smoke_run):
    predictions = pd.read_csv(smoke_run / SMOKE / "benchmark/predictions_cnn_normal.csv")
    assert list(predictions.columns) == ["seed", "test_index", "label", "prediction"]
    assert len(predictions) == 2 * 1000 and set(predictions.seed) == {0, 1}
    # the predictions give the accuracy the training history ended at
    summary = pd.read_csv(smoke_run / SMOKE / "benchmark/benchmark.csv")
    cnn = summary[(summary.model == "cnn") & (summary.variant == "normal")].iloc[0]
    acc = predictions.assign(ok=predictions.label == predictions.prediction).groupby("seed").ok.mean()
    assert 100 * acc.mean() == pytest.approx(cnn.test_acc_mean, abs=0.05)
    table = pd.read_csv(smoke_run / SMOKE / "human/human.csv").set_index("examples")
    assert table.loc["quiz, all five files", "accuracy"] == pytest.approx(95.8)
    assert table.loc["quiz, distinct quizzes", "accuracy"] == pytest.approx(95.75)
    assert table.loc["quiz examples (400)", "seeds"] == 2
    classes = pd.read_csv(smoke_run / SMOKE / "human/class_errors.csv")
    assert len(classes) == 4 * 10 and classes.error_rate.between(0, 100).all()
    assert "q2 is q1" in (smoke_run / SMOKE / "human/human.md").read_text()
    for ext in ("png", "pdf"):
        assert (smoke_run / SMOKE / f"human.{ext}").stat().st_size > 0


def test_smoke_double_descent_outputs(smoke_run):
    table = pd.read_csv(smoke_run / SMOKE / "double_descent/double_descent.csv")
    assert list(table.columns) == dd.CSV_COLUMNS
    # smoke preset: MLP 3 widths x 2 noise x 2 losses, CNN 2 sizes x 1 noise x 1 loss, 1 seed
    assert len(table) == 3 * 2 * 2 + 2
    assert (table.epochs == 2).all() and table.test_error.between(0, 100).all()
    thresholds = pd.read_csv(smoke_run / SMOKE / "double_descent/thresholds.csv")
    assert len(thresholds) == 5 and (thresholds.n_train == 4000).all()
    noisy = store.load_dataset(smoke_run / SMOKE / "double_descent/data/noise0.15.npz")
    clean = store.load_dataset(smoke_run / SMOKE / "data/samples16k.npz")
    assert 0.10 < (noisy["y"] != clean["y"]).mean() < 0.17
    # label_noise: notebook, the generation stream of samples16k continued
    np.testing.assert_array_equal(noisy["y"], dd.notebook_noisy_labels(
        clean["y"], 0.15, store.read_args(smoke_run / SMOKE / "data/samples16k.npz")))
    np.testing.assert_array_equal(noisy["y_test"], clean["y_test"])
    assert "job mlp_mse_g0" in (smoke_run / SMOKE / "logs/double_descent/mlp_mse_g0.log").read_text()


def test_smoke_lottery_outputs(smoke_run):
    results = pd.read_csv(smoke_run / SMOKE / "lottery/search.csv")
    assert len(results) == 4 * 4 and set(results.method) == {"magnitude", "random"}
    summary = pd.read_csv(smoke_run / SMOKE / "lottery/analysis.csv")
    assert len(summary) == 2 * 15 and set(summary.trial) == {42, 43}     # both trials (smoke)
    adjacency = pd.read_csv(smoke_run / SMOKE / "lottery/adjacency.csv")
    assert {"notebook_mean", "notebook_differs"} <= set(adjacency.columns)
    assert "notebook formula" in (smoke_run / SMOKE / "lottery/analysis.md").read_text()
    assert (smoke_run / SMOKE / "lottery/masks.npz").stat().st_size > 0
    assert not (smoke_run / SMOKE / "lottery/checkpoint").exists()
    assert "| target |" in (smoke_run / SMOKE / "lottery/targets.md").read_text()


def test_smoke_tsne_ssl_pooling_outputs(smoke_run):
    table = pd.read_csv(smoke_run / SMOKE / "tsne/baselines.csv")
    assert list(table.method) == ["kNN (k=10, Euclidean)",
                                  "logistic regression (standardised inputs, tol 1e-2)"]
    assert table.test_acc.between(0, 100).all()
    log = (smoke_run / SMOKE / "logs/tsne/figure.log").read_text()
    assert "MNIST panel is not produced" in log
    ssl_table = pd.read_csv(smoke_run / SMOKE / "ssl/ssl.csv")
    assert set(ssl_table.stage) == {"input", "before", "after"}
    guillotine = pd.read_csv(smoke_run / SMOKE / "ssl/guillotine.csv")
    depths = guillotine[guillotine.metric == "linear_acc"].groupby("model").depth.max()
    assert depths.to_dict() == {"projector": 5, "none": 3, "deep": 7}   # input + layers
    assert (guillotine[guillotine.depth > 0].n_seeds == 2).all()
    assert guillotine["mean"].between(0, 100).all()
    assert "| deep |" in (smoke_run / SMOKE / "ssl/guillotine.md").read_text()
    for name in ("none", "deep"):
        variant = pd.read_csv(smoke_run / SMOKE / f"ssl/variant_{name}.csv")
        assert set(variant.stage) == {"input", "after"}
    pool = pd.read_csv(smoke_run / SMOKE / "pooling/pooling.csv")
    assert pool.test_acc_mean.between(0, 100).all() and (pool.n_seeds == 2).all()


def test_smoke_comparison_covers_every_experiment(smoke_run):
    table = pd.read_csv(smoke_run / SMOKE / "paper_comparison.csv")
    assert set(table.experiment) == {"benchmark", "double descent", "lottery", "metalearning",
                                     "pooling", "t-SNE", "SSL", "human"}
    assert set(table.verdict) <= {"reproduced", "differs", "missing"}
    assert len(table[table.experiment == "benchmark"]) == 16     # README and notebook
    # the notebooks' numbers, each naming its source: SSL layers (6), epoch 200 (2), input-space
    # baselines (2); the activations (7) and the fitted one (1); the 30 pooling finals
    assert table.source.str.contains("self-supervised-learning.ipynb").sum() == 10
    assert table.source.str.contains("metalearn-activation-function.ipynb").sum() == 8
    assert table.source.str.contains("benchmark-pooling.ipynb").sum() == 30
    assert table.source.str.contains("lottery-tickets.ipynb").sum() == 6 + 15
    assert "preset smoke" in (smoke_run / SMOKE / "paper_comparison.md").read_text()


def test_smoke_timing_has_every_job(smoke_run):
    table = pd.read_csv(smoke_run / SMOKE / "timing.csv")
    files = sorted((smoke_run / SMOKE / "timing").rglob("*.tsv"))
    assert len(table) == len(files)
    assert {"benchmark", "double_descent", "lottery", "metalearn", "pooling", "ssl", "tsne",
            "data", "paper"} <= set(table.experiment)
    assert (table.wall_s > 0).all()


def test_smoke_metalearn_outputs(smoke_run):
    lr = pd.read_csv(smoke_run / SMOKE / "metalearn/lr.csv")
    assert sorted(lr.start_lr.unique()) == [0.15, 1.5]
    assert lr.groupby("start_lr").size().tolist() == [3, 3]
    acts = pd.read_csv(smoke_run / SMOKE / "metalearn/afunc_activations.csv")
    assert acts.activation.tolist() == ["learned", *afunc.BASELINES]
    assert np.isfinite(acts.mean_train_loss).all()
    steps = pd.read_csv(smoke_run / SMOKE / "metalearn/afunc_steps.csv")
    assert steps.outer_step.tolist() == [0, 1, 2]
    # the quantity of the published "learned 0.94": the mean over outer steps of the objective
    learned = acts.set_index("activation").loc["learned"]
    assert learned.mean_outer_objective == pytest.approx(steps.outer_loss.mean(), rel=1e-9)
    assert acts.set_index("activation").loc[list(afunc.BASELINES), "mean_outer_objective"].isna().all()
    assert not (smoke_run / SMOKE / "metalearn/checkpoints/afunc.pt").exists()
    fit = pd.read_csv(smoke_run / SMOKE / "metalearn/afunc_fit.csv")
    assert fit.activation.tolist() == ["fitted", "learned", *afunc.BASELINES]
    assert fit.final_test_acc.between(0, 100).all() and fit.fit_rms.iloc[0] < 0.5
    assert len(pd.read_csv(smoke_run / SMOKE / "metalearn/afunc_fit_pieces.csv")) == 6


def test_smoke_tables_are_the_recorded_ones(smoke_run):
    """Every table of a smoke run agrees with the record golden/smoke.json.gz (made on this
    project's machine, an AMD EPYC, with `benchmarks/compare_tables.py --record`), on any CPU.

    Equal: every integer, boolean and text column (seeds, steps, sizes, counts, names, verdicts),
    the rows and columns of every table, the integer arrays, the generated datasets' float64
    inputs (to 1e-9: NumPy and numba differ across CPUs in the last bits at most), the float
    columns that are inputs of the computation (noise, sparsity, sample points: to 1e-9 relative),
    and the words of every .md text.

    Within tolerances: what training computes in float32. Another CPU (AVX2 or AVX-512 kernels,
    another BLAS path) rounds differently, and training amplifies the rounding: trajectories agree
    to ~1e-6 for a few steps, then part (losses 1e-2 to 1e-1 apart after 200 steps). The
    tolerances are ones such parting stays within and a genuine change (another protocol, seed or
    dataset, swapped columns, a lost update) does not, and are compared as |a - b| <= rel |a| + abs:
    accuracies and error rates (percent) 3 points (30 of the benchmark's 1000 test examples);
    accuracies measured on few examples or by probes fitted to trained embeddings (ssl/, the
    human baseline's per-class errors) 10 points; spreads over seeds (std) 50 % + 3, as the
    difference of their 2-3 members; losses 5 % + 0.01; other trained values 10 % + 0.02; the
    metalearned learning rate 1 %; numbers in .md texts 10 % + 4 (they render the tables);
    trained arrays (SSL embeddings) 10 % of their norm; predicted labels: at most 10 % of the
    examples differ, lottery masks at most 5 % of their entries. A smoke run with other kernels
    (ATEN_CPU_CAPABILITY=avx2, oneDNN, MKL and OpenBLAS on their AVX2 paths, numba for a generic
    CPU) came to at most 61 % of any tolerance (SSL linear probe: 6.1 of 10 points; benchmark
    accuracies 0.9 of 3 points; losses 0.5 %; 3.4 % of the CNN's predictions; the datasets and
    masks identical). test_the_record_check_sees_a_changed_table shows the check failing.
    """
    recorded = compare.load_record(GOLDEN)
    assert len(recorded["tables"]) > 90
    problems = compare.check_record(recorded, smoke_run / SMOKE)
    assert not problems, "\n".join(problems)


def test_the_record_check_sees_a_changed_table(smoke_run, tmp_path):
    """The comparison above fails for the changes it is there to catch, each alone."""
    recorded = compare.load_record(GOLDEN)
    root = tmp_path / "results"
    for name, path in compare.tables(smoke_run / SMOKE).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / name)
    assert not compare.check_record(recorded, root)

    def problems_after(name, change):
        path = root / name
        before = path.read_bytes()
        change(path)
        try:
            return compare.check_record(recorded, root)
        finally:
            path.write_bytes(before)

    def edit_table(edit):
        return lambda path: edit(pd.read_csv(path)).to_csv(path, index=False)

    # train and test accuracy swapped in one history: by name, and by values
    swapped = problems_after("benchmark/history_cnn_normal.csv", edit_table(
        lambda t: t.rename(columns={"train_acc": "test_acc", "test_acc": "train_acc"})))
    assert any("history_cnn_normal.csv: columns" in line for line in swapped)
    swapped = problems_after("benchmark/history_cnn_normal.csv", edit_table(
        lambda t: t.assign(train_acc=t.test_acc, test_acc=t.train_acc)))
    assert any("column train_acc" in line or "column test_acc" in line for line in swapped)
    # another seed, one row fewer, a loss 30 % off, verdicts changed
    assert problems_after("benchmark/history_mlp_normal.csv", edit_table(
        lambda t: t.assign(seed=t.seed + 1)))
    assert problems_after("lottery/search.csv", edit_table(lambda t: t.iloc[:-1]))
    assert problems_after("double_descent/double_descent.csv", edit_table(
        lambda t: t.assign(test_loss=t.test_loss * 1.3)))
    assert problems_after("paper_comparison.csv", edit_table(
        lambda t: t.assign(verdict=t.verdict.iloc[::-1].to_numpy())))

    # a dataset's inputs moved by 1e-6, a missing table, a changed sentence
    def nudge(path):
        with np.load(path) as z:
            arrays = dict(z)
        arrays["x"] = arrays["x"] + 1e-6
        np.savez(path, **arrays)
    assert any("data/default.npz: array x" in line
               for line in problems_after("data/default.npz", nudge))
    assert problems_after("human/human.md", lambda path: path.unlink()) == [
        "missing: human/human.md"]
    assert problems_after("ssl/guillotine.md", lambda path: path.write_text(
        path.read_text().replace("|", "!", 1)))
    # the CNN's predictions replaced by the logistic regression's
    assert problems_after("benchmark/predictions_cnn_normal.csv", lambda path: shutil.copyfile(
        root / "benchmark/predictions_logistic_normal.csv", path))
