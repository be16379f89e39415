"""Small helpers with the names and behaviour of the original package's `mnist1d.utils`."""
import pickle
import random

import numpy as np


def set_seed(seed):
    """Seed Python's `random` and NumPy's global (legacy) generator."""
    random.seed(seed)
    np.random.seed(seed)


def to_pickle(thing, path):
    with open(path, "wb") as handle:
        pickle.dump(thing, handle, protocol=3)


def from_pickle(path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


class ObjectView:
    """Attribute access to a dict: ObjectView(d).key is d['key'] (and shares d)."""

    def __init__(self, d):
        self.__dict__ = d

    def __repr__(self):
        return f"ObjectView({self.__dict__!r})"


def plot_signals(xs, t, labels=None, args=None, ratio=2.6, do_transform=False,
                 dark_mode=False, zoom=1):
    """Draw the first ten signals side by side, upright as in the paper (time runs downwards)."""
    import matplotlib.pyplot as plt
    from mnist1d.transform import transform

    fig, axes = plt.subplots(1, 10, figsize=(15, 1.5 * ratio), dpi=60)
    for ix, ax in enumerate(axes):
        x, tt = xs[ix], t
        if do_transform:
            assert args is not None, "Need an args object in order to do transforms"
            x, tt = transform(x, tt, args)
        if dark_mode:
            ax.plot(x, tt, "wo", linewidth=6)
            ax.set_facecolor("k")
        else:
            ax.plot(x, tt, "k-", linewidth=2)
        if labels is not None:
            ax.set_title(f"label={labels[ix]}", fontsize=22)
        ax.set_xlim(-zoom, zoom)
        ax.set_ylim(-zoom, zoom)
        ax.invert_yaxis()
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(wspace=0, hspace=0)
    fig.tight_layout()
    return fig
