"""The generator: the frozen paper dataset, the plain reference, the original API."""
import inspect

import numpy as np
import pytest

import mnist1d
from mnist1d import transform as transform_module  # noqa: F401  (the function, as in the original)
from mnist1d.data import get_dataset, get_dataset_args, get_templates, make_dataset
from mnist1d.utils import ObjectView, from_pickle, set_seed, to_pickle
from plain_mnist1d import plain_make_dataset

ARRAYS = ("x", "x_test", "t")


def assert_same_dataset(a, b, tol=1e-12):
    np.testing.assert_array_equal(a["y"], b["y"])
    np.testing.assert_array_equal(a["y_test"], b["y_test"])
    for key in ARRAYS:
        assert a[key].shape == b[key].shape, key
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=tol, err_msg=key)


@pytest.fixture(params=["numba", "numpy"])
def generator(request, monkeypatch):
    """Run a test with the numba generator and again with the NumPy one."""
    import mnist1d.data
    if request.param == "numba":
        pytest.importorskip("numba")
    monkeypatch.setattr(mnist1d.data, "USE_NUMBA", request.param == "numba")
    return request.param


def test_default_dataset_reproduces_the_frozen_paper_data(frozen, generator):
    data = make_dataset(get_dataset_args())
    assert_same_dataset(data, frozen)
    assert data["y"].dtype == np.int64
    for key in ("x", "t", "y"):
        np.testing.assert_allclose(data["templates"][key], frozen["templates"][key], atol=1e-12)


NON_DEFAULT = [
    {},
    {"num_samples": 1234, "train_split": 0.5, "seed": 7},
    {"padding": [10, 20], "max_translation": 5, "final_seq_length": 64, "seed": 1},
    {"scale_coeff": 0.0, "corr_noise_scale": 0.0, "iid_noise_scale": 0.1, "shear_scale": 2.0},
    {"shuffle_seq": True, "num_samples": 300, "template_len": 12, "padding": [0, 3]},
    {"max_translation": 1, "num_samples": 200, "final_seq_length": 100, "seed": 123},
]


@pytest.mark.parametrize("overrides", NON_DEFAULT)
def test_vectorised_generator_equals_plain_reference(overrides, generator):
    a = get_dataset_args(as_dict=True) | overrides
    if "num_samples" not in overrides:
        a["num_samples"] = 600
    fast = make_dataset(ObjectView(dict(a)))
    slow = plain_make_dataset(a, get_templates())
    assert_same_dataset(fast, slow)


def test_large_datasets_cross_chunk_boundaries(monkeypatch, generator):
    import mnist1d.data
    monkeypatch.setattr(mnist1d.data, "CHUNK", 170)  # force several blocks
    a = get_dataset_args(as_dict=True) | {"num_samples": 1000}
    assert_same_dataset(make_dataset(ObjectView(dict(a))), plain_make_dataset(a, get_templates()))


def test_same_seed_same_data_other_seed_other_data(generator):
    a = get_dataset_args()
    a.num_samples = 500
    first, second = make_dataset(a), make_dataset(a)
    assert_same_dataset(first, second, tol=0)
    a.seed = 43
    assert not np.allclose(make_dataset(a)["x"], first["x"])


def test_custom_templates(generator):
    templates = get_templates()
    templates = {"x": templates["x"][:3], "t": templates["t"], "y": np.array([0, 1, 2])}
    a = get_dataset_args(as_dict=True) | {"num_samples": 90}
    fast = make_dataset(ObjectView(dict(a)), template=templates)
    assert_same_dataset(fast, plain_make_dataset(a, templates))
    assert set(fast["y"]) | set(fast["y_test"]) == {0, 1, 2}


def test_split_sizes_of_the_configured_variants():
    import yaml
    from helpers import REPO
    datasets = yaml.safe_load(open(REPO / "config.yaml"))["datasets"]
    for name, overrides in datasets.items():
        a = get_dataset_args(as_dict=True) | overrides
        n = a["num_samples"]
        train = int(n * a["train_split"])
        if name.startswith("pool"):
            assert n - train == 1000, name
    assert int(16000 * datasets["samples16k"]["train_split"]) == 4000


def test_public_api_matches_the_original_package():
    for name in ("get_dataset", "get_dataset_args", "get_templates", "transform", "to_pickle",
                 "from_pickle", "ObjectView", "set_seed", "plot_signals", "make_dataset"):
        assert hasattr(mnist1d, name), name
    import mnist1d.transform as tm
    expected = {
        "pad": ["x", "padding"], "shear": ["x", "scale"], "translate": ["x", "max_translation"],
        "corr_noise_like": ["x", "scale"], "iid_noise_like": ["x", "scale"],
        "interpolate": ["x", "N"], "transform": ["x", "y", "args", "eps"],
    }
    import sys
    module = sys.modules["mnist1d.transform"]
    for name, params in expected.items():
        assert list(inspect.signature(getattr(module, name)).parameters) == params, name
    assert list(inspect.signature(make_dataset).parameters) == ["args", "template"]
    assert list(inspect.signature(get_dataset).parameters)[:5] == [
        "args", "path", "verbose", "download", "regenerate"]
    args = get_dataset_args()
    assert isinstance(args, ObjectView) and args.padding == [36, 60] and args.seed == 42
    assert isinstance(get_dataset_args(as_dict=True), dict)
    assert sorted(make_dataset(args)) == ["t", "templates", "x", "x_test", "y", "y_test"]


def test_per_example_transform_draws_like_the_batch(frozen):
    """transform() on the global generator gives the first example of the frozen generation."""
    args = get_dataset_args()
    templates = get_templates()
    set_seed(args.seed)
    x, t = mnist1d.transform(templates["x"][0], templates["t"], args)
    assert x.shape == (40,) and t.shape == (40,)
    a = get_dataset_args(as_dict=True) | {"num_samples": 10}
    # the plain reference's first example is label 0's first example, made from the same draws
    from plain_mnist1d import one_example
    set_seed(42)
    np.testing.assert_allclose(one_example(templates["x"][0], a), x, atol=1e-14)


def test_get_dataset_makes_the_frozen_data_offline_and_caches_it(tmp_path, frozen, capsys):
    path = tmp_path / "mnist1d_data.pkl"
    data = get_dataset(get_dataset_args(), path=str(path), download=True)
    assert path.exists()
    assert_same_dataset(data, frozen)
    again = get_dataset(get_dataset_args(), path=str(path))
    assert_same_dataset(again, data, tol=0)
    assert "loaded" in capsys.readouterr().out


def test_get_dataset_regenerate_uses_args(tmp_path):
    args = get_dataset_args()
    args.num_samples, args.seed = 200, 5
    data = get_dataset(args, path=str(tmp_path / "d.pkl"), download=False, regenerate=True)
    assert len(data["y"]) + len(data["y_test"]) == 200


def test_pickle_helpers_round_trip(tmp_path):
    to_pickle({"a": np.arange(3)}, tmp_path / "p.pkl")
    np.testing.assert_array_equal(from_pickle(tmp_path / "p.pkl")["a"], np.arange(3))


def test_numba_generator_draws_and_computes_like_numpy():
    """Same draws, same arithmetic up to the filter's summation order, and the global generator
    left in the same state, from any starting point of a key block, across the blocks of work."""
    pytest.importorskip("numba")
    from mnist1d import generator_numba
    from mnist1d.data import dilated_templates, numpy_examples
    args = get_dataset_args()
    table = dilated_templates(get_templates(), args)
    label_ix = np.arange(50) % 10
    for warmup_draws in (0, 1, 311, 623):  # start with the key block fresh, part or fully used
        set_seed(3)
        np.random.random_sample(warmup_draws)
        fast = generator_numba.make_examples(label_ix, table, args, block=7)
        fast_next = np.random.rand()
        set_seed(3)
        np.random.random_sample(warmup_draws)
        slow, slow_next = numpy_examples(label_ix, table, args), np.random.rand()
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-14)
        assert fast_next == slow_next


def test_untemper_inverts_the_twister_output():
    pytest.importorskip("numba")
    from mnist1d import generator_numba
    state = np.random.RandomState(5).get_state()[1].astype(np.int64)
    tempered = np.empty(generator_numba.MT_N, np.int64)
    generator_numba._temper_into(state, tempered)
    np.testing.assert_array_equal(generator_numba.untemper(tempered), state)


def test_numpy_generator_without_numba(monkeypatch):
    import sys
    import mnist1d.data
    monkeypatch.setitem(sys.modules, "mnist1d.generator_numba", None)  # as if numba were missing
    monkeypatch.delattr(mnist1d, "generator_numba", raising=False)
    assert mnist1d.data.example_maker(get_dataset_args()) is mnist1d.data.numpy_examples


BAD_ARGS = [
    ("num_samples", 0), ("num_samples", -5), ("num_samples", 100.0), ("num_samples", True),
    ("num_samples", 9),                                        # fewer than the ten labels
    ("train_split", 1.5), ("train_split", 1.0), ("train_split", 0), ("train_split", float("nan")),
    ("train_split", "0.8"),
    ("template_len", 0), ("template_len", 12.5),
    ("padding", [60, 36]), ("padding", [-1, 10]), ("padding", 36), ("padding", [36, 60, 80]),
    ("padding", [36.0, 60]),
    ("final_seq_length", 0), ("final_seq_length", "40"),
    ("max_translation", 0), ("max_translation", -1), ("max_translation", 2.5),
    ("iid_noise_scale", float("nan")), ("iid_noise_scale", -0.1),
    ("corr_noise_scale", float("inf")), ("shear_scale", -1), ("scale_coeff", None),
    ("seed", -1), ("seed", 2 ** 32), ("seed", 4.2), ("seed", "42"),
]


@pytest.mark.parametrize("name, value", BAD_ARGS, ids=[f"{n}={v!r}" for n, v in BAD_ARGS])
def test_bad_argument_is_named_before_generating(name, value, monkeypatch):
    import mnist1d.data
    generated = []
    monkeypatch.setattr(mnist1d.data, "example_maker", lambda args: generated.append(1))
    args = get_dataset_args(as_dict=True) | {"num_samples": 200, name: value}
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        make_dataset(ObjectView(args))
    assert not generated


def test_split_must_leave_a_train_and_a_test_example():
    args = get_dataset_args(as_dict=True) | {"num_samples": 20, "train_split": 0.99}
    assert len(make_dataset(ObjectView(args))["y_test"]) == 1          # 19 / 1: still valid
    args["train_split"] = 0.04                                           # int(20 * 0.04) == 0
    with pytest.raises(ValueError, match="train_split=0.04 of 20 examples leaves 0 train and 20"):
        make_dataset(ObjectView(args))


def test_empty_templates_are_refused():
    templates = dict(get_templates(), y=np.array([], dtype=int))
    with pytest.raises(ValueError, match="template"):
        make_dataset(get_dataset_args(), template=templates)


def test_numpy_integer_arguments_are_accepted(generator):
    """Arguments read back from a stored dataset can be NumPy scalars; they make the same data."""
    a = get_dataset_args(as_dict=True) | {"num_samples": 300}
    numpy_typed = a | {"num_samples": np.int64(300), "seed": np.int64(42),
                       "padding": np.array([36, 60]), "train_split": np.float64(0.8),
                       "iid_noise_scale": np.float32(2e-2)}
    same = make_dataset(ObjectView(dict(numpy_typed)))
    reference = make_dataset(ObjectView(dict(a | {"iid_noise_scale": float(np.float32(2e-2))})))
    assert_same_dataset(same, reference, tol=0)


# --- the notebooks' position shuffle (dataset option column_permutation_seed) --------------------

def test_column_permutation_is_the_notebooks_shuffle_of_the_finished_data(generator):
    """datasets.shuffled: the classification notebook's np.random.seed(42);
    np.random.permutation(40) applied to the columns of the unshuffled data, row-major, labels
    and the global stream untouched."""
    a = get_dataset_args(as_dict=True) | {"num_samples": 600}
    plain = make_dataset(ObjectView(dict(a)))
    state_plain = np.random.get_state()
    shuffled = make_dataset(ObjectView(a | {"column_permutation_seed": 42}))
    state_shuffled = np.random.get_state()
    np.random.seed(42)
    order = np.random.permutation(40)
    assert sorted(order) == list(range(40)) and not np.array_equal(order, np.arange(40))
    for key in ("x", "x_test"):
        np.testing.assert_array_equal(shuffled[key], plain[key][:, order])
        assert shuffled[key].flags["C_CONTIGUOUS"], key
    np.testing.assert_array_equal(shuffled["t"], plain["t"][order])
    np.testing.assert_array_equal(shuffled["y"], plain["y"])
    np.testing.assert_array_equal(shuffled["y_test"], plain["y_test"])
    assert all(np.array_equal(p, s) for p, s in zip(state_plain, state_shuffled))
    other = make_dataset(ObjectView(a | {"column_permutation_seed": 0}))
    assert not np.array_equal(other["x"], shuffled["x"])
    none = make_dataset(ObjectView(a | {"column_permutation_seed": None}))
    np.testing.assert_array_equal(none["x"], plain["x"])


def test_column_permutation_of_the_frozen_data(frozen):
    """The shuffled benchmark variant equals the notebook's cell on the frozen pickle."""
    from mnist1d.data import permute_columns
    np.random.seed(42)
    order = np.random.permutation(frozen["x"].shape[1])
    args = get_dataset_args(as_dict=True) | {"column_permutation_seed": 42}
    made = make_dataset(ObjectView(args))
    np.testing.assert_allclose(made["x"], frozen["x"][:, order], rtol=0, atol=1e-12)
    np.testing.assert_allclose(made["x_test"], frozen["x_test"][:, order], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(permute_columns(frozen, 42)["x"], frozen["x"][:, order])


@pytest.mark.parametrize("bad", [-1, 2 ** 32, 1.5, "42", True])
def test_a_bad_column_permutation_seed_is_named(bad):
    a = get_dataset_args(as_dict=True) | {"num_samples": 100, "column_permutation_seed": bad}
    with pytest.raises(ValueError, match="column_permutation_seed"):
        make_dataset(ObjectView(a))


@pytest.mark.parametrize("overrides", [{"num_samples": 700, "train_split": 0.25},
                                       {"num_samples": 300, "seed": 7, "shuffle_seq": True,
                                        "padding": [0, 3]}])
def test_stream_after_generation_is_where_make_dataset_leaves_numpy(overrides, generator):
    """The double-descent notebook draws its label noise from the global stream right after
    make_dataset: stream_after_generation rebuilds that state (both generators, and the plain
    per-example reference, leave it there)."""
    from mnist1d.data import stream_after_generation
    a = get_dataset_args(as_dict=True) | overrides
    expected = stream_after_generation(a).get_state()
    make_dataset(ObjectView(dict(a)))
    after_fast = np.random.get_state()
    plain_make_dataset(dict(a), get_templates())
    after_plain = np.random.get_state()
    for state in (after_fast, after_plain):
        assert state[0] == expected[0] and state[2:] == expected[2:]
        np.testing.assert_array_equal(state[1], expected[1])
    assert stream_after_generation(a).random_sample() == stream_after_generation(a).random_sample()
