"""A plain, per-example MNIST-1D generator written straight from the paper's description.

It is the reference the vectorised generator is tested against (and the baseline of
benchmarks/speed_data.py): one example at a time, every step spelled out, no shared code with
the package beyond the templates.
"""
import random

import numpy as np
from scipy.interpolate import interp1d
from scipy.ndimage import gaussian_filter


def resample(values, n):
    return interp1d(np.linspace(0, 1, len(values)), values, kind="linear")(np.linspace(0, 1, n))


def one_example(template, a):
    low, high = a["padding"]
    length = a["template_len"] + high
    x = np.concatenate([template + 1e-8, np.zeros(low + int(np.random.rand() * (high - low + 1)))])
    x = resample(x, length)
    x = x * (1 + a["scale_coeff"] * (np.random.rand() - 0.5))
    k = np.random.choice(a["max_translation"])
    x = np.concatenate([x[-k:], x[:-k]])  # k = 0 or k >= length leave x as it is
    corr = gaussian_filter(a["corr_noise_scale"] * np.random.randn(length), 2)
    x = np.where(x != 0, x, corr)
    x = x + a["iid_noise_scale"] * np.random.randn(length)
    x = x - a["shear_scale"] * (np.random.rand() - 0.5) * np.linspace(-0.5, 0.5, length)
    return resample(x, a["final_seq_length"])


def plain_make_dataset(a, templates):
    random.seed(a["seed"])
    np.random.seed(a["seed"])
    xs, ys = [], []
    for label, template in zip(templates["y"], templates["x"]):
        for _ in range(a["num_samples"] // len(templates["y"])):
            xs.append(one_example(template, a))
            ys.append(label)
    t = resample(resample(templates["t"], a["template_len"] + a["padding"][1]), a["final_seq_length"])
    order = np.random.permutation(len(ys))
    xs, ys = np.stack(xs)[order], np.asarray(ys)[order]
    if a["shuffle_seq"]:
        xs = xs[:, np.random.permutation(a["final_seq_length"])]
    t = t / xs.std()
    xs = (xs - xs.mean()) / xs.std()
    split = int(len(ys) * a["train_split"])
    return {"x": xs[:split], "x_test": xs[split:], "y": ys[:split], "y_test": ys[split:], "t": t}
