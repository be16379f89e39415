"""Datasets on disk: round trip, recorded arguments, checksum, atomic writes, views."""
import pickle
import re

import numpy as np
import pytest

from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.store import (CorruptDataset, DatasetMismatch, DatasetNotFound, UnreadableDataset,
                           load_dataset, read_args, save_dataset, verify_dataset)
from mnist1d.experiments.views import (apply_view, flip, positions_permutation, shuffle_positions,
                                       swap_chunks)
from helpers import REFERENCE_PKL


@pytest.fixture(scope="module")
def small():
    args = get_dataset_args()
    args.num_samples = 200
    return args, make_dataset(args)


def test_round_trip_is_exact(tmp_path, small):
    args, data = small
    path = tmp_path / "d.npz"
    save_dataset(data, args, path)
    back = load_dataset(path, args)
    for key in ("x", "x_test", "y", "y_test", "t"):
        np.testing.assert_array_equal(back[key], data[key])
        assert back[key].dtype == data[key].dtype
    for key in ("x", "t", "y"):
        np.testing.assert_array_equal(back["templates"][key], data["templates"][key])
    assert read_args(path)["num_samples"] == 200
    assert "url" not in read_args(path)
    np.load(path, allow_pickle=False).close()  # readable without pickle


def test_loader_refuses_other_arguments(tmp_path, small):
    args, data = small
    path = tmp_path / "d.npz"
    save_dataset(data, args, path)
    other = get_dataset_args(as_dict=True) | {"num_samples": 200, "seed": 43}
    with pytest.raises(DatasetMismatch, match="seed"):
        load_dataset(path, other)


def test_loader_detects_corruption(tmp_path, small):
    args, data = small
    path = tmp_path / "d.npz"
    spoilt = dict(data, x=data["x"] + 1e-9)
    save_dataset(data, args, path)
    with np.load(path) as f:
        arrays = dict(f)
    arrays["x"] = spoilt["x"]
    np.savez(path, **arrays)
    with pytest.raises(CorruptDataset):
        load_dataset(path)


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, small):
    args, data = small
    path = tmp_path / "d.npz"
    save_dataset(data, args, path)
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_dataset({"x": data["x"]}, args, path)  # missing keys: fails while writing
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_dataset(tmp_path / "nope.npz")
    with pytest.raises(UnreadableDataset, match="nope.npz"):
        verify_dataset(tmp_path / "nope.npz")
    with pytest.raises(DatasetNotFound, match="a folder"):
        load_dataset(tmp_path)


@pytest.fixture
def stored(tmp_path, small):
    args, data = small
    path = tmp_path / "d.npz"
    save_dataset(data, args, path)
    return path


def rewrite(path, **members):
    """Write the .npz at `path` again with members replaced (None: removed), as a valid zip."""
    with np.load(path) as f:
        arrays = dict(f)
    for key, value in members.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_data_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                       # inside the arrays' bytes
    path.write_bytes(bytes(raw))


DAMAGE = {
    "truncated": (truncate, "not a complete .npz"),
    "text file": (lambda p: p.write_text("x,y\n1,2\n"), "not an .npz archive"),
    "empty file": (lambda p: p.write_bytes(b""), "empty"),
    "pickle": (lambda p: p.write_bytes(pickle.dumps({"x": [1, 2]})), "not an .npz archive"),
    "flipped byte": (flip_a_data_byte, "CRC"),
    "object member": (lambda p: rewrite(p, x=np.array([{"a": 1}], dtype=object)), "pickled"),
    "missing member": (lambda p: rewrite(p, y_test=None), r"members \['y_test'\] are missing"),
    "bad meta": (lambda p: rewrite(p, meta=np.array("{not json")), "not valid JSON"),
    "meta without checksum": (lambda p: rewrite(p, meta=np.array('{"args": {}}')), "checksum"),
    "checksum mismatch": (lambda p: rewrite(p, y=np.zeros(160, dtype=np.int64)),
                          "do not match the recorded checksum"),
    "one array": (lambda p: np.save(open(p, "wb"), np.arange(3)), "single array"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_every_unreadable_file_raises_one_exception_naming_it(stored, damage):
    spoil, problem = DAMAGE[damage]
    spoil(stored)
    for read in (load_dataset, verify_dataset, read_args):
        with pytest.raises(UnreadableDataset) as caught:
            read(stored)
        message = str(caught.value)
        assert isinstance(caught.value, CorruptDataset)
        assert str(stored) in message and "delete it and rerun" in message, message
        assert re.search(problem, message), message
        assert "allow_pickle=` keyword" not in message     # never numpy's advice alone


def test_verify_dataset_accepts_a_whole_file(stored, small):
    args, _ = small
    assert verify_dataset(stored) is None
    with pytest.raises(DatasetMismatch) as caught:             # a valid file of other arguments
        load_dataset(stored, get_dataset_args(as_dict=True) | {"num_samples": 200, "seed": 1})
    assert not isinstance(caught.value, UnreadableDataset)


def test_damaged_pickle_raises_the_same_exception(tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(CorruptDataset, match="data.pkl.*not a readable pickle"):
        load_dataset(path)
    path.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(CorruptDataset, match="lacks the dataset keys"):
        verify_dataset(path)


def test_reads_the_frozen_pickle():
    data = load_dataset(REFERENCE_PKL)
    assert data["x"].shape == (4000, 40)


def test_views():
    x = np.arange(80.0).reshape(2, 40)
    np.testing.assert_array_equal(flip(x)[0], np.arange(39, -1, -1.0))
    swapped = swap_chunks(x)
    np.testing.assert_array_equal(swapped[0, :10], np.arange(20, 30.0))
    np.testing.assert_array_equal(swapped[0, 30:], np.arange(10, 20.0))
    perm = positions_permutation(40, seed=0)
    np.testing.assert_array_equal(shuffle_positions(x, perm)[:, 0], x[:, perm[0]])
    with pytest.raises(ValueError):
        shuffle_positions(x, np.zeros(40, dtype=int))
    data = {"x": x, "x_test": x[:1], "y": np.array([1, 2]), "y_test": np.array([3])}
    view = apply_view(data, flip)
    assert view["y"] is data["y"] and view["x"][0, 0] == 39
