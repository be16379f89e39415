"""The benchmark experiment (paper Fig. "benchmarks"): four models, with and without spatial structure,
plus any model of the config's `models:` section that `benchmark.models` names.

One job trains every seed of one model on one dataset variant as a single ensemble
(mnist1d.train) and writes its tidy history; `summarise` reduces the histories to the final test
accuracy per model and variant; `plot_benchmark` draws the paper's benchmark figure.
"""
# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d import specs
from mnist1d.experiments import published
from mnist1d.data import sequence_length
from mnist1d.experiments import seed_chunks as chunks

MODELS = ("logistic", "mlp", "cnn", "gru")
VARIANTS = ("normal", "shuffled")
LABELS = {"logistic": "logistic regression", "mlp": "MLP", "cnn": "CNN", "gru": "GRU"}
# Published test accuracy (%) of the paper's README table (mnist1d.experiments.published); the
# human expert line of the figure.
PUBLISHED = published.BENCHMARK_README
# The human expert: on normal data the rate of the shipped quiz table (mnist1d.experiments.human,
# the published 95.8 % recomputed); on shuffled data the README's "about 30 %" (no quiz exists).
HUMAN_SHUFFLED = published.HUMAN_README["shuffled"]
PREDICTION_COLUMNS = ["seed", "test_index", "label", "prediction"]


def human_normal():
    from mnist1d.experiments import human
    return human.human_rate()


def protocol_from_config(config, model, variant, chunk=""):
    """What one benchmark job (`model` on `variant`, the seeds of chunk `chunk` as one ensemble,
    see mnist1d.experiments.seed_chunks; "" = every seed when seeds_per_job is unset) computes
    with, from the whole pipeline config: the rule passes exactly this, so that a change elsewhere
    in the config never reruns the job."""
    section = config["benchmark"]
    dataset = config["datasets"].get(section["variants"][variant])
    spec = specs.spec_for(model, config.get("models"), input_size=sequence_length(dataset))
    return {"model": model, "variant": variant, "spec": spec,
            "seeds": chunks.chunk_seeds(section, chunk, "benchmark"),
            "engine": specs.adam_in_order(section),
            "compile": specs.compile_for(config, "benchmark")}


def train_job(protocol, inputs, *, device="cpu", logger=None, dtype=None):
    """The benchmark_train job (mnist1d.experiments: job functions): train the seeds of
    `protocol` (protocol_from_config) as one ensemble on inputs["dataset"]. Returns "history"
    (train.train's history, labelled with model and variant) and "predictions"
    (test_predictions of the trained members). dtype None = float32."""
    import torch   # here: the summary and figure jobs start without torch

    from mnist1d import train

    p, data = protocol, inputs["dataset"]
    history, params = train.train(data, p["spec"], p["engine"], p["seeds"], device=device,
                                  dtype=torch.float32 if dtype is None else dtype,
                                  compile=p["compile"], logger=logger)
    return {"history": label_history(history, p["model"], p["variant"]),
            "predictions": test_predictions(p["spec"], params, data, p["seeds"])}


def test_predictions(spec, params, data, seeds):
    """Tidy final test predictions of every member of a trained ensemble (train.train's params):
    seed, test_index, label, prediction (argmax of the logits)."""
    import torch   # here, not at the top: the summary and figure jobs start without torch

    from mnist1d import models

    spec = specs.spec_of(spec)
    first = next(iter(params.values()))
    x = torch.as_tensor(np.ascontiguousarray(data["x_test"])).to(first.device, first.dtype)
    chunks = range(0, x.shape[-2], specs.EVAL_CHUNK)
    with torch.no_grad():
        if spec["name"] == "module":  # a user's module, per member (buffers included, eval mode)
            nets = []
            for k in range(len(seeds)):
                net = models.build(spec).to(first.device, first.dtype)
                net.load_state_dict(models.member_state_dict(params, k))
                nets.append(net.eval())
            preds = torch.stack([torch.cat([net(x[i:i + specs.EVAL_CHUNK]).argmax(-1)
                                            for i in chunks]) for net in nets]).cpu().numpy()
        else:
            preds = torch.cat([models.forward(spec, params, x[..., i:i + specs.EVAL_CHUNK, :])
                               .argmax(-1) for i in chunks], -1).cpu().numpy()
    y = np.asarray(data["y_test"])
    n = len(y)
    return pd.DataFrame({"seed": np.repeat([int(s) for s in seeds], n),
                         "test_index": np.tile(np.arange(n), len(seeds)),
                         "label": np.tile(y, len(seeds)), "prediction": preds.reshape(-1)},
                        columns=PREDICTION_COLUMNS)


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
    order = {m: i for i, m in enumerate(model_order(out["model"]))}
    out = out.sort_values(["variant", "model"], key=lambda s: s.map(order) if s.name == "model"
                          else s.map({v: i for i, v in enumerate(VARIANTS)}))
    return out.reset_index(drop=True)


def model_order(names):
    """The paper's four models first (in the paper's order), then the others as they come."""
    names = list(dict.fromkeys(names))
    return [m for m in MODELS if m in names] + [m for m in names if m not in MODELS]


def _published(value):
    return "—" if np.isnan(value) else f"{value:.0f}"


def parameter_count(spec):
    """Trainable parameters of a spec: from the layer shapes for a paper model (no torch), by
    building it for a user's module (mnist1d.models, which imports torch)."""
    if specs.is_module(spec):
        from mnist1d import models
        return models.count_parameters(spec)
    return specs.count_parameters(spec)


def markdown(summary, custom_models=None):
    """The summary next to the published numbers, as a Markdown table. `custom_models` (the
    config's `models:` section) gives the parameter count of a user's model."""
    lines = ["| model | parameters | variant | test accuracy (%), mean ± std | seeds | steps | "
             "published (%) | difference |",
             "|---|---|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        diff = row.test_acc_mean - row.published_test_acc
        n = parameter_count(specs.spec_for(row.model, custom_models))
        lines.append(f"| {LABELS.get(row.model, row.model)} | {n:,} "
                     f"| {row.variant} | {row.test_acc_mean:.1f} ± {row.test_acc_std:.1f} | "
                     f"{row.n_seeds} | {row.steps} | {_published(row.published_test_acc)} | "
                     f"{'—' if np.isnan(diff) else f'{diff:+.1f}'} |")
    lines += ["", f"Human expert: {human_normal():.1f}% (normal; the shipped quiz table, "
              f"mnist1d/experiments/human_quiz.csv), about {HUMAN_SHUFFLED:.0f}% (shuffled). "
              "Published: the paper's README table (Greydanus & Kobak 2024)."]
    return "\n".join(lines) + "\n"


def plot_benchmark(history):
    """Train and test accuracy vs step per model; shuffled dashed; bands = min..max over seeds."""
    import matplotlib.pyplot as plt

    from mnist1d.plotting import CLASS_COLORS

    from matplotlib.lines import Line2D

    human = human_normal()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    present = model_order(history["model"])
    for ax, split in zip(axes, ("train_acc", "test_acc")):
        for i, model in enumerate(present):
            for variant, style in (("normal", "-"), ("shuffled", "--")):
                h = history[(history.model == model) & (history.variant == variant)]
                if h.empty:
                    continue
                g = h.groupby("step")[split]
                mean, lo, hi = g.mean(), g.min(), g.max()
                ax.plot(mean.index, mean.values, style, color=CLASS_COLORS[i % 10])
                ax.fill_between(mean.index, lo.values, hi.values, color=CLASS_COLORS[i % 10],
                                alpha=0.2, lw=0)
        ax.axhline(human, color="k", lw=1, ls=":")
        ax.set_xlabel("training step")
        ax.set_title("Train accuracy" if split == "train_acc" else "Test accuracy")
    axes[0].set_ylabel("accuracy (%)")
    axes[0].set_ylim(0, 101)
    handles = [Line2D([], [], color=CLASS_COLORS[i % 10], lw=3, label=LABELS.get(m, m))
               for i, m in enumerate(present)]
    handles += [Line2D([], [], color="k", ls="-", label="normal"),
                Line2D([], [], color="k", ls="--", label="positions shuffled"),
                Line2D([], [], color="k", ls=":", lw=1, label=f"human expert ({human:.1f}%, quiz)")]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5))
    seeds = history.groupby(["model", "variant"])["seed"].nunique().min()
    fig.suptitle(f"MNIST-1D benchmark (mean of {seeds} seeds; bands: min to max over seeds)")
    fig.tight_layout()
    return fig
