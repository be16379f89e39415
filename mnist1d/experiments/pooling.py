"""Pooling and sample efficiency (paper Fig. "pooling").

Five variants of a two-layer CNN (mnist1d.models "pool_cnn": no pooling, stride 2, max, average
and L2 pooling) are trained with the paper's Adam protocol on six training-set sizes (1 000 to
50 000 examples, always 1 000 test examples).

One job trains one variant on every size and every seed at once: the members of one stacked
ensemble (mnist1d.models) are the (dataset, seed) pairs, member m = d * len(seeds) + s. Each
member reads its own dataset's batch in order (step t uses examples (t * batch) mod n_d onwards,
as a single run of the paper does), so member (d, s) follows exactly the trajectory of the plain
single run of seed s on dataset d (tests/test_pooling.py checks this in float64). Thirty runs of
the experiment become five ensembles, one compiled training step each.
"""
import time

# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d import specs
from mnist1d.experiments import seed_chunks as chunks

VARIANTS = ("none", "stride2", "max", "avg", "l2")
LABELS = {"none": "no pooling (stride 1)", "stride2": "stride 2, no pooling",
          "max": "max pooling", "avg": "average pooling", "l2": "L2 pooling"}
# The variants with a pooling layer; stride 2 is a strided convolution "without pooling".
POOLING_LAYERS = ("max", "avg", "l2")
COLUMNS = ["variant", "dataset", "train_size", "seed", "step", "train_loss", "test_loss",
           "train_acc", "test_acc", "batch_loss"]


def protocol_from_config(config, variant, chunk=""):
    """What one pooling job (`variant` on every dataset size, the seeds of chunk `chunk`, see
    mnist1d.experiments.seed_chunks; "" = every seed when seeds_per_job is unset) computes with,
    from the whole pipeline config: the rule passes exactly this."""
    section = config["pooling"]
    return {"variant": variant, "datasets": list(section["datasets"]),
            "seeds": chunks.chunk_seeds(section, chunk, "pooling"), "channels": section["channels"],
            "train_eval_every": section["train_eval_every"], "engine": specs.adam_in_order(section),
            "compile": specs.compile_for(config, "pooling")}


def figure_settings(config):
    """What the pooling figures draw: the sizes of the paper figure, every size, the smoothing."""
    section = config["pooling"]
    return {"figure_datasets": list(section["figure_datasets"]),
            "datasets": list(section["datasets"]), "smooth": section["smooth"]}



def spec_of(variant, channels=20):
    return specs.spec_of({"name": "pool_cnn", "pooling": variant, "channels": channels})


def train_job(protocol, inputs, *, device="cpu", logger=None, dtype=None):
    """The pooling_train job (mnist1d.experiments: job functions): train_sizes of
    protocol["variant"] on the datasets protocol["datasets"] names (inputs: name -> dataset), the
    seeds of `protocol` (protocol_from_config) as one ensemble. Returns "history"."""
    p = protocol
    return {"history": train_sizes({name: inputs[name] for name in p["datasets"]}, p["variant"],
                                   p["seeds"], p["engine"], channels=p["channels"], device=device,
                                   dtype=dtype, compile=p["compile"],
                                   train_eval_every=p["train_eval_every"], logger=logger)}


def train_sizes(datasets, variant, seeds, protocol=None, channels=20, device="cpu",
                dtype=None, compile=False, train_eval_every=None, logger=None, cuda_graph=True):
    """Train `variant` on every dataset (a dict name -> dataset dict) with every seed, as one
    ensemble; return the tidy history (COLUMNS).

    The test set is evaluated every eval_every steps (the paper's curves). The whole training set
    (up to 50 000 examples, most of the evaluation time) is evaluated at those evaluation steps
    that are multiples of `train_eval_every` (default: every evaluation) and at the last step;
    train_loss and train_acc are NaN in between. Evaluation never changes the training.
    dtype None = float32. cuda_graph: on CUDA, the step as one CUDA graph (mnist1d.train.graphed).
    """
    import torch   # in the function that trains: the summary and figure jobs start without it

    from mnist1d import models, train

    dtype = torch.float32 if dtype is None else dtype
    spec, protocol, seeds = spec_of(variant, channels), specs.protocol_of(protocol), list(seeds)
    train_eval_every = train_eval_every or protocol["eval_every"]
    names, S, bs = list(datasets), len(seeds), protocol["batch_size"]
    device = torch.device(device)
    tensors = {name: train.as_tensors(datasets[name], device, dtype) for name in names}
    sizes = [len(tensors[name]["x"]) for name in names]
    for name, n in zip(names, sizes):
        if n % bs:
            raise ValueError(f"pooling dataset {name!r}: {n} training examples is not a multiple "
                             f"of batch_size {bs} (the in-order batches would be ragged)")
    x_all = torch.cat([tensors[name]["x"] for name in names])
    y_all = torch.cat([tensors[name]["y"] for name in names])
    offsets = np.repeat(np.cumsum([0] + sizes[:-1]), S)             # (M,) member -> its dataset
    n_member = torch.as_tensor(np.repeat(sizes, S), device=device)
    offsets = torch.as_tensor(offsets, device=device)
    arange = torch.arange(bs, device=device)

    base = models.init_params(spec, seeds, dtype, device)             # (S, ...)
    params = {k: p.repeat(len(names), *([1] * (p.dim() - 1))).contiguous() for k, p in base.items()}
    state = train.init_state(params, protocol)
    step_fn = train.graphed(train.make_step(spec, protocol, compile=compile), device,
                            cuda_graph, logger)

    rows, t0 = [], time.perf_counter()
    if logger is not None:
        logger.info(f"pool_cnn {variant}: {len(names)} datasets x seeds {seeds} = {len(names) * S} "
                    f"members on {device}, {dtype}, compile {compile}; sizes {sizes}")
    for step in range(protocol["steps"] + 1):
        idx = (offsets + (step * bs) % n_member).unsqueeze(1) + arange   # (M, bs)
        batch_loss = step_fn(params, state, x_all[idx], y_all[idx])
        if step % protocol["eval_every"] == 0 or step == protocol["steps"]:
            for d, name in enumerate(names):
                sub = {k: p[d * S:(d + 1) * S] for k, p in params.items()}
                t = tensors[name]
                if step % train_eval_every == 0 or step == protocol["steps"]:
                    train_loss, train_acc = train.evaluate(spec, sub, t["x"], t["y"])
                else:
                    train_loss = train_acc = torch.full((S,), float("nan"), dtype=torch.float64,
                                                        device=device)
                test_loss, test_acc = train.evaluate(spec, sub, t["x_test"], t["y_test"])
                rows.append((name, sizes[d], step, torch.stack(
                    [train_loss, test_loss, train_acc, test_acc,
                     batch_loss[d * S:(d + 1) * S].double()])))
            if logger is not None:
                last = {r[0]: r[3][3].mean().item() for r in rows[-len(names):]}
                logger.info(f"step {step:6d}/{protocol['steps']}  test acc (mean over seeds) "
                            + "  ".join(f"{k} {v:.1f}" for k, v in last.items())
                            + f"  ({time.perf_counter() - t0:.1f} s)")
    frames = []
    for name, size, step, values in rows:
        values = values.double().cpu().numpy()                      # (5, S)
        frame = pd.DataFrame(values.T, columns=COLUMNS[5:])
        frame.insert(0, "step", step)
        frame.insert(0, "seed", seeds)
        frame.insert(0, "train_size", size)
        frame.insert(0, "dataset", name)
        frame.insert(0, "variant", variant)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)[COLUMNS]
    return out.sort_values(["dataset", "seed", "step"], kind="stable",
                           key=lambda s: s.map({n: i for i, n in enumerate(names)})
                           if s.name == "dataset" else s).reset_index(drop=True)


def combine(histories):
    """The histories of the jobs (variants, chunks of seeds) as one, in the order one job per
    variant writes: variant, dataset, seed, step (whatever seeds_per_job cut the seeds into)."""
    h = pd.concat(histories, ignore_index=True) if isinstance(histories, list) else histories
    return chunks.in_first_seen_order(h, ["variant", "dataset", "seed", "step"],
                                      numeric=("seed", "step"))


def summarise(history, last=5):
    """Final test accuracy per variant and training-set size over seeds (the last evaluation,
    and the mean of the last `last` evaluations, which is less noisy)."""
    h = history.sort_values("step")
    final = h.groupby(["variant", "train_size", "seed"]).tail(1)
    tail = h.groupby(["variant", "train_size", "seed"]).tail(last)
    tail = tail.groupby(["variant", "train_size", "seed"])["test_acc"].mean().rename("tail")
    final = final.join(tail, on=["variant", "train_size", "seed"])
    out = final.groupby(["variant", "train_size"]).agg(
        dataset=("dataset", "first"), n_seeds=("seed", "nunique"), steps=("step", "max"),
        test_acc_mean=("test_acc", "mean"), test_acc_std=("test_acc", "std"),
        test_acc_min=("test_acc", "min"), test_acc_max=("test_acc", "max"),
        test_acc_last5_mean=("tail", "mean"), train_acc_mean=("train_acc", "mean"),
        train_loss_mean=("train_loss", "mean"), test_loss_mean=("test_loss", "mean")).reset_index()
    out = out.rename(columns={"test_acc_last5_mean": f"test_acc_last{last}_mean"})
    out["test_acc_std"] = out["test_acc_std"].fillna(0.0)
    order = {v: i for i, v in enumerate(VARIANTS)}
    out = out.sort_values(["train_size", "variant"], key=lambda s: s.map(order)
                          if s.name == "variant" else s)
    return out.reset_index(drop=True)


def check_targets(summary):
    """The paper's findings: at the smallest size every pooling variant (max, avg, L2) beats no
    pooling by >= 5 points (stride 2 is listed too, but it has no pooling layer); at the
    largest the five variants lie within 3 points. Returns text lines."""
    lines = []
    acc = summary.pivot(index="train_size", columns="variant", values="test_acc_mean")
    small, large = acc.index.min(), acc.index.max()
    all_gaps = acc.loc[small].drop("none") - acc.loc[small, "none"]
    gaps = all_gaps[[v for v in all_gaps.index if v in POOLING_LAYERS]]
    if "stride2" in all_gaps:
        lines.append(f"{small} examples: stride 2 without pooling vs no pooling "
                     f"{all_gaps['stride2']:+.1f} (not a pooling variant; for information)")
    lines.append(f"{small} examples: gain over no pooling " + ", ".join(
        f"{v} {g:+.1f}" for v, g in gaps.items()) + f" -> {'met' if (gaps >= 5).all() else 'NOT met'}"
        " (target >= +5 each)")
    spread = acc.loc[large].max() - acc.loc[large].min()
    lines.append(f"{large} examples: spread of the {acc.shape[1]} variants {spread:.1f} points -> "
                 f"{'met' if spread <= 3 else 'NOT met'} (target <= 3)")
    return lines


def smooth(values, window):
    """Centred moving average over `window` evaluations (shrinking at the ends)."""
    if window <= 1:
        return np.asarray(values, float)
    return pd.Series(values).rolling(window, center=True, min_periods=1).mean().to_numpy()


def _curves(ax, history, dataset, window, colors):
    h = history[history.dataset == dataset]
    for i, variant in enumerate(v for v in VARIANTS if v in set(h.variant)):
        per_seed = h[h.variant == variant].pivot(index="step", columns="seed", values="test_acc")
        sm = np.stack([smooth(per_seed[c].to_numpy(), window) for c in per_seed.columns], 1)
        ax.plot(per_seed.index, sm.mean(1), color=colors[i], label=LABELS[variant])
        if sm.shape[1] > 1:
            ax.fill_between(per_seed.index, sm.min(1), sm.max(1), color=colors[i], alpha=0.2, lw=0)
    size = int(h.train_size.iloc[0])
    ax.set_title(f"{size:,} training examples")
    ax.set_xlabel("training step")


def plot_curves(history, datasets, window, ncols=None):
    """Smoothed test accuracy vs step, one panel per dataset; bands: min to max over seeds."""
    import matplotlib.pyplot as plt

    from mnist1d.plotting import CLASS_COLORS

    ncols = ncols or len(datasets)
    nrows = -(-len(datasets) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.1 * nrows), squeeze=False)
    lo = history[history.step > history.step.max() * 0.1].test_acc.min()
    for ax, dataset in zip(axes.flat, datasets):
        _curves(ax, history, dataset, window, CLASS_COLORS)
        ax.set_ylim(max(0, lo - 5), 100)
    for ax in axes.flat[len(datasets):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
    seeds = history.groupby(["variant", "dataset"]).seed.nunique().min()
    eval_every = int(np.diff(np.unique(history.step))[0]) if history.step.nunique() > 1 else 0
    fig.suptitle(f"Pooling and sample efficiency: test accuracy (moving average over {window} "
                 f"evaluations = {window * eval_every} steps; mean of {seeds} seeds, bands min to "
                 f"max)")
    fig.tight_layout()
    return fig


def plot_final(summary):
    """Final test accuracy vs training-set size, one line per variant; bars: min to max."""
    import matplotlib.pyplot as plt

    from mnist1d.plotting import CLASS_COLORS

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, variant in enumerate(v for v in VARIANTS if v in set(summary.variant)):
        s = summary[summary.variant == variant].sort_values("train_size")
        ax.errorbar(s.train_size, s.test_acc_mean,
                    yerr=[s.test_acc_mean - s.test_acc_min, s.test_acc_max - s.test_acc_mean],
                    color=CLASS_COLORS[i], marker="o", ms=4, capsize=2, label=LABELS[variant])
    ax.set_xscale("log")
    sizes = sorted(summary.train_size.unique())
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{s // 1000}k" if s >= 1000 else str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training examples (log scale)")
    ax.set_ylabel("final test accuracy (%)")
    ax.legend(loc="lower right")
    seeds, steps = summary.n_seeds.min(), summary.steps.max()
    ax.set_title(f"Pooling helps with little data, matters little with much\n"
                 f"(after {steps} steps; mean of {seeds} seeds, bars min to max)")
    fig.tight_layout()
    return fig
