"""The benchmark experiment (SPEC section 2): four models, with and without spatial structure.

One job trains every seed of one model on one dataset variant as a single ensemble
(mnist1d.train) and writes its tidy history; `summarise` reduces the histories to the final test
accuracy per model and variant; `plot_benchmark` draws the paper's benchmark figure.
"""
import numpy as np
import pandas as pd

from mnist1d import models, train
from mnist1d import seed_chunks as chunks

MODELS = ("logistic", "mlp", "cnn", "gru")
VARIANTS = ("normal", "shuffled")
LABELS = {"logistic": "logistic regression", "mlp": "MLP", "cnn": "CNN", "gru": "GRU"}
# Published test accuracy (%) of the paper's README table; the human expert line of the figure.
PUBLISHED = {
    "normal": {"logistic": 32.0, "mlp": 68.0, "cnn": 94.0, "gru": 91.0},
    "shuffled": {"logistic": 32.0, "mlp": 68.0, "cnn": 56.0, "gru": 57.0},
}
HUMAN = {"normal": 95.8, "shuffled": 30.0}


def protocol_from_config(config, model, variant, chunk=""):
    """What one benchmark job (`model` on `variant`, the seeds of chunk `chunk` as one ensemble,
    see mnist1d.seed_chunks; "" = every seed when seeds_per_job is unset) computes with, from
    the whole pipeline config: the rule passes exactly this, so that a change elsewhere in the
    config never reruns the job."""
    section = config["benchmark"]
    return {"model": model, "variant": variant,
            "seeds": chunks.chunk_seeds(section, chunk, "benchmark"),
            "engine": train.adam_in_order(section), "compile": bool(config["compile"])}



def label_history(history, model, variant):
    history = history.copy()
    history.insert(0, "variant", variant)
    history.insert(0, "model", model)
    return history


def combine(histories):
    """The histories of the jobs (models, variants, chunks of seeds) as one, in the order of one
    job per model and variant: model, variant, seed, step, whatever seeds_per_job is."""
    h = pd.concat(histories, ignore_index=True) if isinstance(histories, list) else histories
    return chunks.in_first_seen_order(h, ["model", "variant", "seed", "step"], numeric=("step",))


def summarise(histories):
    """Final test accuracy (and train accuracy, test loss) per model and variant over seeds."""
    h = pd.concat(histories, ignore_index=True) if isinstance(histories, list) else histories
    last = h.loc[h.groupby(["model", "variant", "seed"])["step"].idxmax()]
    out = last.groupby(["model", "variant"], sort=False).agg(
        test_acc_mean=("test_acc", "mean"), test_acc_std=("test_acc", "std"),
        n_seeds=("seed", "nunique"), train_acc_mean=("train_acc", "mean"),
        test_loss_mean=("test_loss", "mean"), steps=("step", "max")).reset_index()
    out["test_acc_std"] = out["test_acc_std"].fillna(0.0)
    out["published_test_acc"] = [PUBLISHED.get(v, {}).get(m, np.nan)
                                 for m, v in zip(out["model"], out["variant"])]
    order = {m: i for i, m in enumerate(MODELS)}
    out = out.sort_values(["variant", "model"], key=lambda s: s.map(order) if s.name == "model"
                          else s.map({v: i for i, v in enumerate(VARIANTS)}))
    return out.reset_index(drop=True)


def markdown(summary):
    """The summary next to the published numbers, as a Markdown table."""
    lines = ["| model | parameters | variant | test accuracy (%), mean ± std | seeds | steps | "
             "published (%) | difference |",
             "|---|---|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        diff = row.test_acc_mean - row.published_test_acc
        lines.append(f"| {LABELS.get(row.model, row.model)} | {models.count_parameters(row.model):,} "
                     f"| {row.variant} | {row.test_acc_mean:.1f} ± {row.test_acc_std:.1f} | "
                     f"{row.n_seeds} | {row.steps} | {row.published_test_acc:.0f} | {diff:+.1f} |")
    lines += ["", f"Human expert: {HUMAN['normal']}% (normal), about {HUMAN['shuffled']:.0f}% "
              "(shuffled). Published: the paper's README table (Greydanus & Kobak 2024)."]
    return "\n".join(lines) + "\n"


def plot_benchmark(history):
    """Train and test accuracy vs step per model; shuffled dashed; bands = min..max over seeds."""
    import matplotlib.pyplot as plt

    from mnist1d.plotting import CLASS_COLORS

    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    present = [m for m in MODELS if m in set(history["model"])]
    for ax, split in zip(axes, ("train_acc", "test_acc")):
        for i, model in enumerate(present):
            for variant, style in (("normal", "-"), ("shuffled", "--")):
                h = history[(history.model == model) & (history.variant == variant)]
                if h.empty:
                    continue
                g = h.groupby("step")[split]
                mean, lo, hi = g.mean(), g.min(), g.max()
                ax.plot(mean.index, mean.values, style, color=CLASS_COLORS[i])
                ax.fill_between(mean.index, lo.values, hi.values, color=CLASS_COLORS[i], alpha=0.2,
                                lw=0)
        ax.axhline(HUMAN["normal"], color="k", lw=1, ls=":")
        ax.set_xlabel("training step")
        ax.set_title("Train accuracy" if split == "train_acc" else "Test accuracy")
    axes[0].set_ylabel("accuracy (%)")
    axes[0].set_ylim(0, 101)
    handles = [Line2D([], [], color=CLASS_COLORS[i], lw=3, label=LABELS[m])
               for i, m in enumerate(present)]
    handles += [Line2D([], [], color="k", ls="-", label="normal"),
                Line2D([], [], color="k", ls="--", label="positions shuffled"),
                Line2D([], [], color="k", ls=":", lw=1, label=f"human expert ({HUMAN['normal']}%)")]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5))
    seeds = history.groupby(["model", "variant"])["seed"].nunique().min()
    fig.suptitle(f"MNIST-1D benchmark (mean of {seeds} seeds; bands: min to max over seeds)")
    fig.tight_layout()
    return fig
