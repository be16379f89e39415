"""Every published number of MNIST-1D, in one place, each with its source.

Three kinds of source:
- `PAPER`: the paper (Greydanus & Kobak, ICML 2024) and the 2020 blog post "Scaling down deep
  learning" (rounded numbers);
- `README`: the table of the reference repository's README (greydanus/mnist1d);
- `notebook(name, cell)`: a number the reference notebooks printed in their saved outputs
  (greydanus/mnist1d, notebooks/NAME.ipynb; cells counted from 0 in the file's cell list, markdown
  cells included).

The notebooks' per-round, per-width and per-size tables ship as package data in
mnist1d/experiments/published_data/ (from greydanus/mnist1d, Apache-2.0; see NOTICE) and are
read by `lottery_search()`, `double_descent()` and `pooling()`.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

DATA = Path(__file__).with_name("published_data")

PAPER = "paper / blog"
README = "README"
NOTEBOOK = "notebook"
KINDS = (PAPER, README, NOTEBOOK)


def notebook(name, cell):
    """The source text of a notebook's printed number: 'notebook NAME.ipynb, cell N'."""
    return f"notebook {name}.ipynb, cell {cell}"


def kind(source):
    """PAPER, README or NOTEBOOK: the kind of a source text (for the counts by source)."""
    return NOTEBOOK if source.startswith("notebook") else source


@dataclass(frozen=True)
class Number:
    value: float
    source: str
    text: str = ""      # as published where it is not just the number ("about 0.62")

    def label(self, unit=""):
        return self.text or f"{self.value:g}{unit}"


# ---- benchmark -----------------------------------------------------------------------------------
_README_TABLE = "README table (greydanus/mnist1d)"
# The README's table of final test accuracy (%), also the paper's benchmark figure.
BENCHMARK_README = {
    "normal": {"logistic": 32.0, "mlp": 68.0, "cnn": 94.0, "gru": 91.0},
    "shuffled": {"logistic": 32.0, "mlp": 68.0, "cnn": 56.0, "gru": 57.0},
}
HUMAN_README = {"normal": 96.0, "shuffled": 30.0}    # "Human expert" column: 96 %, "~30 %"
# The saved runs of the benchmark protocol (final test accuracy after 6 000 steps, %): the
# classification notebook is the reference (normal: cell 5, shuffled: cell 7); the quickstart and
# building notebooks ran the same protocol once more on normal data (source variants).
BENCHMARK_NOTEBOOK = {
    "normal": {"cnn": 92.3, "gru": 89.1, "mlp": 65.1, "logistic": 31.5},
    "shuffled": {"cnn": 58.7, "gru": 53.3, "mlp": 66.0, "logistic": 31.5},
}
BENCHMARK_NOTEBOOK_SOURCE = {"normal": notebook("mnist1d-classification", 5),
                             "shuffled": notebook("mnist1d-classification", 7)}
BENCHMARK_NOTEBOOK_VARIANTS = {
    notebook("quickstart", 17): {"cnn": 92.3, "gru": 92.1, "mlp": 64.6, "logistic": 31.5},
    notebook("building-mnist1d", 30): {"cnn": 94.2, "gru": 90.8, "mlp": 64.2, "logistic": 31.5},
}

# ---- human baseline ------------------------------------------------------------------------------
HUMAN = {"mean": 95.8, "se": 0.44, "quizzes": 5}
HUMAN_TEXT = "95.8 ± 0.44 %"
HUMAN_SOURCE = notebook("building-mnist1d", 26)

# ---- double descent ------------------------------------------------------------------------------
DD_NOISE = 0.15
DD_MLP_WIDTHS = (2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300)
DD_NAME = "deep-double-descent"      # cells: MLP without noise 7, with noise 8, CNN with noise 10


@lru_cache(maxsize=None)
def _csv(name):
    return pd.read_csv(DATA / name)


def double_descent():
    """Per width: architecture, label_noise, size, train_error, test_error (%), train_loss,
    test_loss, notebook_cell (the notebook's final epoch 500)."""
    return _csv("double_descent.csv").copy()


# ---- lottery tickets -----------------------------------------------------------------------------
LOTTERY_NAME = "lottery-tickets"
LOTTERY_SEARCH_SOURCE = notebook(LOTTERY_NAME, 18)
LOTTERY_ROUNDS = 100


def lottery_search():
    """Every round of both trials' searches: trial (0, 1), method (magnitude / random), round,
    sparsity (rounded to 2 decimals in the file; the exact one is round / 99), final_train_loss,
    max_test_acc, last_test_acc, mean_test_acc (%)."""
    t = _csv("lottery_search.csv").copy()
    t["sparsity"] = t["round"] / (LOTTERY_ROUNDS - 1)
    return t


# The sweep's sparsity bands (lower bound included, upper excluded; the last includes 1).
LOTTERY_BANDS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 0.95), (0.95, 1.0))


def band_of(sparsity, bands=LOTTERY_BANDS):
    """The band (lo, hi) holding `sparsity`, or None."""
    for lo, hi in bands:
        if lo - 1e-9 <= sparsity < hi - 1e-9 or (hi == bands[-1][1] and abs(sparsity - hi) < 1e-9):
            return (lo, hi)
    return None


def lottery_gap_by_band(search, acc="last_test_acc"):
    """Mean lottery - random gap of the last test accuracy per sparsity band: a DataFrame
    band_lo, band_hi, trial, gap (the mean over the band's rounds of one trial)."""
    w = search.pivot_table(index=["trial", "sparsity"], columns="method", values=acc).reset_index()
    w["gap"] = w["magnitude"] - w["random"]
    w["band"] = [band_of(s) for s in w["sparsity"]]
    w = w.dropna(subset=["band", "gap"])
    out = w.groupby(["band", "trial"])["gap"].mean().reset_index()
    out["band_lo"] = [b[0] for b in out["band"]]
    out["band_hi"] = [b[1] for b in out["band"]]
    return out[["band_lo", "band_hi", "trial", "gap"]]


# Final test accuracy (%) after 6 000 steps on the seed-43 data, per condition and network, for
# trial 0 and trial 1 (each cell trains both trials: dense, lottery, random in turn).
LOTTERY_ANALYSIS = {
    "baseline": {"dense": (64.2, 64.2), "lottery": (64.9, 66.8), "random": (61.5, 58.4)},
    "shuffled": {"dense": (63.1, 64.4), "lottery": (63.0, 62.6), "random": (61.9, 59.5)},
    "flipped": {"dense": (63.0, 63.1), "lottery": (61.8, 63.8), "random": (60.9, 59.6)},
    "chunks": {"dense": (65.3, 62.9), "lottery": (61.3, 62.4), "random": (59.4, 59.0)},
    "reinit": {"dense": (63.3, 64.2), "lottery": (64.7, 66.3), "random": (60.8, 60.1)},
}
LOTTERY_ANALYSIS_SOURCE = {c: notebook(LOTTERY_NAME, cell) for c, cell in
                           (("baseline", 28), ("shuffled", 32), ("flipped", 38), ("chunks", 45),
                            ("reinit", 58))}

# ---- metalearning --------------------------------------------------------------------------------
LR_PAPER = Number(0.62, PAPER, "about 0.62")
# The learned learning rate after 49 outer updates, by starting learning rate.
LR_NOTEBOOK = {1.5: 0.6243, 0.15: 0.6203}
LR_SOURCE = notebook("metalearn-learn-rate", 16)

AFUNC_NAMES = ("learned", "relu", "swish", "elu", "tanh", "softplus", "sigmoid")
AFUNC_PAPER = {"learned": 0.94, "relu": 1.34, "swish": 1.37, "elu": 1.47, "tanh": 1.52,
               "softplus": 1.65, "sigmoid": 1.75}
# learned: the mean over the 301 outer steps of the outer objective; the baselines: the mean of
# all 301 inner training losses of one run.
AFUNC_NOTEBOOK = {"learned": 0.9363, "relu": 1.3369, "swish": 1.3675, "elu": 1.4737,
                  "tanh": 1.5243, "softplus": 1.6467, "sigmoid": 1.7532}
AFUNC_SOURCE = notebook("metalearn-activation-function", 17)
AFUNC_FIT_TEST_ACC = 66.4    # the piecewise-linear fit of the learned function, trained with
AFUNC_FIT_SOURCE = notebook("metalearn-activation-function", 27)

# ---- pooling -------------------------------------------------------------------------------------
POOLING_SOURCE = notebook("benchmark-pooling", 9)


def pooling():
    """The notebook's test curves: train_size, variant (none, stride2, max, avg, l2), step,
    train_loss, test_loss, train_acc, test_acc (one seed, evaluations every 1 000 steps)."""
    return _csv("pooling.csv").copy()


def pooling_finals():
    """Final (step 6 000) test accuracy per train_size and variant: 30 rows."""
    p = pooling()
    return p.loc[p.groupby(["train_size", "variant"])["step"].idxmax(),
                 ["train_size", "variant", "test_acc"]].reset_index(drop=True)


# ---- t-SNE and the input-space baselines ---------------------------------------------------------
TSNE_PAPER = {"knn": Number(60.0, PAPER, "about 60 %"), "logistic": Number(33.0, PAPER, "about 33 %")}
# kNN (k 10, Euclidean) and logistic regression on standardised inputs, frozen data.
TSNE_NOTEBOOK = {"knn": 59.6, "logistic": 32.8}
TSNE_SOURCE = notebook("self-supervised-learning", 3)

# ---- self-supervised learning --------------------------------------------------------------------
SSL_NAME = "self-supervised-learning"
SSL_PAPER = {("output", "after", "knn_acc"): 75.0, ("conv3", "after", "linear_acc"): 82.0,
             ("input", "input", "knn_acc"): 60.0, ("input", "input", "linear_acc"): 33.0}
# Saved at epoch 200 of the projector model: kNN (k 10, cosine) on the 16-d output and a linear
# probe on the 125-d features.
SSL_EPOCH200 = {("output", "after", "knn_acc"): 74.1, ("conv3", "after", "linear_acc"): 82.1}
SSL_EPOCH200_SOURCE = notebook(SSL_NAME, 10)
# Linear probes layer by layer (layer 0: the raw input) of the three models.
SSL_LAYERS = ("input", "conv1", "conv2", "conv3", "hidden", "output")
SSL_LINEAR_BY_LAYER = {"projector": [32.8, 75.1, 80.9, 82.1, 76.1, 75.0],
                       "none": [32.8, 82.2, 79.5, 53.4],
                       "deep": [32.8, 75.9, 82.4, 79.5, 77.3, 72.8, 65.0, 61.1]}
SSL_LINEAR_BY_LAYER_SOURCE = {"projector": notebook(SSL_NAME, 13), "none": notebook(SSL_NAME, 16),
                              "deep": notebook(SSL_NAME, 19)}
