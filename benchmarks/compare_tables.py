"""Compare every table of two result folders (e.g. a preset's run before and after a change).

    python benchmarks/compare_tables.py results_before/smoke results/smoke
    python benchmarks/compare_tables.py --write-digests tests/pipeline/golden/smoke.json results/smoke
    python benchmarks/compare_tables.py --digests tests/pipeline/golden/smoke.json results/smoke

Files are matched by their path relative to each folder; CSV/TSV tables are compared exactly
after dropping timing columns (wall-clock seconds, dates, host names), .npz arrays exactly, .md
text exactly. Logs, per-job timing files, the timing table and figures are left out: they differ
from run to run by design. Prints one line per differing or missing file and a summary; exits 1
when anything differs.
"""
import argparse
import hashlib
import json
import platform
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


def digest(path):
    """A SHA-256 of what `difference` compares: arrays, text, or the table without its timing
    columns (written back in one canonical CSV form)."""
    h = hashlib.sha256()
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            for key in sorted(z.files):
                h.update(key.encode() + str(z[key].dtype).encode() + str(z[key].shape).encode())
                h.update(np.ascontiguousarray(z[key]).tobytes())
    elif path.suffix == ".md":
        h.update(path.read_bytes())
    else:
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
        frame = frame[[c for c in frame.columns if not VOLATILE.search(str(c))]]
        h.update(frame.to_csv(index=False, float_format="%r").encode())
    return h.hexdigest()


def machine():
    """What float32 results depend on besides the code: the CPU, its kernels, torch."""
    import torch
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": model, "machine": platform.machine(), "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def digests(root):
    return {name: digest(path) for name, path in sorted(tables(root).items())}


def check_digests(recorded, root):
    """Problems (one line each) of the tables under `root` against recorded digests; tables the
    record does not know (new intermediate files) are not problems."""
    mine = tables(root)
    problems = [f"missing: {name}" for name in recorded["tables"] if name not in mine]
    problems += [f"differs: {name}" for name, d in recorded["tables"].items()
                 if name in mine and digest(mine[name]) != d]
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="a result folder, or with --digests/--write-digests the "
                                       "digest file")
    parser.add_argument("after", help="the result folder to compare")
    parser.add_argument("--write-digests", action="store_true",
                        help="record the digests of AFTER's tables (and the machine) in BEFORE")
    parser.add_argument("--digests", action="store_true",
                        help="compare AFTER's tables with the digests recorded in BEFORE")
    args = parser.parse_args(argv)
    if args.write_digests:
        Path(args.before).parent.mkdir(parents=True, exist_ok=True)
        Path(args.before).write_text(json.dumps({"machine": machine(), "tables": digests(args.after)},
                                                indent=1) + "\n")
        return 0
    if args.digests:
        problems = check_digests(json.loads(Path(args.before).read_text()), args.after)
        for line in problems:
            print(line)
        print(f"{len(problems)} problems ({args.after} vs the digests in {args.before})")
        return 1 if problems else 0
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
