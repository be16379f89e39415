"""Compare every table of two result folders (e.g. a preset's run before and after a change).

    python benchmarks/compare_tables.py results_before/smoke results/smoke

Files are matched by their path relative to each folder; CSV/TSV tables are compared exactly
after dropping timing columns (wall-clock seconds, dates, host names), .npz arrays exactly, .md
text exactly. Logs, per-job timing files, the timing table and figures are left out: they differ
from run to run by design. Prints one line per differing or missing file and a summary; exits 1
when anything differs.
"""
import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SKIP_PARTS = {"logs", "timing", ".snakemake"}
SKIP_NAMES = {"timing.csv", "config.yaml"}
TABLES = (".csv", ".tsv", ".npz", ".md")
VOLATILE = re.compile(r"(^|_)(seconds|elapsed|wall|duration|hostname|start|end|s)$|^wall_s$|^cpu_s$")


def tables(root):
    root = Path(root)
    return {str(p.relative_to(root)): p for p in root.rglob("*")
            if p.is_file() and p.suffix in TABLES and p.name not in SKIP_NAMES
            and not SKIP_PARTS & set(p.relative_to(root).parts)}


def difference(a, b):
    """'' when the two files hold the same results, else a short description."""
    if a.suffix == ".npz":
        with np.load(a, allow_pickle=False) as left, np.load(b, allow_pickle=False) as right:
            if sorted(left.files) != sorted(right.files):
                return f"arrays {sorted(left.files)} vs {sorted(right.files)}"
            bad = [k for k in left.files if not np.array_equal(left[k], right[k])]
        return f"arrays differ: {bad}" if bad else ""
    if a.suffix == ".md":
        return "" if a.read_text() == b.read_text() else "text differs"
    sep = "\t" if a.suffix == ".tsv" else ","
    left, right = pd.read_csv(a, sep=sep), pd.read_csv(b, sep=sep)
    keep = lambda frame: frame[[c for c in frame.columns if not VOLATILE.search(str(c))]]  # noqa: E731
    try:
        pd.testing.assert_frame_equal(keep(left), keep(right), check_exact=True)
    except AssertionError as err:
        return " ".join(str(err).split())[:300]
    return ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args(argv)
    left, right = tables(args.before), tables(args.after)
    problems = [f"only in {args.before}: {name}" for name in sorted(set(left) - set(right))]
    problems += [f"only in {args.after}: {name}" for name in sorted(set(right) - set(left))]
    same = 0
    for name in sorted(set(left) & set(right)):
        diff = difference(left[name], right[name])
        if diff:
            problems.append(f"differs: {name}: {diff}")
        else:
            same += 1
    for line in problems:
        print(line)
    print(f"{same} tables identical, {len(problems)} problems "
          f"({args.before} vs {args.after}; logs, timings and figures left out)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
