"""Sweeps of the generator's knobs: one generation argument varied, every model trained.

A sweep (config.yaml `sweeps:`) names one numeric argument of `mnist1d.get_dataset_args()`
(`arg`), the values it takes, and the models, seeds and training protocol (the section's
`defaults`, overridable per sweep). Each value is its own dataset, made by the generator from the
paper's defaults, the sweep's `base` overrides and the value; each (value, chunk of
`seeds_per_job` seeds, mnist1d.experiments.seed_chunks) is one job that trains every model of
the sweep, each model's seeds as one ensemble (mnist1d.train), and keeps the final train and
test accuracy and loss of every seed.

`table` gathers a sweep's jobs into one tidy frame (value, model, seed, ...); `plot_sweep` draws
test accuracy against the value (one line per model, band min..max over seeds) and the two gaps
the paper is about: MLP minus logistic regression (what nonlinearity buys) and CNN minus MLP (what
a spatial prior buys).
"""
import math
import re

# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d import specs
from mnist1d.experiments import seed_chunks
from mnist1d.data import get_dataset_args

# The numeric generation arguments a sweep may vary: name -> (type, minimum, below). `below` is
# an exclusive upper bound (None: none); train_split's minimum is exclusive too.
NUMERIC_ARGS = {
    "num_samples": (int, 10, None),
    "train_split": (float, 0.0, 1.0),
    "template_len": (int, 2, None),
    "scale_coeff": (float, 0.0, None),
    "max_translation": (int, 1, None),
    "corr_noise_scale": (float, 0.0, None),
    "iid_noise_scale": (float, 0.0, None),
    "shear_scale": (float, 0.0, None),
    "final_seq_length": (int, 2, None),
    "seed": (int, 0, 2 ** 32),
}
SETTINGS = ("models", "seeds", "seeds_per_job", "steps", "eval_every", "lr", "batch_size",
            "compile", "base", "log_x")
RESERVED = ("defaults",)              # a key of `sweeps:` that is not a sweep
GAPS = (("mlp", "logistic", "MLP - logistic (nonlinearity)"),
        ("cnn", "mlp", "CNN - MLP (spatial prior)"))
LABELS = {"logistic": "logistic regression", "mlp": "MLP", "cnn": "CNN", "gru": "GRU"}
COLUMNS = ["sweep", "arg", "value", "model", "seed", "steps", "train_acc", "test_acc",
           "train_loss", "test_loss"]


def names(config):
    """The sweeps of a pipeline config, in config order."""
    return [name for name in config.get("sweeps", {}) if name not in RESERVED]


def settings(config, name):
    """One sweep's full settings: the section's `defaults` with the sweep's own keys on top
    (`base`, the generator overrides, merged key by key)."""
    section = config["sweeps"]
    if name not in section or name in RESERVED:
        raise ValueError(f"config key 'sweeps': no sweep named {name!r}; sweeps: {names(config)}")
    defaults, own = section.get("defaults", {}), section[name]
    merged = {**defaults, **own}
    merged["base"] = {**defaults.get("base", {}), **own.get("base", {})}
    merged.setdefault("log_x", False)
    missing = [key for key in ("arg", "values", *SETTINGS) if key not in merged]
    if missing:
        raise ValueError(f"config key 'sweeps.{name}': {missing} set neither there nor in "
                         f"'sweeps.defaults'")
    return merged


def canonical(arg, value):
    """The text of a value in file names and wildcards: an integer argument's value as an
    integer ("48"), a real one's as Python's shortest round-trip repr of the float ("0.25",
    "1.0", "1e-05"), so that 0.5, 0.50 and 5e-1 name one file."""
    kind = NUMERIC_ARGS[arg][0]
    return str(int(value)) if kind is int else repr(float(value))


def _check_value(key, arg, value):
    kind, low, below = NUMERIC_ARGS[arg]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"config key '{key}': {value!r} is not a number")
    if kind is int and int(value) != value:
        raise ValueError(f"config key '{key}': {arg} takes integers, got {value!r}")
    exclusive_low = arg == "train_split"
    if value < low or (exclusive_low and value <= low) or (below is not None and value >= below):
        bound = f"> {low}" if exclusive_low else f">= {low}"
        bound += f" and < {below}" if below is not None else ""
        raise ValueError(f"config key '{key}': {arg} must be {bound}, got {value!r}")


def check(config):
    """Raise ValueError naming the config key of the first sweep setting the pipeline cannot
    run (beyond what the JSON schema checks: values the generator cannot use, two values with
    one file name, the swept argument also in `base`, an unknown model)."""
    generator = get_dataset_args(as_dict=True)
    for name in names(config):
        s = settings(config, name)
        arg = s["arg"]
        if arg not in NUMERIC_ARGS:
            raise ValueError(f"config key 'sweeps.{name}.arg': {arg!r} is not a numeric generator "
                             f"argument; one of {sorted(NUMERIC_ARGS)}")
        seen = {}
        for i, value in enumerate(s["values"]):
            _check_value(f"sweeps.{name}.values[{i}]", arg, value)
            text = canonical(arg, value)
            if text in seen:
                raise ValueError(f"config key 'sweeps.{name}.values': {value!r} and "
                                 f"{seen[text]!r} are the same value ({text})")
            seen[text] = value
        if arg in s["base"]:
            raise ValueError(f"config key 'sweeps.{name}.base': sets {arg}, the argument the "
                             f"sweep varies")
        for key, value in s["base"].items():
            if key not in generator or key == "url":
                raise ValueError(f"config key 'sweeps.{name}.base.{key}': not a generator "
                                 f"argument; one of {sorted(set(generator) - {'url'})}")
            if key in NUMERIC_ARGS:
                _check_value(f"sweeps.{name}.base.{key}", key, value)
        for model in s["models"]:
            try:
                specs.spec_for(model, config.get("models", {}), input_size=40)
            except (ValueError, KeyError) as e:
                raise ValueError(f"config key 'sweeps.{name}.models': {e}") from None
        seed_chunks.chunks_of(s, f"sweeps.{name}")     # seeds_per_job and the chunk names


def value_of(config, name, text):
    """The configured value of sweep `name` whose canonical text is `text` (a wildcard)."""
    s = settings(config, name)
    for value in s["values"]:
        if canonical(s["arg"], value) == text:
            return value
    raise ValueError(f"sweep {name!r}: {text!r} is not one of its values "
                     f"{[canonical(s['arg'], v) for v in s['values']]}")


def value_texts(config, name):
    s = settings(config, name)
    return [canonical(s["arg"], v) for v in s["values"]]


def all_value_texts(config):
    return sorted({text for name in names(config) for text in value_texts(config, name)})


def wildcard_pattern(texts):
    """A regex matching exactly these texts (for wildcard_constraints)."""
    return "|".join(re.escape(t) for t in sorted(texts, key=len, reverse=True)) or "(?!)"


def dataset_args(config, name, text):
    """The generator overrides of one (sweep, value) dataset: the sweep's base, then the value."""
    s = settings(config, name)
    kind = NUMERIC_ARGS[s["arg"]][0]
    return {**s["base"], s["arg"]: kind(value_of(config, name, text))}


def chunks(config, name):
    """The seed-chunk tags of sweep `name` (mnist1d.experiments.seed_chunks: "" for all seeds in
    one job, "_seeds0-2" or "_seed3" with seeds_per_job), one training job per value and tag."""
    return list(seed_chunks.chunks_of(settings(config, name), f"sweeps.{name}"))


def protocol_from_config(config, name, text, chunk):
    """What one sweep job (sweep `name`, value `text`, seed chunk `chunk`) computes with: the
    rule passes exactly this, so a change to another sweep or a figure never reruns it."""
    s = settings(config, name)
    args = get_dataset_args(as_dict=True) | dataset_args(config, name, text)
    length = int(args["final_seq_length"])
    return {"sweep": name, "arg": s["arg"], "value": value_of(config, name, text),
            "models": {m: specs.spec_for(m, config.get("models", {}), input_size=length)
                       for m in s["models"]},
            "seeds": seed_chunks.chunk_seeds(s, chunk, f"sweeps.{name}"),
            "engine": specs.adam_in_order(s),
            "compile": specs.compile_for(config, "sweeps") and bool(s["compile"])}


def train_job(protocol, inputs, *, device="cpu", logger=None, dtype=None):
    """The sweep_train job (mnist1d.experiments: job functions): train every model of
    `protocol` (protocol_from_config: one sweep, value and chunk of seeds) on inputs["dataset"],
    each model's seeds as one ensemble. Returns "finals": one row per (model, seed), the final
    evaluation. dtype None = float32."""
    import torch   # here: the table and figure jobs start without torch

    from mnist1d import train

    dtype = torch.float32 if dtype is None else dtype

    data = inputs["dataset"]
    length = np.asarray(data["x"]).shape[-1]
    rows = []
    for model, spec in protocol["models"].items():
        if spec.get("input_size", length) != length:
            raise ValueError(f"sweep {protocol['sweep']!r}: model {model!r} expects inputs of "
                             f"length {spec['input_size']}, the dataset has {length}")
        history, _ = train.train(data, spec, protocol["engine"], protocol["seeds"], device=device,
                                 dtype=dtype, compile=protocol["compile"], logger=logger)
        last = history[history.step == history.step.max()]
        for r in last.itertuples():
            rows.append({"sweep": protocol["sweep"], "arg": protocol["arg"],
                         "value": protocol["value"], "model": model, "seed": int(r.seed),
                         "steps": int(r.step), "train_acc": r.train_acc, "test_acc": r.test_acc,
                         "train_loss": r.train_loss, "test_loss": r.test_loss})
    return {"finals": pd.DataFrame(rows, columns=COLUMNS)}


def table(frames, model_order=None):
    """One sweep's job frames as one tidy table, sorted by value, model (config order), seed."""
    df = pd.concat(frames, ignore_index=True)[COLUMNS]
    order = {m: i for i, m in enumerate(model_order or dict.fromkeys(df["model"]))}
    df = df.sort_values(["value", "model", "seed"],
                        key=lambda c: c.map(order) if c.name == "model" else c)
    return df.reset_index(drop=True)


def summary(df):
    """Per value and model: test accuracy mean, std, min, max over seeds, train accuracy mean."""
    g = df.groupby(["value", "model"], sort=False)
    out = g.agg(test_acc_mean=("test_acc", "mean"), test_acc_std=("test_acc", "std"),
                test_acc_min=("test_acc", "min"), test_acc_max=("test_acc", "max"),
                train_acc_mean=("train_acc", "mean"), seeds=("seed", "nunique")).reset_index()
    out["test_acc_std"] = out["test_acc_std"].fillna(0.0)
    return out


def gaps(df):
    """Per value: the paper's two gaps in mean test accuracy (points), where both models ran."""
    means = df.groupby(["value", "model"])["test_acc"].mean().unstack("model")
    out = pd.DataFrame(index=means.index)
    for a, b, label in GAPS:
        if a in means and b in means:
            out[label] = means[a] - means[b]
    return out


def markdown(df):
    """Mean test accuracy per value (rows) and model (columns), then the two gaps."""
    s = summary(df)
    wide = s.pivot(index="value", columns="model", values="test_acc_mean")
    wide = wide[[m for m in dict.fromkeys(df["model"])]]
    g = gaps(df)
    cols = [LABELS.get(m, m) for m in wide.columns] + list(g.columns)
    lines = [f"| {df['arg'].iloc[0]} | " + " | ".join(cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for value, row in wide.iterrows():
        cells = [f"{v:.1f}" for v in row.values] + [f"{v:+.1f}" for v in g.loc[value].values]
        lines.append(f"| {value:g} | " + " | ".join(cells) + " |")
    seeds = s["seeds"].min()
    lines += ["", f"Test accuracy (%), mean of {seeds} seeds; gaps in points of mean test accuracy."]
    return "\n".join(lines) + "\n"


def tick_labels(values, log_x=False):
    """The swept values as tick labels, blank where a value sits within 6 % of the axis of the
    previous labelled one (iid noise 0 and 0.02 would print as '00.02')."""
    position = np.log(values) if log_x else np.asarray(values, float)
    span = (position.max() - position.min()) or 1.0
    labels, last = [], None
    for value, x in zip(values, position):
        close = last is not None and x - last < 0.06 * span
        labels.append("" if close else f"{value:g}")
        last = last if close else x
    return labels


def plot_sweep(df, log_x=False, default=None):
    """Test accuracy vs the swept value (one line per model, band min..max over seeds) and the
    nonlinearity and spatial-prior gaps vs the value. `default`: the paper's value, marked."""
    import matplotlib.pyplot as plt

    from mnist1d.plotting import CLASS_COLORS

    arg, name = df["arg"].iloc[0], df["sweep"].iloc[0]
    present = list(dict.fromkeys(df["model"]))
    s = summary(df)
    fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(10, 4))
    for i, model in enumerate(present):
        m = s[s.model == model].sort_values("value")
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        ax.plot(m.value, m.test_acc_mean, "o-", color=color, ms=4, label=LABELS.get(model, model))
        ax.fill_between(m.value, m.test_acc_min, m.test_acc_max, color=color, alpha=0.2, lw=0)
    ax.axhline(10, color="0.6", lw=1, ls=":", label="chance (10 %)")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_ylim(0, 101)
    ax.set_title("Test accuracy")
    # below the panels: the curves cross every corner of the axes somewhere in one sweep or another
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=len(present) + 1,
               fontsize=8, frameon=False)

    g = gaps(df).sort_index()
    gap_styles = (("k", "o-"), ("0.45", "s--"))     # not the models' colours
    for (label, column), (color, style) in zip(g.items(), gap_styles):
        ax_gap.plot(column.index, column.values, style, color=color, ms=4, label=label)
    ax_gap.axhline(0, color="k", lw=0.8)
    ax_gap.set_ylabel("difference in mean test accuracy (points)")
    ax_gap.set_title("The gaps: nonlinearity and spatial prior")
    if g.shape[1]:
        ax_gap.legend(loc="best", fontsize=8)
    else:
        ax_gap.text(0.5, 0.5, "needs logistic, MLP and CNN in the sweep", ha="center",
                    transform=ax_gap.transAxes)
    values = sorted(set(df["value"]))
    # the paper's value is marked where it lies within the swept range
    mark = default is not None and values[0] <= default <= values[-1]
    for a in (ax, ax_gap):
        a.set_xlabel(arg)
        if log_x:
            a.set_xscale("log")
            a.minorticks_off()
        a.set_xticks(values, tick_labels(values, log_x))
        if mark:
            a.axvline(default, color="0.5", lw=1, ls="--")
    if mark:
        ax.text(default, 2, "paper's value ", color="0.4", fontsize=8, rotation=90, va="bottom",
                ha="right")
    seeds = s["seeds"].min()
    steps = int(df["steps"].max())
    fig.suptitle(f"Sweep '{name}': {arg} (each value a new dataset; {steps} steps; "
                 f"mean of {seeds} seeds, bands min to max)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
