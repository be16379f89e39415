"""Dataset generation speed: the numba and NumPy generators against the plain per-example one.

Prints, from one run: the median time of each at the default 5 000 examples (interleaved
repeats) and their ratios, the time of the reference-order legacy draws alone (the floor of a
generator that calls NumPy's legacy methods, as the NumPy one does), the first call in a fresh
process (numba's import and cached machine code), and the time and peak memory of generating
1 000 000 examples in a fresh process.

    python benchmarks/speed_data.py [--repeats 7] [--big 1000000]
"""
import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import mnist1d.data  # noqa: E402
from mnist1d.data import draw_randomness, get_dataset_args, get_templates, make_dataset  # noqa: E402
from plain_mnist1d import plain_make_dataset  # noqa: E402

BIG_CHILD = """
import resource, sys, time
sys.path.insert(0, {repo!r})
start = time.perf_counter()
import mnist1d.data
mnist1d.data.USE_NUMBA = {numba}
from mnist1d.data import get_dataset_args, make_dataset
args = get_dataset_args()
args.num_samples = {n}
data = make_dataset(args)
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(seconds, peak_mb, data["x"].shape[0] + data["x_test"].shape[0])
"""


def fresh_process(n, numba=True):
    """(seconds, peak MB, examples) of importing mnist1d and making n examples in a new process."""
    child = BIG_CHILD.format(repo=str(REPO), n=n, numba=numba)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    seconds, peak_mb, count = out.stdout.split()
    return float(seconds), float(peak_mb), int(count)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--big", type=int, default=1_000_000)
    opts = parser.parse_args()

    args, arg_dict, templates = get_dataset_args(), get_dataset_args(as_dict=True), get_templates()

    def vectorised(numba):
        mnist1d.data.USE_NUMBA = numba
        make_dataset(args)

    vectorised(True)  # warm caches (and numba's machine code)
    vectorised(False)
    times = {"numba": [], "numpy": [], "plain": [], "draws": []}
    for _ in range(opts.repeats):
        times["numba"].append(timed(lambda: vectorised(True)))
        times["numpy"].append(timed(lambda: vectorised(False)))
        times["plain"].append(timed(lambda: plain_make_dataset(arg_dict, templates)))
        np.random.seed(args.seed)
        times["draws"].append(timed(lambda: draw_randomness(args.num_samples, args)))
    med = {k: statistics.median(v) for k, v in times.items()}
    plain = med["plain"]
    print(f"default dataset ({args.num_samples} examples), median of {opts.repeats} interleaved runs:")
    print(f"  plain per-example generator : {plain * 1e3:8.1f} ms")
    print(f"  numba generator             : {med['numba'] * 1e3:8.1f} ms   "
          f"speed-up {plain / med['numba']:5.1f}x")
    print(f"  NumPy generator (no numba)  : {med['numpy'] * 1e3:8.1f} ms   "
          f"speed-up {plain / med['numpy']:5.1f}x")
    print(f"  legacy random draws alone   : {med['draws'] * 1e3:8.1f} ms   "
          f"(caps a generator that calls NumPy's legacy methods at {plain / med['draws']:5.1f}x)")

    seconds, _, _ = fresh_process(args.num_samples)
    print(f"first call in a fresh process (import, numba's cached code, generate): {seconds:.2f} s")
    for numba in (True, False):
        seconds, peak_mb, count = fresh_process(opts.big, numba)
        print(f"{count:,} examples, {'numba' if numba else 'NumPy'}: {seconds:.1f} s, "
              f"peak memory {peak_mb:.0f} MB (whole process, max RSS)")

if __name__ == "__main__":
    main()
