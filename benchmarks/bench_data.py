"""Dataset generation speed: the vectorised generator against the plain per-example one.

Prints, from one run: the median time of each at the default 5 000 examples (interleaved
repeats), their ratio, the time of the reference-order random draws alone (a floor for any
generator that draws from NumPy's legacy global generator), and the time and peak memory of
generating 1 000 000 examples in a fresh process.

    python benchmarks/bench_data.py [--repeats 7] [--big 1000000]
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

from mnist1d.data import draw_randomness, get_dataset_args, get_templates, make_dataset  # noqa: E402
from plain_mnist1d import plain_make_dataset  # noqa: E402

BIG_CHILD = """
import resource, sys, time
sys.path.insert(0, {repo!r})
from mnist1d.data import get_dataset_args, make_dataset
args = get_dataset_args()
args.num_samples = {n}
start = time.perf_counter()
data = make_dataset(args)
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(seconds, peak_mb, data["x"].shape[0] + data["x_test"].shape[0])
"""


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
    make_dataset(args)  # warm caches
    fast, plain, draws = [], [], []
    for _ in range(opts.repeats):
        fast.append(timed(lambda: make_dataset(args)))
        plain.append(timed(lambda: plain_make_dataset(arg_dict, templates)))
        np.random.seed(args.seed)
        draws.append(timed(lambda: draw_randomness(args.num_samples, args)))
    fast_s, plain_s, draws_s = map(statistics.median, (fast, plain, draws))
    print(f"default dataset ({args.num_samples} examples), median of {opts.repeats} interleaved runs:")
    print(f"  plain per-example generator : {plain_s * 1e3:8.1f} ms")
    print(f"  vectorised generator        : {fast_s * 1e3:8.1f} ms   speed-up {plain_s / fast_s:5.1f}x")
    print(f"  legacy random draws alone   : {draws_s * 1e3:8.1f} ms   "
          f"(a generator that must draw them cannot beat {plain_s / draws_s:5.1f}x)")

    child = BIG_CHILD.format(repo=str(REPO), n=opts.big)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    seconds, peak_mb, count = out.stdout.split()
    print(f"{int(count):,} examples: {float(seconds):.1f} s, peak memory {float(peak_mb):.0f} MB "
          f"(whole process, max RSS)")


if __name__ == "__main__":
    main()
