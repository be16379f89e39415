"""t-SNE of MNIST-1D in input space and the input-space baselines (paper Fig. "tsne").

The paper's remark: MNIST forms clean t-SNE clusters, MNIST-1D does not; in input space kNN gets
about 60 % and logistic regression about 33 % on MNIST-1D.

Libraries: openTSNE for the embedding, scikit-learn for the baselines (openTSNE depends on it
anyway). Both are maintained. openTSNE's FFT-accelerated gradients embedded the 5 000 examples in
36 s on one thread of this loaded 2-core machine, scikit-learn's Barnes-Hut TSNE in 196 s (same
data, same hour), and the pipeline draws three t-SNE maps (this one and two in the SSL figure).
"""
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mnist1d._extras import require
from mnist1d.experiments import published

MNIST_KEYS = (("x_train", "y_train"), ("x", "y"), ("images", "labels"))


LOGISTIC_PROTOCOLS = ("standardised", "raw")


def protocol_from_config(config):
    """What the input-space baselines job computes with (the rule passes exactly this)."""
    return {"knn_k": config["tsne"]["knn_k"], "logistic": config["tsne"]["logistic"]}


def figure_settings(config):
    """What a t-SNE map is drawn with (the MNIST-1D map and the SSL figure's maps)."""
    section = config["tsne"]
    return {"examples": section["examples"], "seed": section["seed"],
            "perplexity": section["perplexity"]}


def embed(x, seed=0, perplexity=30.0, n_jobs=1):
    """2-d t-SNE of the rows of x (openTSNE: PCA initialisation, FFT-accelerated gradients)."""
    require("openTSNE", extra="pipeline", by=__name__)
    from openTSNE import TSNE

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    perplexity = min(perplexity, (len(x) - 1) / 3.0)   # small smoke-test samples
    return np.asarray(TSNE(n_components=2, perplexity=perplexity, initialization="pca",
                           random_state=seed, n_jobs=n_jobs).fit(x))


def knn_accuracy(x_train, y_train, x_test, y_test, k=10, metric="euclidean"):
    """Test accuracy (%) of k-nearest-neighbour classification."""
    require("sklearn", extra="pipeline", by=__name__)
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute")
    knn.fit(_flat(x_train), y_train)
    return 100.0 * float(np.mean(knn.predict(_flat(x_test)) == y_test))


def linear_accuracy(x_train, y_train, x_test, y_test, max_iter=2000, standardize=False,
                    tol=1e-4):
    """Test accuracy (%) of multinomial logistic regression (L2, C = 1, lbfgs, stopping
    tolerance `tol`), on inputs standardised per feature (fitted on the training set) if
    `standardize`."""
    require("sklearn", extra="pipeline", by=__name__)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    steps = (([StandardScaler()] if standardize else [])
             + [LogisticRegression(max_iter=max_iter, tol=tol)])
    model = make_pipeline(*steps)
    with warnings.catch_warnings():   # a capped probe is a probe, not an error
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(_flat(x_train), y_train)
    return 100.0 * float(np.mean(model.predict(_flat(x_test)) == y_test))


def _flat(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def logistic_settings(protocol):
    """The logistic-regression baseline of config `tsne.logistic`: (method label, keyword
    arguments of linear_accuracy). standardised (the SSL notebook's "pixel space" cell, whose
    32.8 % the paper quotes): make_pipeline(StandardScaler(), LogisticRegression(tol=1e-2,
    max_iter=1000)); raw: LogisticRegression(max_iter=2000) on the inputs as they are (scikit-
    learn's default tolerance 1e-4)."""
    if protocol == "standardised":
        return ("logistic regression (standardised inputs, tol 1e-2)",
                {"standardize": True, "tol": 1e-2, "max_iter": 1000})
    if protocol == "raw":
        return "logistic regression (raw inputs)", {"standardize": False, "max_iter": 2000}
    raise ValueError(f"tsne.logistic must be one of {LOGISTIC_PROTOCOLS}, got {protocol!r}")


def baselines(data, k=10, logistic="standardised"):
    """kNN (k, Euclidean) and logistic regression (config `tsne.logistic`, logistic_settings)
    on the 40-d inputs: a tidy DataFrame."""
    label, settings = logistic_settings(logistic)
    args = (data["x"], data["y"], data["x_test"], data["y_test"])
    return pd.DataFrame([
        {"method": f"kNN (k={k}, Euclidean)", "space": "input", "n_train": len(data["x"]),
         "n_test": len(data["x_test"]), "test_acc": knn_accuracy(*args, k=k),
         "published_test_acc": published.TSNE_PAPER["knn"].value},
        {"method": label, "space": "input", "n_train": len(data["x"]),
         "n_test": len(data["x_test"]), "test_acc": linear_accuracy(*args, **settings),
         "published_test_acc": published.TSNE_PAPER["logistic"].value},
    ])


def baselines_job(protocol, inputs, *, device="cpu", logger=None):
    """The tsne_baselines job (mnist1d.experiments: job functions): `baselines` of
    inputs["dataset"] with `protocol` (protocol_from_config). scikit-learn on the CPU: `device`
    is taken for the common shape and not used. Returns "baselines"."""
    table = baselines(inputs["dataset"], k=protocol["knn_k"], logistic=protocol["logistic"])
    if logger is not None:
        logger.info("\n" + table.to_string(index=False))
    return {"baselines": table}


def load_mnist(path, n=5000, seed=0):
    """n random MNIST images (flattened) and labels from an .npz file with arrays x_train/y_train
    (keras' mnist.npz), x/y or images/labels."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config key 'tsne.mnist_path': no file at {path}")
    with np.load(path) as f:
        for kx, ky in MNIST_KEYS:
            if kx in f and ky in f:
                x, y = f[kx], f[ky]
                break
        else:
            raise ValueError(f"config key 'tsne.mnist_path': {path} has none of the array pairs "
                             f"{MNIST_KEYS} (found {sorted(f.files)})")
    idx = np.random.default_rng(seed).permutation(len(x))[:n]
    return _flat(x[idx]) / max(1.0, float(np.max(x))), np.asarray(y[idx]).astype(int)


def scatter(ax, emb, y, title):
    from mnist1d.plotting import CLASS_COLORS

    for c in range(10):
        pts = emb[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, color=CLASS_COLORS[c], label=str(c), rasterized=True)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_aspect("equal", adjustable="datalim")


def plot_tsne(emb, y, baseline_table, mnist=None):
    """t-SNE of MNIST-1D coloured by class; MNIST beside it when given ((emb, y) or None)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from mnist1d.plotting import CLASS_COLORS

    panels = 2 if mnist is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 5.2), squeeze=False)
    acc = {("kNN" if r.method.startswith("kNN") else "logistic"): r.test_acc
           for r in baseline_table.itertuples()}
    if mnist is not None:
        scatter(axes[0, 0], mnist[0], mnist[1], f"MNIST ({len(mnist[1]):,} images)")
    scatter(axes[0, -1], emb, y, f"MNIST-1D ({len(y):,} examples, input space)")
    handles = [Line2D([], [], marker="o", ls="", color=CLASS_COLORS[c], label=str(c))
               for c in range(10)]
    fig.legend(handles=handles, title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5))
    caption = (f"MNIST-1D in input space: kNN (k = 10) {acc['kNN']:.1f} %, logistic regression "
               f"{acc['logistic']:.1f} % test accuracy (published: about 60 % and 33 %).")
    if mnist is None:
        caption += ("\nThe MNIST panel was not produced: no MNIST file is configured "
                    "(set tsne.mnist_path in config.yaml).")
    fig.text(0.5, -0.01, caption, ha="center", va="top", fontsize=9)
    fig.suptitle("t-SNE: MNIST-1D shows no clean class clusters")
    fig.tight_layout()
    return fig
