"""Building blocks both metalearning experiments share.

Initialisations, the in-order batches, the data as tensors, seeds and generators, a checksum of
the data and a memory-allocator setting that speeds up unrolled loops. Used by
mnist1d.experiments.metalearn_lr, metalearn_afunc and afunc_kernels.
"""
from __future__ import annotations

import hashlib
import json
import math

# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np


def linear_init(fan_in, fan_out, generator, dtype=None):
    """(weight, bias) distributed as torch.nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    import torch   # here, not at the top: the figure jobs start without torch

    dtype = torch.float32 if dtype is None else dtype
    bound = 1.0 / math.sqrt(fan_in)
    w = (torch.rand(fan_out, fan_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    b = (torch.rand(fan_out, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return w.to(dtype), b.to(dtype)


def reference_linear_init(sizes, seed, dtype=None):
    """Weights of torch.nn.Linear layers built in order right after torch.manual_seed(seed).

    This is how the reference notebooks initialise, so seed 0 gives the published starting point.
    The global RNG is restored afterwards.
    """
    import torch   # here, not at the top: the figure jobs start without torch

    dtype = torch.float32 if dtype is None else dtype
    params = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layer = torch.nn.Linear(fan_in, fan_out)
            params += [layer.weight.detach().to(dtype), layer.bias.detach().to(dtype)]
    return tuple(params)


def batch_slices(n_train, batch_size, steps):
    """The reference's in-order batches: start (step * batch_size) mod n, up to batch_size rows."""
    return [((s * batch_size) % n_train) for s in range(steps)]


def to_tensors(data, device, dtype=None):
    """(x, y, x_test, y_test) of a dataset dict as tensors on `device` (labels int64)."""
    import torch   # here, not at the top: the figure jobs start without torch

    dtype = torch.float32 if dtype is None else dtype
    x = torch.as_tensor(np.asarray(data["x"]), dtype=dtype, device=device)
    y = torch.as_tensor(np.asarray(data["y"]), dtype=torch.int64, device=device)
    x_test = torch.as_tensor(np.asarray(data["x_test"]), dtype=dtype, device=device)
    y_test = torch.as_tensor(np.asarray(data["y_test"]), dtype=torch.int64, device=device)
    return x, y, x_test, y_test


def seed_for(seed, *parts):
    """A 63-bit generator seed from an experiment seed and labels (stable across runs)."""
    text = json.dumps([seed, *parts])
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def data_digest(data):
    """A short checksum of the arrays an experiment trains and tests on."""
    digest = hashlib.sha256()
    for key in ("x", "y", "x_test", "y_test"):
        digest.update(np.ascontiguousarray(data[key]).tobytes())
    return digest.hexdigest()[:16]


def keep_freed_memory(on=True):
    """Ask glibc to keep freed large blocks for reuse instead of returning them to the system.

    Each unrolled inner step allocates several megabyte-sized tensors; by default glibc maps
    each one fresh and unmaps it when freed, so every step pays page faults for memory it just
    gave back (a 12800 x 100 outer product: 1.3 ms fresh, 0.1 ms reused). Changes no result.
    Returns False where mallopt is unavailable (not glibc).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    big = 1 << 30
    ok = mallopt(m_mmap_threshold, big if on else 128 * 1024)
    ok &= mallopt(m_trim_threshold, big if on else 128 * 1024)
    return bool(ok)


def generator(seed):
    """A CPU generator (draws are moved to the device: identical streams on CPU and GPU)."""
    import torch

    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g

