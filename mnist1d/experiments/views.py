"""Views of a dataset that the experiments need: same examples, positions rearranged."""
import numpy as np


def flip(x):
    """Reverse every sequence (last axis)."""
    return x[..., ::-1].copy()


def shuffle_positions(x, permutation):
    """Reorder the positions of every sequence by one fixed permutation."""
    permutation = np.asarray(permutation)
    if sorted(permutation.tolist()) != list(range(x.shape[-1])):
        raise ValueError(f"not a permutation of {x.shape[-1]} positions: {permutation}")
    return x[..., permutation]


def swap_chunks(x, order=(2, 3, 0, 1)):
    """Cut every sequence into len(order) equal chunks and put them in `order` (0-based).

    The lottery-ticket analysis uses four chunks of 10 in the order 3, 4, 1, 2 (1-based),
    the default here.
    """
    chunks = np.split(x, len(order), axis=-1)
    return np.concatenate([chunks[i] for i in order], axis=-1)


def positions_permutation(length, seed):
    """A fixed permutation of `length` positions drawn from its own generator."""
    return np.random.default_rng(seed).permutation(length)


def apply_view(dataset, view):
    """A copy of `dataset` whose inputs x and x_test went through `view` (labels unchanged)."""
    out = dict(dataset)
    out["x"], out["x_test"] = view(dataset["x"]), view(dataset["x_test"])
    return out
