"""Datasets on disk: `.npz` files that record the arguments that made them and a checksum.

A file is written under a temporary name and renamed, so a killed job never leaves a
half-written dataset. `load_dataset` refuses a file made from other arguments than the ones
asked for, instead of silently using it; it also reads the original package's pickles.
Every way a stored file can fail to be read (missing, truncated, not an .npz, members missing,
a damaged record, arrays that do not match their checksum) raises `UnreadableDataset`, whose
message names the file and what to do.
"""
import hashlib
import json
import os
import pickle
import zipfile

import numpy as np
from numpy.lib.npyio import NpzFile

from mnist1d.io import atomic_path
from mnist1d.utils import ObjectView

ARRAY_KEYS = ("x", "x_test", "y", "y_test", "t")
TEMPLATE_KEYS = ("x", "t", "y")
MEMBERS = ("meta", *ARRAY_KEYS, *(f"templates_{key}" for key in TEMPLATE_KEYS))  # of an .npz
IGNORED_ARGS = ("url",)  # where the original downloaded from; does not change the data
REMEDY = "delete it and rerun (the workflow, or get_dataset, makes it again)"


class UnreadableDataset(ValueError):
    """A stored dataset cannot be read: the file is missing, damaged, or not a dataset."""


class CorruptDataset(UnreadableDataset):
    """A stored dataset exists but is damaged or is not a dataset (e.g. its arrays do not match
    the recorded checksum)."""


class DatasetNotFound(UnreadableDataset, FileNotFoundError):
    """No file at a dataset's path (also a FileNotFoundError)."""


class DatasetMismatch(ValueError):
    """A stored dataset was made from other arguments than the ones asked for (a valid file)."""


def _corrupt(path, problem):
    return CorruptDataset(f"{path} is not a readable MNIST-1D dataset: {problem}; {REMEDY}")


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


def _read_error(err):
    """What a failure of np.load says about the file, in words."""
    if isinstance(err, EOFError):
        return "the file is empty or ends early"
    if isinstance(err, zipfile.BadZipFile):
        return f"it is not a complete .npz (zip) archive ({err})"
    if isinstance(err, ValueError) and "Object arrays" in str(err):
        return "a member holds pickled Python objects, which are never read (allow_pickle=False)"
    if isinstance(err, ValueError) and "pickle" in str(err):
        # np.load's guess for any file that is neither a zip archive nor a .npy array
        return "it is not an .npz archive (a text file, a pickle or other bytes)"
    return f"{type(err).__name__}: {err}"


def _require_file(path):
    if not os.path.isfile(path):
        what = "a folder, not a file" if os.path.isdir(path) else "no file"
        raise DatasetNotFound(f"no dataset at {path} ({what} there): check the path, or make "
                              f"the dataset (the workflow's target, or mnist1d.get_dataset)")


def _read_npz(path):
    """(meta, arrays) of a stored .npz, checked against the recorded checksum."""
    _require_file(path)
    try:
        stored = np.load(path, allow_pickle=False)
        if not isinstance(stored, NpzFile):
            raise _corrupt(path, "it holds a single array, not an .npz archive of arrays")
        with stored as f:
            missing = [key for key in MEMBERS if key not in f.files]
            if missing:
                raise _corrupt(path, f"members {missing} are missing")
            meta_text = str(f["meta"])
            arrays = {key: f[key] for key in f.files if key != "meta"}
    except UnreadableDataset:
        raise
    except Exception as err:  # every way np.load fails on a damaged file (zip, zlib, header ...)
        raise _corrupt(path, _read_error(err)) from err
    try:
        meta = json.loads(meta_text)
    except ValueError as err:
        raise _corrupt(path, f"its 'meta' record is not valid JSON ({err})") from err
    if not (isinstance(meta, dict) and isinstance(meta.get("args"), dict)
            and isinstance(meta.get("sha256"), str)):
        raise _corrupt(path, "its 'meta' record lacks the generation arguments or the checksum")
    if checksum(arrays) != meta["sha256"]:
        raise _corrupt(path, "the arrays do not match the recorded checksum")
    return meta, arrays


def _read_pickle(path):
    """A dataset pickled by the original package (or get_dataset with a .pkl path)."""
    _require_file(path)
    try:
        with open(path, "rb") as f:
            dataset = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError) as err:
        raise _corrupt(path, f"it is not a readable pickle ({type(err).__name__}: {err})") from err
    missing = ([key for key in (*ARRAY_KEYS, "templates") if key not in dataset]
               if isinstance(dataset, dict) else list(ARRAY_KEYS))
    if missing:
        raise _corrupt(path, f"the pickle lacks the dataset keys {missing}")
    return dataset


def read_args(path):
    """The generation arguments recorded in a stored dataset (which is read and checked)."""
    return _read_npz(str(path))[0]["args"]


def verify_dataset(path):
    """Read the dataset at `path` (.npz, checksummed; or .pkl) and check it is whole.

    Raises UnreadableDataset (DatasetNotFound, CorruptDataset) naming the path and what to do.
    """
    path = str(path)
    if path.endswith(".pkl"):
        _read_pickle(path)
    else:
        _read_npz(path)


def load_dataset(path, args=None):
    """Read a dataset from `.npz` (ours) or `.pkl` (the original package's format).

    A file that cannot be read raises UnreadableDataset (DatasetNotFound for a missing one,
    CorruptDataset for a damaged one). With `args`, a `.npz` whose recorded arguments differ
    raises DatasetMismatch naming the keys.
    """
    path = str(path)
    if path.endswith(".pkl"):
        return _read_pickle(path)
    meta, arrays = _read_npz(path)
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
