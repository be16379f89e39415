"""MNIST-1D generation (the paper's generator), with the API of the original `mnist1d.data`.

`make_dataset` takes its randomness from NumPy's global legacy generator one example after
the other, in the reference order. Where numba is installed `generator_numba.make_examples`
does the whole of it in numba-compiled code; otherwise the draws go through NumPy's methods and
the arithmetic runs over all examples at once (`numpy_examples`).
"""
import math
import numbers
import os

import numpy as np

from mnist1d.transform import (interpolate, interpolate_batch, replace_zeros_with_corr_noise_batch,
                               scale_batch, shear_batch, translate_batch)
from mnist1d.utils import ObjectView, from_pickle, set_seed, to_pickle

FROZEN_URL = "https://github.com/greydanus/mnist1d/raw/master/mnist1d_data.pkl"
CHUNK = 20_000  # examples per vectorised block: bounds peak memory for very large datasets
USE_NUMBA = True  # generate with numba where it is installed (tests and benchmarks switch it)

TEMPLATE_VALUES = [
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
]


def get_dataset_args(as_dict=False):
    """The default generation arguments (the paper's), as an ObjectView or a dict."""
    arg_dict = {"num_samples": 5000,
                "train_split": 0.8,
                "template_len": 12,
                "padding": [36, 60],
                "scale_coeff": 0.4,
                "max_translation": 48,
                "corr_noise_scale": 0.25,
                "iid_noise_scale": 2e-2,
                "shear_scale": 0.75,
                "shuffle_seq": False,
                "final_seq_length": 40,
                "seed": 42,
                "url": FROZEN_URL}
    return arg_dict if as_dict else ObjectView(arg_dict)


def sequence_length(overrides=None):
    """The input length of a dataset made with these overrides of get_dataset_args() (an entry
    of the config's `datasets:`): its final_seq_length, 40 by default."""
    return int((overrides or {}).get("final_seq_length", get_dataset_args().final_seq_length))


def get_templates():
    """The ten digit templates: centred, unit std, starting at 0, divided by 6."""
    x = np.asarray(TEMPLATE_VALUES, dtype=float)
    x -= x.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]
    return {"x": x / 6.0,
            "t": np.linspace(-5, 5, x.shape[1]) / 6.0,
            "y": np.arange(len(x))}


def draw_randomness(num_examples, args, rng=None):
    """Every random draw of `num_examples` examples, taken in the reference order.

    Per example the reference draws: rand (padding), rand (scale), choice (translation),
    randn(L) (correlated noise), randn(L) (iid noise), rand (shear). Two consecutive randn(L)
    calls give the same numbers as one randn(2 L), and choice(m) the same as randint(0, m).
    The draws come from NumPy's global legacy generator, or from `rng` (a RandomState) if given.
    """
    low, high = args.padding
    length = args.template_len + high
    pads = np.empty(num_examples, dtype=np.int64)
    scales = np.empty(num_examples)
    shifts = np.empty(num_examples, dtype=np.int64)
    gaussians = np.empty((num_examples, 2 * length))
    shears = np.empty(num_examples)
    # the global generator's bound methods: rand/randn are these with extra argument handling
    source = np.random if rng is None else rng
    uniform, randint, normal = source.random_sample, source.randint, source.standard_normal
    for i in range(num_examples):
        pads[i] = low + int(uniform() * (high - low + 1))
        scales[i] = uniform()
        shifts[i] = randint(0, args.max_translation)
        gaussians[i] = normal(2 * length)
        shears[i] = uniform()
    return pads, scales, shifts, gaussians, shears


def stream_after_generation(args):
    """A RandomState in the state that make_dataset(args) leaves NumPy's global generator in
    (default templates): seeded with args.seed, then every draw of generation in the reference
    order (the examples, the example permutation, shuffle_seq's permutation). A notebook that
    goes on drawing from np.random right after make_dataset (the double-descent notebook's label
    noise) continues this stream. `args` is a dict or ObjectView of get_dataset_args() keys;
    missing keys take the defaults."""
    given = dict(args.__dict__ if isinstance(args, ObjectView) else args)
    args = ObjectView(get_dataset_args(as_dict=True) | given)
    num_examples = check_dataset_args(args, len(TEMPLATE_VALUES))
    rng = np.random.RandomState(int(args.seed))
    draw_randomness(num_examples, args, rng)
    rng.permutation(num_examples)
    if args.shuffle_seq:
        rng.permutation(args.final_seq_length)
    return rng


def numpy_examples(label_ix, table, args):
    """The examples of `label_ix`, drawn with NumPy's legacy methods in the reference order."""
    return transform_batch(label_ix, draw_randomness(len(label_ix), args), table, args)


def example_maker(args):
    """`generator_numba.make_examples` (the same numbers, about 5x faster) where numba is
    installed and the arguments are in its range, else `numpy_examples`."""
    low, high = args.padding
    if USE_NUMBA and low <= high and 1 <= args.max_translation <= 2 ** 32:
        try:
            from mnist1d import generator_numba
            return generator_numba.make_examples
        except ImportError:
            pass
    return numpy_examples


def dilated_templates(templates, args, eps=1e-8):
    """table[label, p - low]: template `label` plus eps, padded with p zeros, resampled to L points.

    There are only (#labels x #paddings) distinct padded-and-dilated signals, so they are made
    once with the per-example arithmetic and looked up.
    """
    low, high = args.padding
    length = args.template_len + high
    signals = np.asarray(templates["x"]) + eps
    table = np.empty((len(signals), high - low + 1, length))
    for p in range(low, high + 1):
        padded = np.concatenate([signals, np.zeros((len(signals), p))], axis=1)
        table[:, p - low] = interpolate_batch(padded, length)
    return table


def transform_batch(label_ix, draws, table, args):
    """The arithmetic of `transform.transform` for a block of examples, given their draws."""
    pads, scales, shifts, gaussians, shears = draws
    length = table.shape[-1]
    x = table[label_ix, pads - args.padding[0]]
    x = scale_batch(x, scales, args.scale_coeff)
    x = translate_batch(x, shifts)
    x = replace_zeros_with_corr_noise_batch(x, gaussians[:, :length], args.corr_noise_scale)
    x = x + args.iid_noise_scale * gaussians[:, length:]
    x = shear_batch(x, shears, args.shear_scale)
    return interpolate_batch(x, args.final_seq_length)


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _require_integer(name, value, minimum):
    if not _is_integer(value) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"make_dataset: {name} must be {kind}, got {value!r}")


SCALE_ARGS = ("scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale")
MAX_SEED = 2 ** 32 - 1  # NumPy's legacy generator takes seeds 0 .. 2**32 - 1


def check_dataset_args(args, num_labels):
    """Raise ValueError naming the first generation argument that make_dataset cannot use.

    Returns the number of examples (num_samples rounded down to a multiple of num_labels).
    """
    if num_labels < 1:
        raise ValueError("make_dataset: template must hold at least one template "
                         "(its 'y' is empty)")
    _require_integer("num_samples", args.num_samples, 1)
    if args.num_samples < num_labels:
        raise ValueError(f"make_dataset: num_samples must be at least the number of labels "
                         f"({num_labels}), got {args.num_samples!r}")
    split = args.train_split
    if not _is_real(split) or not 0 < split < 1:
        raise ValueError(f"make_dataset: train_split must be a number strictly between 0 and 1, "
                         f"got {split!r}")
    num_examples = args.num_samples // num_labels * num_labels
    num_train = int(num_examples * split)
    if not 1 <= num_train <= num_examples - 1:
        raise ValueError(f"make_dataset: train_split={split!r} of {num_examples} examples leaves "
                         f"{num_train} train and {num_examples - num_train} test examples; "
                         f"it must leave at least one of each (change train_split or num_samples)")
    _require_integer("template_len", args.template_len, 1)
    padding = args.padding
    if (isinstance(padding, (str, bytes)) or not hasattr(padding, "__len__") or len(padding) != 2
            or not all(_is_integer(p) for p in padding) or not 0 <= padding[0] <= padding[1]):
        raise ValueError(f"make_dataset: padding must be a pair of integers [low, high] with "
                         f"0 <= low <= high, got {padding!r}")
    _require_integer("final_seq_length", args.final_seq_length, 1)
    # the shift is drawn from 0 .. max_translation - 1, so 0 leaves nothing to draw
    _require_integer("max_translation", args.max_translation, 1)
    for name in SCALE_ARGS:
        value = getattr(args, name)
        if not _is_real(value) or not math.isfinite(value) or value < 0:
            raise ValueError(f"make_dataset: {name} must be a finite number >= 0, got {value!r}")
    if not _is_integer(args.seed) or not 0 <= args.seed <= MAX_SEED:
        raise ValueError(f"make_dataset: seed must be an integer from 0 to 2**32 - 1, "
                         f"got {args.seed!r}")
    permutation_seed = getattr(args, "column_permutation_seed", None)
    if permutation_seed is not None and not (_is_integer(permutation_seed)
                                             and 0 <= permutation_seed <= MAX_SEED):
        raise ValueError(f"make_dataset: column_permutation_seed must be null or an integer from "
                         f"0 to 2**32 - 1, got {permutation_seed!r}")
    return num_examples


def column_permutation(seed, length):
    """The reference notebooks' position shuffle: `np.random.seed(seed);
    np.random.permutation(length)` (NumPy's legacy stream, here from a private RandomState with
    the same seed, so that the global generator is left alone)."""
    return np.random.RandomState(int(seed)).permutation(int(length))


def permute_columns(dataset, seed):
    """`dataset` with the columns of x and x_test (and the position coordinates t) permuted by
    column_permutation(seed, length): the classification notebook's shuffled benchmark variant,
    applied to the finished (normalised) data as the notebook applies it to the frozen data.

    The notebook leaves `t` as it was (it only trains on x); here t is permuted too, so that t[j]
    stays the coordinate of column j. The arrays stay row-major (a column gather leaves them
    column-major, on which torch.compile's CUDA CNN step trained nothing: benchmarks/gpu_check.py).
    """
    order = column_permutation(seed, np.shape(dataset["x"])[1])
    out = dict(dataset)
    for key in ("x", "x_test", "t"):
        out[key] = np.ascontiguousarray(np.asarray(dataset[key])[..., order])
    return out


def make_dataset(args=None, template=None):
    """Generate MNIST-1D; returns dict(x, x_test, y, y_test, t, templates).

    Besides get_dataset_args()'s keys, `args` may hold `column_permutation_seed` (absent or None:
    no permutation): the finished dataset's positions permuted as the reference notebooks shuffle
    the frozen data (`permute_columns`; unlike `shuffle_seq`, whose permutation is drawn from the
    generation stream). The arguments are checked first: a value the generator cannot use
    raises ValueError naming it.
    """
    templates = get_templates() if template is None else template
    args = get_dataset_args() if args is None else args
    num_labels = len(templates["y"])
    num_examples = check_dataset_args(args, num_labels)
    set_seed(int(args.seed))

    per_class = args.num_samples // num_labels
    label_ix = np.repeat(np.arange(num_labels), per_class)
    table = dilated_templates(templates, args)
    make_examples = example_maker(args)
    xs = np.empty((num_examples, args.final_seq_length))
    for start in range(0, num_examples, CHUNK):
        stop = min(start + CHUNK, num_examples)
        xs[start:stop] = make_examples(label_ix[start:stop], table, args)
    ys = np.asarray(templates["y"])[label_ix]

    dilated_len = args.template_len + args.padding[-1]
    t = interpolate(interpolate(templates["t"], dilated_len), args.final_seq_length)

    order = np.random.permutation(num_examples)
    xs, ys = xs[order], ys[order]
    if args.shuffle_seq:
        # Row-major like every other dataset (a column gather leaves a column-major array, on
        # which torch.compile's CUDA CNN step trained nothing: benchmarks/gpu_check.py).
        xs = np.ascontiguousarray(xs[:, np.random.permutation(args.final_seq_length)])

    std = xs.std()
    t = t / std
    xs -= xs.mean()
    xs /= std

    split = int(num_examples * args.train_split)
    dataset = {"x": xs[:split], "x_test": xs[split:], "y": ys[:split], "y_test": ys[split:],
               "t": t, "templates": templates}
    permutation_seed = getattr(args, "column_permutation_seed", None)
    if permutation_seed is not None:
        # After the global stream is done with (it stays where the reference generator leaves it)
        dataset = permute_columns(dataset, permutation_seed)
    return dataset


def get_dataset(args, path=None, verbose=True, download=True, regenerate=False, **kwargs):
    """Load the dataset cached at `path`, or make it and cache it there (as a pickle).

    Unlike the original package nothing is downloaded: with download=True (the default) and no
    file at `path`, the frozen paper dataset is generated offline (it equals the published file
    to 1e-12). regenerate=True builds a dataset from `args` instead. A path ending in .npz is
    read and written with `mnist1d.store`, which checks that the file was made from `args`.
    """
    from mnist1d import store

    shuffle = "_shuffle" if "args" in kwargs and kwargs["args"].shuffle_seq else ""
    path = f"./mnist1d_data{shuffle}.pkl" if path is None else str(path)
    assert not (download and regenerate), \
        "You can either download the o.g. MNIST1D dataset or generate your own - but not both"
    if not regenerate and os.path.exists(path):
        dataset = store.load_dataset(path, args if path.endswith(".npz") else None)
        if verbose:
            print(f"Successfully loaded data from {path}")
        return dataset

    if download:
        build_args = get_dataset_args()
        if verbose:
            print(f"Generating the frozen MNIST-1D dataset offline (saved to {path})")
            if store.canonical_args(args) != store.canonical_args(build_args):
                print("Note: download=True always gives the frozen paper dataset; "
                      "pass download=False, regenerate=True to build one from your args.")
    else:
        build_args = args
        if verbose:
            print(f"Building the dataset from args (saved to {path})")
    dataset = make_dataset(build_args, **{k: v for k, v in kwargs.items() if k != "args"})
    if path.endswith(".npz"):
        store.save_dataset(dataset, build_args, path)
    else:
        to_pickle(dataset, path)
    return dataset
