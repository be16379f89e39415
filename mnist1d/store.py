"""Datasets on disk: `.npz` files that record the arguments that made them and a checksum.

A file is written under a temporary name and renamed, so a killed job never leaves a
half-written dataset. `load_dataset` refuses a file made from other arguments than the ones
asked for, instead of silently using it; it also reads the original package's pickles.
"""
import hashlib
import json
import os

import numpy as np

from mnist1d.io import atomic_path
from mnist1d.utils import ObjectView, from_pickle

ARRAY_KEYS = ("x", "x_test", "y", "y_test", "t")
TEMPLATE_KEYS = ("x", "t", "y")
IGNORED_ARGS = ("url",)  # where the original downloaded from; does not change the data


class DatasetMismatch(ValueError):
    """A stored dataset was made from other arguments than the ones asked for."""


class CorruptDataset(ValueError):
    """A stored dataset's arrays do not match its recorded checksum."""


def canonical_args(args):
    """The generation arguments as a plain, JSON-ready, comparable dict."""
    d = dict(args.__dict__ if isinstance(args, ObjectView) else args)
    out = {}
    for key in sorted(d):
        if key in IGNORED_ARGS:
            continue
        value = d[key]
        if isinstance(value, (tuple, list, np.ndarray)):
            value = [v.item() if hasattr(v, "item") else v for v in value]
        elif hasattr(value, "item"):
            value = value.item()
        out[key] = value
    return out


def _arrays(dataset):
    arrays = {key: np.asarray(dataset[key]) for key in ARRAY_KEYS}
    for key in TEMPLATE_KEYS:
        arrays[f"templates_{key}"] = np.asarray(dataset["templates"][key])
    return arrays


def checksum(arrays):
    digest = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def save_dataset(dataset, args, path):
    """Write `dataset` (the dict make_dataset returns) and `args` to `path` (.npz), atomically."""
    arrays = _arrays(dataset)
    meta = {"args": canonical_args(args), "sha256": checksum(arrays)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def read_args(path):
    """The generation arguments recorded in a stored dataset."""
    with np.load(path, allow_pickle=False) as f:
        return json.loads(str(f["meta"]))["args"]


def load_dataset(path, args=None):
    """Read a dataset from `.npz` (ours) or `.pkl` (the original package's format).

    With `args`, a `.npz` whose recorded arguments differ raises DatasetMismatch naming the keys.
    """
    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no dataset at {path}")
    if path.endswith(".pkl"):
        return from_pickle(path)
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        arrays = {key: f[key] for key in f.files if key != "meta"}
    if checksum(arrays) != meta["sha256"]:
        raise CorruptDataset(f"{path}: arrays do not match the recorded checksum; delete the file "
                             "and make it again")
    if args is not None:
        wanted, recorded = canonical_args(args), meta["args"]
        differ = sorted(k for k in set(wanted) | set(recorded) if wanted.get(k) != recorded.get(k))
        if differ:
            details = ", ".join(f"{k}: file has {recorded.get(k)!r}, asked for {wanted.get(k)!r}"
                                for k in differ)
            raise DatasetMismatch(f"{path} was made from other arguments ({details}); "
                                  "delete it or point to another path")
    dataset = {key: arrays[key] for key in ARRAY_KEYS}
    dataset["templates"] = {key: arrays[f"templates_{key}"] for key in TEMPLATE_KEYS}
    return dataset
