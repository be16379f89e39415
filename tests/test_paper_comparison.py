"""The paper as a whole: every published number beside the reproduced one, with its verdict."""
import numpy as np
import pandas as pd
import pytest

from mnist1d.experiments import paper_comparison as comparison


TOL = {"accuracy": 5.0, "learning_rate": 0.08, "afunc_loss": 0.15, "threshold_factor": 2.0,
       "dd_peak_points": 5.0, "pooling_gain_points": 5.0, "pooling_spread_points": 3.0,
       "lottery_adjacency_se": 3.0}


@pytest.mark.parametrize("mean, criterion, tol, published, expected", [
    (66.0, "within", 5.0, 68.0, "reproduced"),
    (62.0, "within", 5.0, 68.0, "differs"),
    (7000, "factor", 2.0, 4000, "reproduced"),
    (1900, "factor", 2.0, 4000, "differs"),
    (5.1, "at_least", 5.0, np.nan, "reproduced"),
    (4.9, "at_least", 5.0, np.nan, "differs"),
    (3.5, "at_most", 3.0, np.nan, "differs"),
    (np.nan, "within", 5.0, 68.0, "missing"),
])
def test_verdict(mean, criterion, tol, published, expected):
    assert comparison.verdict(mean, criterion, tol, published) == expected


def test_row_statistics_over_seeds():
    r = comparison.row("x", "q", "1", [1.0, 2.0, 3.0], "within", 1.5, published_value=1.0)
    assert (r["reproduced_mean"], r["reproduced_std"], r["n"]) == (2.0, 1.0, 3)
    assert r["verdict"] == "reproduced"
    assert comparison.row("x", "q", "1", [], "within", 1.0, published_value=1.0)["verdict"] == "missing"


def test_pooling_rows_gain_and_spread():
    summary = pd.DataFrame({
        "variant": ["none", "max", "avg", "stride2"] * 2, "train_size": [1000] * 4 + [50000] * 4,
        "n_seeds": 3, "test_acc_mean": [60.0, 70.0, 64.0, 50.0, 95.0, 96.0, 97.5, 96.0]})
    gain, spread = comparison.pooling_rows(summary, TOL)
    assert gain["reproduced_mean"] == 4.0 and gain["verdict"] == "differs"   # stride 2 is no pooling
    assert spread["reproduced_mean"] == 2.5 and spread["verdict"] == "reproduced"


def test_double_descent_thresholds_against_n_and_nk():
    thresholds = pd.DataFrame({
        "arch": ["mlp", "mlp"], "loss": ["cross_entropy", "mse"], "noise": [0.0, 0.0],
        "seed": [0, 0], "threshold_parameters": [5000, 30000], "peak_test_error": [30.0, 30.0],
        "n_train": [4000, 4000]})
    table = pd.DataFrame({"arch": "mlp", "loss": "cross_entropy", "noise": 0.0, "seed": 0,
                          "size": [10, 300], "test_error": [30.0, 20.0]})
    rows = {r["quantity"]: r for r in comparison.double_descent_rows(table, thresholds, TOL)}
    ce = rows["interpolation threshold, MLP, cross-entropy, label noise 0"]
    mse = rows["interpolation threshold, MLP, MSE, label noise 0"]
    assert ce["published_value"] == 4000 and ce["verdict"] == "reproduced"
    assert mse["published_value"] == 40000 and mse["verdict"] == "reproduced"


def test_metalearn_rows_learned_below_baselines():
    lr = pd.DataFrame({"start_lr": [1.5, 1.5, 0.15, 0.15], "outer_step": [0, 1, 0, 1],
                       "lr_next": [1.0, 0.63, 0.4, 0.61]})
    acts = pd.DataFrame({"activation": ["learned", "relu", "tanh"],
                         "mean_train_loss": [1.0, 1.3, 1.5]})
    rows = {r["quantity"]: r for r in comparison.metalearn_rows(lr, acts, TOL)}
    learned_lr = rows["learned learning rate (trials from 1.5 and 0.15)"]
    assert learned_lr["reproduced_mean"] == pytest.approx(0.62) and learned_lr["n"] == 2
    assert rows["best baseline - learned activation, mean training loss"]["reproduced_mean"] == \
        pytest.approx(0.3)
    assert rows["mean inner training loss, sigmoid activation"]["verdict"] == "missing"


def test_ssl_layer_and_afunc_fit_rows():
    layers = ["conv1", "conv2", "conv3", "hidden", "output"]
    ssl = pd.DataFrame([{"layer": "input", "stage": "input", "seed": -1, "linear_acc": 33.0}]
                       + [{"layer": layer, "stage": stage, "seed": seed,
                           "linear_acc": (50.0 if stage == "before" else 70.0 + i + seed)}
                          for i, layer in enumerate(layers) for seed in (0, 2)
                          for stage in ("before", "after")])
    rows = comparison.ssl_layer_rows(ssl, TOL)
    assert [r["published_value"] for r in rows] == [32.8, 75.1, 80.9, 82.1, 76.1, 75.0]
    assert all("self-supervised-learning.ipynb" in r["quantity"] for r in rows)
    assert rows[0]["reproduced_mean"] == 33.0 and rows[0]["n"] == 1
    assert rows[1]["reproduced_mean"] == pytest.approx(71.0) and rows[1]["n"] == 2  # after only
    assert [r["verdict"] for r in rows] == ["reproduced", "reproduced", "differs", "differs",
                                            "reproduced", "reproduced"]
    fit = pd.DataFrame({"activation": ["fitted", "learned"], "final_test_acc": [62.0, 70.0]})
    (row,) = comparison.afunc_fit_rows(fit, TOL)
    assert row["published_value"] == 66.4 and row["reproduced_mean"] == 62.0
    assert row["verdict"] == "reproduced" and "metalearn-activation-function.ipynb" in row["quantity"]
    (gone,) = comparison.afunc_fit_rows(fit[fit.activation != "fitted"], TOL)
    assert gone["verdict"] == "missing"
