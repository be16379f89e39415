"""One matplotlib style for every figure, atomic saving, and the dataset figures.

Signals are drawn as in the paper: value on the horizontal axis, position running downwards,
so that each example looks like an upright digit.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mnist1d.transform import (corr_noise_like, iid_noise_like, interpolate, pad,  # noqa: E402
                               shear, translate)
from mnist1d.io import atomic_path  # noqa: E402
from mnist1d.utils import set_seed  # noqa: E402

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.frameon": False,
    "lines.linewidth": 1.5,
}
plt.rcParams.update(STYLE)

CLASS_COLORS = plt.get_cmap("tab10").colors


def save_figure(fig, *paths):
    """Write `fig` to each path (format from the suffix), atomically, then close it."""
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1])
    plt.close(fig)


def draw_signal(ax, x, t=None, color="k", **kwargs):
    """One signal, upright: value horizontally, position downwards."""
    t = np.arange(len(x)) if t is None else t
    ax.plot(x, t, color=color, **kwargs)
    ax.set_ylim(t.max(), t.min())
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


def plot_templates(templates):
    n = len(templates["y"])
    fig, axes = plt.subplots(1, n, figsize=(1.2 * n, 2.6), sharex=True)
    for ax, x, label in zip(axes, templates["x"], templates["y"]):
        draw_signal(ax, x, templates["t"], color=CLASS_COLORS[label % 10], lw=2.5, marker="o", ms=3)
        ax.set_title(f"{label}", fontsize=13)
    fig.suptitle("MNIST-1D digit templates (12 points each)", y=1.1)
    return fig


def transform_steps(template, t, args, seed=0, eps=1e-8):
    """One template through each step of `transform.transform`, as (name, signal) pairs."""
    set_seed(seed)
    length = args.template_len + args.padding[-1]
    steps = [("template", template)]
    x = pad(template + eps, args.padding)
    steps.append(("pad", x))
    x = interpolate(x, length)
    steps.append(("dilate", x))
    x = x * (1 + args.scale_coeff * (np.random.rand() - 0.5))
    steps.append(("scale", x))
    x = translate(x, args.max_translation)
    steps.append(("translate", x))
    is_signal = x != 0
    x = is_signal * x + (1 - is_signal) * corr_noise_like(x, args.corr_noise_scale)
    steps.append(("corr. noise", x))
    x = x + iid_noise_like(x, args.iid_noise_scale)
    steps.append(("iid noise", x))
    x = shear(x, args.shear_scale)
    steps.append(("shear", x))
    x = interpolate(x, args.final_seq_length)
    steps.append((f"resample to {args.final_seq_length}", x))
    return steps


def plot_transforms(templates, args, digit=3, seed=0):
    steps = transform_steps(templates["x"][digit], templates["t"], args, seed)
    fig, axes = plt.subplots(1, len(steps), figsize=(1.3 * len(steps), 3.2), sharex=True)
    for ax, (name, x) in zip(axes, steps):
        draw_signal(ax, x, np.linspace(0, 1, len(x)), lw=2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"{len(x)} pts", fontsize=8)
    fig.suptitle(f"Digit {digit} through each transformation (left to right)", y=1.02)
    return fig


def plot_examples(dataset, per_class=6):
    x, y, t = dataset["x"], dataset["y"], dataset["t"]
    labels = np.unique(y)
    fig, axes = plt.subplots(per_class, len(labels), figsize=(1.1 * len(labels), 1.6 * per_class),
                             sharex=True)
    for col, label in enumerate(labels):
        rows = np.flatnonzero(y == label)[:per_class]
        for row, ix in enumerate(rows):
            draw_signal(axes[row, col], x[ix], t, color=CLASS_COLORS[label % 10], lw=1.5)
        axes[0, col].set_title(f"{label}", fontsize=13)
    fig.suptitle(f"Training examples, {per_class} per class (columns: digit)", y=0.93)
    return fig
